"""Options of the MES / LRMES / SRISK / SES measures (frozen, keyword-only, validated)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from measures.core.config import Config, check_choice, check_range

LRMES_ROUTES = ("closed_form", "simulation", "mes")


@dataclass(frozen=True, kw_only=True)
class SystemicRiskConfig(Config):
    """Parameters of MES, LRMES, SRISK and SES (docs/srisk.md; defaults: V-Lab / Brownlees & Engle 2017).

    Attributes
    ----------
    k : float
        Prudential capital fraction in SRISK and SES (8%).
    crash : float
        Market decline ``d`` defining the crisis for LRMES (40%).
    horizon : int
        LRMES horizon ``h`` in trading days (126, six months).
    kappa : float
        Dynamic-MES threshold on the market return (-2%).
    window : int
        Historical-MES rolling window in days (252).
    tail : float
        Historical-MES tail share of the system return (5%).
    lrmes_route : {"closed_form", "simulation", "mes"}
        ``1 - exp(log(1-d) beta)``, the bootstrap simulation of Brownlees & Engle, or
        ``1 - exp(-18 MES)`` (Acharya, Engle & Richardson 2012).
    n_paths : int
        Simulated paths per date for the simulation route.
    seed : int
        Seed of the bootstrap (numpy Generator).
    mes_causal : bool
        Dynamic MES tail expectations, and the simulation route's bootstrap pool, from residuals
        up to ``t`` only (``True``, default: no look-ahead) or from the whole sample as in
        Brownlees & Engle (``False``).
    """

    k: float = 0.08
    crash: float = 0.40
    horizon: int = 126
    kappa: float = -0.02
    window: int = 252
    tail: float = 0.05
    lrmes_route: str = "closed_form"
    n_paths: int = 10_000
    seed: int = 12345
    mes_causal: bool = True

    def validate(self) -> None:
        check_range("k", self.k, low=0.0, high=1.0, low_open=True, high_open=True)
        check_range("crash", self.crash, low=0.0, high=1.0, low_open=True, high_open=True)
        check_range("horizon", self.horizon, low=1, integer=True)
        check_range("kappa", self.kappa, high=0.0, high_open=True)
        check_range("window", self.window, low=20, integer=True)
        check_range("tail", self.tail, low=0.0, high=0.5, low_open=True)
        check_choice("lrmes_route", self.lrmes_route, LRMES_ROUTES)
        check_range("n_paths", self.n_paths, low=100, integer=True)
        check_range("seed", self.seed, low=0, integer=True)
        check_choice("mes_causal", self.mes_causal, (False, True))

    def for_realtime(self) -> "SystemicRiskConfig":
        """The causal options: ``mes_causal`` true (kernel and bootstrap pool on data up to t)."""
        return self if self.mes_causal else dataclasses.replace(self, mes_causal=True)


SIMULATION_DATES = ("last", "year_end", "quarter_end")
SES_MES = ("hist", "dyn")


@dataclass(frozen=True, kw_only=True)
class SRiskPanelConfig(SystemicRiskConfig):
    """The measures' options plus those of the daily bank panel (:func:`measures.systemic.srisk_panel`).

    Attributes
    ----------
    simulation_dates : {"last", "year_end", "quarter_end"}
        Simulation route: the dates simulated (each bank's last date, or the last trading day
        of each year or quarter).
    max_liability_age_days : int or None
        Published liabilities (and equity) older than this many calendar days count as
        missing; ``None``: no limit.
    ses_theta, ses_delta : float
        The constants θ and δ of SES ``(k L − 1 + θ MES + δ) W`` (Acharya et al. 2017, as
        surveyed by Lu–Zhang; docs/srisk.md). θ = 1, δ = 0: the capital shortfall against the
        target ``k`` on quasi-assets once the equity has lost its MES.
    ses_mes : {"hist", "dyn"}
        The crisis behind the MES of SES: ``hist`` — the worst ``tail`` share of system days in
        the last ``window`` days (historical MES, Acharya et al.'s empirical definition);
        ``dyn`` — system return below ``kappa`` (dynamic MES of Brownlees & Engle).
    """

    simulation_dates: str = "last"
    max_liability_age_days: int | None = 550
    ses_theta: float = 1.0
    ses_delta: float = 0.0
    ses_mes: str = "hist"

    def validate(self) -> None:
        super().validate()
        check_choice("simulation_dates", self.simulation_dates, SIMULATION_DATES)
        if self.max_liability_age_days is not None:
            check_range("max_liability_age_days", self.max_liability_age_days, low=1, integer=True)
        check_range("ses_theta", self.ses_theta, low=0.0)
        check_range("ses_delta", self.ses_delta)
        check_choice("ses_mes", self.ses_mes, SES_MES)
