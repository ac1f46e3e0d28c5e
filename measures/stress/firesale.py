"""Double-layer fire sales under a real-estate credit shock (Zhang–Guo–Wen–Sun; the algorithm
stated in docs/firesale.md is the definition implemented here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from measures.core.config import Config, ConfigError, check_choice, check_range
from measures.stress.firesale_inputs import (
    FireSaleBalanceSheet,
    calibrate_omega,
    sector_weights,
    validate_fire_sale_balance_sheet,
)

SYSTEM_OUTPUTS = (
    "sr", "ll", "cl", "dl", "il", "delina", "delsi", "delloss", "lossre", "losssi", "lossla",
    "lgap", "cgap", "rounds", "n_failed", "n_failed_liquidity", "n_failed_insolvency", "w",
)
"""System outputs of one run, in the order of the curve's columns."""

_HISTORY_COLUMNS = (
    "round", "n_selling", "delina", "della", "delsi", "price_impact_loans", "price_impact_securities",
    "lossla", "losssi", "n_failed_insolvency", "n_failed_liquidity",
)
_INT_HISTORY = frozenset({"round", "n_selling", "n_failed_insolvency", "n_failed_liquidity"})
_NONE, _INSOLVENCY, _LIQUIDITY = 0, 1, 2
_CAUSES = {_NONE: pd.NA, _INSOLVENCY: "insolvency", _LIQUIDITY: "liquidity"}


@dataclass(frozen=True, kw_only=True)
class OmegaRule(Config):
    """The unit-free statement that calibrates the price impact ω (:func:`calibrate_omega`).

    Selling ``sold_share`` of the system's saleable stock lowers its price by ``price_drop``:
    ``ω = price_drop / (sold_share · Σ_i (loans_i + securities_i))``.
    """

    sold_share: float = 0.01
    price_drop: float = 0.01

    def validate(self) -> None:
        check_range("sold_share", self.sold_share, low=0.0, high=1.0, low_open=True)
        check_range("price_drop", self.price_drop, low=0.0)


@dataclass(frozen=True, kw_only=True)
class FireSaleConfig(Config):
    """Options of the fire-sale model (the same defaults in the API and in ``params.yaml``).

    r_star : maximum assets/capital multiple (Zhang–Guo–Wen–Sun's 4% leverage ratio = 25), ≥ 1.
    omega_rule : ``"calibrated"`` (default: ω is recalibrated on each cross-section by
        ``omega_calibration``, see ``calibrate_omega``) or ``"fixed"`` (ω = ``omega`` in every
        cross-section: Zhang–Guo–Wen–Sun's replication setting, 1e-14 per yuan).
    omega : the fixed linear price impact per currency unit sold, ≥ 0 (``omega_rule="fixed"``
        only; ``None`` = ``PAPER_OMEGA``, Zhang–Guo–Wen–Sun's 1e-14). A number with
        ``omega_rule="calibrated"`` is inconsistent and raises.
    omega_calibration : the statement ("selling x of the saleable stock moves its price by y")
        that gives ω under ``omega_rule="calibrated"``.
    tol : stop when a round has no failure and its fire-sale losses sum below the threshold, > 0.
    max_rounds : hard cap on the rounds, ≥ 1.
    tol_basis : ``"capital"`` (default: the threshold is ``tol · Σ_i c_i,0``, which makes the
        number of rounds independent of the currency unit) or ``"absolute"`` (the literal rule
        of the algorithm in docs/firesale.md: the threshold is ``tol`` in the data's currency unit).
    cap_loan_sales : the literal rule ``della = k·u`` exceeds a bank's loans ``la`` when it must
        shed more than its loans and securities (``u > la + si``: a bank whose capital is nearly
        gone and which holds other, unsaleable assets). ``True`` (default) sells at most ``la``
        (``della = min(la, k·u)``; then ``delsi = si``); ``False`` keeps the literal rule: the
        phantom sale counts in ``Σ della`` and hits every seller's loan price.
    """

    r_star: float = 25.0
    omega_rule: str = "calibrated"
    omega: float | None = None
    omega_calibration: OmegaRule = OmegaRule()
    tol: float = 1e-12
    max_rounds: int = 100
    tol_basis: str = "capital"
    cap_loan_sales: bool = True

    def validate(self) -> None:
        check_choice("tol_basis", self.tol_basis, ("absolute", "capital"))
        check_choice("cap_loan_sales", self.cap_loan_sales, (False, True))
        check_range("r_star", self.r_star, low=1.0)
        check_omega(self.omega_rule, self.omega)
        check_range("tol", self.tol, low=0.0, low_open=True)
        check_range("max_rounds", self.max_rounds, low=1, integer=True)

    def omega_for(self, bs: FireSaleBalanceSheet) -> float:
        """ω of a validated cross-section: the fixed ``omega`` (``PAPER_OMEGA`` when None), or the
        ``omega_calibration`` statement on its saleable stock."""
        if self.omega_rule == "fixed":
            return PAPER_OMEGA if self.omega is None else float(self.omega)
        stock = float(np.sum(bs.loans) + np.sum(bs.securities))
        return calibrate_omega(stock, sold_share=self.omega_calibration.sold_share,
                               price_drop=self.omega_calibration.price_drop)

    @classmethod
    def of(cls, *, omega_rule: str | None = None, omega: float | None = None, **options: object) -> FireSaleConfig:
        """The configuration of the API's keyword options: ``omega_rule=None`` means ``"fixed"``
        when ``omega`` is a number and ``"calibrated"`` otherwise (``fire_sale(bs, omega=0.01)``)."""
        rule = omega_rule if omega_rule is not None else ("calibrated" if omega is None else "fixed")
        return cls(omega_rule=rule, omega=omega, **options)  # type: ignore[arg-type]


PAPER_OMEGA = 1e-14
"""Zhang–Guo–Wen–Sun's fixed price impact, per yuan (``omega_rule="fixed"`` with ``omega=None``)."""
OMEGA_RULES = ("calibrated", "fixed")


def check_omega(rule: object, omega: object) -> None:
    """Raise :class:`ConfigError` unless ``omega_rule`` and ``omega`` agree (a fixed ω is only read
    under ``omega_rule="fixed"``); an ``omega_rule`` mapping is the former form of ``omega_calibration``."""
    if isinstance(rule, Mapping):
        raise ConfigError(f"omega_rule={dict(rule)!r}: omega_rule is now the choice 'calibrated' | 'fixed'; "
                          "the calibration statement (sold_share, price_drop) moved to omega_calibration")
    check_choice("omega_rule", rule, OMEGA_RULES)
    if omega is not None:
        check_range("omega", omega, low=0.0)
        if rule == "calibrated":
            raise ConfigError(f"omega={omega!r} is a fixed price impact but omega_rule='calibrated' recalibrates ω "
                              "on every cross-section; allowed: omega_rule: fixed with omega a number ≥ 0 (null = "
                              f"Zhang–Guo–Wen–Sun's {PAPER_OMEGA:g}), or omega: null with omega_rule: calibrated")


@dataclass(frozen=True)
class FireSaleResult:
    """System outputs of one fire-sale run (docs/firesale.md, "Outputs") and the per-bank table.

    Ratios: ``delina, delsi, delloss, ll, lgap`` are over ``L0 = Σ l_i``; ``lossre, losssi,
    lossla, cl, cgap`` over ``C0 = Σ c_i``; ``sr = ll + cl``; ``dl = lossre``; ``il = sr − dl``.
    ``rounds`` (T) counts the rounds in which some bank sold; ``w`` is the asset-weighted failure
    round (eq. 24). ``status`` is ``"ok"``, ``"warning:MaxRoundsReached"`` (stopped at
    ``max_rounds`` before the stopping rule held), ``"warning:PriceFloor"`` (a round's price
    impact ω·D exceeded 1 and was capped at 1), ``"warning:HoldingFloor"`` (a survivor's loans
    or securities went below 0 and were set to 0) or ``"warning:LoanOversale"`` (some bank's
    ``della = k·u`` exceeded its loan book and ``cap_loan_sales`` was off: the literal rule sold
    loans the bank did not hold), the first that applies in that order. ``"ok"`` and
    ``"warning:LoanOversale"`` runs follow the literal algorithm exactly; the others deviate where it breaks.
    ``banks`` has one row per bank: ``bank_id, status ('failed'/'survived'), failure_round,
    cause ('insolvency'/'liquidity'), last_sale_round, loss0, delina, della, delsi, lossla,
    losssi`` (sums over rounds), ``lgap, cgap`` (the gaps in the failure round; 0 for survivors,
    ``lgap`` 0 for round-0 failures), and the final ``total_assets, capital, liquid_assets, interbank_assets, loans,
    securities`` (for a failed bank: at the start of its failure round, when it exits).
    ``history`` has one row per executed round t ≥ 1: ``round, n_selling``, the round's sales
    ``delina, della, delsi``, the price impacts ``ω·ΣDA`` and ``ω·ΣDS`` (after the cap),
    ``lossla, losssi`` and the failures by cause.
    """

    alpha: float
    sr: float
    ll: float
    cl: float
    dl: float
    il: float
    delina: float
    delsi: float
    delloss: float
    lossre: float
    losssi: float
    lossla: float
    lgap: float
    cgap: float
    rounds: int
    n_failed: int
    n_failed_liquidity: int
    n_failed_insolvency: int
    w: float
    status: str
    banks: pd.DataFrame
    history: pd.DataFrame

    def system(self) -> dict[str, float | int | str]:
        """The system outputs as a flat dict (``alpha``, the outputs, ``status``)."""
        out: dict[str, float | int | str] = {"alpha": self.alpha}
        out.update({name: getattr(self, name) for name in SYSTEM_OUTPUTS})
        out["status"] = self.status
        return out


def _simulate(bs: FireSaleBalanceSheet, alpha: float, rho: np.ndarray, cfg: FireSaleConfig, omega: float) -> dict:
    """The algorithm of :func:`fire_sale` on validated arrays; returns totals and per-bank arrays."""
    r_star, tol, max_rounds = float(cfg.r_star), float(cfg.tol), cfg.max_rounds
    if cfg.tol_basis == "capital":
        tol *= float(bs.capital.sum())
    a, c, l = bs.total_assets.copy(), bs.capital.copy(), bs.liquid_assets.copy()
    ina, la, si = bs.interbank_assets.copy(), bs.loans.copy(), bs.securities.copy()
    n = bs.n
    # Round 0: the direct shock.
    loss0 = alpha * bs.real_estate_loans
    if rho.size:
        loss0 = loss0 + alpha * (bs.sector_loans @ rho)
    cgap0 = c - loss0
    alive = cgap0 >= 0
    fail_round = np.where(alive, -1, 0)
    cause = np.where(alive, _NONE, _INSOLVENCY)
    lgap_fail = np.zeros(n)
    cgap_fail = np.where(alive, 0.0, cgap0)
    a = np.where(alive, a - loss0, a)
    c = np.where(alive, cgap0, c)
    la = np.where(alive, la - loss0, la)
    tot = {k: np.zeros(n) for k in ("delina", "della", "delsi", "lossla", "losssi")}
    last_sale = np.full(n, -1)
    history: list[dict[str, float | int]] = []
    rounds = 0
    t = 0
    stopped_by_rule = False
    price_floor = holding_floor = oversale = False
    while t < max_rounds:
        need = np.where(alive, np.maximum(a - r_star * c, 0.0), 0.0)
        if not (need > 0).any():
            stopped_by_rule = True  # nobody has to sell
            break
        t += 1
        delina = np.minimum(ina, need)
        u = need - delina
        book = la + si
        k = np.divide(la, book, out=np.zeros(n), where=book > 0)
        della = k * u
        if (della > la).any():  # k·u exceeds the loan book exactly when u > la + si
            oversale = True
            if cfg.cap_loan_sales:
                della = np.minimum(la, della)
        delsi = np.minimum(si, u - della)
        impact_la, impact_si = omega * della.sum(), omega * delsi.sum()
        if impact_la > 1.0 or impact_si > 1.0:
            price_floor = True
            impact_la, impact_si = min(impact_la, 1.0), min(impact_si, 1.0)
        lossla = impact_la * della
        losssi = np.where(alive, impact_si * si, 0.0)
        lgap = l - losssi - delina - delsi
        cgap = c - lossla - losssi
        insolvent = alive & (cgap < 0)
        illiquid = alive & ~insolvent & (lgap < 0)
        failed = insolvent | illiquid
        fail_round[failed] = t
        cause[insolvent] = _INSOLVENCY
        cause[illiquid] = _LIQUIDITY
        lgap_fail[failed] = lgap[failed]
        cgap_fail[failed] = cgap[failed]
        for name, value in (("delina", delina), ("della", della), ("delsi", delsi), ("lossla", lossla),
                            ("losssi", losssi)):
            tot[name] += value
        sold = delina + della + delsi
        if sold.sum() > 0:
            rounds += 1
        last_sale[sold > 0] = t
        history.append({
            "round": t, "n_selling": int((sold > 0).sum()), "delina": float(delina.sum()),
            "della": float(della.sum()), "delsi": float(delsi.sum()), "price_impact_loans": impact_la,
            "price_impact_securities": impact_si, "lossla": float(lossla.sum()), "losssi": float(losssi.sum()),
            "n_failed_insolvency": int(insolvent.sum()), "n_failed_liquidity": int(illiquid.sum()),
        })
        survive = alive & ~failed
        loss = lossla + losssi
        a = np.where(survive, a - lossla - losssi - delina - della - delsi, a)
        c = np.where(survive, cgap, c)  # = c − lossla − losssi, the same rounding as the test
        l = np.where(survive, lgap, l)  # = l − losssi − delina − delsi
        ina = np.where(survive, ina - delina, ina)
        la_new = la - della
        si_new = si - delsi - losssi
        if (survive & ((la_new < 0) | (si_new < 0))).any():
            holding_floor = True
            la_new, si_new = np.maximum(la_new, 0.0), np.maximum(si_new, 0.0)
        la = np.where(survive, la_new, la)
        si = np.where(survive, si_new, si)
        alive = survive
        if not failed.any() and loss.sum() < tol:
            stopped_by_rule = True
            break
    if not stopped_by_rule and not (alive & (a - r_star * c > 0)).any():
        stopped_by_rule = True  # the cap fell on a round after which nobody has to sell
    if not stopped_by_rule:
        status = "warning:MaxRoundsReached"
    elif price_floor:
        status = "warning:PriceFloor"
    elif holding_floor:
        status = "warning:HoldingFloor"
    elif oversale and not cfg.cap_loan_sales:
        status = "warning:LoanOversale"
    else:
        status = "ok"
    return {
        "loss0": loss0, "fail_round": fail_round, "cause": cause, "lgap_fail": lgap_fail,
        "cgap_fail": cgap_fail, "rounds": rounds, "status": status, "last_sale": last_sale, "history": history,
        "final": {"total_assets": a, "capital": c, "liquid_assets": l, "interbank_assets": ina,
                  "loans": la, "securities": si},
        **tot,
    }


def _system_outputs(bs: FireSaleBalanceSheet, sim: dict) -> dict[str, float | int]:
    """The system outputs (docs/firesale.md, "Outputs") from one simulation."""
    l0, c0, a0 = bs.liquid_assets.sum(), bs.capital.sum(), bs.total_assets.sum()
    delina = sim["delina"].sum() / l0
    delsi = sim["delsi"].sum() / l0
    delloss = sim["losssi"].sum() / l0
    ll = delina + delsi + delloss
    lossre = sim["loss0"].sum() / c0
    losssi = sim["losssi"].sum() / c0
    lossla = sim["lossla"].sum() / c0
    cl = lossre + losssi + lossla
    sr = ll + cl
    failed = sim["fail_round"] >= 0
    out = {
        "sr": sr, "ll": ll, "cl": cl, "dl": lossre, "il": sr - lossre,
        "delina": delina, "delsi": delsi, "delloss": delloss,
        "lossre": lossre, "losssi": losssi, "lossla": lossla,
        "lgap": np.maximum(-sim["lgap_fail"][failed], 0.0).sum() / l0,
        "cgap": np.maximum(-sim["cgap_fail"][failed], 0.0).sum() / c0,
        "rounds": int(sim["rounds"]),
        "n_failed": int(failed.sum()),
        "n_failed_liquidity": int((sim["cause"] == _LIQUIDITY).sum()),
        "n_failed_insolvency": int((sim["cause"] == _INSOLVENCY).sum()),
        "w": (sim["fail_round"][failed] * bs.total_assets[failed]).sum() / a0,
    }
    return {k: (v if isinstance(v, int) else float(v)) for k, v in out.items()}


def _bank_table(bs: FireSaleBalanceSheet, sim: dict) -> pd.DataFrame:
    failed = sim["fail_round"] >= 0
    return pd.DataFrame(
        {
            "bank_id": list(bs.bank_id),
            "status": np.where(failed, "failed", "survived"),
            "failure_round": pd.array([int(r) if r >= 0 else pd.NA for r in sim["fail_round"]], dtype="Int64"),
            "cause": pd.array([_CAUSES[int(x)] for x in sim["cause"]], dtype="string"),
            "last_sale_round": pd.array([int(r) if r >= 0 else pd.NA for r in sim["last_sale"]], dtype="Int64"),
            "loss0": sim["loss0"],
            **{name: sim[name] for name in ("delina", "della", "delsi", "lossla", "losssi")},
            "lgap": sim["lgap_fail"],
            "cgap": sim["cgap_fail"],
            **sim["final"],
        }
    )


def check_alpha(alpha: object, *, name: str = "alpha") -> float:
    """The shock α as a float in [0, 1] (loss rate on real-estate loans)."""
    if isinstance(alpha, np.floating):
        alpha = float(alpha)
    check_range(name, alpha, low=0.0, high=1.0)
    return float(alpha)  # type: ignore[arg-type]


def fire_sale(
    balance_sheet: pd.DataFrame,
    *,
    alpha: float,
    r_star: float = 25.0,
    omega: float | None = None,
    omega_rule: str | None = None,
    omega_calibration: OmegaRule | None = None,
    tol: float = 1e-12,
    max_rounds: int = 100,
    tol_basis: str = "capital",
    cap_loan_sales: bool = True,
    sector_correlations: Mapping[str, float] | None = None,
) -> FireSaleResult:
    """Run Zhang–Guo–Wen–Sun's double-layer fire-sale model for one shock α (docs/firesale.md).

    Round 0: ``loss0_i = α re_i (+ α Σ_s ρ_s loans_i,s)``; banks with ``c_i − loss0_i < 0``
    fail (insolvency). Rounds t ≥ 1: a bank with ``a_i > r* c_i`` must shed
    ``del_i = a_i − r* c_i``; it first sells interbank assets at no loss
    (``delina_i = min(ina_i, del_i)``), then loans and securities in proportion
    ``k_i = la_i/(la_i + si_i)``: ``della_i = k_i u_i``, ``delsi_i = min(si_i, u_i − della_i)``,
    ``u_i = del_i − delina_i``. Linear price impact: ``lossla_i = ω della_i Σ della`` and
    ``losssi_i = ω si_i Σ delsi`` (eq. 7, 9). A bank fails when its capital gap
    ``c_i − lossla_i − losssi_i`` (eq. 12) or else its liquidity gap
    ``l_i − losssi_i − delina_i − delsi_i`` (eq. 11) is negative, and exits after the round.
    Outputs: ``LL`` (eq. 19), ``CL`` (eq. 21), ``SR = LL + CL = DL + IL`` (eq. 23), ``LGAP``,
    ``CGAP`` (eq. 20, 22), ``W`` (eq. 24); see ``FireSaleResult``.

    Guards, which change nothing while the literal algorithm keeps prices and survivors' holdings
    non-negative: a round's price impact ``ω·Σdel`` is capped at 1 (a price cannot fall below
    0); a survivor's loans ``la − della`` and securities ``si − delsi − losssi`` (the algorithm marks
    down the securities sold as well as those kept) are floored at 0. ``cap_loan_sales=True``
    additionally caps ``della_i`` at ``la_i`` (see ``FireSaleConfig``). Each guard that acts,
    and an uncapped loan oversale, sets ``status``.

    Parameters
    ----------
    balance_sheet : one row per bank with ``FIRE_SALE_COLUMNS`` (one currency unit).
    alpha : loss rate on real-estate loans, in [0, 1].
    r_star, omega_rule, omega, omega_calibration, tol, max_rounds, tol_basis, cap_loan_sales : see
        ``FireSaleConfig`` (the defaults are its defaults; ``omega_rule=None``: a number ``omega``
        fixes ω, ``omega=None`` calibrates ω on this balance sheet, :meth:`FireSaleConfig.of`).
    sector_correlations : optional ``{sector-loan column: correlation with real estate}``;
        those columns must be in ``balance_sheet`` and are parts of ``loans``.
    """
    cfg = FireSaleConfig.of(r_star=r_star, omega=omega, omega_rule=omega_rule, omega_calibration=omega_calibration or OmegaRule(),
                            tol=tol, max_rounds=max_rounds, tol_basis=tol_basis, cap_loan_sales=cap_loan_sales)
    alpha = check_alpha(alpha)
    names, rho = sector_weights(sector_correlations or {})
    bs = validate_fire_sale_balance_sheet(balance_sheet, sector_columns=names)
    sim = _simulate(bs, alpha, rho, cfg, cfg.omega_for(bs))
    history = pd.DataFrame(
        {col: np.array([h[col] for h in sim["history"]], dtype=np.int64 if col in _INT_HISTORY else np.float64)
         for col in _HISTORY_COLUMNS}
    )
    return FireSaleResult(alpha=alpha, **_system_outputs(bs, sim), status=sim["status"], banks=_bank_table(bs, sim),
                          history=history)
