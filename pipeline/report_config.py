"""The ``report`` params group: title, stress episodes, network drawings.

It lives beside :mod:`pipeline.report`, not inside it, so that the report package
imports nothing from ``measures`` (the configuration base class is there).

One frozen :class:`~measures.core.config.Config` per level; defaults equal the
``report`` group of ``params.yaml`` (a test compares them). Unknown keys and bad
values raise :class:`~measures.core.config.ConfigError` naming the key
(``report.contagion: layout='grid' is not allowed; allowed values: ...``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from measures.core.config import Config, ConfigError, check_choice, check_range

LAYOUTS = ("circular", "spring")


def _date(name: str, value: object) -> datetime.date:
    if not isinstance(value, str):
        raise ConfigError(f"{name}={value!r} must be a date YYYY-MM-DD")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a date; expected YYYY-MM-DD") from None


@dataclass(frozen=True, kw_only=True)
class Episode(Config):
    """A stress episode shaded on every time axis: ``start`` .. ``end`` inclusive (ISO dates)."""

    name: str
    start: str
    end: str

    def validate(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"name={self.name!r} must be a non-empty string")
        if _date("start", self.start) > _date("end", self.end):
            raise ConfigError(f"start={self.start!r} is after end={self.end!r}; an episode needs start <= end")


@dataclass(frozen=True, kw_only=True)
class NetworkDrawing(Config):
    """The Granger-network drawings of the contagion section.

    ``edge_threshold``: edges with weight 1 − p at least this are drawn, in [0, 1];
    ``layout``: one node layout for every year, ``circular`` (bank_id order) or ``spring``
    (Fruchterman–Reingold with ``layout_seed``: stable bytes).
    """

    edge_threshold: float = 0.99
    layout: str = "circular"
    layout_seed: int = 20071012

    def validate(self) -> None:
        check_range("edge_threshold", self.edge_threshold, low=0.0, high=1.0)
        check_choice("layout", self.layout, LAYOUTS)
        check_range("layout_seed", self.layout_seed, low=0, integer=True)


DEFAULT_EPISODES = (
    Episode(name="2008Q3-Q4 global financial crisis", start="2008-07-01", end="2008-12-31"),
    Episode(name="2013Q2 money-market squeeze", start="2013-04-01", end="2013-06-30"),
    Episode(name="2015Q2-Q3 stock-market crash", start="2015-04-01", end="2015-09-30"),
    Episode(name="2015-08 FX reform", start="2015-08-01", end="2015-08-31"),
)


@dataclass(frozen=True, kw_only=True)
class ReportConfig(Config):
    """The report: page title, stress episodes (empty: the episodes the data source lists), drawings."""

    title: str = "Banking systemic risk report"
    episodes: tuple[Episode, ...] = DEFAULT_EPISODES
    contagion: NetworkDrawing = field(default_factory=NetworkDrawing)

    def validate(self) -> None:
        if not isinstance(self.title, str):
            raise ConfigError(f"title={self.title!r} must be a string")
        if not isinstance(self.episodes, tuple) or not all(isinstance(e, Episode) for e in self.episodes):
            raise ConfigError(f"episodes={self.episodes!r} must be a list of {{name, start, end}} mappings")
        if not isinstance(self.contagion, NetworkDrawing):
            raise ConfigError(f"contagion={self.contagion!r} must be a mapping of {', '.join(('edge_threshold', 'layout', 'layout_seed'))}")
