"""Time the fire-sale model over the full α grid × 9 years of 39 banks (target: < 5 s).

Project code: ``fire_sale_curve`` (validates each year once, system outputs only).
Baseline: one ``fire_sale`` call per (year, α) — re-validation and the per-bank table each time —
on the same balance sheets, in the same process.

    python benchmarks/firesale.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measures.stress.firesale import fire_sale  # noqa: E402
from measures.stress.firesale_curve import alpha_grid, fire_sale_curve  # noqa: E402
from measures.stress.firesale_inputs import calibrate_omega, saleable_stock  # noqa: E402

SIZES = {"large": (6, 15000.0, 30000.0), "joint_stock": (9, 3000.0, 8000.0), "city": (17, 300.0, 2500.0),
         "rural": (7, 100.0, 1000.0)}


def year_sheet(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for kind, (count, lo, hi) in SIZES.items():
        for j in range(count):
            a = rng.uniform(lo, hi)
            la = a * rng.uniform(0.45, 0.55)
            rows.append({"bank_id": f"{kind}{j}", "total_assets": a, "capital": a * rng.uniform(0.045, 0.08),
                         "liquid_assets": a * rng.uniform(0.10, 0.16), "interbank_assets": a * rng.uniform(0.02, 0.05),
                         "loans": la, "securities": a * rng.uniform(0.2, 0.3),
                         "real_estate_loans": la * rng.uniform(0.5, 0.7)})
    return pd.DataFrame(rows)


def main() -> None:
    rng = np.random.default_rng(2012)
    years = {year: year_sheet(rng) for year in range(2012, 2021)}
    grid = alpha_grid()
    omegas = {y: calibrate_omega(saleable_stock(bs), sold_share=0.01, price_drop=0.01) for y, bs in years.items()}

    t0 = time.perf_counter()
    curves = {y: fire_sale_curve(bs, grid, r_star=25.0, omega=omegas[y]) for y, bs in years.items()}
    project = time.perf_counter() - t0

    t0 = time.perf_counter()
    rows = [fire_sale(bs, alpha=a, r_star=25.0, omega=omegas[y]).system() for y, bs in years.items() for a in grid]
    baseline = time.perf_counter() - t0

    same = all(
        rows[k * len(grid) + j] == {key: curves[y].iloc[j][key] for key in rows[0]}
        for k, y in enumerate(years) for j in range(len(grid))
    )
    runs = len(years) * len(grid)
    rounds = sum(int(c["rounds"].sum()) for c in curves.values())
    print(f"{len(years)} years x {len(grid)} alphas x 39 banks = {runs} runs, {rounds} rounds in all; identical: {same}")
    print(f"fire_sale_curve            : {project:.3f} s")
    print(f"baseline fire_sale per run : {baseline:.3f} s")
    print(f"ratio baseline/project     : {baseline / project:.1f}x")


if __name__ == "__main__":
    main()
