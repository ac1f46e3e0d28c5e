"""Report building blocks: the artifact context, sections, figures, tables, rendering."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from pipeline.io import read_parquet

TEMPLATES = Path(__file__).with_name("templates")


@dataclass
class ReportContext:
    """Where the artifacts are and the report parameters.

    ``data_dir`` is the DVC data tree (``data/``); :meth:`artifact` reads
    ``data_dir / relative`` or returns ``None`` when it does not exist.
    """

    data_dir: Path
    params: Mapping[str, Any]
    _cache: dict[str, pd.DataFrame | None] = field(default_factory=dict)

    def artifact(self, relative: str) -> pd.DataFrame | None:
        if relative not in self._cache:
            path = self.data_dir / relative
            self._cache[relative] = read_parquet(path) if path.is_file() else None
        return self._cache[relative]

    def quality(self) -> pd.DataFrame:
        """All data-quality records of every stage, concatenated."""
        frames = [read_parquet(p) for p in sorted((self.data_dir / "processed" / "quality").glob("*.parquet"))]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=["stage", "table", "bank_id", "date_start", "date_end", "n_rows", "action", "reason", "detail"])
        return pd.concat(frames, ignore_index=True)

    @property
    def episodes(self) -> list[dict[str, Any]]:
        """``report.episodes`` from params; when that list is empty, the episodes the data source lists."""
        listed = list(self.params.get("episodes", []) or [])
        if listed:
            return listed
        data = self.artifact("interim/canonical/episodes.parquet")
        return [] if data is None else data.to_dict("records")


@dataclass
class Section:
    """One report section.

    ``intro`` explains in words what every number of the section is;
    ``blocks`` are HTML fragments (from :func:`table_html`, :func:`figure_html`);
    ``metrics`` go to ``metrics.json`` under the section id; ``plots`` are
    written as ``plots/<id>_<name>.csv``.
    """

    id: str
    title: str
    intro: str
    blocks: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, pd.DataFrame] = field(default_factory=dict)


def table_html(frame: pd.DataFrame, *, caption: str = "", digits: int = 4, index: bool = False) -> str:
    """A DataFrame as an HTML table with fixed number formatting."""

    def fmt(x: Any) -> str:
        if isinstance(x, (float, np.floating)):
            if math.isnan(x):
                return "–"
            return f"{x:,.{digits}f}" if abs(x) < 1e6 else f"{x:,.4g}"
        if isinstance(x, pd.Timestamp):
            return x.strftime("%Y-%m-%d") if not pd.isna(x) else "–"
        return str(x)

    body = frame.to_html(index=index, classes="data", border=0, formatters={c: fmt for c in frame.columns}, na_rep="–", escape=True)
    cap = f"<p class='caption'>{jinja2.utils.markupsafe.escape(caption)}</p>" if caption else ""
    return f"<div class='table'>{cap}{body}</div>"


def figure_html(draw: Callable[[Any], None], *, caption: str = "", width: float = 9.0, height: float = 3.6) -> str:
    """Render a matplotlib drawing function ``draw(fig)`` as an inline PNG (deterministic bytes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context({"svg.hashsalt": "report", "font.size": 9}):
        fig = plt.figure(figsize=(width, height))
        try:
            draw(fig)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
        finally:
            plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    cap = f"<p class='caption'>{jinja2.utils.markupsafe.escape(caption)}</p>" if caption else ""
    return f"<figure><img alt='{jinja2.utils.markupsafe.escape(caption)}' src='data:image/png;base64,{data}'/>{cap}</figure>"


def shade_episodes(ax: Any, episodes: list[dict[str, Any]]) -> None:
    """Shade the stress episodes of ``report.episodes`` on a time axis."""
    for ep in episodes:
        ax.axvspan(pd.Timestamp(ep["start"]), pd.Timestamp(ep["end"]), color="#d62728", alpha=0.12, lw=0)


def clean_metric(value: Any) -> Any:
    """JSON-safe, stable metric values (floats to 10 significant digits, NaN to None)."""
    if isinstance(value, Mapping):
        return {str(k): clean_metric(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_metric(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if not math.isfinite(value) else float(f"{value:.10g}")
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return value


def render_report(ctx: ReportContext, sections: list[Section]) -> str:
    """The self-contained HTML page."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(["html", "j2"]))
    template = env.get_template("index.html.j2")
    return template.render(title=ctx.params.get("title", "Banking systemic risk"), sections=sections, params=ctx.params)
