r"""Named-failure scenarios of the cascade study: who fails first, and in which system (docs/cascade.md §9).

A scenario names the banks that fail in layer 1 of a cascade
(:func:`measures.stress.cascade.cascade`, ``initial_failures``), in one of three ways:

* ``{name, banks: largest | smallest, n}`` — the ``n`` largest or smallest banks by total assets;
* ``{name, ranks: [first, last]}`` — the banks of size ranks ``first`` … ``last`` (1 = the largest
  bank, ties by row order), e.g. Fan–Rong–Duan's small and medium banks: the 15 largest banks are
  the "large banks", then, in order, 30 and 100 small and medium banks, ranks 16–45 and 16–115;
* ``{name, banks: [bank_id, ...]}`` — an explicit list.

``exclude_ranks: [first, last]`` runs the scenario in the system *without* the banks of those
ranks (Fan–Rong–Duan's "排除大银行": the 15 largest banks are removed from the sample and the
cascade runs among the other 248; ``[1, 15]``). Ranks are always those of the full sample, so a
group keeps the same members whether or not the large banks are removed.

:data:`DEFAULT_NAMED` are Fan–Rong–Duan's five experiments (tables 4–8): the largest bank, ranks
16–45 and ranks 16–115 in the full system, and ranks 16–45 and 16–115 without the 15 largest (the
largest bank's scenario has no counterpart without the large banks: it is one of them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pandas as pd

from measures.core.config import Config, ConfigError, check_choice, check_range

NAMED_RULES = ("largest", "smallest")
ALLOWED = ("{name, banks: largest | smallest, n}, {name, ranks: [first, last]} or {name, banks: [bank_id, ...]}, "
           "each with an optional exclude_ranks: [first, last]")


def _check_rank_range(key: str, value: Any) -> tuple[int, int]:
    """``[first, last]`` with integers ``1 <= first <= last``, else a :class:`ConfigError` naming ``key``."""
    ok = (isinstance(value, (list, tuple)) and len(value) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value) and 1 <= value[0] <= value[1])
    if not ok:
        raise ConfigError(f"{key}={list(value) if isinstance(value, tuple) else value!r} is not a rank range; "
                          "allowed: [first, last], integers with 1 <= first <= last (1 = the largest bank)")
    return int(value[0]), int(value[1])


@dataclasses.dataclass(frozen=True, kw_only=True)
class NamedFailure(Config):
    """A named-failure scenario (module docstring): members by size rule, rank range or list; optional exclusion."""

    name: str
    banks: str | tuple[str, ...] | None = None
    n: int | None = None
    ranks: tuple[int, ...] | None = None
    exclude_ranks: tuple[int, ...] | None = None

    def validate(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"named: name={self.name!r} must be a non-empty string; allowed: {ALLOWED}")
        key = f"named[{self.name}]"
        if self.name == "common":
            raise ConfigError("named: the name 'common' is reserved for the common-shock scenario")
        given = [k for k in ("banks", "ranks") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ConfigError(f"{key}: give exactly one of banks or ranks (got {', '.join(given) or 'neither'}); "
                              f"allowed: {ALLOWED}")
        if isinstance(self.banks, str):
            check_choice(f"{key}.banks", self.banks, NAMED_RULES)
            if self.n is None:
                raise ConfigError(f"{key}: banks={self.banks!r} needs n (the number of banks); allowed: an integer >= 1")
            check_range(f"{key}.n", self.n, low=1, integer=True)
        elif self.n is not None:
            raise ConfigError(f"{key}: n={self.n!r} applies only to banks: largest | smallest; remove it")
        if isinstance(self.banks, tuple):
            ids = [str(b) for b in self.banks]
            if not ids or len(set(ids)) != len(ids):
                raise ConfigError(f"{key}.banks={list(self.banks)!r}: a bank list must be non-empty without "
                                  "repeated bank_ids; allowed: [bank_id, ...]")
        elif self.banks is not None and not isinstance(self.banks, str):
            raise ConfigError(f"{key}.banks={self.banks!r} is not allowed; allowed: largest, smallest or a list of bank_ids")
        if self.ranks is not None:
            _check_rank_range(f"{key}.ranks", self.ranks)
        if self.exclude_ranks is not None:
            lo, hi = _check_rank_range(f"{key}.exclude_ranks", self.exclude_ranks)
            clash = ((self.ranks is not None and self.ranks[0] <= hi and lo <= self.ranks[1])
                     or (self.banks == "largest" and lo <= self.n))
            if clash:
                what = f"ranks={list(self.ranks)}" if self.ranks is not None else f"the {self.n} largest banks"
                raise ConfigError(f"{key}: {what} overlaps exclude_ranks={list(self.exclude_ranks)}: the scenario's "
                                  "banks would be removed; allowed: an exclusion disjoint from the scenario's ranks")

    def exclusion(self) -> tuple[int, int] | None:
        return None if self.exclude_ranks is None else (int(self.exclude_ranks[0]), int(self.exclude_ranks[1]))


DEFAULT_NAMED = (
    NamedFailure(name="largest_1", banks="largest", n=1),
    NamedFailure(name="ranks_16_45", ranks=(16, 45)),
    NamedFailure(name="ranks_16_115", ranks=(16, 115)),
    NamedFailure(name="ranks_16_45_without_15", ranks=(16, 45), exclude_ranks=(1, 15)),
    NamedFailure(name="ranks_16_115_without_15", ranks=(16, 115), exclude_ranks=(1, 15)),
)
"""Fan–Rong–Duan's five named-failure experiments (module docstring)."""


def check_named(named: Sequence[NamedFailure]) -> None:
    """Scenario names must be unique (they key the outputs)."""
    names = [s.name for s in named]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"named: scenario name(s) {', '.join(twice)} given more than once; allowed: unique names")


def system_name(exclusion: tuple[int, int] | None, n_largest: int) -> str:
    """``all``; ``without_largest`` for ranks 1 … ``n_largest`` removed (the surface's system); else
    ``without_ranks_<first>_<last>``."""
    if exclusion is None:
        return "all"
    return "without_largest" if exclusion == (1, n_largest) else f"without_ranks_{exclusion[0]}_{exclusion[1]}"


def scenario_members(frame: pd.DataFrame, spec: NamedFailure) -> tuple[list[str] | None, str]:
    """Members of ``spec`` in ``frame`` (columns bank_id, size_rank), or ``(None, why not)``.

    Not run (the reason names the scenario and the sample): a size rule asking for as many banks
    as the sample has or more, a rank range beyond the sample, bank ids absent from the sample, or
    members inside the scenario's exclusion.
    """
    n = len(frame)
    ranked = frame.sort_values("size_rank")
    ids = [str(b) for b in ranked["bank_id"]]
    if isinstance(spec.banks, str):
        if spec.n >= n:
            return None, f"named scenario {spec.name}: {spec.n} banks requested but the sample has only {n}; not run"
        members = ids[:spec.n] if spec.banks == "largest" else ids[::-1][:spec.n]
    elif spec.ranks is not None:
        lo, hi = spec.ranks
        if hi > n:
            return None, f"named scenario {spec.name}: ranks {lo}-{hi} requested but the sample has only {n} banks; not run"
        members = ids[lo - 1:hi]
    else:
        missing = [str(b) for b in spec.banks if str(b) not in set(ids)]
        if missing:
            return None, f"named scenario {spec.name}: bank(s) {', '.join(missing)} not in the sample; not run"
        members = [str(b) for b in spec.banks]
    exclusion = spec.exclusion()
    if exclusion is not None:
        rank = dict(zip(ids, ranked["size_rank"], strict=True))
        inside = [m for m in members if exclusion[0] <= rank[m] <= exclusion[1]]
        if inside:
            return None, (f"named scenario {spec.name}: bank(s) {', '.join(inside[:5])} are in exclude_ranks "
                          f"{list(exclusion)} (removed from its system); not run")
    return members, ""
