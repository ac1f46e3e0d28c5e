"""The sections' prose: one Jinja template per section (``templates/sections/<id>.html.j2``).

The method text lives in the templates (and in docs/*.md, which they link); the numbers in it
come from the artifacts: each section passes the parameter values recorded in the provenance of
the artifacts it shows (:meth:`pipeline.report.core.ReportContext.param`) and what the data hold
(which market states, which episodes fall inside the sample). A value that is not recorded reads
"provenance not recorded", never a default.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from pipeline.report.provenance import NOT_RECORDED

TEMPLATES = Path(__file__).with_name("templates") / "sections"


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=False)


def recorded(value: Any) -> Any:
    """``value``, or "provenance not recorded" when it is None."""
    return NOT_RECORDED if value is None else value


def render(section: str, **values: Any) -> str:
    """The intro of ``section`` with ``values`` (None values read "provenance not recorded")."""
    return _env().get_template(f"{section}.html.j2").render(
        {k: recorded(v) for k, v in values.items()}).strip()
