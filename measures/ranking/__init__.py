"""Uncertainty of rankings: a seeded stationary bootstrap over dates (Politis & Romano 1994) of the
ranks of banks by ΔCoVaR-QR, ΔCoVaR-DCC, MES, SRISK and, per year, CRW (docs/rankings.md)."""

from measures.ranking.bootstrap import block_length_rule, replication_rng, stationary_indices
from measures.ranking.config import RANKED, RankingConfig
from measures.ranking.crw import CrwRanking, rank_crw, year_crw
from measures.ranking.measures import MeasureRanking, rank_measures, usable_panel
from measures.ranking.ranks import descending_ranks, kendall_tau, kendall_taus, rank_table, tau_row

__all__ = [
    "RANKED",
    "CrwRanking",
    "MeasureRanking",
    "RankingConfig",
    "block_length_rule",
    "descending_ranks",
    "kendall_tau",
    "kendall_taus",
    "rank_crw",
    "rank_measures",
    "rank_table",
    "replication_rng",
    "stationary_indices",
    "tau_row",
    "usable_panel",
    "year_crw",
]
