"""The report's figures: one style, numbered captions, episode shading with a legend, files.

Every figure is drawn by a function ``draw(fig)`` under the project style sheet
(``report.mplstyle``: Okabe–Ito colours, light grid, small fonts). Inside a report build
(:func:`pipeline.report.core.build_sections`) :func:`figure_html` numbers the figure and defers it:
the drawing function and the arrays it captured are sent to a mapper worker, which draws the
figure once and writes it to ``data/report/figures/`` as SVG, PDF and 300-dpi PNG, and returns the
``<figure>`` with a smaller PNG embedded (the page stays self-contained).

Helpers for the drawing functions: :data:`COLOURS` (Okabe–Ito by name), :func:`shade_episodes`
(only the episodes inside the axis' date range, named), :func:`legend_outside` (one legend beside
or below the axes, never over the data, with the shading's entry).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import escape

from pipeline.report import numbering

STYLE = Path(__file__).with_name("report.mplstyle")
#: the Okabe–Ito palette (colour-blind safe), by name
COLOURS = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
           "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "grey": "#999999"}
EPISODE_COLOUR = "#7f7f7f"
EPISODE_LABEL = "shaded: episode"
#: resolution of the PNG file; the page embeds it reduced by EMBED_REDUCE (100 dpi): one raster for both
FILE_DPI = 300
EMBED_REDUCE = 3
FILE_FORMATS = ("svg", "pdf", "png")
#: no dates or software versions in the files, so that their bytes depend on the data only
_METADATA = {"svg": {"Date": None, "Creator": None}, "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


def episodes_within(episodes: Iterable[dict[str, Any]], start: Any, end: Any) -> list[dict[str, Any]]:
    """The episodes that overlap ``[start, end]`` (the others would shade outside the data)."""
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    return [e for e in episodes if pd.Timestamp(e["start"]) <= hi and pd.Timestamp(e["end"]) >= lo]


def shade_episodes(ax: Any, episodes: Sequence[dict[str, Any]], *, names: bool = True) -> int:
    """Shade the episodes that fall inside the x-range of the data already plotted on ``ax``
    (a date axis); each is numbered at the top (when ``names``) and has a legend entry
    "k: name" (see :func:`legend_outside`). Returns how many were shaded.

    The x-range is kept as it was: an episode partly outside is clipped, not the axis widened.
    """
    import matplotlib.dates as mdates

    if not episodes:
        return 0
    lo, hi = ax.get_xlim()
    start, end = mdates.num2date(lo).replace(tzinfo=None), mdates.num2date(hi).replace(tzinfo=None)
    shaded = 0
    for k, ep in enumerate(episodes, start=1):
        if not episodes_within([ep], start, end):
            continue
        a, b = max(pd.Timestamp(ep["start"]), pd.Timestamp(start)), min(pd.Timestamp(ep["end"]), pd.Timestamp(end))
        ax.axvspan(a, b, color=EPISODE_COLOUR, alpha=0.18, lw=0, label=f"{EPISODE_LABEL} {k}: {ep.get('name', '')}",
                   zorder=0)
        if names:
            ax.annotate(str(k), xy=(a + (b - a) / 2, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 1),
                        textcoords="offset points", ha="center", va="bottom", fontsize=6.5, color="#333")
        shaded += 1
    ax.set_xlim(lo, hi)
    return shaded


def legend_outside(fig: Any, *, where: str = "right", ncols: int | None = None, title: str | None = None) -> Any:
    """One legend for the whole figure, outside the axes (``right`` or ``below``), with every
    labelled artist of every axes once (the episode shading once); None when nothing is labelled."""
    handles, labels = [], []
    for ax in fig.axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels and not label.startswith("_"):
                handles.append(h)
                labels.append(label)
    if not handles:
        return None
    order = sorted(range(len(labels)), key=lambda i: labels[i].startswith(EPISODE_LABEL))  # the shading last
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    if where == "below":
        return fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                          ncols=ncols or min(len(labels), 3), title=title)
    return fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), ncols=ncols or 1, title=title)


def figure_html(draw: Callable[[Any], None], *, caption: str = "", width: float = 9.0, height: float = 3.6,
                name: str = "") -> str:
    """The numbered ``<figure>`` of ``draw(fig)``; ``name`` (optional) goes into its file names.

    Inside a build the figure is not drawn yet: ``draw`` (with the values it captures, frozen
    now) is serialized and a placeholder returned; the build draws every figure through the
    mapper and puts them in place. ``draw`` must then capture arrays and frames, not the
    :class:`~pipeline.report.core.ReportContext`. Outside a build it is drawn at once, unnumbered.
    """
    build = numbering.current()
    if build is None or build.pending is None:
        return render_figure((draw, caption, width, height))
    import cloudpickle

    number, stem = build.next("figure", name or caption[:40])
    folder = None if build.figures is None else str(build.figures)
    build.pending.append(cloudpickle.dumps((draw, caption, width, height, number, stem, folder)))
    return placeholder(len(build.pending) - 1)


def placeholder(index: int) -> str:
    return f"<!--report-figure-{index}-->"


def _links(stem: str) -> str:
    return " ".join(f"<a href='figures/{stem}.{ext}'>{ext.upper()}</a>" for ext in FILE_FORMATS)


def _png(image: Any, *, dpi: int | None = None, level: int = 6) -> bytes:
    out = io.BytesIO()
    image.save(out, format="png", compress_level=level, **({"dpi": (dpi, dpi)} if dpi else {}))
    return out.getvalue()


def _raster(fig: Any, bbox: Any) -> Any:
    """The figure inside ``bbox`` drawn once at :data:`FILE_DPI` (a PIL image, RGB when opaque).

    Drawn to the Agg buffer and taken from there, so that the file PNG and the page's smaller
    one come from one drawing without encoding and decoding a PNG in between.
    """
    import numpy as np
    from PIL import Image  # a matplotlib dependency

    fig.savefig(io.BytesIO(), format="rgba", dpi=FILE_DPI, bbox_inches=bbox)
    pixels = np.asarray(fig.canvas.buffer_rgba())
    opaque = bool((pixels[..., 3] == 255).all())
    return Image.fromarray(np.ascontiguousarray(pixels[..., :3]) if opaque else pixels.copy())


def render_figure(job: bytes | tuple) -> str:
    """The ``<figure>`` of ``(draw, caption, width, height[, number, stem, folder])`` (or of that
    tuple serialized by cloudpickle); with a ``folder``, also its SVG, PDF and 300-dpi PNG files.

    The figure is laid out once (its tight bounding box) and saved in every format from that layout.
    """
    if isinstance(job, bytes):
        import cloudpickle

        job = cloudpickle.loads(job)
    draw, caption, width, height, number, stem, folder = (*job, None, None, None)[:7]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.style.context(str(STYLE)):
        fig = plt.figure(figsize=(width, height))
        try:
            draw(fig)
            bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.05)
            image = _raster(fig, bbox)
            if folder is not None:
                (Path(folder) / f"{stem}.png").write_bytes(_png(image, dpi=FILE_DPI, level=1))
                for ext in ("svg", "pdf"):
                    fig.savefig(Path(folder) / f"{stem}.{ext}", format=ext, bbox_inches=bbox, metadata=_METADATA[ext])
        finally:
            plt.close(fig)
    data = base64.b64encode(_png(image.reduce(EMBED_REDUCE))).decode("ascii")  # box filter: 100 dpi
    head = f"Figure {number}. " if number else ""
    files = f" <span class='files'>({_links(stem)})</span>" if folder is not None else ""
    cap = f"<figcaption><b>{escape(head)}</b>{escape(caption)}{files}</figcaption>" if caption or head else ""
    return f"<figure><img alt='{escape(head + caption)}' src='data:image/png;base64,{data}'/>{cap}</figure>"
