"""Docs stay in step with the code: every schema column and every parameter is documented."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.schema import SCHEMAS

REPO = Path(__file__).resolve().parents[1]


def _leaves(node, prefix=""):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix


def test_every_schema_column_is_in_the_data_doc():
    text = (REPO / "docs" / "data.md").read_text(encoding="utf-8")
    missing = [f"{s.name}.{c.name}" for s in SCHEMAS.values() for c in s.columns if f"`{c.name}`" not in text]
    assert missing == []


def test_every_parameter_is_in_the_parameters_doc():
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    text = (REPO / "docs" / "parameters.md").read_text(encoding="utf-8")
    missing = [key for key in _leaves(params) if f"`{key}`" not in text]
    assert missing == []


def test_readme_has_the_two_commands_and_ci_runs_the_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    test_command = next(line.strip() for line in ci.splitlines() if line.strip().startswith("python3 -m venv"))
    assert test_command in readme
    assert "dvc repro" in readme and "data/report/index.html" in readme
