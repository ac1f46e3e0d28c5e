"""Real-data designs of the ΔCoVaR system regression (us-financials), for the R reference and the tests.

The design of bank i is the system regression of the covar_qr stage, full sample:
``X_sys,t = alpha + beta X_i,t (+ gamma' M_{t-1}) + e`` with the losses of the returns stage
(default options) and the market states of the toolbox workbook lagged one trading day. Two designs
per firm: ``simple`` (constant and the bank loss) and ``states`` (plus the lagged state variables).

Usage (from the repository root; the extract goes to a temporary folder, never into the repository)::

    PYTHONPATH=. python tests/reference/quantreg_se/real_extract.py <data dir with us-financials/> <output dir>

writes ``real_<firm>.csv`` (columns ``y, bank_loss, <states>``; 17 significant digits).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

FIRMS = ("JPM", "BAC", "GS", "AIG")
TAUS = (0.5, 0.95, 0.99)


def real_designs(data_root: Path | str) -> dict[str, pd.DataFrame]:
    """``{firm: frame}`` with columns ``y`` (system loss), ``bank_loss`` and the lagged states, by date."""
    from measures.covar_qr import lag_states, loss_panel
    from measures.returns import compute_returns
    from pipeline.adapters import load
    from pipeline.params import DataConfig

    config = DataConfig(source="files", format="toolbox", raw_dir="us-financials", files={"workbook": "Example_Large.xlsx"},
                        money_unit="USD m", currency="USD")
    data, _ = load(config, root=Path(data_root))
    result = compute_returns(data.prices)
    panel = loss_panel(result.returns, result.system, data.market_states)
    states = lag_states(panel.states, 1)
    out = {}
    for firm in FIRMS:
        frame = pd.concat([panel.system.rename("y"), panel.losses[firm].rename("bank_loss"), states], axis=1, join="inner")
        out[firm] = frame.dropna().astype(float)
    return out


def design(frame: pd.DataFrame, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``(y, X)`` of one firm: ``simple`` = [1, bank_loss]; ``states`` = [1, bank_loss, lagged states]."""
    cols = ["bank_loss"] if kind == "simple" else list(frame.columns[1:])
    X = np.column_stack([np.ones(len(frame)), frame[cols].to_numpy()])
    return frame["y"].to_numpy(), X


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for firm, frame in real_designs(argv[0]).items():
        frame.to_csv(out / f"real_{firm}.csv", index=False, float_format="%.17g")
        print(f"wrote {out / f'real_{firm}.csv'} ({len(frame)} rows)")


if __name__ == "__main__":
    main(sys.argv[1:])
