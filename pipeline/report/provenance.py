"""What made the artifacts a section shows: data source, sample, stage parameters.

Every Parquet artifact carries a ``provenance`` schema-metadata key (stage, the
resolved params groups the stage read, data source, package version; see
:mod:`pipeline.stage`). The report header names the data source and the sample
(each source when sections differ, e.g. market data from the user's files and
stress sections on a simulator); each section gets a :class:`DataLabel` (a
"Simulated data" badge and sentence when its own artifacts come from a simulator,
also in ``metrics.json``) and a collapsible "Parameters" block listing
``group.key = value`` of the stages behind it. An artifact without the key
(written before provenance existed) is listed as "provenance not recorded".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import escape

NOT_RECORDED = "provenance not recorded"
#: artifacts whose provenance names the data source of the whole report (ingest and returns)
SOURCE_ARTIFACTS = ("banks", "returns", "system_returns")


def value_text(value: Any) -> str:
    """A parameter value as text: JSON for lists, mappings and null, plain for numbers and strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def flatten(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"a": {"b": 1}}`` -> ``[("a.b", 1)]`` in sorted key order (lists are values)."""
    out: list[tuple[str, Any]] = []
    for key in sorted(params):
        value = params[key]
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.extend(flatten(value, f"{name}."))
        else:
            out.append((name, value))
    return out


def is_simulated(source: Any) -> bool:
    """Whether a provenance ``data_source`` is a simulator (kind ``synthetic``)."""
    return isinstance(source, Mapping) and source.get("kind") == "synthetic"


def source_text(source: Mapping[str, Any] | None) -> str:
    """``simulated data (synthetic, seed 20071012)`` or ``your files: format wind, raw_dir data/raw``."""
    if not source:
        return "not recorded"
    kind = source.get("kind")
    if kind == "synthetic":
        extra = [f"seed {source['seed']}"] if source.get("seed") is not None else []
        if source.get("generator"):
            extra.append(f"generator {source['generator']}")
        if source.get("years"):
            extra.append(f"years {value_text(source['years'])}")
        return "simulated data (synthetic" + (", " + ", ".join(extra) if extra else "") + ")"
    if kind == "files":
        where = [f"format {source.get('format')}"]
        if source.get("raw_dir"):
            where.append(f"raw_dir {source['raw_dir']}")
        else:
            where.extend(f"{k} {v}" for k, v in sorted((source.get("files") or {}).items()))
        return f"your files: {', '.join(where)}"
    return ", ".join(f"{k} {value_text(v)}" for k, v in sorted(source.items()) if k != "sample")


def sample_text(source: Mapping[str, Any] | None) -> str:
    """``2007-10-12 .. 2020-12-31`` (an open end reads "first date" / "last date")."""
    sample = (source or {}).get("sample")
    if not isinstance(sample, Mapping):
        return "not recorded"
    return f"{sample.get('start') or 'first date'} .. {sample.get('end') or 'last date'}"


@dataclass(frozen=True)
class DataLabel:
    """Where the data of one section come from, from its own artifacts' provenance.

    ``sources``: source text (:func:`source_text`) -> (simulated?, artifacts); ``kind`` is
    ``simulated`` (every artifact from a simulator), ``user`` (none), ``mixed`` or
    ``not recorded`` (no artifact with a recorded data source).
    """

    sources: dict[str, tuple[bool, tuple[str, ...]]]

    @classmethod
    def of(cls, provenances: Mapping[str, dict[str, Any] | None]) -> "DataLabel":
        found: dict[str, tuple[bool, list[str]]] = {}
        for name, prov in provenances.items():
            source = (prov or {}).get("data_source")
            if source:
                found.setdefault(source_text(source), (is_simulated(source), []))[1].append(name)
        return cls({text: (sim, tuple(names)) for text, (sim, names) in sorted(found.items())})

    @property
    def kind(self) -> str:
        flags = {sim for sim, _ in self.sources.values()}
        if not flags:
            return "not recorded"
        return "mixed" if len(flags) == 2 else "simulated" if True in flags else "user"

    def texts(self, simulated: bool) -> list[str]:
        return [text for text, (sim, _) in self.sources.items() if sim == simulated]

    def metrics(self) -> dict[str, Any]:
        """``data`` (the kind) and ``data_source`` for ``metrics.json``; the simulated artifacts when mixed."""
        out: dict[str, Any] = {"data": self.kind, "data_source": "; ".join(self.sources) or NOT_RECORDED}
        if self.kind == "mixed":
            out["simulated_artifacts"] = sorted(n for sim, names in self.sources.values() if sim for n in names)
        return out

    def badge(self) -> str:
        """The header badge: "Simulated data", "Partly simulated data" or nothing."""
        return {"simulated": "Simulated data", "mixed": "Partly simulated data"}.get(self.kind, "")

    def html(self) -> str:
        """The sentence under the section title saying which simulator (and seed) made its numbers."""
        simulated = "; ".join(self.texts(True))
        if self.kind == "simulated":
            return (f"<p class='simulated'><b>Simulated data.</b> Every number in this section comes from "
                    f"{escape(simulated)}, not from observed data.</p>")
        if self.kind == "mixed":
            names = sorted(n for sim, names in self.sources.values() if sim for n in names)
            return (f"<p class='simulated'><b>Partly simulated data.</b> {escape(', '.join(names))} come from "
                    f"{escape(simulated)}; the rest from {escape('; '.join(self.texts(False)))}.</p>")
        return ""


def header(provenances: Mapping[str, dict[str, Any] | None],
           labels: Sequence[tuple[str, DataLabel]] = ()) -> dict[str, str]:
    """Data source, sample and version for the page header from the ingest/returns artifacts.

    When sections (``(title, label)`` pairs) draw only on other sources than the market data,
    the source line names each: ``market data: your files: ...; section “Fire-sale ...”:
    simulated data (...)`` (a section that mixes both, like data quality, says so itself).
    """
    head = {"source": NOT_RECORDED, "sample": NOT_RECORDED, "version": ""}
    for name in SOURCE_ARTIFACTS:
        prov = provenances.get(name)
        if prov and prov.get("data_source"):
            source = prov["data_source"]
            head = {"source": source_text(source), "sample": sample_text(source), "version": str(prov.get("version", ""))}
            break
    others: dict[str, list[str]] = {}
    for title, label in labels:
        if head["source"] not in label.sources:
            for text in label.sources:
                others.setdefault(text, []).append(f"“{title}”")
    if others:
        head["source"] = "; ".join([f"market data: {head['source']}", *(
            f"section{'s' if len(titles) > 1 else ''} {', '.join(titles)}: {text}" for text, titles in sorted(others.items()))])
    return head


#: The estimating stages whose artifacts record the ``realtime`` switch (docs/realtime.md).
MODE_TEXT = {
    True: ("real time (realtime: true): every value dated t is computed from data up to t only "
           "(expanding refits every 21 trading days, causal screens and windows; docs/realtime.md)"),
    False: ("paper defaults (realtime: false): ΔCoVaR-QR, ΔCoVaR-DCC, MES, LRMES and SRISK, and the contagion "
            "and panel results built on them, use parameters estimated on the whole sample, so values dated t "
            "use later data (docs/realtime.md)"),
}


def mode_text(realtime: bool, provenances: Mapping[str, dict[str, Any] | None]) -> str:
    """The header's estimation mode: the report's own ``realtime`` switch, and the stages whose
    artifacts were made under the other value (a partial rerun; ``dvc repro`` fixes it)."""
    other = sorted({str(p.get("stage")) for p in provenances.values()
                    if p and "realtime" in p and bool(p["realtime"]) is not realtime})
    text = MODE_TEXT[realtime]
    if other:
        text += (f"; but the artifacts of {', '.join(other)} were made with realtime: {str(not realtime).lower()} "
                 "(rerun dvc repro)")
    return text


def by_stage(provenances: Mapping[str, dict[str, Any] | None]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``{stage: {"artifacts": [...], "provenance": {...}}}`` and the artifacts without provenance."""
    stages: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    for name, prov in provenances.items():
        if not prov:
            missing.append(name)
            continue
        entry = stages.setdefault(str(prov.get("stage", "?")), {"artifacts": [], "provenance": prov})
        entry["artifacts"].append(name)
    return stages, missing


def section_html(provenances: Mapping[str, dict[str, Any] | None]) -> str:
    """The collapsible "Parameters" block of one section."""
    if not provenances:
        return ""
    stages, missing = by_stage(provenances)
    rows = []
    for stage in sorted(stages):
        prov = stages[stage]["provenance"]
        artifacts = ", ".join(stages[stage]["artifacts"])
        rows.append(f"<tr class='stage'><th colspan='2'>stage {escape(stage)} (artifacts {escape(artifacts)}; "
                    f"data source: {escape(source_text(prov.get('data_source')))}; sample "
                    f"{escape(sample_text(prov.get('data_source')))})</th></tr>")
        params = flatten(prov.get("params") or {})
        if not params:
            rows.append("<tr><td colspan='2'>no parameters</td></tr>")
        rows.extend(f"<tr><td><code>{escape(k)}</code></td><td>{escape(value_text(v))}</td></tr>" for k, v in params)
    if missing:
        rows.append(f"<tr class='stage'><th colspan='2'>{escape(', '.join(missing))}: {NOT_RECORDED}</th></tr>")
    label = ", ".join(sorted(stages)) or NOT_RECORDED
    return (f"<details class='params'><summary>Parameters ({escape(label)})</summary>"
            f"<table class='data params'>{''.join(rows)}</table></details>")
