r"""Cascading failures on the bank–asset bipartite network (Fan–Rong–Duan, docs/cascade.md).

Banks hold external assets by class (the bank–asset bipartite network of Huang et
al. 2013) and claims on each other (the interbank matrix of
:mod:`measures.stress.maxent`). A shock makes some banks fail; a failed bank's
external assets are sold, depressing the price of each class in proportion to the
share of the class sold times the discount :math:`\beta`; its interbank creditors
recover what its remaining assets pay (endogenous recovery,
:mod:`measures.stress.recovery`); every bank is revalued and fails when its equity
falls below its threshold. Iterating gives the least fixed point containing the
initial failures and its *default hierarchy* (Elliott, Golub & Jackson 2014).
See ``docs/cascade.md`` for the derivation and every modelling choice.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from measures.core.config import Config, check_choice, check_range
from measures.core.status import FitStatus
from measures.stress._arrays import as_index_set, broadcast_vector, check_in_unit_interval
from measures.stress.bank_asset import BankAssetNetwork
from measures.stress.recovery import SENIORITY_RULES, clear_failed_banks, recovery_terms


@dataclasses.dataclass(frozen=True, kw_only=True)
class CascadeConfig(Config):
    """Options of :func:`cascade`.

    Attributes
    ----------
    seniority : {"pari_passu", "external_senior"}
        Who shares a failed bank's remaining value (:mod:`measures.stress.recovery`).
    max_rounds : int or None
        Cap on the number of layers (default: the number of banks, which always
        suffices since every layer adds at least one bank).
    max_iter : int
        Iteration cap of the recovery solver under ``"external_senior"``.
    """

    seniority: str = "pari_passu"
    max_rounds: int | None = None
    max_iter: int = 100_000

    def validate(self) -> None:
        check_choice("seniority", self.seniority, SENIORITY_RULES)
        if self.max_rounds is not None:
            check_range("max_rounds", self.max_rounds, low=1, integer=True)
        check_range("max_iter", self.max_iter, low=1, integer=True)


@dataclasses.dataclass(frozen=True)
class CascadeResult:
    """Outcome of :func:`cascade` at its fixed point.

    Attributes
    ----------
    failed : ndarray of bool, shape (n,)
    layer : ndarray of int, shape (n,)
        Default hierarchy: 1 = initial failures, :math:`k` = failed because of layers
        :math:`< k`; 0 = survived.
    rounds : int
        Number of layers (0 when nobody failed).
    prices : ndarray, shape (M,)
        Final class prices :math:`p_m`.
    recovery : ndarray, shape (n,)
        Final recovery rate :math:`r_j` on claims on bank ``j`` (1 for survivors).
    equity : ndarray, shape (n,)
        Final equity :math:`E_i'`.
    shock_loss, fire_sale_loss, interbank_loss : ndarray, shape (n,)
        Losses by channel; they add up to :math:`E_i - E_i'`.
    status : str
        ``"ok"``, or ``"failed:NotConverged: ..."`` when ``max_rounds`` or the
        recovery solver's cap stopped it.
    """

    failed: np.ndarray
    layer: np.ndarray
    rounds: int
    prices: np.ndarray
    recovery: np.ndarray
    equity: np.ndarray
    shock_loss: np.ndarray
    fire_sale_loss: np.ndarray
    interbank_loss: np.ndarray
    status: str

    @property
    def n_failed(self) -> int:
        return int(self.failed.sum())

    @property
    def share_failed(self) -> float:
        return self.n_failed / self.failed.size

    def hierarchy(self) -> list[np.ndarray]:
        """Bank indices by layer: element ``k - 1`` holds the banks of layer ``k``."""
        return [np.flatnonzero(self.layer == k) for k in range(1, self.rounds + 1)]

    def total_losses(self) -> dict[str, float]:
        """System-wide losses by channel (currency units)."""
        return {
            "shock": float(self.shock_loss.sum()),
            "fire_sale": float(self.fire_sale_loss.sum()),
            "interbank": float(self.interbank_loss.sum()),
        }


def cascade(
    network: BankAssetNetwork,
    *,
    alpha: float | object = 0.0,
    beta: float = 0.0,
    initial_failures: object = None,
    external_loss: object = None,
    config: CascadeConfig | None = None,
) -> CascadeResult:
    r"""Cascade of failures to its fixed point, with the default hierarchy.

    **State.** For a failed set :math:`F` (banks that have failed), bank-specific
    write-downs :math:`x_i \in [0,1]` of the external book (``external_loss``) and
    the common shock :math:`\alpha_m` (``alpha``): effective holdings
    :math:`\tilde q_{im} = (1 - x_i) q_{im}`, share of class :math:`m` sold by
    failed banks and price

    .. math::

        s_m(F) = \frac{\sum_{j \in F} \tilde q_{jm}}{Q_m}, \qquad
        p_m(F) = (1 - \alpha_m)\,\bigl(1 - \beta\, s_m(F)\bigr),

    (the price falls in proportion to the share of the class sold times the
    discount :math:`\beta`, Huang et al. 2013; all assets of a failed bank are sold,
    survivors sell nothing). Recovery rates :math:`r(F)` of the failed banks are the
    greatest clearing vector of :func:`measures.stress.recovery.clear_failed_banks`
    with resources :math:`e_j + o_j`, :math:`e_j = \sum_m \tilde q_{jm} p_m`.
    Losses by channel and equity:

    .. math::

        \ell^{\text{shock}}_i = \sum_m \bigl(q_{im} - (1-\alpha_m)\tilde q_{im}\bigr), \quad
        \ell^{\text{fs}}_i = \sum_m (1-\alpha_m)\,\tilde q_{im}\, \beta s_m(F), \quad
        \ell^{\text{ib}}_i = \sum_j X_{ij}\,(1 - r_j(F)),

    .. math::

        E_i'(F) = E_i - \ell^{\text{shock}}_i - \ell^{\text{fs}}_i - \ell^{\text{ib}}_i .

    **Iteration** (the default-hierarchy algorithm of Elliott, Golub & Jackson 2014):
    :math:`F_1 = N \cup \{i: E_i'(\varnothing) < \theta_i\}` with :math:`N` the named
    ``initial_failures``; :math:`F_{t+1} = F_t \cup \{i: E_i'(F_t) < \theta_i\}`;
    stop when :math:`F_{t+1} = F_t`. Banks entering at step :math:`t` form layer
    :math:`t` of the default hierarchy. Because :math:`E'(F)` is non-increasing in
    :math:`F`, :math:`F^* = \lim F_t` is the *least* fixed point
    :math:`F^* = N \cup \{i: E_i'(F^*) < \theta_i\}` containing the initial failures,
    reached in at most :math:`n` rounds; it is non-decreasing in :math:`\alpha`,
    :math:`\beta`, :math:`x` and :math:`N`.

    Parameters
    ----------
    network : BankAssetNetwork
    alpha : float or array_like, shape (M,)
        Common shock: share of value every external asset class loses, in [0, 1].
    beta : float
        Fire-sale discount :math:`\beta \in [0, 1]`.
    initial_failures : sequence of int or bool mask, optional
        Banks that fail in layer 1 whatever their equity (named-failure scenario).
    external_loss : array_like, shape (n,), optional
        :math:`x_i \in [0, 1]`: share of bank ``i``'s external assets written off
        (bank-specific shock; used by the failure boundary).
    config : CascadeConfig, optional

    Returns
    -------
    CascadeResult
    """
    cfg = config or CascadeConfig()
    n = network.n_banks
    named = as_index_set("initial_failures", initial_failures, n)
    revalue = _revaluation(network, alpha, beta, external_loss, cfg)
    shock_loss = revalue.shock_loss
    max_rounds = cfg.max_rounds or n

    failed = np.zeros(n, dtype=bool)
    layer = np.zeros(n, dtype=np.int64)
    state = revalue(failed, np.ones(n))
    solver_ok = bool(state["converged"])
    new = named | (state["equity"] < network.threshold)
    rounds = 0
    while new.any() and rounds < max_rounds:
        rounds += 1
        failed |= new
        layer[new] = rounds
        state = revalue(failed, state["recovery"])
        solver_ok &= bool(state["converged"])
        new = (state["equity"] < network.threshold) & ~failed
    if new.any():
        solver_ok = False
    status = (
        FitStatus("ok")
        if solver_ok
        else FitStatus(
            "failed",
            "NotConverged",
            f"cascade not settled after max_rounds={max_rounds} layers, or the recovery solver hit max_iter",
        )
    )
    return CascadeResult(
        failed=failed,
        layer=layer,
        rounds=rounds,
        prices=state["prices"],
        recovery=state["recovery"],
        equity=state["equity"],
        shock_loss=shock_loss,
        fire_sale_loss=state["fire_sale_loss"],
        interbank_loss=state["interbank_loss"],
        status=str(status),
    )


def _revaluation(network: BankAssetNetwork, alpha: float | object, beta: float, external_loss: object,
                 cfg: CascadeConfig):
    """Validate the scenario and return ``revalue(failed_set, start)`` (with attribute ``shock_loss``)."""
    n, n_classes = network.n_banks, network.n_classes
    a = broadcast_vector("alpha", alpha, n_classes, what="asset class")
    check_in_unit_interval("alpha", a)
    beta = float(beta) if isinstance(beta, (np.floating, np.integer)) else beta
    check_range("beta", beta, low=0.0, high=1.0)
    x = np.zeros(n) if external_loss is None else broadcast_vector("external_loss", external_loss, n, what="bank")
    check_in_unit_interval("external_loss", x)
    q = network.external_assets
    q_eff = q * (1.0 - x)[:, None]
    kept = 1.0 - a
    shock_loss = (q - q_eff * kept).sum(axis=1)
    size = np.where(network.market_size > 0, network.market_size, 1.0)
    senior, denominator = recovery_terms(network.interbank_liabilities, network.other_liabilities, cfg.seniority)

    def revalue(failed_set: np.ndarray, start: np.ndarray) -> dict[str, np.ndarray]:
        return _revalue(
            network, q_eff, kept, size, beta, failed_set, senior, denominator, shock_loss, start, cfg.max_iter
        )

    revalue.shock_loss = shock_loss
    return revalue


def equity_at(
    network: BankAssetNetwork,
    failed: object,
    *,
    alpha: float | object = 0.0,
    beta: float = 0.0,
    external_loss: object = None,
    config: CascadeConfig | None = None,
) -> np.ndarray:
    r"""Equity :math:`E_i'(F)` of every bank when exactly the banks of ``failed`` have failed (no iteration).

    The state of :func:`cascade` (prices, recoveries, losses) at the failed set :math:`F` = ``failed``;
    used by the rescue cost (:mod:`measures.stress.rescue`).
    """
    mask = as_index_set("failed", failed, network.n_banks)
    revalue = _revaluation(network, alpha, beta, external_loss, config or CascadeConfig())
    return revalue(mask, np.ones(network.n_banks))["equity"]


def _revalue(
    network: BankAssetNetwork,
    q_eff: np.ndarray,
    kept: np.ndarray,
    size: np.ndarray,
    beta: float,
    failed: np.ndarray,
    senior: np.ndarray,
    denominator: np.ndarray,
    shock_loss: np.ndarray,
    start: np.ndarray,
    max_iter: int,
) -> dict[str, np.ndarray]:
    """Prices, recoveries, losses and equity of every bank for the failed set ``failed``."""
    sold = q_eff[failed].sum(axis=0) / size
    drop = beta * sold
    prices = kept * (1.0 - drop)
    fire_sale_loss = (q_eff * (kept * drop)).sum(axis=1)
    recovery = np.ones(network.n_banks)
    converged = True
    if failed.any():
        resources = (q_eff * prices).sum(axis=1) + network.other_assets
        recovery, converged = clear_failed_banks(
            network.interbank, resources, senior, denominator, failed, start=start, max_iter=max_iter
        )
    interbank_loss = network.interbank @ (1.0 - recovery)
    equity = network.capital - shock_loss - fire_sale_loss - interbank_loss
    return {
        "prices": prices,
        "recovery": recovery,
        "converged": converged,
        "fire_sale_loss": fire_sale_loss,
        "interbank_loss": interbank_loss,
        "equity": equity,
    }
