"""The fire-sale model over a grid of shocks α: the SR curve, the weighted-round elasticity TW
(Zhang–Guo–Wen–Sun eq. 25) and the three regions of Zhang–Guo–Wen–Sun (linear → inverted U → linear)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from measures.stress.firesale import (
    SYSTEM_OUTPUTS,
    FireSaleConfig,
    _bank_table,
    _simulate,
    _system_outputs,
    check_alpha,
)
from measures.stress.firesale_inputs import (
    sector_weights,
    validate_fire_sale_balance_sheet,
)


def alpha_grid(start: float = 0.005, stop: float = 0.40, step: float = 0.005) -> np.ndarray:
    """Shock grid ``start, start + step, ..., stop`` (Zhang–Guo–Wen–Sun: 0.5% to 40% by 0.5%, 80 points).

    Points are ``start + k·step`` rounded to 12 decimals, so 0.005·k prints as it reads.
    """
    for name, value in (("start", start), ("stop", stop), ("step", step)):
        check_alpha(value, name=name)
    if step <= 0 or stop < start:
        raise ValueError(f"alpha_grid needs step > 0 and stop >= start; got start={start}, stop={stop}, step={step}")
    n = int(np.floor((stop - start) / step + 1e-9)) + 1
    return np.round(start + step * np.arange(n), 12)


def weighted_round_elasticity(alphas: Sequence[float], w: Sequence[float]) -> np.ndarray:
    """TW (Zhang–Guo–Wen–Sun eq. 25): the arc elasticity of W between consecutive grid points.

    ``TW_k = ((W_k − W_{k−1}) / W_{k−1}) / ((α_k − α_{k−1}) / α_{k−1})``; ``TW_0`` and every
    ``TW_k`` with ``W_{k−1} = 0`` (or ``α_{k−1} = 0``) are NaN. ``alphas`` must increase.
    """
    a = np.asarray(alphas, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if a.ndim != 1 or a.shape != w.shape:
        raise ValueError(f"alphas and w must be 1-d of the same length; got shapes {a.shape} and {w.shape}")
    if a.size > 1 and not np.all(np.diff(a) > 0):
        k = int(np.flatnonzero(np.diff(a) <= 0)[0]) + 1
        raise ValueError(f"alphas must be strictly increasing; alphas[{k}]={a[k]!r} <= alphas[{k - 1}]={a[k - 1]!r}")
    out = np.full(a.shape, np.nan)
    if a.size < 2:
        return out
    w_prev, a_prev = w[:-1], a[:-1]
    ok = (w_prev != 0) & (a_prev != 0)
    dw = np.divide(w[1:] - w_prev, w_prev, out=np.full(w_prev.shape, np.nan), where=ok)
    da = np.divide(a[1:] - a_prev, a_prev, out=np.full(a_prev.shape, np.nan), where=ok)
    out[1:] = np.divide(dw, da, out=np.full(dw.shape, np.nan), where=ok)
    return out


def fire_sale_curve(balance_sheet: pd.DataFrame, alphas: Sequence[float], **options: object) -> pd.DataFrame:
    """System outputs of ``fire_sale`` at every α of a strictly increasing grid, plus ``tw``.

    ``options`` are ``fire_sale``'s keyword options (``r_star``, ``omega``, ``omega_rule``, ``omega_calibration``, ``tol``,
    ``max_rounds``, ``tol_basis``, ``cap_loan_sales``, ``sector_correlations``; the defaults of
    ``FireSaleConfig``). One row per α
    with columns ``alpha``, ``SYSTEM_OUTPUTS``, ``tw`` and ``status``; each row is identical to
    ``fire_sale(balance_sheet, alpha=α, **options).system()`` (the table is validated once).
    """
    curve, _ = _run_grid(balance_sheet, alphas, banks=False, **options)
    return curve


def fire_sale_curve_with_banks(
    balance_sheet: pd.DataFrame, alphas: Sequence[float], **options: object
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``fire_sale_curve`` and the per-bank tables of every α in one pass.

    Returns ``(curve, banks)``: ``curve`` as ``fire_sale_curve``; ``banks`` stacks
    ``fire_sale(balance_sheet, alpha=α, **options).banks`` for every α with a leading ``alpha``
    column (bank order as in ``balance_sheet``).
    """
    return _run_grid(balance_sheet, alphas, banks=True, **options)


def _run_grid(
    balance_sheet: pd.DataFrame,
    alphas: Sequence[float],
    *,
    banks: bool,
    sector_correlations: Mapping[str, float] | None = None,
    **options: object,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    rows, tables = fire_sale_runs(balance_sheet, alphas, banks=banks, sector_correlations=sector_correlations, **options)
    return assemble_curve(rows, tables if banks else None)


def fire_sale_runs(
    balance_sheet: pd.DataFrame,
    alphas: Sequence[float],
    *,
    banks: bool,
    sector_correlations: Mapping[str, float] | None = None,
    **options: object,
) -> tuple[list[dict], list[pd.DataFrame]]:
    """The model at each α of ``alphas`` (each run independent of the others): the system rows
    (``alpha``, ``SYSTEM_OUTPUTS``, ``status``) and, with ``banks``, the per-bank tables with
    an ``alpha`` column. :func:`assemble_curve` of the runs of consecutive α chunks, concatenated,
    is the curve of the whole grid."""
    cfg = FireSaleConfig.of(**options)  # type: ignore[arg-type]
    grid = [check_alpha(a, name=f"alphas[{k}]") for k, a in enumerate(alphas)]
    if not grid:
        raise ValueError("alphas is empty; give at least one shock")
    names, rho = sector_weights(sector_correlations or {})
    bs = validate_fire_sale_balance_sheet(balance_sheet, sector_columns=names)
    omega = cfg.omega_for(bs)
    rows, tables = [], []
    for alpha in grid:
        sim = _simulate(bs, alpha, rho, cfg, omega)
        rows.append({"alpha": alpha, **_system_outputs(bs, sim), "status": sim["status"]})
        if banks:
            tables.append(_bank_table(bs, sim).assign(alpha=alpha))
    return rows, tables


def assemble_curve(rows: list[dict], tables: list[pd.DataFrame] | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The curve (with ``tw``, which needs consecutive α) and the stacked bank tables of the
    runs of :func:`fire_sale_runs` in α order (``tables`` None: no bank table)."""
    curve = pd.DataFrame(rows, columns=["alpha", *SYSTEM_OUTPUTS, "status"])
    curve.insert(len(curve.columns) - 1, "tw", weighted_round_elasticity(curve["alpha"], curve["w"]))
    if tables is None:
        return curve, None
    table = pd.concat(tables, ignore_index=True)
    return curve, table[["alpha", *[c for c in table.columns if c != "alpha"]]]


def fire_sale_regions(curve: pd.DataFrame, *, il_share: float = 0.25) -> pd.DataFrame:
    """Split an SR curve into Zhang–Guo–Wen–Sun's three regions.

    Definition (Zhang–Guo–Wen–Sun describes the regions only verbally; this rule is the project's):
    the **contagion** region (inverted U) is the α span from the first to the last grid point
    where the indirect loss ``IL = SR − DL`` is at least ``il_share`` times its maximum over the
    grid; the **relief** region (linear, risk absorbed) lies before it and the **outbreak**
    region (linear, failures at once) after it. With no contagion (max IL = 0) everything is
    relief. Returns one row per region present: ``region, alpha_from, alpha_to, sr_max,
    alpha_sr_max, n_failed_max, rounds_max``.
    """
    missing = [c for c in ("alpha", "sr", "il", "n_failed", "rounds") if c not in curve.columns]
    if missing:
        raise ValueError(f"curve is missing column(s) {', '.join(missing)}; pass the output of fire_sale_curve")
    if not 0 < il_share <= 1:
        raise ValueError(f"il_share={il_share!r} is out of range; allowed: (0, 1]")
    il = curve["il"].to_numpy(dtype=np.float64)
    label = np.full(len(curve), "relief", dtype=object)
    top = il.max() if il.size else 0.0
    if top > 0:
        hot = np.flatnonzero(il >= il_share * top)
        label[hot[0] : hot[-1] + 1] = "contagion"
        label[hot[-1] + 1 :] = "outbreak"
    rows = []
    for region in ("relief", "contagion", "outbreak"):
        part = curve[label == region]
        if part.empty:
            continue
        k = int(np.argmax(part["sr"].to_numpy()))
        rows.append(
            {
                "region": region,
                "alpha_from": float(part["alpha"].iloc[0]),
                "alpha_to": float(part["alpha"].iloc[-1]),
                "sr_max": float(part["sr"].iloc[k]),
                "alpha_sr_max": float(part["alpha"].iloc[k]),
                "n_failed_max": int(part["n_failed"].max()),
                "rounds_max": int(part["rounds"].max()),
            }
        )
    return pd.DataFrame(rows)


def sr_change_rate(alphas: Sequence[float], sr: Sequence[float]) -> np.ndarray:
    """The change rate of SR between consecutive grid points (Zhang–Guo–Wen–Sun fig. 3, drawn against TW).

    ``g_k = (SR_k − SR_{k−1}) / SR_{k−1}``, the relative change of the system's loss from one shock
    to the next (the paper plots it without a formula; this is the plain relative change, the
    numerator of TW's arc elasticity, eq. 25, applied to SR); ``g_0`` and every ``g_k`` with
    ``SR_{k−1} = 0`` are NaN. ``alphas`` must increase strictly (the same check as
    :func:`weighted_round_elasticity`).
    """
    sr = np.asarray(sr, dtype=np.float64)
    weighted_round_elasticity(alphas, sr)  # validates the shapes and the order
    out = np.full(sr.shape, np.nan)
    if sr.size > 1:
        prev = sr[:-1]
        out[1:] = np.divide(sr[1:] - prev, prev, out=np.full(prev.shape, np.nan), where=prev != 0)
    return out
