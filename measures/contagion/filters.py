"""Pre-filters of the Granger network's input inside each window: ``none``, ``difference``, ``garch``.

ΔCoVaR series are close to unit-root; a Granger test on such levels rejects often for reasons that
have nothing to do with contagion. ``contagion.filter`` transforms each bank's series inside each
contagion window (the window's rows only, so a window's network uses no other window's data):

* ``none``: the levels ``x_t`` (Liu–Ma 2021);
* ``difference``: ``Δx_t = x_t - x_{t-1}`` (missing when either day is missing; the window's first
  row is missing);
* ``garch``: ``ε_t / σ_t``, the standardized residuals of a GARCH(1,1) with a constant mean fitted by
  QML to ``Δx_t`` (``arch``, through :func:`measures.core.adapters.arch_adapter.fit_univariate_garch`,
  the univariate step of the DCC stages) on the window's observed differences in order — the
  pre-filter of Billio, Getmansky, Lo & Pelizzon 2012, who GARCH(1,1)-filter returns, i.e.
  differences, before their Granger tests. The differences are divided by ``100 sd(Δx)`` before the
  fit (the fit works in percent; the standardized residuals do not depend on the scale). A bank
  whose GARCH fit fails is left out of that window (recorded).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from measures.core.status import FitStatus

FILTERS = ("none", "difference", "garch")


def prefilter(block: pd.DataFrame, how: str) -> tuple[pd.DataFrame, list[tuple]]:
    """The window ``block`` (dates x banks) filtered by ``how`` (module docstring), and ``(bank, n_obs,
    reason)`` for the banks whose GARCH fit failed (their column is all missing)."""
    if how == "none":
        return block, []
    diff = block - block.shift(1)
    if how == "difference":
        return diff, []
    from measures.core.adapters.arch_adapter import fit_univariate_garch  # noqa: PLC0415 (arch only for this filter)

    out = pd.DataFrame(np.nan, index=block.index, columns=block.columns)
    failed = []
    for bank in block.columns:
        d = diff[bank].dropna()
        sd = float(d.std(ddof=1)) if len(d) > 1 else 0.0
        if not len(d) or not sd > 0:
            continue  # nothing to fit: the screening that follows excludes the bank (min_obs or constant)
        fit = fit_univariate_garch(d.to_numpy() / (100.0 * sd), vol="garch", mean="constant")
        if FitStatus.parse(fit.status).failed:
            failed.append((bank, len(d), f"GARCH(1,1) pre-filter failed in the window: {fit.status}"))
            continue
        out.loc[d.index, bank] = fit.std_resid
    return out, failed
