"""Synthetic fire-sale cross-section: 39 listed Chinese banks like Zhang–Guo–Wen–Sun's sample, 2012–2020.

Zhang–Guo–Wen–Sun (Zhang–Guo–Wen–Sun) runs its double-layer fire-sale model on the annual balance
sheets of 39 listed banks — 6 large state-owned, 9 joint-stock, 17 city and 7 rural commercial
banks — for 2012–2020. Its data are not public; this module draws a deterministic cross-section
with the features the paper states, so that the ``stress_firesale`` stage has a default input of
the same shape (``docs/firesale.md`` §4):

* sizes by group in yuan (2012 total assets: state-owned 5–17 trillion, joint-stock 0.4–3.4,
  city 0.1–1.2, rural 0.06–0.5 trillion), growing 6–14 % a year;
* capital (book equity) / assets rising over time (2012 ≈ 6.5 %, 2020 ≈ 8 %), bank effects;
* loans ≈ 45–56 % of assets; securities / loans with mean 27.9 % in 2012 rising to 36.1 % in
  2020 (Zhang–Guo–Wen–Sun §5.3); interbank assets ≈ 1/13 of loans (Zhang–Guo–Wen–Sun: loans : securities :
  interbank ≈ 13 : 6 : 1), falling after the 2013–2014 interbank tightening;
* liquid assets = reserves (8–12 % of assets) + interbank assets + the government-bond part
  (35–55 %) of securities — the assets a bank can sell in a secondary market at once;
* loans by sector: real-estate loans 22–32 % of loans and Zhang–Guo–Wen–Sun's nine correlated sectors
  (``SECTORS``, together 50–60 % of loans); the round-0 shock hits them through the sector
  correlations ``SECTOR_CORRELATIONS`` (``ρ_s`` of docs/firesale.md).

Amounts are in yuan (currency ``CNY``). The same seed and years give identical tables.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

GROUP_COUNTS = {"state-owned": 6, "joint-stock": 9, "city": 17, "rural": 7}
"""Zhang–Guo–Wen–Sun's sample: 6 large state-owned, 9 joint-stock, 17 city and 7 rural commercial banks."""

GROUP_PREFIX = {"state-owned": "SOB", "joint-stock": "JSB", "city": "CCB", "rural": "RCB"}

#: 2012 total assets (yuan), uniform range per group, and the annual growth range.
ASSETS_2012 = {"state-owned": (5e12, 17e12), "joint-stock": (0.4e12, 3.4e12), "city": (0.1e12, 1.2e12),
               "rural": (0.06e12, 0.5e12)}
GROWTH = {"state-owned": (0.06, 0.10), "joint-stock": (0.08, 0.13), "city": (0.10, 0.14), "rural": (0.08, 0.12)}
#: Capital / assets in 2012 (range per group); +0.2 percentage points a year to 2020.
CAPITAL_2012 = {"state-owned": (0.062, 0.070), "joint-stock": (0.054, 0.064), "city": (0.056, 0.072),
                "rural": (0.064, 0.080)}
CAPITAL_TREND = 0.002
LOANS_SHARE = {"state-owned": (0.50, 0.56), "joint-stock": (0.46, 0.53), "city": (0.38, 0.46), "rural": (0.45, 0.52)}
#: Securities / loans: mean 27.9 % in 2012 and 36.1 % in 2020 (Zhang–Guo–Wen–Sun), +1.025 points a year.
SECURITIES_2012 = (0.20, 0.36)
SECURITIES_TREND = (0.361 - 0.279) / 8
INTERBANK_2012 = (0.04, 0.09)  # interbank assets / loans; declines by 4 % a year (relative)
RESERVES = (0.08, 0.12)  # cash and central-bank reserves / assets
GOVERNMENT_SHARE = (0.35, 0.55)  # government bonds / securities (liquid part)
REAL_ESTATE_SHARE = (0.22, 0.32)  # real-estate loans / loans

#: Zhang–Guo–Wen–Sun's nine loan sectors (Shenwan level-1 industries) and their share of loans (sums to ≈ 0.55).
SECTORS = ("transport", "manufacturing", "leasing_business", "utilities", "water_environment", "wholesale_retail",
           "construction", "mining", "finance")
SECTOR_SHARES = (0.08, 0.14, 0.10, 0.05, 0.06, 0.05, 0.04, 0.02, 0.01)
#: Correlation of each sector with real estate (illustrative values of the order Zhang–Guo–Wen–Sun reports
#: for Shenwan daily indices; the stage takes them from params ``stress.firesale.sector_correlations``).
SECTOR_CORRELATIONS = {"transport": 0.80, "manufacturing": 0.78, "leasing_business": 0.82, "utilities": 0.75,
                       "water_environment": 0.80, "wholesale_retail": 0.80, "construction": 0.88, "mining": 0.65,
                       "finance": 0.85}

SECTOR_COLUMNS = tuple(f"loans_{s}" for s in SECTORS)
COLUMNS = ("year", "bank_id", "group", "total_assets", "capital", "liquid_assets", "interbank_assets", "loans",
           "securities", "real_estate_loans", *SECTOR_COLUMNS)


def firesale_roster() -> pd.DataFrame:
    """The 39 banks: ``bank_id`` (SOB01.., JSB01.., CCB01.., RCB01..), ``name``, ``group``."""
    rows = []
    for group, count in GROUP_COUNTS.items():
        for k in range(count):
            rows.append({"bank_id": f"{GROUP_PREFIX[group]}{k + 1:02d}", "name": f"Simulated {group} bank {k + 1}",
                         "group": group})
    return pd.DataFrame(rows)


def simulate_firesale_banks(*, seed: int, years: Sequence[int] = tuple(range(2012, 2021))) -> pd.DataFrame:
    """Annual fire-sale balance sheets of 39 simulated banks (one row per year and bank).

    Columns ``COLUMNS``: ``year, bank_id, group`` and the model inputs of
    ``measures.stress.fire_sale`` in yuan — ``total_assets, capital, liquid_assets,
    interbank_assets, loans, securities, real_estate_loans`` — plus the sector loans
    ``loans_<sector>`` (parts of ``loans``). Each bank has fixed effects (its position in every
    range) and small independent yearly noise; ratios follow the trends in the module docstring.

    Parameters
    ----------
    seed : integer ≥ 0; the same seed and years give identical tables.
    years : strictly increasing calendar years (default 2012–2020); trends are anchored at 2012.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} is not allowed; allowed: an integer >= 0")
    years = [int(y) for y in years]
    if not years or any(b <= a for a, b in itertools.pairwise(years)):
        raise ValueError(f"years={years!r} must be a non-empty strictly increasing list of years")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 39000]))
    roster = firesale_roster()
    groups = roster["group"].tolist()
    nb, ny = len(roster), len(years)
    t = np.array(years, dtype=float) - 2012.0

    def draw(ranges: dict | tuple) -> np.ndarray:
        if isinstance(ranges, dict):
            lo = np.array([ranges[g][0] for g in groups])
            hi = np.array([ranges[g][1] for g in groups])
        else:
            lo, hi = np.full(nb, ranges[0]), np.full(nb, ranges[1])
        return lo + (hi - lo) * rng.random(nb)

    def noise(sd: float) -> np.ndarray:
        return rng.normal(0.0, sd, (nb, ny))

    a0 = draw(ASSETS_2012)
    growth = draw(GROWTH)
    assets = a0[:, None] * (1.0 + growth[:, None]) ** t[None, :] * np.exp(noise(0.02))
    cap_ratio = np.clip(draw(CAPITAL_2012)[:, None] + CAPITAL_TREND * t[None, :] + noise(0.002), 0.04, 0.12)
    loans_share = np.clip(draw(LOANS_SHARE)[:, None] + noise(0.01), 0.30, 0.65)
    sec_to_loans = np.clip(draw(SECURITIES_2012)[:, None] + SECURITIES_TREND * t[None, :] + noise(0.02), 0.08, 0.70)
    ib_to_loans = np.clip(draw(INTERBANK_2012)[:, None] * 0.96 ** t[None, :] * np.exp(noise(0.10)), 0.01, 0.20)
    reserves = np.clip(draw(RESERVES)[:, None] + noise(0.005), 0.05, 0.15)
    gov = np.clip(draw(GOVERNMENT_SHARE)[:, None] + noise(0.02), 0.2, 0.7)
    re_share = np.clip(draw(REAL_ESTATE_SHARE)[:, None] + noise(0.01), 0.15, 0.40)
    sector_base = np.asarray(SECTOR_SHARES)
    sector_share = sector_base[None, None, :] * np.exp(rng.normal(0.0, 0.15, (nb, 1, len(SECTORS))) + rng.normal(0.0, 0.05, (nb, ny, len(SECTORS))))
    room = 1.0 - re_share - 0.05  # keep at least 5 % of loans outside the listed sectors
    total = sector_share.sum(axis=2)
    sector_share = sector_share * np.minimum(1.0, room / total)[:, :, None]

    loans = loans_share * assets
    securities = sec_to_loans * loans
    interbank = ib_to_loans * loans
    liquid = reserves * assets + interbank + gov * securities
    frame = pd.DataFrame({
        "year": np.tile(np.array(years, dtype=np.int64), nb),
        "bank_id": np.repeat(roster["bank_id"].to_numpy(), ny),
        "group": np.repeat(np.array(groups, dtype=object), ny),
        "total_assets": assets.ravel(),
        "capital": (cap_ratio * assets).ravel(),
        "liquid_assets": liquid.ravel(),
        "interbank_assets": interbank.ravel(),
        "loans": loans.ravel(),
        "securities": securities.ravel(),
        "real_estate_loans": (re_share * loans).ravel(),
    })
    for k, col in enumerate(SECTOR_COLUMNS):
        frame[col] = (sector_share[:, :, k] * loans).ravel()
    frame["bank_id"] = frame["bank_id"].astype(object)
    return frame.sort_values(["year", "bank_id"], kind="mergesort").reset_index(drop=True)[list(COLUMNS)]
