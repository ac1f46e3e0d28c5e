"""A 2019 cross-section of 263 Chinese commercial banks for the balance-sheet contagion stage.

Fan–Rong–Duan (Fan, Rong & Duan) studies 263 banks in 2019: 6 large state-owned, 11 joint-stock,
100 city and 146 rural commercial banks. ``simulate_network_banks(seed=...)`` builds such a
cross-section, deterministic from the seed, with the canonical ``balance_sheet`` money
columns the ``stress_cascade`` stage maps to the bank–asset network (``docs/cascade.md``):
total assets, equity, loans, real-estate loans, securities, interbank assets and liabilities,
deposits, and the ratios CAR and loan-to-deposit. Money is in yuan.

Calibration (``docs/cascade.md`` §8), to Fan–Rong–Duan table 1 (263 banks, 2019):

* **size** — the 6 state-owned and 11 joint-stock banks have their 2019 reported total assets
  (rounded, in 10^12 yuan) times ``exp(N(0, 0.02))``; city and rural banks are log-normal
  (medians 2.4e11 and 4.5e10 yuan, log-sd 1.0 and 0.95, clipped to [1e10, 2.8e12] and
  [3e9, 1.1e12]). Table 1 reports ln(total assets in 10^4 yuan) quartiles 14.94 / 16.14 /
  17.07 (mean 16.23, sd 1.66); the default seed gives 15.02 / 16.08 / 17.20 (mean 16.23, sd 1.69).
* **leverage** — total assets / equity ``N(13.3, 2.6)`` clipped to [8, 22] (table 1: mean 13.48,
  sd 2.73, quartiles 11.74 / 13.06 / 14.87; default seed: 13.45, 2.53, 11.70 / 13.50 / 15.15);
  state-owned banks ``N(12, 0.8)``. Equity is the
  capital of the cascade, so equity / assets ranges from 4.5 % to 12.5 %.
* **composition** (shares of total assets, group mean times ``exp(N(0, sd))``) — loans
  (table 1: loan-to-deposit ratio 72.87 %), the real-estate share of loans, securities,
  interbank assets and interbank liabilities by group: :data:`GROUP_SHARES`. Rural banks are net
  interbank lenders and joint-stock and city banks net borrowers, as in the real cn-banks data
  (2013: listed joint-stock and city banks borrow 13–27 % of assets on the interbank market and
  lend 1–9 %). Interbank liabilities are then scaled so that they add up to the interbank assets
  (a closed system: every interbank claim is on a bank of the sample), which the
  maximum-entropy estimator needs to meet both margins without rescaling.
* **other assets** (cash, central-bank reserves) are what is left, at least 3 % of assets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["GROUP_COUNTS", "GROUP_SHARES", "simulate_network_banks"]

#: Fan–Rong–Duan's sample: number of banks per group (263 in all).
GROUP_COUNTS = {"state-owned": 6, "joint-stock": 11, "city": 100, "rural": 146}
PREFIX = {"state-owned": "SO", "joint-stock": "JS", "city": "CB", "rural": "RB"}
#: 2019 total assets of the six large state-owned and eleven joint-stock banks, 10^12 yuan (annual reports).
LISTED_ASSETS = {
    "state-owned": (30.1, 25.4, 24.9, 22.8, 10.2, 9.9),
    "joint-stock": (7.4, 7.1, 7.0, 6.8, 6.7, 4.7, 3.9, 3.0, 2.9, 1.8, 1.1),
}
#: Log-normal size of city and rural banks: (median yuan, log-sd, low clip, high clip).
LOGNORMAL_ASSETS = {"city": (2.4e11, 1.0, 1e10, 2.8e12), "rural": (4.5e10, 0.95, 3e9, 1.1e12)}
#: Leverage (total assets / equity): (mean, sd), clipped to LEVERAGE_CLIP.
LEVERAGE = {"state-owned": (12.0, 0.8), "joint-stock": (13.3, 2.6), "city": (13.3, 2.6), "rural": (13.3, 2.6)}
LEVERAGE_CLIP = (8.0, 22.0)
#: Group means of balance-sheet shares (of total assets; real_estate of loans) and the log-sd around them.
GROUP_SHARES = {
    "state-owned": {"loans": 0.55, "real_estate": 0.33, "securities": 0.25, "ib_assets": 0.03, "ib_liabilities": 0.06},
    "joint-stock": {"loans": 0.55, "real_estate": 0.28, "securities": 0.25, "ib_assets": 0.04, "ib_liabilities": 0.17},
    "city": {"loans": 0.45, "real_estate": 0.22, "securities": 0.30, "ib_assets": 0.07, "ib_liabilities": 0.14},
    "rural": {"loans": 0.52, "real_estate": 0.15, "securities": 0.20, "ib_assets": 0.12, "ib_liabilities": 0.05},
}
SHARE_SD = {"loans": 0.10, "real_estate": 0.25, "securities": 0.20, "ib_assets": 0.45, "ib_liabilities": 0.45}
MIN_OTHER = 0.03
LDR = (0.73, 0.12, 0.45, 1.10)  # loan-to-deposit ratio: mean, sd, clip (table 1: 72.87 %, sd 12.82)
RWA_DENSITY = (0.55, 0.06)  # risk-weighted assets / total assets (CAR = equity / RWA; table 1 CAR mean 14.07 %)
PERIOD_END = pd.Timestamp("2019-12-31")


def simulate_network_banks(*, seed: int = 20190101) -> pd.DataFrame:
    """The 263-bank 2019 cross-section, one row per bank, deterministic from ``seed``.

    Returns
    -------
    DataFrame
        bank_id (``SO01``.., ``JS01``.., ``CB001``.., ``RB001``..; numbered by size within the
        group), name, group, period_end (2019-12-31), total_assets, total_liabilities, equity,
        loans, real_estate_loans, securities, interbank_assets, interbank_liabilities, deposits
        (yuan), car, ldr (fractions); sorted by bank_id. ``total_assets = total_liabilities +
        equity`` and ``loans + securities + interbank_assets <= 0.97 total_assets`` exactly;
        the interbank assets and liabilities have the same total.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    rng = np.random.default_rng([int(seed), 8])
    frames = [_group(rng, g, n) for g, n in GROUP_COUNTS.items()]
    out = pd.concat(frames, ignore_index=True)
    scale = out["interbank_assets"].sum() / out["interbank_liabilities"].sum()
    out["interbank_liabilities"] = out["interbank_liabilities"] * scale
    room = out["total_liabilities"] - out["interbank_liabilities"]
    out["deposits"] = np.minimum(out["loans"] / out["ldr"], 0.95 * room)
    out["ldr"] = out["loans"] / out["deposits"]
    return out.sort_values("bank_id", kind="mergesort").reset_index(drop=True)


def _group(rng: np.random.Generator, group: str, n: int) -> pd.DataFrame:
    if group in LISTED_ASSETS:
        assets = np.array(LISTED_ASSETS[group]) * 1e12 * np.exp(rng.normal(0.0, 0.02, n))
    else:
        median, sd, low, high = LOGNORMAL_ASSETS[group]
        assets = np.clip(median * np.exp(rng.normal(0.0, sd, n)), low, high)
    assets = np.sort(assets)[::-1]
    mean, sd = LEVERAGE[group]
    leverage = np.clip(rng.normal(mean, sd, n), *LEVERAGE_CLIP)
    equity = assets / leverage
    shares = {k: v * np.exp(rng.normal(0.0, SHARE_SD[k], n)) for k, v in GROUP_SHARES[group].items()}
    loans, securities, ib_assets = shares["loans"], shares["securities"], shares["ib_assets"]
    # keep at least MIN_OTHER of assets as cash and reserves
    used = loans + securities + ib_assets
    shrink = np.minimum(1.0, (1.0 - MIN_OTHER) / used)
    loans, securities, ib_assets = loans * shrink, securities * shrink, ib_assets * shrink
    real_estate = np.minimum(shares["real_estate"], 0.8)
    ib_liabilities = np.minimum(shares["ib_liabilities"], 0.5 * (1.0 - 1.0 / leverage))
    ldr = np.clip(rng.normal(LDR[0], LDR[1], n), LDR[2], LDR[3])
    rwa = np.clip(rng.normal(*RWA_DENSITY, n), 0.35, 0.8)
    width = 2 if n < 100 else 3
    return pd.DataFrame(
        {
            "bank_id": [f"{PREFIX[group]}{k + 1:0{width}d}" for k in range(n)],
            "name": [f"Simulated {group} bank {k + 1}" for k in range(n)],
            "group": group,
            "period_end": PERIOD_END,
            "total_assets": assets,
            "total_liabilities": assets - equity,
            "equity": equity,
            "loans": loans * assets,
            "real_estate_loans": real_estate * loans * assets,
            "securities": securities * assets,
            "interbank_assets": ib_assets * assets,
            "interbank_liabilities": ib_liabilities * assets,
            "car": 1.0 / leverage / rwa,
            "ldr": ldr,
        }
    )
