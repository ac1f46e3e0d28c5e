"""Stress cascade: interbank matrix, cascade failures on the bank–asset network, DebtRank (seed 001).

Reads the params group ``stress.cascade`` and, with ``source: balance_sheet``, the canonical
``balance_sheet`` and ``banks`` tables; with ``source: synthetic`` (default) it builds the
263-bank 2019 cross-section of :func:`pipeline.simulator.network_banks.simulate_network_banks`.
Writes to ``data/processed/stress/``:

* ``cascade_matrix.parquet`` — interbank matrix estimation diagnostics per system
  (mismatch of the margins, iterations, links, status);
* ``cascade_surface.parquet`` — one row per system (``all`` | ``without_largest``), scenario
  (``common`` or a named failure), alpha, beta: n_banks, n_failed, failed_share, rounds,
  losses by channel (shock, fire_sale, interbank; currency units), status;
* ``cascade_hierarchy.parquet`` — system, scenario, beta, bank_id, layer (failed banks of the
  named-failure scenarios; layer 1 = the named banks);
* ``cascade_boundary.parquet`` — failure boundary of every bank (closed form) and the joint
  boundary of every group (bisection), with the members' individual boundaries summarised;
* ``debtrank.parquet`` — DebtRank of each bank defaulting alone;

and ``data/processed/quality/stress_cascade.parquet``. The model and every choice:
``docs/cascade.md``.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from measures.core.config import Config, check_choice, check_range
from measures.stress.bank_asset import BankAssetNetwork
from measures.stress.cascade import CascadeConfig, cascade
from measures.stress.debtrank import WEIGHT_RULES, debtrank_by_bank
from measures.stress.failure_boundary import failure_boundaries, group_failure_boundary
from measures.stress.maxent import RESCALE_RULES, max_entropy_matrix, minimum_density_matrix
from measures.stress.recovery import SENIORITY_RULES
from pipeline.io import write_parquet
from pipeline.params import group, load_params
from pipeline.quality import QualityRecord
from pipeline.simulator.network_banks import PERIOD_END, simulate_network_banks
from pipeline.stages.common import parser, read_canonical, write_quality

STAGE = "stress_cascade"
CLASSES = ("loans_other", "real_estate_loans", "securities")
NAMED_RULES = ("largest", "smallest")


@dataclasses.dataclass(frozen=True, kw_only=True)
class StressCascadeConfig(Config):
    """``stress.cascade`` (docs/cascade.md §9 and docs/parameters.md)."""

    source: str = "synthetic"
    seed: int = 20190101
    period: str | None = None
    threshold: float = 0.0
    seniority: str = "pari_passu"
    matrix: str = "maxent"
    rescale: str = "smaller"
    tol: float = 1e-10
    alpha_grid: tuple = (0.0, 0.15, 50)
    beta_grid: tuple = (0.0, 1.0, 50)
    named: tuple = (
        {"name": "largest_1", "banks": "largest", "n": 1},
        {"name": "smallest_30", "banks": "smallest", "n": 30},
        {"name": "smallest_100", "banks": "smallest", "n": 100},
    )
    named_alpha: float = 0.04
    named_betas: tuple = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    n_largest: int = 15
    without_largest: str = "restrict"
    market: str = "remaining"
    market_depth: float = 4.0
    residual_assets: str = "other"
    boundary_beta: float = 0.0
    debtrank_weights: str = "capital"

    def validate(self) -> None:
        check_choice("stress.cascade.source", self.source, ("synthetic", "balance_sheet"))
        check_range("stress.cascade.seed", self.seed, low=0, integer=True)
        if self.period is not None:
            try:
                pd.Timestamp(str(self.period))
            except ValueError:
                raise ValueError(f"stress.cascade.period={self.period!r} is not a date; allowed: YYYY-MM-DD or null") from None
        check_range("stress.cascade.threshold", self.threshold, low=0.0, high=1.0, high_open=True)
        check_choice("stress.cascade.seniority", self.seniority, SENIORITY_RULES)
        check_choice("stress.cascade.matrix", self.matrix, ("maxent", "min_density"))
        check_choice("stress.cascade.rescale", self.rescale, (*RESCALE_RULES, "smaller"))
        check_range("stress.cascade.tol", self.tol, low=0.0, high=1e-3, low_open=True)
        for name in ("alpha_grid", "beta_grid"):
            _grid(name, getattr(self, name))
        for spec in self.named:
            _named_spec(spec)
        check_range("stress.cascade.named_alpha", self.named_alpha, low=0.0, high=1.0)
        for b in self.named_betas:
            check_range("stress.cascade.named_betas", b, low=0.0, high=1.0)
        check_range("stress.cascade.n_largest", self.n_largest, low=0, integer=True)
        check_choice("stress.cascade.without_largest", self.without_largest, ("restrict", "reestimate", "none"))
        check_choice("stress.cascade.market", self.market, ("remaining", "original"))
        check_range("stress.cascade.market_depth", self.market_depth, low=1.0)
        check_choice("stress.cascade.residual_assets", self.residual_assets, ("other", "securities"))
        check_range("stress.cascade.boundary_beta", self.boundary_beta, low=0.0, high=1.0)
        check_choice("stress.cascade.debtrank_weights", self.debtrank_weights, WEIGHT_RULES)


def _grid(name: str, value: Any) -> np.ndarray:
    """``[start, stop, n]`` → ``n`` equally spaced values in [0, 1]."""
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ValueError(f"stress.cascade.{name}={value!r} must be [start, stop, n]")
    start, stop, n = value
    check_range(f"stress.cascade.{name} start", start, low=0.0, high=1.0)
    check_range(f"stress.cascade.{name} stop", stop, low=float(start), high=1.0)
    check_range(f"stress.cascade.{name} n", n, low=1, integer=True)
    return np.round(np.linspace(float(start), float(stop), int(n)), 12)


def _named_spec(spec: Any) -> tuple[str, str, int]:
    if not isinstance(spec, Mapping) or set(spec) != {"name", "banks", "n"}:
        raise ValueError(f"stress.cascade.named entry {spec!r} must be a mapping with keys name, banks, n")
    check_choice(f"stress.cascade.named[{spec['name']}].banks", spec["banks"], NAMED_RULES)
    check_range(f"stress.cascade.named[{spec['name']}].n", spec["n"], low=1, integer=True)
    if str(spec["name"]) == "common":
        raise ValueError("stress.cascade.named: the name 'common' is reserved for the common-shock scenario")
    return str(spec["name"]), str(spec["banks"]), int(spec["n"])


# ----------------------------------------------------------------------------- inputs


def balance_sheet_inputs(bs: pd.DataFrame, banks: pd.DataFrame | None, period: str | None
                         ) -> tuple[pd.DataFrame, list[QualityRecord], pd.Timestamp]:
    """One period of the canonical balance sheet, mapped to the cascade inputs, with exclusions recorded.

    External classes: ``loans_other = loans - real_estate_loans``, ``real_estate_loans``,
    ``securities`` (a missing real-estate or securities figure counts as 0, recorded as
    ``filled``); capital = ``equity``. Banks without both interbank margins, or without positive
    equity, total assets or loans, are excluded (recorded).
    """
    if bs is None or bs.empty:
        raise ValueError("stress.cascade.source=balance_sheet needs the canonical balance_sheet table, which is empty or absent")
    for col in ("total_assets", "equity", "loans", "interbank_assets", "interbank_liabilities"):
        if col not in bs.columns:
            raise ValueError(f"stress.cascade.source=balance_sheet needs balance_sheet column {col!r}; present: {sorted(bs.columns)}")
    when = bs["period_end"].max() if period is None else pd.Timestamp(str(period))
    frame = bs[bs["period_end"] == when].copy()
    if frame.empty:
        available = ", ".join(str(d.date()) for d in sorted(bs["period_end"].unique())[-8:])
        raise ValueError(f"stress.cascade.period={period!r}: no balance_sheet rows at {when.date()}; latest periods: {available}")
    records: list[QualityRecord] = []

    def record(rows: pd.DataFrame, action: str, reason: str, detail: str) -> None:
        for b in rows["bank_id"]:
            records.append(QualityRecord(STAGE, "balance_sheet", str(b), when, when, 1, action, reason, detail))

    for col in ("real_estate_loans", "securities"):
        if col not in frame.columns:
            frame[col] = np.nan
    checks = (
        (frame["interbank_assets"].isna() | frame["interbank_liabilities"].isna(), "missing_interbank_margin",
         "interbank assets or liabilities missing: the bank cannot be placed in the interbank matrix"),
        (~(frame["equity"] > 0), "non_positive_equity", "equity missing or <= 0: no capital to absorb losses"),
        (~(frame["total_assets"] > 0) | frame["loans"].isna(), "missing_assets", "total assets or loans missing"),
    )
    keep = pd.Series(True, index=frame.index)
    for bad, reason, detail in checks:
        bad = bad & keep
        record(frame[bad], "excluded", reason, detail)
        keep &= ~bad
    frame = frame[keep]
    for col in ("real_estate_loans", "securities"):
        missing = frame[col].isna()
        record(frame[missing], "filled", f"missing_{col}", f"{col} missing: counted as 0 in the external asset classes")
        frame[col] = frame[col].fillna(0.0)
    frame["real_estate_loans"] = np.minimum(frame["real_estate_loans"], frame["loans"])
    if banks is not None and "group" in banks.columns:
        frame = frame.merge(banks[["bank_id", "group"]], on="bank_id", how="left")
    if "group" not in frame.columns:
        frame["group"] = "all"
    frame["group"] = frame["group"].fillna("unassigned").astype(object)
    cols = ["bank_id", "group", "total_assets", "equity", "loans", "real_estate_loans", "securities",
            "interbank_assets", "interbank_liabilities"]
    return frame[cols].sort_values("bank_id", kind="mergesort").reset_index(drop=True), records, when


def estimate_matrix(frame: pd.DataFrame, cfg: StressCascadeConfig):
    """The interbank matrix from the margins, by the configured method."""
    a, l = frame["interbank_assets"].to_numpy(float), frame["interbank_liabilities"].to_numpy(float)
    rescale = cfg.rescale
    if rescale == "smaller":  # the interbank market inside the sample is at most the smaller total
        rescale = "assets" if a.sum() <= l.sum() else "liabilities"
    if cfg.matrix == "maxent":
        return max_entropy_matrix(a, l, tol=cfg.tol, rescale=rescale)
    return minimum_density_matrix(a, l, rescale=rescale)


def build_network(frame: pd.DataFrame, x: np.ndarray, threshold: float, depth: float = 1.0) -> tuple[BankAssetNetwork, list[str]]:
    """The bank–asset network: classes ``CLASSES``, other assets = the rest of total assets.

    The market of class ``m`` is ``depth`` times the banks' holdings (``market_depth``).

    ``other_assets = total_assets - loans - securities - Σ_j X_ij``, raised where needed so that
    the implied other liabilities are >= 0 (banks listed in the second return value).
    """
    q = np.column_stack([
        (frame["loans"] - frame["real_estate_loans"]).to_numpy(float),
        frame["real_estate_loans"].to_numpy(float),
        frame["securities"].to_numpy(float),
    ])
    capital = frame["equity"].to_numpy(float)
    other = frame["total_assets"].to_numpy(float) - q.sum(axis=1) - x.sum(axis=1)
    need = x.sum(axis=0) + capital - q.sum(axis=1) - x.sum(axis=1)
    raised = other < need - 1e-9 * frame["total_assets"].to_numpy(float)
    other = np.maximum(np.maximum(other, need), 0.0)
    raised_ids = [str(b) for b in frame["bank_id"][raised]]
    net = BankAssetNetwork(q, x, capital, threshold=threshold * capital, other_assets=other, names=list(frame["bank_id"]))
    return deepen(net, depth), raised_ids


def deepen(net: BankAssetNetwork, depth: float) -> BankAssetNetwork:
    """The same network with market sizes ``Q_m = depth * Σ_i q_im``."""
    return BankAssetNetwork(net.external_assets, net.interbank, net.capital, threshold=net.threshold,
                            other_assets=net.other_assets, market_size=depth * net.external_assets.sum(axis=0),
                            names=net.names)


# ----------------------------------------------------------------------------- scenarios


def _row(system: str, scenario: str, alpha: float, beta: float, res) -> dict[str, Any]:
    losses = res.total_losses()
    return {
        "system": system, "scenario": scenario, "alpha": float(alpha), "beta": float(beta),
        "n_banks": int(res.failed.size), "n_failed": res.n_failed, "failed_share": res.share_failed,
        "rounds": int(res.rounds), "loss_shock": losses["shock"], "loss_fire_sale": losses["fire_sale"],
        "loss_interbank": losses["interbank"], "status": res.status,
    }


def run_scenarios(systems: dict[str, tuple[BankAssetNetwork, list[str]]], named: dict[str, list[str]],
                  cfg: StressCascadeConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Common-shock surface and named-failure hierarchies on every system."""
    ccfg = CascadeConfig(seniority=cfg.seniority)
    alphas, betas = _grid("alpha_grid", list(cfg.alpha_grid)), _grid("beta_grid", list(cfg.beta_grid))
    rows, layers = [], []
    for system, (net, ids) in systems.items():
        for a in alphas:
            for b in betas:
                rows.append(_row(system, "common", a, b, cascade(net, alpha=a, beta=b, config=ccfg)))
        position = {bank: k for k, bank in enumerate(ids)}
        for scenario, members in named.items():
            start = [position[m] for m in members if m in position]
            if len(start) < len(members):  # a member was removed (e.g. the largest bank without the largest banks)
                continue
            for b in cfg.named_betas:
                res = cascade(net, alpha=cfg.named_alpha, beta=b, initial_failures=start, config=ccfg)
                rows.append(_row(system, scenario, cfg.named_alpha, b, res))
                for k in np.flatnonzero(res.failed):
                    layers.append({"system": system, "scenario": scenario, "beta": float(b), "bank_id": ids[k], "layer": int(res.layer[k])})
    surface = pd.DataFrame(rows)
    hierarchy = pd.DataFrame(layers, columns=["system", "scenario", "beta", "bank_id", "layer"])
    hierarchy["layer"] = hierarchy["layer"].astype("int64")
    hierarchy["beta"] = hierarchy["beta"].astype("float64")
    return surface, hierarchy


def boundaries(net: BankAssetNetwork, frame: pd.DataFrame, groups: dict[str, list[str]], cfg: StressCascadeConfig) -> pd.DataFrame:
    """Per-bank closed-form boundaries and each group's joint boundary (criterion ``all``)."""
    ccfg = CascadeConfig(seniority=cfg.seniority)
    ext = net.external_assets.sum(axis=1)
    b = failure_boundaries(net)
    rows = [
        {"kind": "bank", "id": bank, "group": g, "n_banks": 1, "external_assets": float(e), "capital": float(c),
         "boundary": float(v), "fraction": float(v / e) if e > 0 else np.inf, "n_failed": np.nan, "status": "ok"}
        for bank, g, e, c, v in zip(frame["bank_id"], frame["group"], ext, net.capital, b, strict=True)
    ]
    index = {bank: k for k, bank in enumerate(frame["bank_id"])}
    for name, members in groups.items():
        mask = np.zeros(net.n_banks, dtype=bool)
        mask[[index[m] for m in members]] = True
        fb = group_failure_boundary(net, mask, alpha=0.0, beta=cfg.boundary_beta, criterion="all", config=ccfg)
        rows.append({"kind": "group", "id": name, "group": name, "n_banks": int(mask.sum()),
                     "external_assets": float(ext[mask].sum()), "capital": float(net.capital[mask].sum()),
                     "boundary": fb.loss, "fraction": fb.fraction, "n_failed": float(fb.n_failed), "status": "ok"})
    return pd.DataFrame(rows)


def run(params_path: str, canonical: str, out: str, quality: str) -> None:
    params = load_params(params_path)
    cfg = StressCascadeConfig.from_mapping(_tuples(group(params, "stress.cascade")), where="stress.cascade")
    records: list[QualityRecord] = []
    if cfg.source == "synthetic":
        when = PERIOD_END
        frame = simulate_network_banks(seed=cfg.seed)[
            ["bank_id", "group", "total_assets", "equity", "loans", "real_estate_loans", "securities",
             "interbank_assets", "interbank_liabilities"]]
    else:
        data = read_canonical(Path(canonical))
        frame, records, when = balance_sheet_inputs(data.balance_sheet, data.banks, cfg.period)
    if cfg.residual_assets == "securities":
        rest = frame["total_assets"] - frame["loans"] - frame["securities"] - frame["interbank_assets"]
        frame = frame.assign(securities=frame["securities"] + rest.clip(lower=0.0))
    if len(frame) < 2:
        write_quality(records, quality, STAGE)
        raise ValueError(f"stress.cascade needs at least 2 banks with complete balance sheets; got {len(frame)} (see the quality output)")
    frame = frame.assign(size_rank=frame["total_assets"].rank(method="first", ascending=False).astype("int64"))
    by_size = list(frame.sort_values(["size_rank"])["bank_id"])
    named = {}
    for spec in cfg.named:
        name, rule, n = _named_spec(spec)
        if n >= len(frame):
            records.append(QualityRecord(STAGE, "balance_sheet", None, when, when, len(frame), "ignored", "named_group_too_large",
                                         f"named scenario {name}: {n} banks requested but the sample has only {len(frame)}; not run"))
            continue
        named[name] = by_size[:n] if rule == "largest" else by_size[::-1][:n]

    estimates, systems = [], {}
    est = estimate_matrix(frame, cfg)
    estimates.append(("all", len(frame), est))
    net, raised = build_network(frame, est.matrix, cfg.threshold, cfg.market_depth)
    systems["all"] = (net, list(frame["bank_id"]))
    n_large = min(cfg.n_largest, len(frame))
    kept = frame[frame["size_rank"] > n_large].reset_index(drop=True)
    if cfg.without_largest != "none" and cfg.n_largest > 0:
        if len(kept) < 2:
            records.append(QualityRecord(STAGE, "balance_sheet", None, when, when, len(kept), "ignored", "too_few_banks",
                                         f"without the {n_large} largest banks fewer than 2 remain: system without_largest not run"))
        elif cfg.without_largest == "restrict":
            sub = net.restrict(frame["size_rank"].to_numpy() > n_large, market=cfg.market)
            sub = sub if cfg.market == "original" else deepen(sub, cfg.market_depth)
            systems["without_largest"] = (sub, list(kept["bank_id"]))
        else:
            est2 = estimate_matrix(kept, cfg)
            estimates.append(("without_largest", len(kept), est2))
            systems["without_largest"] = (build_network(kept, est2.matrix, cfg.threshold, cfg.market_depth)[0], list(kept["bank_id"]))
    for bank in raised:
        records.append(QualityRecord(STAGE, "balance_sheet", bank, when, when, 1, "flagged", "other_assets_adjusted",
                                     "loans + securities + interbank assets exceed total assets, or the estimated interbank "
                                     "liabilities exceed total liabilities: other assets set so that the balance sheet balances"))
    matrix = pd.DataFrame([
        {"system": s, "period_end": when, "method": cfg.matrix, "n_banks": n, "total_interbank_assets": e.total_assets,
         "total_interbank_liabilities": e.total_liabilities, "relative_mismatch": e.relative_mismatch,
         "max_margin_error": e.max_margin_error, "iterations": int(e.iterations), "n_links": int(e.n_links),
         "density": e.n_links / (n * (n - 1)), "status": e.status}
        for s, n, e in estimates
    ])
    for s, _, e in estimates:
        if e.status != "ok":
            records.append(QualityRecord(STAGE, "balance_sheet", None, when, when, 0, "flagged", "interbank_margins",
                                         f"system {s}: {e.status}; relative mismatch of the totals {e.relative_mismatch:.4g}"))
    surface, hierarchy = run_scenarios(systems, named, cfg)
    groups = {f"largest_{n_large}": by_size[:n_large]} if n_large > 1 else {}
    groups.update({k: v for k, v in named.items() if len(v) > 1})
    for g, members in frame.groupby("group", sort=True)["bank_id"]:
        if len(members) > 1 and len(members) < len(frame):
            groups[f"group:{g}"] = list(members)
    bounds = boundaries(net, frame, groups, cfg).merge(frame[["bank_id", "size_rank"]].rename(columns={"bank_id": "id"}), on="id", how="left")
    dr = debtrank_by_bank(net.interbank, net.capital, psi=1.0, weights=cfg.debtrank_weights)
    debt = frame[["bank_id", "group", "size_rank", "equity", "interbank_assets", "interbank_liabilities"]].assign(
        debtrank=dr, status="ok")
    out_dir = Path(out)
    write_parquet(matrix, out_dir / "cascade_matrix.parquet", key=["system"])
    write_parquet(surface, out_dir / "cascade_surface.parquet", key=["system", "scenario", "alpha", "beta"])
    write_parquet(hierarchy, out_dir / "cascade_hierarchy.parquet", key=["system", "scenario", "beta", "layer", "bank_id"])
    write_parquet(bounds, out_dir / "cascade_boundary.parquet", key=["kind", "id"])
    write_parquet(debt, out_dir / "debtrank.parquet", key=["bank_id"])
    write_quality(records, quality, STAGE)


def _tuples(mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    """YAML lists → tuples (the frozen configuration holds hashable values)."""
    out = dict(mapping or {})
    for key in ("alpha_grid", "beta_grid", "named_betas", "named"):
        if key in out and isinstance(out[key], list):
            out[key] = tuple(out[key])
    return out


def main(argv: list[str] | None = None) -> None:
    p = parser(STAGE, __doc__)
    p.add_argument("--canonical", default="data/interim/canonical")
    p.add_argument("--out", default="data/processed/stress")
    args = p.parse_args(argv)
    run(args.params, args.canonical, args.out, args.quality)


if __name__ == "__main__":
    main(sys.argv[1:])
