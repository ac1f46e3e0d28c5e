"""Batched exact simplex for quantile regression over many (overlapping) windows.

The linear programme of Koenker & Bassett (1978),

    min_b  sum_i rho_q(y_i - x_i'b),     rho_q(u) = u (q - 1{u < 0}),

has an optimal vertex ``b(h) = X_h^{-1} y_h`` on a *basis* ``h`` of p observations with zero
residual (Koenker 2005, §2.2, Theorem 2.1). This module runs a Barrodale–Roberts (1973) style
primal simplex over such bases:

* at basis h, let ``psi_i = q - 1{r_i < 0}`` for the non-basic observations and
  ``xi = X_h^{-T} sum_{i not in h} psi_i x_i``. Freeing basis observation j in direction
  ``g = sigma X_h^{-1} e_j`` changes the loss at the rate ``D(j,+) = (1-q) - xi_j`` or
  ``D(j,-) = q + xi_j``. The basis is optimal iff every ``D >= 0`` i.e. ``xi in [-q, 1-q]^p``,
  equivalently the dual vector ``d_h = -xi`` lies in ``[q-1, q]^p``: with ``d_i = psi_i`` off the
  basis, ``X'd = 0`` and complementary slackness hold, so ``d`` certifies optimality (KKT /
  subgradient condition, Koenker 2005 eq. 2.10);
* otherwise the most negative ``D`` (Dantzig rule; D is the loss change per unit of the freed
  residual, so it does not depend on the scale of the columns) picks the edge, and the step
  length is the Barrodale–Roberts weighted-median line search: the loss along the edge is convex
  piecewise linear; its slope starts at D and rises by ``|x_i'g|`` at each breakpoint
  ``t_i = r_i / x_i'g``; the breakpoint where the slope turns non-negative enters the basis.

Windows are processed in *chains*: consecutive windows of a chain differ by ``step`` observations,
so each window starts from the previous window's optimal basis (warm start). A basis observation
that left the window is "dead": its own loss term is gone (``D(j,+) + D(j,-) = 0``) and it is
forced out with one line search. All chains advance in lock-step, one pivot per numpy pass
(vectorised across chains). Chain heads start cold from the p observations closest to a
least-squares fit shifted to its q-quantile (linearly independent ones, by Gram–Schmidt).

Degeneracy (ties: residuals that are zero off the basis, equal breakpoints — integer data,
duplicated rows, blocks of zero losses) is resolved by a symbolic perturbation
``y + eps*delta`` (Charnes 1952) with a fixed seeded ``delta``: a zero residual takes the side of
``delta_i - x_i'X_h^{-1}delta_h`` (its ``psi``), and tied breakpoints are ordered by their eps
part. The perturbed problem is non-degenerate, so the simplex cannot cycle, and its
certificate (any ``d_i`` in ``[q-1, q]`` is allowed at a zero residual) certifies the vertex of
the unperturbed problem; ``b`` itself is never perturbed.

Windows whose pivots exceed the budget, whose basis becomes numerically singular, or whose
line search finds no breakpoint (rank-deficient window) are flagged for the caller's fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: dual feasibility tolerance of the certificate (d_h in [q-1-TOL, q+TOL])
DUAL_TOL = 1e-11
#: margin above which the dual is strictly interior (solution unique, Koenker 2005 Thm 2.1)
UNIQUE_MARGIN = 1e-9
#: residuals below this multiple of max|y| count as zero (degenerate; sided by the perturbation)
ZERO_TOL = 1e-11
#: breakpoints this close (relative) are tied; the perturbation orders them
TIE_TOL = 1e-12
#: seed of the fixed symbolic-perturbation vector (results do not depend on it unless degenerate)
PERTURBATION_SEED = 20260101
#: relative pivot size below which the new basis is treated as singular
PIVOT_TOL = 1e-11

PENDING, CERTIFIED, FLAGGED = 0, 1, 2


@dataclass
class EngineResult:
    """Raw output of :func:`solve_windows` (one row per window)."""

    coef: np.ndarray  # (K, p)
    basis: np.ndarray  # (K, p) absolute row numbers
    state: np.ndarray  # (K,) PENDING / CERTIFIED / FLAGGED
    margin: np.ndarray  # (K,) min_j min(D(j,+), D(j,-)) at the certified basis
    min_abs_resid: np.ndarray  # (K,) smallest |residual| off the basis (primal degeneracy)
    loss: np.ndarray  # (K,) check loss sum_i rho_q(y_i - x_i'b) of the returned coefficients
    pivots: np.ndarray  # (K,) pivots spent on the window
    reason: np.ndarray  # (K,) object: why a window was flagged


def _cold_bases(Xw: np.ndarray, yw: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Initial bases (relative positions) for windows ``Xw`` (m, p, n); ok flag per window.

    Ranks observations by distance to the least-squares fit shifted to the q-quantile of its
    residuals and takes the first p linearly independent ones (classical Gram–Schmidt).
    """
    m, p, n = Xw.shape
    gram = Xw @ Xw.transpose(0, 2, 1)
    ridge = 1e-12 * np.trace(gram, axis1=1, axis2=2)[:, None, None] * np.eye(p)
    coef = np.linalg.solve(gram + ridge, (Xw @ yw[:, :, None]))[:, :, 0]
    resid = yw - (coef[:, None, :] @ Xw)[:, 0, :]
    shift = np.quantile(resid, q, axis=1)
    order = np.argsort(np.abs(resid - shift[:, None]), axis=1, kind="stable")
    return greedy_basis(Xw, order)


def greedy_basis(Xw: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First p linearly independent observations of each window in the given ``order`` (m, n).

    Returns relative positions (m, p) and a flag per window (False: fewer than p independent rows).
    """
    m, p, n = Xw.shape
    rows = np.arange(m)
    Q = np.zeros((m, p, p))
    chosen = np.zeros((m, p), dtype=np.int64)
    count = np.zeros(m, dtype=np.int64)
    for t in range(n):
        need = count < p
        if not need.any():
            break
        idx = rows[need]
        cand = order[idx, t]
        v = Xw[idx, :, cand]  # (k, p)
        vp = v - np.einsum("kij,kj->ki", Q[idx].transpose(0, 2, 1), np.einsum("kij,kj->ki", Q[idx], v))
        norm_v = np.linalg.norm(v, axis=1)
        norm_p = np.linalg.norm(vp, axis=1)
        accept = norm_p > 1e-9 * np.maximum(norm_v, np.finfo(float).tiny)
        acc = idx[accept]
        slot = count[acc]
        Q[acc, slot, :] = vp[accept] / norm_p[accept, None]
        chosen[acc, slot] = cand[accept]
        count[acc] += 1
    return chosen, count == p


def _lexicographic_entry(t, t_eps, jump, cross, D0):
    """Weighted-median entry of one window with tied breakpoints ordered by the perturbation."""
    cand = np.flatnonzero(cross)
    tr = t[cand]
    o = np.argsort(tr, kind="stable")
    tr_sorted = tr[o]
    group = np.concatenate([[0], np.cumsum(np.diff(tr_sorted) > TIE_TOL * (1.0 + np.abs(tr_sorted[1:])))])
    o = o[np.lexsort((t_eps[cand][o], group))]
    slope = D0 + np.cumsum(jump[cand][o])
    hit = np.flatnonzero(slope >= 0)
    k = int(hit[0]) if hit.size else o.size - 1
    return cand[o[k]], k


def solve_windows(
    X: np.ndarray,
    y: np.ndarray,
    q: float,
    window: int,
    starts: np.ndarray,
    chain_length: int,
    *,
    max_pivots: int,
    init_basis: np.ndarray | None = None,
) -> EngineResult:
    """Solve the QR LP on rows ``[starts[k], starts[k] + window)`` for every k.

    ``starts`` must be non-decreasing; windows ``k`` and ``k+1`` of one chain (``chain_length``
    consecutive windows) share a warm start. ``init_basis`` (K, p) gives absolute starting bases
    for the chain heads (used by the fallback's vertex polish); otherwise heads start cold.
    """
    N, p = X.shape
    n = window
    K = starts.size
    Xv = sliding_window_view(X, n, axis=0)  # (N-n+1, p, n), a view
    yv = sliding_window_view(y, n)  # (N-n+1, n)
    # symbolic perturbation y + eps*delta (anti-cycling): decides the side of zero residuals and
    # breaks ties in the ratio test (Charnes 1952); b itself is never perturbed
    delta = np.random.default_rng(PERTURBATION_SEED).uniform(1.0, 2.0, N)
    dv = sliding_window_view(delta, n)

    coef = np.full((K, p), np.nan)
    basis = np.full((K, p), -1, dtype=np.int64)
    state = np.zeros(K, dtype=np.int8)
    margin = np.full(K, np.nan)
    min_abs = np.full(K, np.nan)
    loss = np.full(K, np.nan)
    pivots = np.zeros(K, dtype=np.int64)
    reason = np.full(K, "", dtype=object)

    heads = np.arange(0, K, chain_length)
    C = heads.size
    cur = heads.copy()
    last = np.minimum(heads + chain_length, K)
    H = np.zeros((C, p), dtype=np.int64)
    need_init = np.ones(C, dtype=bool)
    if init_basis is not None:
        H[:] = init_basis[heads]
        need_init[:] = False
    alive = np.ones(C, dtype=bool)
    piv = np.zeros(C, dtype=np.int64)

    def flag(chains: np.ndarray, why: str) -> None:
        k = cur[chains]
        state[k] = FLAGGED
        reason[k] = why
        pivots[k] = piv[chains]
        advance(chains)
        need_init[chains] = True

    def advance(chains: np.ndarray) -> None:
        cur[chains] += 1
        piv[chains] = 0
        alive[chains] = cur[chains] < last[chains]

    while alive.any():
        init = np.flatnonzero(alive & need_init)
        if init.size:
            s0 = starts[cur[init]]
            rel, ok = _cold_bases(Xv[s0], yv[s0], q)
            H[init] = rel + s0[:, None]
            need_init[init] = False
            if not ok.all():
                flag(init[~ok], "rank-deficient window (no p linearly independent rows)")
                continue
        a = np.flatnonzero(alive)
        m = a.size
        rows = np.arange(m)
        k = cur[a]
        s = starts[k]
        Hs = H[a]
        XH = X[Hs]  # (m, p, p): row i = x_{h_i}'
        yH = y[Hs]
        dH = delta[Hs]
        # conditioning guard: the basis must be safely invertible (1-norm condition number)
        try:
            inv = np.linalg.inv(XH)
            cond = np.abs(XH).sum(axis=1).max(axis=1) * np.abs(inv).sum(axis=1).max(axis=1)
            singular = ~(cond < 1e13)
        except np.linalg.LinAlgError:
            sv = np.linalg.svd(XH, compute_uv=False)
            singular = ~(sv[:, -1] > 1e-13 * sv[:, 0])
            if not singular.any():  # pragma: no cover - inv failed but every basis is regular
                singular[:] = True
        if singular.any():
            flag(a[singular], "numerically singular basis")
            continue
        b = np.einsum("mij,mj->mi", inv, yH)
        Xw = Xv[s]  # (m, p, n)
        yw = yv[s]
        r = yw - (b[:, None, :] @ Xw)[:, 0, :]
        relpos = Hs - s[:, None]
        inwin = (relpos >= 0) & (relpos < n)
        B = np.zeros((m, n), dtype=bool)
        rr = np.broadcast_to(rows[:, None], relpos.shape)
        B[rr[inwin], relpos[inwin]] = True
        r_full = r
        r = np.where(B, 0.0, r_full)
        # residual of the perturbed problem per unit eps: delta_i - x_i' X_h^{-1} delta_h
        zero = (np.abs(r) <= ZERO_TOL * np.abs(yw).max(axis=1, keepdims=True)) & ~B
        rho = np.zeros_like(r)
        degenerate = np.flatnonzero(zero.any(axis=1))
        if degenerate.size:
            bd = np.einsum("mij,mj->mi", inv[degenerate], dH[degenerate])
            rho[degenerate] = dv[s[degenerate]] - (bd[:, None, :] @ Xw[degenerate])[:, 0, :]
        positive = np.where(zero, rho > 0, r > 0)
        psi = np.where(positive, q, q - 1.0)
        psi[B] = 0.0
        sx = (Xw @ psi[:, :, None])[:, :, 0]
        xi = np.einsum("mji,mj->mi", inv, sx)  # X_h^{-T} sum psi_i x_i
        w = inwin.astype(float)
        Dp = w * (1.0 - q) - xi
        Dm = w * q + xi
        Dmin = np.minimum(Dp, Dm)
        dead = ~inwin
        any_dead = dead.any(axis=1)
        optimal = (Dmin.min(axis=1) >= -DUAL_TOL) & ~any_dead
        if optimal.any():
            o = a[optimal]
            ko = k[optimal]
            coef[ko] = b[optimal]
            basis[ko] = Hs[optimal]
            state[ko] = CERTIFIED
            margin[ko] = Dmin[optimal].min(axis=1)
            ro_raw = r_full[optimal]  # residuals of the returned coefficients (basis rows not zeroed)
            loss[ko] = np.where(ro_raw > 0, q * ro_raw, (q - 1.0) * ro_raw).sum(axis=1)
            ro = np.abs(np.where(B[optimal], np.inf, r[optimal]))
            min_abs[ko] = ro.min(axis=1)
            pivots[ko] = piv[o]
            advance(o)
        go = ~optimal
        if not go.any():
            continue
        over = go & (piv[a] >= max_pivots)
        if over.any():
            flag(a[over], f"pivot budget of {max_pivots} exhausted (cycling or degeneracy)")
            go &= ~over
        if not go.any():
            continue
        g_idx = np.flatnonzero(go)
        # choose the edge: a dead basis row first, else the most negative D
        Dsel = np.where(Dp <= Dm, Dp, Dm)[g_idx]
        Dsel = np.where(dead[g_idx], -np.inf, Dsel)
        j = np.argmin(Dsel, axis=1)
        gi = np.arange(g_idx.size)
        sigma = np.where(Dp[g_idx, j] <= Dm[g_idx, j], 1.0, -1.0)
        D0 = np.minimum(Dp[g_idx, j], Dm[g_idx, j])
        g = sigma[:, None] * inv[g_idx, :, j]  # (k, p)
        ag = (g[:, None, :] @ Xw[g_idx])[:, 0, :]  # (k, n): x_i'g
        rg = r[g_idx]
        pg, zg = positive[g_idx], zero[g_idx]
        cross = (pg == (ag > 0)) & (ag != 0) & ~B[g_idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            t_eps = rho[g_idx] / ag
            t = np.where(cross, np.where(zg, 0.0, np.maximum(rg / ag, 0.0)), np.inf)
            # zero residuals cross at t = 0 + eps*t_eps (t_eps > 0): order them by t_eps, first
            key = np.where(cross & zg, -1.0 / t_eps, t)
        order = np.argsort(key, axis=1)
        jumps = np.take_along_axis(np.where(cross, np.abs(ag), 0.0), order, axis=1)
        slope = D0[:, None] + np.cumsum(jumps, axis=1)
        reach = slope >= 0
        pos = np.argmax(reach, axis=1)
        enter = order[gi, pos]
        t_in = t[gi, enter]
        near = cross & (np.abs(t - t_in[:, None]) <= TIE_TOL * (1.0 + np.abs(t_in[:, None])))
        for w in np.flatnonzero(np.count_nonzero(near, axis=1) > 1):  # ties: the perturbed (lexicographic) order
            enter[w], pos[w] = _lexicographic_entry(t[w], t_eps[w], np.abs(ag[w]), cross[w], D0[w])
        finite = reach.any(axis=1) & np.isfinite(t[gi, enter])
        if not finite.all():
            flag(a[g_idx[~finite]], "unbounded edge (rank-deficient window)")
            keep = finite
            g_idx, j, enter, g, ag = g_idx[keep], j[keep], enter[keep], g[keep], ag[keep]
            gi = np.arange(g_idx.size)
        if g_idx.size == 0:
            continue
        xe = Xw[g_idx, :, enter]
        size = np.abs(ag[gi, enter]) / (np.linalg.norm(xe, axis=1) * np.linalg.norm(g, axis=1))
        tiny = ~(size > PIVOT_TOL)
        if tiny.any():
            flag(a[g_idx[tiny]], "pivot too small (near-singular basis)")
            g_idx, j, enter = g_idx[~tiny], j[~tiny], enter[~tiny]
        ch = a[g_idx]
        H[ch, j] = enter + s[g_idx]
        piv[ch] += 1
    return EngineResult(coef, basis, state, margin, min_abs, loss, pivots, reason)
