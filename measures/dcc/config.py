"""Options of the DCC-GARCH engine (frozen, keyword-only, validated)."""

from __future__ import annotations

from dataclasses import dataclass

from measures.core.adapters.arch_adapter import DISTRIBUTIONS, MEAN_MODELS, VOLATILITY_MODELS
from measures.core.config import Config, check_choice, check_range

LIKELIHOODS = ("full", "composite")
PAIRS = ("all", "contiguous")
STD_ERRORS = ("sandwich", "hessian")


@dataclass(frozen=True, kw_only=True)
class DCCConfig(Config):
    """Specification of a two-step DCC(1,1)-GARCH fit (Engle 2002).

    Attributes
    ----------
    vol : {"gjr", "garch"}
        Univariate variance model: GJR-GARCH(1,1,1) (V-Lab's choice, default) or GARCH(1,1).
    dist : {"normal", "t"}
        Univariate innovation distribution.
    mean : {"constant", "zero"}
        Univariate mean model.
    likelihood : {"full", "composite"}
        Second step: the full N-variate Gaussian QML likelihood of Engle (2002), or the
        composite likelihood over pairs of Engle, Shephard & Sheppard (2008).
    pairs : {"all", "contiguous"}
        Pairs entering the composite likelihood: all ``N(N-1)/2`` pairs, or the ``N-1``
        contiguous pairs ``(i, i+1)`` (ESS 2008's "2MSCLE"). Ignored for ``full``.
    std_errors : {"sandwich", "hessian"}
        Second-step standard errors of ``(a, b)``: the sandwich ``H^-1 J H^-1`` (robust; the
        only valid choice for the composite likelihood) or ``-H^-1``, from numerical
        derivatives, conditional on the first-step estimates.
    min_obs : int
        Fewer observations than this raise (joint fits) or fail with a status (per-bank fits).
    max_persistence : float
        The constraint ``a + b <= max_persistence < 1``.
    """

    vol: str = "gjr"
    dist: str = "normal"
    mean: str = "constant"
    likelihood: str = "full"
    pairs: str = "all"
    std_errors: str = "sandwich"
    min_obs: int = 250
    max_persistence: float = 0.9999

    def validate(self) -> None:
        check_choice("vol", self.vol, VOLATILITY_MODELS)
        check_choice("dist", self.dist, DISTRIBUTIONS)
        check_choice("mean", self.mean, MEAN_MODELS)
        check_choice("likelihood", self.likelihood, LIKELIHOODS)
        check_choice("pairs", self.pairs, PAIRS)
        check_choice("std_errors", self.std_errors, STD_ERRORS)
        check_range("min_obs", self.min_obs, low=20, integer=True)
        check_range("max_persistence", self.max_persistence, low=0.5, high=1.0, high_open=True)
