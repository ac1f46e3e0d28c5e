"""Mark a previous report stale when an upstream stage failed on the last run.

The runner calls :func:`mark_stale` on an existing ``data/report/index.html`` when a stage the
report depends on stops with an error: a banner right after ``<body>`` says which stage failed,
its message, and that the numbers come from an earlier run. The page is rewritten atomically
(a temporary file beside it, then :func:`os.replace`), never in place: DVC's cache may link the
file. A second call replaces the banner (one banner, the latest failure).

It lives beside :mod:`pipeline.report`, not inside it, so that the runner (:mod:`pipeline.stage`)
can import it without the report package (and without making every stage depend on the report's
code in ``dvc.yaml``); :mod:`pipeline.report` re-exports it as ``pipeline.report.mark_stale``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from markupsafe import escape

BEGIN, END = "<!-- stale-report -->", "<!-- /stale-report -->"
_BANNER = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END) + r"\n?", re.S)
_BODY = re.compile(r"<body[^>]*>", re.I)
STYLE = ("background:#8c1c13;color:#fff;font-size:1.1em;font-weight:bold;padding:.8em 1.2em;margin:0 0 1em;"
         "border-radius:4px;")


def banner_html(stage: str, message: str) -> str:
    """The banner: ``This report is stale: stage <stage> failed on the last run: <message>. ...`` (escaped)."""
    text = (f"This report is stale: stage {escape(stage)} failed on the last run: {escape(str(message).rstrip('.'))}. "
            "Its numbers come from an earlier run.")
    return f"{BEGIN}<div class='stale' role='alert' style='{STYLE}'>{text}</div>{END}\n"


def mark_stale(html_path: str | Path, stage: str, message: str) -> bool:
    """Insert (or replace) the stale banner in the report ``html_path``; ``False`` when there is no report."""
    path = Path(html_path)
    if not path.is_file():
        return False
    page = _BANNER.sub("", path.read_text(encoding="utf-8"))
    body = _BODY.search(page)
    at = body.end() if body else 0
    page = page[:at] + ("\n" if body else "") + banner_html(stage, message) + page[at:].lstrip("\n")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(page)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
