"""Result object of a two-step DCC-GARCH fit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from measures.core.adapters.arch_adapter import UnivariateGarchFit
from measures.core.status import is_failed


@dataclass(frozen=True, kw_only=True)
class DCCResult:
    """Two-step DCC(1,1)-GARCH estimates (Engle 2002).

    Attributes
    ----------
    names : tuple of str
        Series names, in column order.
    index : pandas.Index
        The dates (or positions) of the fitted sample.
    univariate : tuple of UnivariateGarchFit
        First-step fits (decimal units), one per series.
    a, b : float
        DCC parameters.
    std_errors : ndarray, shape (2,)
        Standard errors of ``(a, b)`` (``std_error_method``), conditional on step one.
    std_error_method : str
        ``sandwich`` or ``hessian`` (numerical derivatives of the second-step likelihood).
    loglik_correlation : float
        Second-step ``L_C(a, b)`` (full) or composite log-likelihood at the estimates.
    loglik : float
        ``sum_i loglik_i + L_C``: the QML log-likelihood of Engle (2002) eq. 25 when every
        univariate fit is Gaussian and ``likelihood == "full"``; otherwise a quasi value.
    sigma : ndarray, shape (T, N)
        Conditional volatilities ``sigma_i,t`` in decimals.
    std_resid : ndarray, shape (T, N)
        Standardised residuals ``z_i,t``.
    qbar : ndarray, shape (N, N)
        ``z'z / T``.
    correlation : ndarray, shape (T, N, N)
        ``R_t``.
    likelihood : str
        ``full`` or ``composite``.
    status : str
        ``ok`` / ``warning:<Class>`` / ``failed:<Class>: message``; the worst of the
        univariate fits and the second step. A ``failed`` result must not be used.
    refits : DataFrame or None
        Real-time fits only (:mod:`measures.dcc.realtime`): the parameter path of the refits
        (:func:`measures.dcc.realtime.param_frame`); the paths are then the real-time filter and
        ``univariate``, ``a``, ``b``, ``std_errors``, ``loglik``, ``qbar`` those of the last refit.
    row_status : ndarray of str or None
        Real-time fits only: the status of each row (that of the refit in force).
    """

    names: tuple[str, ...]
    index: pd.Index
    univariate: tuple[UnivariateGarchFit, ...]
    a: float
    b: float
    std_errors: np.ndarray
    std_error_method: str
    loglik_correlation: float
    loglik: float
    sigma: np.ndarray
    std_resid: np.ndarray
    qbar: np.ndarray
    correlation: np.ndarray
    likelihood: str
    status: str
    refits: pd.DataFrame | None = None
    row_status: np.ndarray | None = None

    def statuses(self) -> np.ndarray:
        """The status of every row: ``row_status``, or the fit's status repeated."""
        if self.row_status is not None:
            return self.row_status
        return np.full(self.nobs, self.status, dtype=object)

    @property
    def converged(self) -> bool:
        """False when any step failed."""
        return not is_failed(self.status)

    @property
    def nobs(self) -> int:
        return int(self.sigma.shape[0])

    def _position(self, name: str) -> int:
        if name not in self.names:
            raise ValueError(f"name={name!r} is not a fitted series; fitted: {', '.join(self.names)}")
        return self.names.index(name)

    def rho(self, first: str, second: str) -> pd.Series:
        """Conditional correlation path ``rho_t`` of two series."""
        i, j = self._position(first), self._position(second)
        return pd.Series(self.correlation[:, i, j], index=self.index, name=f"rho[{first},{second}]")

    def volatility(self, name: str) -> pd.Series:
        """Conditional volatility path ``sigma_t`` (decimals) of one series."""
        return pd.Series(self.sigma[:, self._position(name)], index=self.index, name=f"sigma[{name}]")

    def estimates(self) -> pd.DataFrame:
        """Tidy table ``series, term, estimate, std_error, t_stat, status`` of both steps."""
        rows = []
        for name, fit in zip(self.names, self.univariate):
            for term, est, se in zip(fit.param_names, fit.params, fit.std_errors):
                rows.append((name, term, est, se, fit.status))
        for term, est, se in zip(("dcc_a", "dcc_b"), (self.a, self.b), self.std_errors):
            rows.append(("dcc", term, est, se, self.status))
        frame = pd.DataFrame(rows, columns=["series", "term", "estimate", "std_error", "status"])
        frame.insert(4, "t_stat", frame["estimate"] / frame["std_error"])
        return frame
