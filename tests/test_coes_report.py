"""The report section ``coes``: CoES and ΔCoES next to ΔCoVaR from the covar_dcc and covar_qr artifacts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.artifacts import artifact
from pipeline.io import write_parquet
from pipeline.report.core import ReportContext, build_sections
from pipeline.report.sections import coes


def _frame(scale: float, bad: bool = False) -> pd.DataFrame:
    dates = pd.bdate_range("2020-01-01", periods=20)
    rows = []
    for k, bank in enumerate(("A", "B", "C")):
        d = np.full(20, scale * (k + 1) * 0.01)
        rows.append(pd.DataFrame({"bank_id": bank, "date": dates, "delta_covar": d, "covar": 2 * d,
                                  "coes": 2.5 * d, "delta_coes": d * (1.2 if bank != "C" else 0.5), "status": "ok"}))
    frame = pd.concat(rows, ignore_index=True)
    if bad:  # a failed row with a huge value must not count
        frame.loc[0, ["delta_coes", "status"]] = [9.0, "failed:Test: x"]
    return frame


def _write(root, name, frame):
    write_parquet(frame, root / artifact(name).path, key=["bank_id", "date"])


def test_section_metrics_table_and_ranking(tmp_path):
    _write(tmp_path, "covar_dcc", _frame(1.0, bad=True))
    _write(tmp_path, "covar_qr", _frame(0.5))
    section = build_sections(ReportContext.open(tmp_path), [coes])[0]
    m = section.metrics
    # DCC: banks A, B, C with ΔCoES 1.2, 2.4, 1.5 (x 0.01), top B; the mean over ok rows leaves A's failed row out
    assert np.isclose(m["delta_coes_mean_pct_dcc"], (19 * 1.2 + 20 * 2.4 + 20 * 1.5) / 59)
    assert m["top_bank_dcc"] == "B" and m["top_bank_qr"] == "B"
    assert np.isclose(m["delta_covar_mean_pct_qr"], 0.5 * 2)
    assert np.isclose(m["kendall_tau_covar_coes_dcc"], 1 / 3)
    table = section.plots["banks"]
    assert table["bank"].tolist() == ["B", "C", "A"] and table["rank"].tolist() == [1, 2, 3]
    assert np.allclose(table["CoES/CoVaR DCC"], 1.25)
    assert len(section.blocks) == 2 and "Girardi" in section.intro


def test_section_absent_or_without_the_new_columns_shows_nothing(tmp_path):
    assert coes.build(ReportContext.open(tmp_path / "absent")) is None
    _write(tmp_path, "covar_dcc", _frame(1.0).drop(columns=["covar", "coes", "delta_coes"]))
    assert coes.build(ReportContext.open(tmp_path)) is None
