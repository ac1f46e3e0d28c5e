"""Mark the previous run's report stale when a stage fails.

``dvc repro`` stops at a failing stage and leaves the outputs of the last good
run in place, the report included: a reader would take its numbers for results
of the current data and params. The runner (:func:`pipeline.stage.main`) calls
:func:`mark_stale` whenever a stage fails, which puts a banner at the top of
``data/report/index.html`` naming the stage and its message. The report stage
writes a fresh page (without the banner) on its next successful run; DVC sees
the edited output and reruns it.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

BANNER_ID = "stale-report"
_BANNER = re.compile(rf'<div id="{BANNER_ID}".*?</div>\n?', re.S)


def mark_stale(html_path: str | Path, stage: str, message: str) -> bool:
    """Insert (or replace) the stale banner after ``<body>``; False when there is no report yet.

    The file is rewritten through a temporary file and :func:`os.replace` (never in place: the
    DVC cache may share the old file's bytes). Calling it twice leaves one banner.
    """
    path = Path(html_path)
    if not path.is_file():
        return False
    text = _BANNER.sub("", path.read_text(encoding="utf-8"))
    banner = (
        f'<div id="{BANNER_ID}" role="alert" style="background:#b00020;color:#fff;padding:1em;font-weight:bold">'
        f"This report is stale: stage {html.escape(stage)} failed on the last run: {html.escape(message)}. "
        "Its numbers come from an earlier run; fix the problem and run dvc repro again.</div>\n"
    )
    match = re.search(r"<body[^>]*>\n?", text)
    at = match.end() if match else 0
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text[:at] + banner + text[at:], encoding="utf-8")
    os.replace(tmp, path)
    return True
