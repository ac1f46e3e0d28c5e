"""What made the artifacts a section shows: data source, sample, stage parameters.

Every Parquet artifact carries a ``provenance`` schema-metadata key (stage, the
resolved params groups the stage read, data source, package version; see
:mod:`pipeline.stage`). The report header names the data source and the sample;
each section gets a collapsible "Parameters" block listing ``group.key = value``
of the stages behind it, and says so when its data are simulated. An artifact
without the key (written before provenance existed) is listed as "provenance not
recorded".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
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


def source_text(source: Mapping[str, Any] | None) -> str:
    """``synthetic (seed 20071012)`` or ``files: format canonical, raw_dir data/raw``."""
    if not source:
        return "not recorded"
    kind = source.get("kind")
    if kind == "synthetic":
        extra = [f"seed {source['seed']}"] if source.get("seed") is not None else []
        if source.get("generator"):
            extra.append(f"generator {source['generator']}")
        return "simulated data (synthetic" + (", " + ", ".join(extra) if extra else "") + ")"
    if kind == "files":
        return f"files: format {source.get('format')}, raw_dir {source.get('raw_dir')}"
    return ", ".join(f"{k} {value_text(v)}" for k, v in sorted(source.items()) if k != "sample")


def sample_text(source: Mapping[str, Any] | None) -> str:
    """``2007-10-12 .. 2020-12-31`` (an open end reads "first date" / "last date")."""
    sample = (source or {}).get("sample")
    if not isinstance(sample, Mapping):
        return "not recorded"
    return f"{sample.get('start') or 'first date'} .. {sample.get('end') or 'last date'}"


def header(provenances: Mapping[str, dict[str, Any] | None]) -> dict[str, str]:
    """Data source, sample and version for the page header from the ingest/returns artifacts."""
    for name in SOURCE_ARTIFACTS:
        prov = provenances.get(name)
        if prov and prov.get("data_source"):
            source = prov["data_source"]
            return {"source": source_text(source), "sample": sample_text(source), "version": str(prov.get("version", ""))}
    return {"source": NOT_RECORDED, "sample": NOT_RECORDED, "version": ""}


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


def is_simulated(provenances: Iterable[dict[str, Any] | None]) -> list[str]:
    """The descriptions of the synthetic data sources among ``provenances``."""
    found = {source_text(p["data_source"]) for p in provenances
             if p and isinstance(p.get("data_source"), Mapping) and p["data_source"].get("kind") == "synthetic"}
    return sorted(found)


def section_html(provenances: Mapping[str, dict[str, Any] | None]) -> str:
    """The "simulated data" note and the collapsible "Parameters" block of one section."""
    if not provenances:
        return ""
    stages, missing = by_stage(provenances)
    parts = []
    simulated = is_simulated(provenances.values())
    if simulated:
        parts.append(f"<p class='simulated'>Built from {escape('; '.join(simulated))}.</p>")
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
    parts.append(f"<details class='params'><summary>Parameters ({escape(label)})</summary>"
                 f"<table class='data params'>{''.join(rows)}</table></details>")
    return "".join(parts)
