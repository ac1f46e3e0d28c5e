"""Notes for sections whose artifacts are not estimable from the user's data, or have no rows.

A stage the data cannot support writes its outputs empty and marked (``not_estimable:
{reason, needs}`` in the provenance; :func:`pipeline.stage.not_estimable_mark`). The report
shows such a section as "Not estimable from your data: <reason>" and "To estimate it, add:
<needs>" in place of its tables and figures (or beside what is there, when only part of the
section's artifacts are marked), and ``metrics.json`` carries the reason under
``not_estimable``.
"""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import escape


def _groups(marks: Mapping[str, Mapping[str, str]]) -> dict[tuple[str, str], list[str]]:
    """``(reason, needs)`` -> the artifacts marked with it, in reading order."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, mark in marks.items():
        groups.setdefault((str(mark.get("reason", "")), str(mark.get("needs", "") or "")), []).append(name)
    return groups


def not_estimable_html(marks: Mapping[str, Mapping[str, str]], *, part: bool) -> str:
    """The note for the marked artifacts ``marks`` (name -> mark); ``part``: the section shows the rest."""
    out = []
    for (reason, needs), names in _groups(marks).items():
        what = f"<p class='what'>{escape(', '.join(names))}:</p>" if part else ""
        add = f"<p><b>To estimate it, add:</b> {escape(needs)}</p>" if needs else ""
        out.append(f"<div class='not-estimable'>{what}<p><b>Not estimable from your data:</b> {escape(reason)}</p>"
                   f"{add}</div>")
    return "".join(out)


def not_estimable_metric(marks: Mapping[str, Mapping[str, str]]) -> dict[str, object]:
    """``{reason, needs, artifacts}`` for ``metrics.json`` (distinct reasons and needs joined by "; ")."""
    groups = _groups(marks)
    return {"reason": "; ".join(dict.fromkeys(r for r, _ in groups)),
            "needs": "; ".join(dict.fromkeys(n for _, n in groups if n)),
            "artifacts": list(marks)}


def empty_blocks(names: list[str]) -> list[str]:
    """The note of a section whose artifacts exist but have no rows."""
    return [f"<p class='empty'>No results: {escape(', '.join(names))} {'has' if len(names) == 1 else 'have'} no rows "
            "(the stage wrote them empty; the data-quality section lists what it excluded).</p>"]
