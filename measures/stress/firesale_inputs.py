"""Balance-sheet input of the double-layer fire-sale model (docs/firesale.md): validation, the
unit-free price-impact calibration and the mapping of the EBA 2018 extract to model inputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

FIRE_SALE_COLUMNS = (
    "bank_id",
    "total_assets",
    "capital",
    "liquid_assets",
    "interbank_assets",
    "loans",
    "securities",
    "real_estate_loans",
)
"""Required columns of a fire-sale balance sheet (one row per bank, one currency unit)."""

_AMOUNTS = FIRE_SALE_COLUMNS[1:]
_REL_TOL = 1e-9  # slack on the adding-up checks, relative to total assets (rounding in the data)


@dataclass(frozen=True)
class FireSaleBalanceSheet:
    """Validated balance sheet as float arrays (one entry per bank)."""

    bank_id: tuple
    total_assets: np.ndarray
    capital: np.ndarray
    liquid_assets: np.ndarray
    interbank_assets: np.ndarray
    loans: np.ndarray
    securities: np.ndarray
    real_estate_loans: np.ndarray
    sector_loans: np.ndarray  # (N, S), zero columns without sectors
    sector_names: tuple

    @property
    def n(self) -> int:
        return len(self.bank_id)


def _bank_error(column: str, bank: object, value: object, allowed: str) -> ValueError:
    return ValueError(f"balance_sheet column {column!r}, bank {bank!r}: value {value!r} is not allowed; {allowed}")


def validate_fire_sale_balance_sheet(
    balance_sheet: pd.DataFrame, *, sector_columns: Sequence[str] = ()
) -> FireSaleBalanceSheet:
    """Check a fire-sale balance sheet and return it as arrays.

    Requirements (each violation raises ``ValueError`` naming the column, the bank and the
    value): the columns of ``FIRE_SALE_COLUMNS`` (plus ``sector_columns``) exist; ``bank_id`` is
    unique and non-missing; amounts are finite numbers ≥ 0; ``capital > 0`` and
    ``capital ≤ total_assets``; ``liquid_assets ≤ total_assets``;
    ``interbank_assets + loans + securities ≤ total_assets``; ``real_estate_loans`` plus the
    sector loans ``≤ loans`` (they are parts of the loan book); the system's liquid assets are
    positive (they normalise LL). The adding-up checks allow a relative slack of 1e-9 of total
    assets for rounding in published data.
    """
    if not isinstance(balance_sheet, pd.DataFrame):
        raise ValueError(f"balance_sheet must be a pandas DataFrame; got {type(balance_sheet).__name__}")
    sector_columns = tuple(sector_columns)
    required = FIRE_SALE_COLUMNS + sector_columns
    missing = [col for col in required if col not in balance_sheet.columns]
    if missing:
        raise ValueError(
            f"balance_sheet is missing column(s) {', '.join(map(repr, missing))}; required: {', '.join(required)}"
        )
    if len(balance_sheet) == 0:
        raise ValueError("balance_sheet has no rows; one row per bank is required")
    ids = balance_sheet["bank_id"]
    if ids.isna().any():
        raise ValueError(f"balance_sheet column 'bank_id' is missing at row {int(np.flatnonzero(ids.isna())[0])}")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ValueError(f"balance_sheet column 'bank_id' has duplicate bank {dup.iloc[0]!r}; one row per bank")
    bank_id = tuple(ids)
    values: dict[str, np.ndarray] = {}
    for col in _AMOUNTS + sector_columns:
        series = balance_sheet[col]
        try:
            arr = series.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            bad = next(v for v in series if not _is_number(v))
            k = list(series).index(bad)
            raise _bank_error(col, bank_id[k], bad, "a finite number >= 0 is required") from None
        bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
        if bad.size:
            k = int(bad[0])
            raise _bank_error(col, bank_id[k], float(arr[k]), "a finite number >= 0 is required")
        values[col] = arr
    a = values["total_assets"]
    slack = _REL_TOL * a

    def _check(mask: np.ndarray, column: str, allowed: str, shown: np.ndarray) -> None:
        bad = np.flatnonzero(mask)
        if bad.size:
            k = int(bad[0])
            raise _bank_error(column, bank_id[k], float(shown[k]), allowed)

    c = values["capital"]
    _check(c <= 0, "capital", "capital must be > 0 (a bank with no capital has already failed)", c)
    _check(c > a, "capital", "capital must not exceed total_assets", c)
    _check(values["liquid_assets"] > a + slack, "liquid_assets", "liquid_assets must not exceed total_assets",
           values["liquid_assets"])
    saleable = values["interbank_assets"] + values["loans"] + values["securities"]
    _check(saleable > a + slack, "total_assets",
           "interbank_assets + loans + securities must not exceed total_assets", a)
    sectors = np.column_stack([values[s] for s in sector_columns]) if sector_columns else np.zeros((len(a), 0))
    parts = values["real_estate_loans"] + sectors.sum(axis=1)
    _check(parts > values["loans"] + slack, "real_estate_loans",
           "real_estate_loans (plus the sector loans) must not exceed loans", values["real_estate_loans"])
    if not values["liquid_assets"].sum() > 0:
        raise ValueError("balance_sheet column 'liquid_assets' sums to 0 over all banks; LL is normalised by it")
    return FireSaleBalanceSheet(
        bank_id=bank_id,
        total_assets=a,
        capital=c,
        liquid_assets=values["liquid_assets"],
        interbank_assets=values["interbank_assets"],
        loans=values["loans"],
        securities=values["securities"],
        real_estate_loans=values["real_estate_loans"],
        sector_loans=sectors,
        sector_names=sector_columns,
    )


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def sector_weights(sector_correlations: Mapping[str, float]) -> tuple[tuple[str, ...], np.ndarray]:
    """Sector columns and their shock weights ``ρ_s = max(0, corr_s)`` (docs/firesale.md §1, round 0).

    ``sector_correlations`` maps a sector-loan column to the correlation of that sector with
    real estate, in [-1, 1].
    """
    names = tuple(sector_correlations)
    rho = np.empty(len(names))
    for k, name in enumerate(names):
        value = sector_correlations[name]
        if isinstance(value, bool) or not _is_number(value) or not -1.0 <= float(value) <= 1.0:
            raise ValueError(f"sector_correlations[{name!r}]={value!r} is out of range; allowed: a number in [-1, 1]")
        rho[k] = max(0.0, float(value))
    return names, rho


def calibrate_omega(saleable_stock: float, *, sold_share: float, price_drop: float) -> float:
    """Price impact ω per currency unit such that selling ``sold_share`` of the stock moves its price by ``price_drop``.

    The model's price impact is linear: selling D currency units lowers the price by ``ω·D``
    (docs/firesale.md §1, step 4). ω therefore has the unit 1/currency and a value such as Zhang–Guo–Wen–Sun's
    ``ω = 1e-14`` per yuan means nothing in EUR millions. Stated relative to the market,
    ``ω·S`` (S = the system's saleable stock at t = 0) is unit-free, and

        ``ω = price_drop / (sold_share · S)``.

    The same statement ("selling x% of the saleable stock moves its price by y%") gives the
    same dynamics whatever the currency unit of the data: rescaling every amount by λ rescales
    ω by 1/λ and leaves SR, LL, CL, the rounds and the failures unchanged.

    Worked example (Zhang–Guo–Wen–Sun). Zhang–Guo–Wen–Sun sets ``ω = 1e-14`` per yuan for its 39 listed Chinese
    banks (2012–2020) without stating the stock. Their loans plus securities are of the order
    of ``S = 1e14`` yuan (100 trillion; an outside order-of-magnitude figure for the listed
    banks over 2012–2020, not a number printed in the paper), so ω·S ≈ 1: Zhang–Guo–Wen–Sun's choice reads
    "selling 1% of the saleable stock moves its price by 1%", and
    ``calibrate_omega(1e14, sold_share=0.01, price_drop=0.01) == 1e-14`` per yuan. The same
    statement on data in yuan billions (S = 1e5) gives ω = 1e-5 per billion, on a sample with
    half the stock it gives ω = 2e-14 per yuan.

    Parameters
    ----------
    saleable_stock : S > 0 in the data's currency unit (e.g. ``saleable_stock(bs)``).
    sold_share : x in (0, 1].
    price_drop : y ≥ 0, the relative price fall caused by selling x of the stock.
    """
    for name, value, low_open in (("saleable_stock", saleable_stock, True), ("sold_share", sold_share, True),
                                  ("price_drop", price_drop, False)):
        if isinstance(value, bool) or not _is_number(value) or not np.isfinite(float(value)):
            raise ValueError(f"{name}={value!r} must be a finite number")
        if float(value) < 0 or (low_open and float(value) == 0):
            raise ValueError(f"{name}={value!r} is out of range; allowed: {'> 0' if low_open else '>= 0'}")
    if float(sold_share) > 1:
        raise ValueError(f"sold_share={sold_share!r} is out of range; allowed: (0, 1]")
    return float(price_drop) / (float(sold_share) * float(saleable_stock))


def saleable_stock(balance_sheet: pd.DataFrame) -> float:
    """The system's impairment-saleable stock at t = 0: ``Σ_i (loans_i + securities_i)``."""
    bs = validate_fire_sale_balance_sheet(balance_sheet)
    return float(np.sum(bs.loans) + np.sum(bs.securities))


def map_eba_balance_sheet(
    eba: pd.DataFrame,
    *,
    cash_share: float = 0.05,
    interbank_share: float = 0.0,
    real_estate_share: float = 0.3,
) -> pd.DataFrame:
    """Map the EBA 2018 stress-test extract (INET Oxford's fire-sale data) to a fire-sale balance sheet.

    Input columns: ``bank_id, CET1E, leverage, debt_sec, govbonds`` (amounts in EUR million;
    ``leverage`` in percent; ``govbonds`` may be a string sum such as ``"13+27682"``). The data
    carry no total assets, liquid assets, interbank assets or real-estate loans, so the mapping
    rests on these assumptions (the first three follow INET Oxford's own loader of this file):

    1. ``capital = CET1E`` (CET1 capital).
    2. ``total_assets = CET1E / (leverage/100)``: the Basel III leverage-ratio exposure measure,
       which includes off-balance-sheet items, stands in for total assets; with it, the initial
       assets/capital multiple is ``100/leverage`` (e.g. 4.30% → 23.3×), comparable with
       ``r* = 25`` (a 4% leverage ratio) — the capital concept (CET1 rather than Tier 1) makes it
       conservative.
    3. ``cash = cash_share · total_assets`` (INET: 5%), a liquid buffer that is not sold.
    4. ``securities = debt_sec`` (government bonds, the sum ``a+b`` of ``govbonds``, plus the
       other debt securities ``debt_sec − govbonds``): the marketable holdings marked to market.
       ``govbonds > debt_sec`` raises.
    5. ``interbank_assets = interbank_share · total_assets`` (no data; default 0, i.e. no
       non-impairment sale layer, which makes the model a one-layer fire sale).
    6. ``loans = total_assets − cash − securities − interbank_assets`` (INET's "other assets":
       everything else is treated as the loan book); a negative value raises.
    7. ``liquid_assets = cash + interbank_assets + securities`` (Zhang–Guo–Wen–Sun counts the saleable
       bonds and interbank claims as liquid assets; selling them consumes liquidity).
    8. ``real_estate_loans = real_estate_share · loans`` (no data; default 0.3, the order of
       the household-mortgage share of EU bank loans — a scenario parameter, not an estimate).

    Returns a DataFrame with ``FIRE_SALE_COLUMNS`` plus ``government_bonds`` (for reference;
    the model does not use it).
    """
    missing = [c for c in ("bank_id", "CET1E", "leverage", "debt_sec", "govbonds") if c not in eba.columns]
    if missing:
        raise ValueError(f"eba is missing column(s) {', '.join(map(repr, missing))}; "
                         "required: bank_id, CET1E, leverage, debt_sec, govbonds")
    for name, value, high in (("cash_share", cash_share, 1.0), ("interbank_share", interbank_share, 1.0),
                              ("real_estate_share", real_estate_share, 1.0)):
        if isinstance(value, bool) or not _is_number(value) or not 0.0 <= float(value) <= high:
            raise ValueError(f"{name}={value!r} is out of range; allowed: [0, {high}]")
    banks = list(eba["bank_id"])

    def _numbers(column: str) -> np.ndarray:
        out = np.empty(len(banks))
        for k, raw in enumerate(eba[column]):
            out[k] = _parse_sum(raw, column, banks[k])
        return out

    cet1 = _numbers("CET1E")
    leverage = _numbers("leverage")
    debt_sec = _numbers("debt_sec")
    gov = _numbers("govbonds")
    for k, bank in enumerate(banks):
        if cet1[k] <= 0:
            raise _bank_error("CET1E", bank, cet1[k], "CET1 capital must be > 0")
        if not 0 < leverage[k] <= 100:
            raise _bank_error("leverage", bank, leverage[k], "the leverage ratio must be in (0, 100] percent")
        if gov[k] > debt_sec[k]:
            raise _bank_error("govbonds", bank, gov[k], f"government bonds must not exceed debt_sec={debt_sec[k]!r}")
    assets = cet1 / (leverage / 100.0)
    cash = cash_share * assets
    interbank = interbank_share * assets
    loans = assets - cash - debt_sec - interbank
    for k, bank in enumerate(banks):
        if loans[k] < 0:
            raise _bank_error("debt_sec", bank, debt_sec[k],
                              "cash, interbank assets and debt securities exceed the implied total assets")
    return pd.DataFrame(
        {
            "bank_id": banks,
            "total_assets": assets,
            "capital": cet1,
            "liquid_assets": cash + interbank + debt_sec,
            "interbank_assets": interbank,
            "loans": loans,
            "securities": debt_sec,
            "real_estate_loans": real_estate_share * loans,
            "government_bonds": gov,
        }
    )


def _parse_sum(raw: object, column: str, bank: object) -> float:
    """A number, or a string sum of numbers such as ``"13+27682"``."""
    if isinstance(raw, str):
        parts = raw.split("+")
        try:
            value = sum(float(p) for p in parts)
        except ValueError:
            raise _bank_error(column, bank, raw, "a number or a sum 'a+b' of numbers is required") from None
    elif _is_number(raw) and not isinstance(raw, bool):
        value = float(raw)  # type: ignore[arg-type]
    else:
        raise _bank_error(column, bank, raw, "a number or a sum 'a+b' of numbers is required")
    if not np.isfinite(value) or value < 0:
        raise _bank_error(column, bank, raw, "a finite number >= 0 is required")
    return value


def sector_correlations_from_indices(indices: pd.DataFrame, *, real_estate: str = "real_estate", values: str = "prices",
                                     min_obs: int = 60) -> dict[str, float]:
    """Correlation of each sector's losses with the real-estate sector's, from industry index series.

    Zhang–Guo–Wen–Sun's round-0 shock hits the loans to sector s by ``α·ρ_s``, with ``ρ_s`` the
    correlation of sector s's (Shenwan) industry index with the real-estate index. Here

        ``X_s,t = −(log P_s,t − log P_s,t−1)``   (``values="prices"``; ``X_s,t = −r_s,t`` for ``"returns"``)
        ``ρ_s = corr(X_s, X_re)``                 (Pearson, over the dates where both are observed)

    (the correlation of losses equals that of returns). Parameters: ``indices`` — dates (ascending
    index) × columns, one per sector-loan column of the balance sheet (e.g. ``loans_construction``)
    plus the real-estate column ``real_estate``; NaN = not observed (a return needs two consecutive
    observed prices); ``min_obs`` — fewest common observations per sector. Returns
    ``{sector column: ρ_s}`` in column order. Raises ``ValueError`` naming the column: the
    real-estate column absent, no sector column, a non-positive price, fewer than ``min_obs``
    common observations, or a constant series (no correlation).
    """
    if values not in ("prices", "returns"):
        raise ValueError(f"values={values!r} is not allowed; allowed values: 'prices', 'returns'")
    if real_estate not in indices.columns:
        raise ValueError(f"sector indices: no real-estate column {real_estate!r}; columns: {', '.join(map(str, indices.columns))}")
    sectors = [c for c in indices.columns if c != real_estate]
    if not sectors:
        raise ValueError(f"sector indices: only the real-estate column {real_estate!r}; add one column per sector-loan column")
    data = indices.to_numpy(dtype=float, na_value=np.nan)
    if values == "prices":
        if (data[np.isfinite(data)] <= 0).any():
            col = indices.columns[int(np.flatnonzero(((data <= 0) & np.isfinite(data)).any(axis=0))[0])]
            raise ValueError(f"sector indices: column {col!r} has a non-positive price; allowed: index levels > 0")
        data = -np.diff(np.log(data), axis=0)
    else:
        data = -data
    x_re = data[:, list(indices.columns).index(real_estate)]
    out = {}
    for name in sectors:
        x = data[:, list(indices.columns).index(name)]
        both = np.isfinite(x) & np.isfinite(x_re)
        if both.sum() < min_obs:
            raise ValueError(f"sector indices: column {name!r} has {int(both.sum())} losses observed together with "
                             f"{real_estate!r}; at least {min_obs} are needed")
        a, b = x[both] - x[both].mean(), x_re[both] - x_re[both].mean()
        denom = np.sqrt((a @ a) * (b @ b))
        if denom == 0:
            raise ValueError(f"sector indices: column {name!r} or {real_estate!r} is constant; no correlation")
        out[str(name)] = float(np.clip((a @ b) / denom, -1.0, 1.0))
    return out
