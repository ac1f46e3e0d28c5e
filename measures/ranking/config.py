"""Options of the ranking bootstrap (the ``measures.rankings`` params group; docs/rankings.md)."""

from __future__ import annotations

import dataclasses

from measures.core.config import Config, ConfigError, check_range

#: ranked measure -> (pipeline artifact, column): the summary of a bank is the mean of the column
RANKED = {
    "covar_qr": ("covar_qr", "delta_covar"),
    "covar_dcc": ("covar_dcc", "delta_covar"),
    "mes": ("mes", "mes_dyn"),
    "srisk": ("srisk", "srisk"),
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class RankingConfig(Config):
    """Options of :func:`~measures.ranking.rank_measures` and :func:`~measures.ranking.rank_crw`.

    Parameters
    ----------
    replications : int
        Bootstrap replications ``B`` (>= 10).
    block_length : float or None
        Mean block length ``L`` of the stationary bootstrap in dates (>= 1); None = the
        Politis–White rule (:func:`~measures.ranking.bootstrap.block_length_rule`), over every
        bank's series of every measure for the measures, over the year's series for each CRW year.
    level : float
        Coverage of the rank and Kendall-τ percentile intervals, in (0, 1).
    top_k : int
        ``k`` of P(top k) (>= 1).
    seed : int
        Seed of every replication's stream (``SeedSequence(seed, spawn_key=...)``), >= 0.
    min_obs : int
        A bank with fewer usable dated values of a measure is not ranked on it (recorded).
    crw : bool
        Bootstrap the CRW ranks per year (recomputing Granger + PageRank per replication; the
        costly part); false leaves the CRW tables empty.
    """

    replications: int = 200
    block_length: float | None = None
    level: float = 0.90
    top_k: int = 3
    seed: int = 19940601
    min_obs: int = 250
    crw: bool = True

    def validate(self) -> None:
        check_range("replications", self.replications, low=10, integer=True)
        if self.block_length is not None:
            check_range("block_length", self.block_length, low=1.0)
        check_range("level", self.level, low=0.0, high=1.0, low_open=True, high_open=True)
        check_range("top_k", self.top_k, low=1, integer=True)
        check_range("seed", self.seed, low=0, integer=True)
        check_range("min_obs", self.min_obs, low=2, integer=True)
        if not isinstance(self.crw, bool):
            raise ConfigError(f"crw={self.crw!r} must be true or false")

    def for_realtime(self) -> "RankingConfig":
        """Unchanged: every number is a function of its own sample (the whole sample of the causal
        inputs for the measures, the year's dates for the CRW of a year); docs/rankings.md."""
        return self


def check_plan(*, has_states: bool, has_balance_sheet: bool, config: RankingConfig, contagion_window: str,
               contagion_series: str) -> list[tuple[str, str]]:
    """What the ranking bootstrap will rank, from which canonical tables exist (``python -m pipeline check`` lines).

    ``covar_qr`` (and the ``qr`` / ``spillover`` contagion series) need market_states, SRISK needs
    balance_sheet liabilities; the CRW ranks need ``contagion.window: year``.
    """
    ranked = [m for m in RANKED if (m != "covar_qr" or has_states) and (m != "srisk" or has_balance_sheet)]
    lines = [("estimates", f"rank bootstrap ({config.replications} stationary-bootstrap replications) of the banks' "
                           f"mean {', '.join(ranked)}: rank intervals ({config.level:g}), P(top {config.top_k}), Kendall τ")]
    for measure, table in (("covar_qr", "market_states"), ("srisk", "balance_sheet")):
        if measure not in ranked:
            lines.append(("skips", f"rankings: {measure} is not ranked: the data has no {table} table"))
    if not config.crw:
        lines.append(("skips", "rankings: CRW ranks are not bootstrapped (measures.rankings.crw: false)"))
    elif contagion_window != "year":
        lines.append(("skips", "rankings: CRW ranks are bootstrapped per calendar year only (contagion.window: year)"))
    elif contagion_series != "dcc" and not has_states:
        lines.append(("skips", f"rankings: no CRW ranks: contagion.series: {contagion_series} needs market_states"))
    else:
        lines.append(("estimates", "rank bootstrap of the CRW of every contagion year (Granger + PageRank per replication)"))
    return lines
