"""Hausman (1978) specification test of fixed against random effects.

    H = d' (V_FE - V_RE)^{-1} d,   d = b_FE - b_RE,   H ~ chi2(k) under H0

on the k slopes common to both models (docs/panel.md). Under H0 (effects uncorrelated with
the regressors) both estimators are consistent and RE is efficient, so V_FE - V_RE is
positive semi-definite asymptotically. In a sample it need not be: then the result says
so (``positive_definite=False``, status ``warning:NotPositiveDefinite``) and the
Moore–Penrose generalized inverse is used (equal to the inverse whenever the difference
is non-singular), so ``H`` can be negative, as in Stata's ``hausman``.

R's ``plm::phtest`` reports ``abs(H)`` with the ordinary inverse: the two agree exactly
when the difference is positive definite, and up to the sign otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from measures.core.status import FitStatus


@dataclass(frozen=True)
class HausmanTest:
    """Hausman statistic ``statistic`` ~ chi2(``df``) with ``p_value``; ``status`` flags a non-PD difference."""

    statistic: float
    df: int
    p_value: float
    positive_definite: bool
    status: str

    def rejects(self, alpha: float) -> bool:
        """True when H0 (random effects consistent) is rejected at level ``alpha``."""
        return bool(self.p_value < alpha)


def hausman_test(b_fe: np.ndarray, cov_fe: np.ndarray, b_re: np.ndarray, cov_re: np.ndarray) -> HausmanTest:
    """Hausman test on common slopes (same order in both inputs).

    Parameters
    ----------
    b_fe, b_re : (k,) arrays
        Fixed- and random-effects estimates of the common slopes.
    cov_fe, cov_re : (k, k) arrays
        Their conventional (non-robust) covariances.

    Returns
    -------
    HausmanTest
        ``p_value = P(chi2(k) > H)`` (1 when H <= 0).
    """
    d = np.asarray(b_fe, dtype=float) - np.asarray(b_re, dtype=float)
    diff = np.asarray(cov_fe, dtype=float) - np.asarray(cov_re, dtype=float)
    k = d.shape[0]
    if d.ndim != 1 or diff.shape != (k, k) or k == 0:
        raise ValueError(f"hausman_test: need k >= 1 slopes and k x k covariances, got d {d.shape}, V {diff.shape}")
    diff = (diff + diff.T) / 2.0
    try:
        np.linalg.cholesky(diff)
        positive_definite = True
    except np.linalg.LinAlgError:
        positive_definite = False
    if positive_definite:
        statistic = float(d @ np.linalg.solve(diff, d))
        status = FitStatus("ok")
    else:
        statistic = float(d @ np.linalg.pinv(diff, hermitian=True) @ d)
        status = FitStatus("warning", "NotPositiveDefinite")
    p_value = float(stats.chi2.sf(statistic, k)) if statistic > 0 else 1.0
    return HausmanTest(statistic=statistic, df=k, p_value=p_value, positive_definite=positive_definite, status=str(status))
