"""Annual balance sheets of the simulated banks, consistent by construction.

Per bank and year (period_end = 31 December), from ratios drawn around group levels:

* loans_y = loans_{y-1} (1 + loan_growth_y); deposits = loans / ldr;
* liabilities = deposits / (1 - h - o) with h = interbank liabilities / liabilities and o = 6 %
  other liabilities; equity = liabilities * e / (1 - e) with e = equity / assets, so
  total_assets = total_liabilities + equity exactly;
* interbank_assets = a_ib * assets, securities = s * assets, real_estate_loans = share * loans;
* liquid_assets = liquidity_ratio * (0.4 * deposits + interbank_liabilities) (liquid liabilities);
* leverage_ratio = 0.9 e + 0.9 % (Basel III tier-1 / exposure tracks book equity / assets);
* lcr from 2014 on (NaN before, as Basel III LCR disclosure in China);
* publication_date = period_end + 80..119 days (annual reports appear late March to April).

The leaders (``banks["leader"]``, :mod:`.roster`) carry lower CAR and lower equity (planted capital gap).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import design

LOAN_GROWTH_PATH = {2007: 0.16, 2008: 0.17, 2009: 0.24, 2010: 0.18, 2011: 0.15, 2012: 0.15, 2013: 0.13,
                    2014: 0.12, 2015: 0.12, 2016: 0.12, 2017: 0.11, 2018: 0.11, 2019: 0.11, 2020: 0.11}
NPL_PATH = {2007: 1.6, 2008: 1.35, 2009: 1.1, 2010: 0.9, 2011: 0.8, 2012: 0.82, 2013: 0.9, 2014: 1.05,
            2015: 1.3, 2016: 1.4, 2017: 1.35, 2018: 1.35, 2019: 1.3, 2020: 1.3}  # relative to the calibrated level
NIM_PATH = {2007: 0.027, 2008: 0.028, 2009: 0.023, 2010: 0.024, 2011: 0.026, 2012: 0.026, 2013: 0.025,
            2014: 0.025, 2015: 0.024, 2016: 0.021, 2017: 0.020, 2018: 0.021, 2019: 0.021, 2020: 0.020}
GROUP_GROWTH_OFFSET = {"state-owned": -0.01, "joint-stock": 0.02, "city": 0.04}
OTHER_LIABILITIES = 0.06
LIQUID_DEPOSIT_SHARE = 0.4


def group_values(groups: Mapping, bank_groups, key: str) -> np.ndarray:
    """The calibrated value ``groups[g][key]`` for each bank's group ``g``."""
    return np.array([groups[g][key] for g in bank_groups], dtype="float64")


def _path(table: Mapping[int, float], years: np.ndarray) -> np.ndarray:
    first, last = min(table), max(table)
    return np.array([table[min(max(int(y), first), last)] for y in years])


def _ar1(rng: np.random.Generator, shape: tuple[int, int], sd: float, rho: float = 0.6) -> np.ndarray:
    """AR(1) noise along axis 1 with stationary standard deviation ``sd``."""
    e = rng.standard_normal(shape) * sd * np.sqrt(1 - rho**2)
    out = np.empty(shape)
    out[:, 0] = rng.standard_normal(shape[0]) * sd
    for k in range(1, shape[1]):
        out[:, k] = rho * out[:, k - 1] + e[:, k]
    return out


def simulate_balance_sheets(rng: np.random.Generator, banks: pd.DataFrame, years: np.ndarray, groups: Mapping) -> pd.DataFrame:
    """Balance sheets for every bank and year, canonical columns, money in currency units.

    ``banks`` has bank_id, group, leader and ``assets_start`` (total assets at the first period end);
    ``groups`` maps each group to its calibrated ratios (car, npl, ldr, equity_to_assets,
    interbank_assets_share, interbank_liabilities_share).
    """
    nb, ny = len(banks), len(years)
    shape = (nb, ny)

    def col(key: str) -> np.ndarray:
        return group_values(groups, banks["group"], key)[:, None]

    leader = banks["leader"].to_numpy()[:, None]
    growth_off = np.array([GROUP_GROWTH_OFFSET[x] for x in banks["group"]])[:, None]

    loan_growth = np.clip(_path(LOAN_GROWTH_PATH, years)[None, :] + growth_off + _ar1(rng, shape, 0.02, 0.3), 0.08, 0.25)
    ldr = np.clip(col("ldr") + rng.normal(0, 0.02, (nb, 1)) + _ar1(rng, shape, 0.015), 0.60, 0.80)
    trend = np.clip(years - 2012, 0, None)[None, :] * 0.0015
    # bank effects: leaders get exactly the planted offsets, the others a random effect
    car_effect = np.where(leader, design.LEADER_CAR_OFFSET, rng.normal(0, 0.004, (nb, 1)))
    eq_effect = np.where(leader, design.LEADER_EQUITY_OFFSET, rng.normal(0, 0.003, (nb, 1)))
    car = np.clip(col("car") + car_effect + trend + _ar1(rng, shape, 0.004), 0.10, 0.15)
    eq = np.clip(col("equity_to_assets") + eq_effect + 0.5 * trend + _ar1(rng, shape, 0.002), 0.045, 0.085)
    lev = np.clip(0.9 * eq + 0.009 + rng.normal(0, 0.0008, shape), 0.05, 0.08)
    h = np.clip(col("interbank_liabilities_share") * np.exp(rng.normal(0, 0.15, (nb, 1)) + _ar1(rng, shape, 0.1)), 0.03, 0.30)
    a_ib = np.clip(col("interbank_assets_share") * np.exp(rng.normal(0, 0.15, (nb, 1)) + _ar1(rng, shape, 0.1)), 0.01, 0.25)
    sec = np.clip(0.22 + rng.normal(0, 0.02, (nb, 1)) + _ar1(rng, shape, 0.015), 0.12, 0.30)
    liq = np.clip(0.46 + rng.normal(0, 0.04, (nb, 1)) + _ar1(rng, shape, 0.03), 0.35, 0.60)
    lcr = np.clip(1.35 + rng.normal(0, 0.15, (nb, 1)) + _ar1(rng, shape, 0.08), 1.0, 2.0)
    lcr[:, years < 2014] = np.nan
    npl = np.clip(col("npl") * _path(NPL_PATH, years)[None, :] * np.exp(rng.normal(0, 0.1, (nb, 1)) + _ar1(rng, shape, 0.08)), 0.008, 0.02)
    nim = np.clip(_path(NIM_PATH, years)[None, :] + rng.normal(0, 0.0015, (nb, 1)) + _ar1(rng, shape, 0.001), 0.018, 0.030)
    re_share = np.clip(0.18 + 0.004 * (years - years[0])[None, :] + rng.normal(0, 0.02, (nb, 1)) + _ar1(rng, shape, 0.01), 0.15, 0.30)

    # loans: the first period's level follows from the target total assets and the ratios
    loans = np.empty(shape)
    loans[:, 0] = banks["assets_start"].to_numpy() * ldr[:, 0] * (1 - h[:, 0] - OTHER_LIABILITIES) * (1 - eq[:, 0])
    for k in range(1, ny):
        loans[:, k] = loans[:, k - 1] * (1 + loan_growth[:, k])
    deposits = loans / ldr
    liabilities = deposits / (1 - h - OTHER_LIABILITIES)
    equity = liabilities * eq / (1 - eq)
    assets = liabilities + equity
    pub = rng.integers(80, 120, shape)

    period_end = pd.to_datetime([f"{y}-12-31" for y in years])
    rows = {
        "bank_id": np.repeat(banks["bank_id"].to_numpy(), ny),
        "period_end": np.tile(period_end.to_numpy(), nb),
        "publication_date": (np.tile(period_end.to_numpy(), nb) + pub.ravel().astype("timedelta64[D]")),
        "total_assets": assets,
        "total_liabilities": liabilities,
        "equity": equity,
        "loans": loans,
        "deposits": deposits,
        "securities": sec * assets,
        "liquid_assets": liq * (LIQUID_DEPOSIT_SHARE * deposits + h * liabilities),
        "interbank_assets": a_ib * assets,
        "interbank_liabilities": h * liabilities,
        "real_estate_loans": re_share * loans,
        "car": car,
        "leverage_ratio": lev,
        "lcr": lcr,
        "ldr": ldr,
        "liquidity_ratio": liq,
        "npl": npl,
        "nim": nim,
        "loan_growth": loan_growth,
    }
    return pd.DataFrame({k: (v.ravel() if isinstance(v, np.ndarray) and v.ndim == 2 else v) for k, v in rows.items()})
