"""The embedded default data: a deterministic simulator of Chinese listed banks (16 by default, any ``n_banks``).

``simulate(seed=...)`` returns the five canonical tables (banks, prices, system, market_states,
balance_sheet) built through :func:`pipeline.schema.build_table` and checked by
:func:`pipeline.schema.validate_dataset`, so the output is canonical by construction. The model,
its planted structure and its stress episodes are described in ``docs/simulator.md``; its
parameters come from ``pipeline/simulator_calibration.json`` (written by ``python -m
pipeline.calibrate``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.schema import CanonicalData, Source, build_table, validate_dataset

from . import design
from .balance_sheet import simulate_balance_sheets
from .markets import episode_arrays, simulate_factor, simulate_states
from .roster import bank_roster
from .returns import (
    apply_trading_rules,
    daily_equity,
    lead_coefficients,
    plant_suspensions,
    simulate_returns,
    simulate_volume,
    suspension_mask,
)

__all__ = ["CALIBRATION_PATH", "bank_roster", "load_calibration", "simulate"]

CALIBRATION_PATH = Path(__file__).resolve().parent.parent / "simulator_calibration.json"
SOURCE = Source("simulator")
STREAMS = ("balance_sheet", "factor", "states", "returns", "suspensions", "volume", "shares")


def load_calibration(path: str | Path | None = None) -> dict:
    """The committed calibration (``pipeline/simulator_calibration.json``) or the file at ``path``."""
    path = CALIBRATION_PATH if path is None else Path(path)
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _check_args(seed: object, start: object, end: object) -> tuple[pd.Timestamp, pd.Timestamp]:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} is not allowed; allowed: an integer >= 0")
    try:
        t0, t1 = pd.Timestamp(str(start)), pd.Timestamp(str(end))
    except ValueError:
        raise ValueError(f"start={start!r} / end={end!r}: not dates; allowed: YYYY-MM-DD") from None
    if len(pd.bdate_range(t0, t1)) < 60:
        raise ValueError(f"start={start!r}, end={end!r}: fewer than 60 business days; allowed: a span of at least 60 business days")
    return t0, t1


def simulate(
    *, seed: int, start: str = "2007-10-12", end: str = "2020-12-31", calibration: Mapping | None = None,
    n_banks: int = 16,
) -> CanonicalData:
    """Simulate the banking system: the five canonical tables, money in yuan (currency ``CNY``).

    Parameters
    ----------
    seed
        Integer >= 0; the same seed (and span, calibration, ``n_banks``) gives identical tables.
    start, end
        First and last business day of the output (a burn-in of ``design.BURN_IN_DAYS`` business
        days before ``start`` sets the GARCH states and rolling volatility).
    calibration
        Mapping in the layout of ``pipeline/simulator_calibration.json``; None loads that file.
    n_banks
        Number of banks, ``roster.MIN_BANKS`` .. ``roster.MAX_BANKS``: groups, leaders and
        suspensions scale with it (:mod:`.roster`, docs/simulator.md); 16 is the default system.

    Returns
    -------
    CanonicalData
        banks, prices (close, market_cap, shares, volume), system (cap-weighted sector index),
        market_states (real_estate, stock_vol, money [percent], bond, fx) and annual balance_sheet.
    """
    t0, t1 = _check_args(seed, start, end)
    banks = bank_roster(n_banks)
    cal = load_calibration() if calibration is None else calibration
    params = cal["parameters"]
    groups = params["groups"]
    rngs = dict(zip(STREAMS, (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(len(STREAMS))), strict=True))

    out_dates = pd.bdate_range(t0, t1)
    dates = pd.bdate_range(end=out_dates[0], periods=design.BURN_IN_DAYS + 1).append(out_dates[1:])
    first = design.BURN_IN_DAYS

    bank_ids = banks["bank_id"].tolist()
    banks["assets_start"] = [groups[g]["total_assets_start"] * w for g, w in zip(banks["group"], banks["size"], strict=True)]
    banks["mcap_start"] = [groups[g]["market_cap_start"] * w for g, w in zip(banks["group"], banks["size"], strict=True)]

    years = np.arange(t0.year, t1.year + 1)
    bs = simulate_balance_sheets(rngs["balance_sheet"], banks, years, groups)
    episodes = episode_arrays(dates)
    factor = simulate_factor(rngs["factor"], dates, params["factor"], episodes)
    states = simulate_states(rngs["states"], dates, factor["f"], episodes, params["markets"])
    phi = lead_coefficients(dates, bs, banks.loc[banks["leader"], "bank_id"].tolist())
    sim = simulate_returns(rngs["returns"], dates, first, banks, groups, factor, params["factor"],
                           daily_equity(dates, bs, bank_ids), phi)
    suspensions = plant_suspensions(rngs["suspensions"], dates, first, banks)
    suspended = suspension_mask(sim["ret"].shape, suspensions, bank_ids)
    ret = apply_trading_rules(sim.pop("ret"), first, suspended)[first:]  # row 0 (the first day) is zero
    suspended = suspended[first:]
    cap0 = sim["cap0"]
    del sim
    log_cap = np.cumsum(ret, axis=0)
    log_cap += np.log(cap0)[None, :]

    shares = _shares(rngs["shares"], out_dates, banks, cap0)
    close = np.exp(log_cap) / shares[0][None, :]
    del log_cap
    market_cap = close * shares
    turnover = np.array([groups[g]["turnover"] for g in banks["group"]])
    volume = simulate_volume(rngs["volume"], ret, shares, turnover)
    volume[suspended] = 0.0

    simple = np.expm1(ret[1:])
    del ret
    w = market_cap[:-1] / market_cap[:-1].sum(axis=1, keepdims=True)
    index = params["system_index_start"] * np.concatenate([[1.0], np.cumprod(1 + (w * simple).sum(axis=1))])
    del w, simple
    system = pd.DataFrame({"date": out_dates, "close": index})
    prices = _prices_frame(bank_ids, out_dates, close=close, market_cap=market_cap, shares=shares, volume=volume)
    del close, market_cap, shares, volume
    market_states = states.drop(columns="_stock").iloc[first:].reset_index(drop=True)
    market_states.insert(0, "date", out_dates)
    data = CanonicalData(
        banks=build_table(_sorted(banks[["bank_id", "name", "group"]], ["bank_id"]), "banks", source=SOURCE),
        prices=build_table(prices, "prices", source=SOURCE),
        system=build_table(system, "system", source=SOURCE),
        market_states=build_table(market_states, "market_states", source=SOURCE),
        balance_sheet=build_table(_sorted(bs, ["bank_id", "period_end"]), "balance_sheet", source=SOURCE),
        sources={name: SOURCE for name in ("banks", "prices", "system", "market_states", "balance_sheet")},
        currency="CNY",
    )
    return validate_dataset(data)


def _prices_frame(bank_ids: list[str], dates: pd.DatetimeIndex, **columns: np.ndarray) -> pd.DataFrame:
    """The prices table sorted by bank_id, date from dates × banks arrays (one copy per column)."""
    order = np.argsort(np.array(bank_ids), kind="stable")
    ids = np.array(bank_ids, dtype=object)[order]
    frame = {"bank_id": np.repeat(ids, len(dates)), "date": np.tile(dates.to_numpy(), len(ids))}
    frame.update({name: values.T[order].ravel() for name, values in columns.items()})
    return pd.DataFrame(frame)


def _sorted(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return frame.sort_values(key, kind="mergesort").reset_index(drop=True)


def _shares(rng: np.random.Generator, dates: pd.DatetimeIndex, banks: pd.DataFrame, cap0: np.ndarray) -> np.ndarray:
    """Shares outstanding (dates × banks): constant, with one issuance of +5..20 % for about a third of the banks."""
    price_range = {"state-owned": (4.0, 8.0), "joint-stock": (8.0, 25.0), "city": (10.0, 20.0)}
    p0 = np.array([rng.uniform(*price_range[g]) for g in banks["group"]])
    shares0 = np.round(cap0 / p0, -6)
    shares = np.tile(shares0, (len(dates), 1))
    issue = rng.random(len(banks)) < 1 / 3
    window = np.flatnonzero((dates >= pd.Timestamp("2009-01-01")) & (dates <= pd.Timestamp("2019-12-31")))
    for j in np.flatnonzero(issue):
        if len(window) == 0:
            break
        day = int(rng.choice(window))
        shares[day:, j] = np.round(shares0[j] * (1 + rng.uniform(0.05, 0.20)), -6)
    return shares
