"""Generate the small unbalanced reference panel ``panel.csv`` (seeded; run from anywhere).

    python tests/reference/panel/make_panel.py

18 banks x 10 years (2011-2020), unbalanced: banks enter late / leave early and a few
(bank, year) rows are missing, and ``nim`` has three missing values (so each model drops
rows, exercising the exclusion records). The entity effects are correlated with ``car``
so that FE and RE differ. Values are rounded to 6 decimals so the CSV is exact for R and
Python alike. The same file feeds ``make_reference.R`` (R plm) and the pytest reference test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def make_panel(seed: int = 20240603) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_banks, years = 18, np.arange(2011, 2021)
    rows = []
    for b in range(n_banks):
        start = 0 if b % 3 else int(rng.integers(0, 3))
        stop = len(years) if b % 4 else len(years) - int(rng.integers(0, 3))
        alpha = rng.normal(0.0, 0.01)
        for t in range(start, stop):
            if rng.random() < 0.06 and t not in (start, stop - 1):
                continue
            rows.append((f"B{b:02d}", int(years[t]), alpha))
    df = pd.DataFrame(rows, columns=["bank_id", "year", "alpha"])
    n = len(df)
    df["car"] = 0.13 + 0.02 * rng.standard_normal(n) + 0.8 * df["alpha"]
    df["lev"] = 0.065 + 0.01 * rng.standard_normal(n) + 0.3 * df["alpha"]
    df["lcr"] = 1.3 + 0.25 * rng.standard_normal(n)
    df["ldr"] = 0.70 + 0.08 * rng.standard_normal(n)
    df["liq"] = 0.47 + 0.07 * rng.standard_normal(n)
    df["npl"] = 0.013 + 0.004 * rng.standard_normal(n)
    df["nim"] = 0.026 + 0.004 * rng.standard_normal(n)
    df["loan_growth"] = 0.18 + 0.06 * rng.standard_normal(n)
    df["ln_assets"] = 14.0 + rng.standard_normal(n_banks)[df["bank_id"].str[1:].astype(int)] + 0.05 * rng.standard_normal(n)
    df["crw"] = (
        0.05
        + df["alpha"]
        - 0.10 * (df["car"] - 0.13)
        - 0.15 * (df["lev"] - 0.065)
        - 0.004 * (df["lcr"] - 1.3)
        + 0.5 * (df["car"] - 0.13) * (df["lcr"] - 1.3)
        + 0.2 * df["npl"]
        + 0.003 * rng.standard_normal(n)
    )
    nan_rows = rng.choice(n, size=3, replace=False)
    df.loc[nan_rows, "nim"] = np.nan
    df = df.drop(columns="alpha")
    cols = ["bank_id", "year", "crw", "car", "lev", "lcr", "ldr", "liq", "npl", "nim", "loan_growth", "ln_assets"]
    return df[cols].round(6)


if __name__ == "__main__":
    panel = make_panel()
    panel.to_csv(HERE / "panel.csv", index=False, na_rep="NA")
    print(f"wrote {HERE / 'panel.csv'}: {len(panel)} rows, {panel['bank_id'].nunique()} banks, "
          f"{panel['year'].nunique()} years")
