"""Plausibility screens of daily prices and market capitalizations (docs/screens.md).

Four rules, applied per bank on the trading days (after vendor-filled holidays are dropped),
in this order, each with an action ``flag`` (recorded, kept), ``mask`` (set missing before
returns and weights are computed, recorded) or ``fail`` (:class:`ScreenFailure`):

``screen_impossible_value``
    a close or market cap that is non-finite, negative or above ``max_close`` /
    ``max_market_cap``, or a market cap of zero next to a valid close. Missing values and a
    close of 0 are the canonical "no valid price" and are not screened.
``screen_reversing_spike``
    a one-day price spike that reverses the next day (a typo in one close): with
    ``r_t = log P_t − log P_{t−1}`` between consecutive valid closes,

    .. math::

        |r_t| \\ge m,\\quad |r_{t+1}| \\ge m,\\quad r_t r_{t+1} < 0,\\quad
        |r_t + r_{t+1}| \\le \\nu \\min(|r_t|, |r_{t+1}|)

    with ``m = spike_min_return`` and ``ν = reversal_max_net``. Masking removes ``P_t``, so
    both returns it enters (``r_t``, ``r_{t+1}``) are missing.
``screen_cap_jump``
    a one-day market-cap jump and back that the close does not show (shares outstanding
    typed wrong for one day): the log cap ``log W`` has a reversing spike by the rule above
    with ``m = cap_jump_min``, and the gap between the cap and the price move,
    ``d_t = Δlog W_t − Δlog P_t``, is at least ``cap_jump_min`` on both days. A cap that
    lags the price by a day (``Δlog W_t = 0``) is not a jump. Masking removes ``W_t``; the
    weights then carry the previous day's cap.
``screen_mad_outlier``
    a return far from the bank's median in units of its median absolute deviation
    (Hampel's identifier, Hampel 1974; full reference in docs/screens.md):
    ``|r_t − med(r)| > k · med(|r − med(r)|)`` with ``k = mad_threshold``, over the bank's
    returns left after the rules above (banks with fewer than ``mad_min_obs`` returns, or a
    MAD of zero, are not screened). Masking removes the return ``r_t`` alone. With
    ``mad_basis: expanding`` (implied by ``realtime: true``) ``med`` and the MAD are those of
    the returns up to and including t, so the screen of r_t uses no later data (the first
    ``mad_min_obs − 1`` returns are not screened).

The spike and cap-jump rules need the day after: a close at t is a typo only if t+1 reverses
it, so they look one trading day ahead, in either mode (docs/realtime.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from measures.core.config import Config, check_choice, check_range
from measures.core.events import EVENT_COLUMNS

ACTIONS = ("flag", "mask", "fail")
#: rule (quality-record reason) -> (action field of ScreensConfig, threshold field)
RULES = {
    "screen_impossible_value": ("impossible", "max_close / max_market_cap"),
    "screen_reversing_spike": ("spikes", "spike_min_return"),
    "screen_cap_jump": ("cap_jumps", "cap_jump_min"),
    "screen_mad_outlier": ("mad_outliers", "mad_threshold"),
}
PARAMS = "data.screens"


MAD_BASES = ("full", "expanding")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScreensConfig(Config):
    """Plausibility screens (``data.screens`` in params.yaml; docs/screens.md).

    Each rule's action is ``flag``, ``mask`` or ``fail``; thresholds are log returns
    (``spike_min_return``, ``cap_jump_min``), MAD units (``mad_threshold``) or currency
    units (``max_close`` per share, ``max_market_cap``).
    """

    impossible: str = "fail"
    max_close: float = 1.0e8
    max_market_cap: float = 1.0e16
    spikes: str = "mask"
    spike_min_return: float = 0.5
    reversal_max_net: float = 0.25
    cap_jumps: str = "mask"
    cap_jump_min: float = 0.5
    mad_outliers: str = "flag"
    mad_threshold: float = 20.0
    mad_min_obs: int = 60
    mad_basis: str = "full"

    def for_realtime(self) -> "ScreensConfig":
        """``realtime: true``: the MAD screen of r_t from the returns up to t (``mad_basis: expanding``)."""
        return dataclasses.replace(self, mad_basis="expanding")

    def validate(self) -> None:
        check_choice("mad_basis", self.mad_basis, MAD_BASES)
        for action, _ in RULES.values():
            check_choice(action, getattr(self, action), ACTIONS)
        for name in ("max_close", "max_market_cap", "spike_min_return", "cap_jump_min", "mad_threshold"):
            check_range(name, getattr(self, name), low=0.0, low_open=True)
        check_range("reversal_max_net", self.reversal_max_net, low=0.0, high=1.0, high_open=True)
        check_range("mad_min_obs", self.mad_min_obs, low=3, integer=True)


class ScreenFailure(ValueError):
    """A screen whose action is ``fail`` found a value; names bank, date, column, value, rule and the param."""

    def __init__(self, *, rule: str, bank: str, date: pd.Timestamp, column: str, value: float, detail: str,
                 n_total: int) -> None:
        self.rule, self.bank, self.date, self.column, self.value = rule, bank, date, column, value
        action = RULES[rule][0]
        self.problem = (f"implausible {column} ({rule}): {detail}"
                        + (f"; {n_total - 1} more value(s) fail this rule" if n_total > 1 else ""))
        self.allowed = (f"fix the data, or set {PARAMS}.{action} to mask (set missing, recorded) or flag "
                        f"(kept, recorded), or change {PARAMS}.{RULES[rule][1]}")
        super().__init__(f"bank {bank!r}, date {date:%Y-%m-%d}, column {column!r}, value {value!r}: "
                         f"{self.problem} (allowed: {self.allowed})")


@dataclass(frozen=True)
class ScreenResult:
    """Output of :func:`screen_prices`.

    close, cap: the wide (date x bank) tables with masked values set missing.
    masked_returns: wide boolean, True where a return must be missing (both returns around a
    masked close; a masked MAD outlier).
    findings: one row per screened value: bank_id, date, column, value, rule, action, detail.
    """

    close: pd.DataFrame
    cap: pd.DataFrame
    masked_returns: pd.DataFrame
    findings: pd.DataFrame

    def events(self) -> pd.DataFrame:
        """The flags and masks as an event frame (one row per value; reason = rule)."""
        f = self.findings[self.findings["action"] != "fail"]
        return pd.DataFrame({
            "bank_id": f["bank_id"], "date_start": f["date"], "date_end": f["date"], "n_rows": 1,
            "action": f["action"].map({"flag": "flagged", "mask": "masked"}), "reason": f["rule"], "detail": f["detail"],
        }, columns=list(EVENT_COLUMNS)).reset_index(drop=True)

    def counts(self) -> pd.DataFrame:
        """Number of values per rule and action."""
        return self.findings.groupby(["rule", "action"]).size().rename("n").reset_index()

    def raise_failures(self) -> None:
        """Raise :class:`ScreenFailure` for the first value of the first rule whose action is ``fail``."""
        fails = self.findings[self.findings["action"] == "fail"]
        if len(fails):
            first = fails.iloc[0]
            n = int((fails["rule"] == first["rule"]).sum())
            raise ScreenFailure(rule=first["rule"], bank=first["bank_id"], date=first["date"], column=first["column"],
                                value=float(first["value"]), detail=first["detail"], n_total=n)


def _reversing(x: np.ndarray, minimum: float, max_net: float) -> np.ndarray:
    """Indices k of ``x`` (consecutive differences) where x[k], x[k+1] are a reversing spike."""
    a, b = x[:-1], x[1:]
    hit = ((np.abs(a) >= minimum) & (np.abs(b) >= minimum) & (a * b < 0)
           & (np.abs(a + b) <= max_net * np.minimum(np.abs(a), np.abs(b))))
    return np.flatnonzero(hit)


def _impossible(c: np.ndarray, w: np.ndarray, config: ScreensConfig) -> list[tuple[int, str, str]]:
    """(row, column, detail) of impossible closes and caps."""
    out = []
    bad_c = (np.isinf(c) | (c < 0) | (c > config.max_close))
    for i in np.flatnonzero(bad_c):
        out.append((i, "close", f"close {c[i]:.6g} is non-finite, negative or above {PARAMS}.max_close={config.max_close:.6g}"))
    valid_c = np.isfinite(c) & (c > 0) & ~bad_c
    bad_w = np.isinf(w) | (w < 0) | (w > config.max_market_cap) | ((w == 0) & valid_c)
    for i in np.flatnonzero(bad_w):
        out.append((i, "market_cap", f"market cap {w[i]:.6g} is non-finite, negative, zero next to a valid close "
                                     f"or above {PARAMS}.max_market_cap={config.max_market_cap:.6g}"))
    return out


def _screen_bank(c: np.ndarray, w: np.ndarray, dates: pd.DatetimeIndex, config: ScreensConfig):
    """Findings (row, column, rule, detail, value), masked closes, masked caps, masked returns of one bank."""
    c, w = c.copy(), w.copy()
    n = len(c)
    found, mret = [], np.zeros(n, dtype=bool)

    def valid_pos() -> np.ndarray:
        return np.flatnonzero(np.isfinite(c) & (c > 0))

    def hit(i: int, column: str, rule: str, detail: str, pos: np.ndarray, *, what: str = "value") -> None:
        """Record row i; unless the rule only flags, mask its value (a close takes its next return along) or return."""
        value = r_all[i] if what == "return" else c[i] if column == "close" else w[i]
        found.append((i, column, rule, detail, value))
        if getattr(config, RULES[rule][0]) == "flag":
            return
        if what == "return":
            mret[i] = True
        elif column == "market_cap":
            w[i] = np.nan
        else:
            c[i] = np.nan
            mret[i] = True
            later = pos[pos > i]
            if later.size:
                mret[later[0]] = True

    r_all = np.full(n, np.nan)
    pos = valid_pos()
    for i, column, detail in _impossible(c, w, config):
        hit(i, column, "screen_impossible_value", detail, pos)
    pos = valid_pos()
    r = np.diff(np.log(c[pos]))
    for k in _reversing(r, config.spike_min_return, config.reversal_max_net):
        i = pos[k + 1]
        hit(i, "close", "screen_reversing_spike",
            f"close {c[i]:.6g} on {dates[i]:%Y-%m-%d}: log returns {r[k]:+.4f} into it and {r[k + 1]:+.4f} out of it "
            f"reverse (both |r| >= {PARAMS}.spike_min_return={config.spike_min_return:g}, |sum| {abs(r[k] + r[k + 1]):.4f} "
            f"<= {PARAMS}.reversal_max_net={config.reversal_max_net:g} x the smaller)", pos)
    pos = np.flatnonzero(np.isfinite(c) & (c > 0) & np.isfinite(w) & (w > 0))
    dw = np.diff(np.log(w[pos]))
    d = dw - np.diff(np.log(c[pos]))
    for k in _reversing(dw, config.cap_jump_min, config.reversal_max_net):
        if abs(d[k]) >= config.cap_jump_min and abs(d[k + 1]) >= config.cap_jump_min:
            i = pos[k + 1]
            hit(i, "market_cap", "screen_cap_jump",
                f"market cap {w[i]:.6g} on {dates[i]:%Y-%m-%d}: log cap moves {dw[k]:+.4f} then {dw[k + 1]:+.4f} while the "
                f"close moves {dw[k] - d[k]:+.4f} then {dw[k + 1] - d[k + 1]:+.4f} (cap minus price >= "
                f"{PARAMS}.cap_jump_min={config.cap_jump_min:g} both days)", pos)
    pos = valid_pos()
    r_all[pos[1:]] = np.diff(np.log(c[pos]))
    r_all[mret] = np.nan
    for i, med, mad in _mad_outliers(r_all, config):
        hit(i, "close", "screen_mad_outlier",
            f"log return {r_all[i]:+.4f} on {dates[i]:%Y-%m-%d} is {abs(r_all[i] - med) / mad:.1f} MADs from the bank's "
            f"median {med:+.4f} (MAD {mad:.4g}{' of the returns up to that day' if config.mad_basis == 'expanding' else ''}; "
            f"> {PARAMS}.mad_threshold={config.mad_threshold:g})", pos, what="return")
    return found, c, w, mret


def _mad_outliers(r: np.ndarray, config: ScreensConfig) -> list[tuple[int, float, float]]:
    """Positions ``i`` of returns with ``|r_i − med| > k·MAD``, with their ``(med, MAD)``.

    ``mad_basis: full``: one median and MAD over all finite returns (at least ``mad_min_obs``).
    ``expanding``: the median and MAD of the finite returns up to and including ``i``, once
    there are ``mad_min_obs`` of them (a MAD of zero screens nothing).
    """
    ok = np.flatnonzero(np.isfinite(r))
    k = config.mad_threshold
    if config.mad_basis == "full":
        if ok.size < config.mad_min_obs:
            return []
        med = float(np.median(r[ok]))
        mad = float(np.median(np.abs(r[ok] - med)))
        return [(int(i), med, mad) for i in ok[np.abs(r[ok] - med) > k * mad]] if mad > 0 else []
    out = []
    for n in range(config.mad_min_obs, ok.size + 1):
        past = r[ok[:n]]
        med = float(np.median(past))
        mad = float(np.median(np.abs(past - med)))
        i = int(ok[n - 1])
        if mad > 0 and abs(r[i] - med) > k * mad:
            out.append((i, med, mad))
    return out


def screen_prices(close: pd.DataFrame, cap: pd.DataFrame, config: ScreensConfig | None = None) -> ScreenResult:
    """Apply the plausibility screens to wide (date x bank) closes and market caps.

    Parameters
    ----------
    close, cap
        Trading-day tables of adjusted closes and market capitalizations (same index and
        columns; missing = no value).
    config
        :class:`ScreensConfig`.

    Returns
    -------
    ScreenResult
        Masked tables, the returns to set missing and the findings; call
        :meth:`ScreenResult.raise_failures` to enforce the ``fail`` actions.
    """
    config = config or ScreensConfig()
    if not (cap.index.equals(close.index) and cap.columns.equals(close.columns)):
        cap = cap.reindex(index=close.index, columns=close.columns)
    arrays = {name: np.zeros(close.shape, dtype=bool) for name in ("close", "cap", "ret")}
    dates, rows = close.index, []
    for j, bank in enumerate(close.columns):
        c0, w0 = close[bank].to_numpy(dtype=float), cap[bank].to_numpy(dtype=float)
        found, c, w, m = _screen_bank(c0, w0, dates, config)
        arrays["close"][:, j], arrays["cap"][:, j], arrays["ret"][:, j] = np.isnan(c) & ~np.isnan(c0), np.isnan(w) & ~np.isnan(w0), m
        for i, column, rule, detail, value in found:
            rows.append({"bank_id": bank, "date": dates[i], "column": column, "value": float(value), "rule": rule,
                         "action": getattr(config, RULES[rule][0]), "detail": detail})
    findings = pd.DataFrame(rows, columns=["bank_id", "date", "column", "value", "rule", "action", "detail"])
    findings = findings.astype({"date": "datetime64[ns]", "value": float, "bank_id": object})
    order = {rule: k for k, rule in enumerate(RULES)}
    findings = findings.sort_values(["rule", "bank_id", "date"], key=lambda s: s.map(order) if s.name == "rule" else s,
                                    kind="mergesort").reset_index(drop=True)
    # unmasked tables are passed on as they are (same memory layout, same sums to the last bit)
    masks = {name: pd.DataFrame(a, index=close.index, columns=close.columns) for name, a in arrays.items()}
    out_c = close.mask(masks["close"]) if arrays["close"].any() else close
    out_w = cap.mask(masks["cap"]) if arrays["cap"].any() else cap
    return ScreenResult(close=out_c, cap=out_w, masked_returns=masks["ret"], findings=findings)


def check_lines(close: pd.DataFrame, cap: pd.DataFrame, config: ScreensConfig | None = None) -> list[tuple[str, str]]:
    """What the screens will do to these prices, as ``(kind, text)`` lines for ``python -m pipeline check``.

    ``estimates``: the rules that apply and the values they flag; ``skips``: the values they mask;
    ``cannot``: values whose rule fails (the returns stage stops there).
    """
    config = config or ScreensConfig()
    result = screen_prices(close, cap, config)
    rules = ", ".join(f"{rule} ({getattr(config, action)})" for rule, (action, _) in RULES.items())
    lines = [("estimates", f"plausibility screens ({PARAMS}): {rules}")]
    kinds = {"flag": "estimates", "mask": "skips", "fail": "cannot"}
    verbs = {"flag": "flags (kept)", "mask": "masks (set missing)", "fail": "fails on"}
    for (rule, action), f in result.findings.groupby(["rule", "action"], sort=False):
        first = ", ".join(f"{b} {d:%Y-%m-%d}" for b, d in zip(f["bank_id"][:3], f["date"][:3], strict=True))
        lines.append((kinds[action], f"{rule} {verbs[action]} {len(f)} value(s): {first}{', ...' if len(f) > 3 else ''}"))
    return lines
