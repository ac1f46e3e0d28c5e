"""``python -m pipeline check``: params tree and groups (every error), the data summary, the stage lines.

The documented outputs on the two real datasets (docs/own-data.md) are compared with what the
command prints; ``UPDATE_OWN_DATA_DOC=1`` rewrites those blocks from the command instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO, SHARED_DATA, repo_params

from pipeline.check import declared_lines, main, stage_lines, validate_group
from pipeline.params import known_groups, validate_params_tree
from pipeline.export import export_data
from pipeline.simulator import simulate
from pipeline.stage import Stage, load_stage, stage_names

DOC = REPO / "docs" / "own-data.md"


def write_params(path: Path, params: dict) -> Path:
    path.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def run_check(tmp_path: Path, params: dict, capsys, root: Path | None = None) -> tuple[int, str, str]:
    rc = main(["--params", str(write_params(tmp_path / "params.yaml", params)), "--root", str(root or tmp_path)])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def small_files(tmp_path_factory) -> Path:
    """A data root with the embedded default data of one year as canonical CSV files in data/raw/default."""
    root = tmp_path_factory.mktemp("files")
    export_data(simulate(seed=1, start="2015-01-05", end="2015-12-31"), root / "data/raw/default")
    return root


def files_params(**data) -> dict:
    return repo_params(data={"source": "files", "format": "canonical", "raw_dir": "data/raw/default",
                             "start": "2015-01-05", "end": "2015-12-31", **data})


# --------------------------------------------------------------------------- params tree


def test_known_groups_are_the_groups_the_stages_declare_and_compute():
    declared = {name for stage in stage_names() for name in load_stage(stage).params} | {"compute"}
    assert set(known_groups()) == declared and len(known_groups()) == len(declared)


def test_repository_params_have_a_valid_tree():
    assert validate_params_tree(repo_params()) == []


def test_bad_input_unknown_top_level_group():
    errors = validate_params_tree({**repo_params(), "contagoin": {"window": "year"}})
    assert errors == ["params.yaml: unknown top-level group 'contagoin' (did you mean 'contagion'?); "
                      "allowed groups: compute, contagion, data, measures, panel, report, stress; or the switch realtime"]


def test_bad_input_unknown_group_under_measures_and_stress():
    params = repo_params(**{"measures.covar_qx": {"q": 0.95}, "stress.fire_sale": {}})
    errors = validate_params_tree(params)
    assert errors[0].startswith("measures: unknown group 'covar_qx' (did you mean 'covar_qr'?); allowed groups: cca, covar_dcc,")
    assert errors[1].startswith("stress: unknown group 'fire_sale' (did you mean 'firesale'?); allowed groups: cascade, firesale")


def test_bad_input_null_group():
    params = repo_params()
    params["measures"]["covar_qr"] = None
    params["report"] = None
    errors = validate_params_tree(params)
    assert [e.split(":")[0] for e in errors] == ["measures.covar_qr", "report"]
    assert "the group is null" in errors[0] and "remove the line to use the defaults" in errors[0]


def test_bad_input_group_that_is_not_a_mapping():
    params = repo_params()
    params["measures"] = ["returns"]
    params["panel"] = 3
    assert validate_params_tree(params) == ["measures: expected a mapping of options, got ['returns']",
                                            "panel: expected a mapping of options, got 3"]
    assert validate_params_tree([1]) == ["params.yaml: the top level must be a mapping of parameter groups, got list"]


def test_an_absent_group_is_fine_its_defaults_apply():
    params = repo_params()
    del params["measures"]["spillover"]
    assert validate_params_tree(params) == []


# --------------------------------------------------------------------------- params groups

BAD_VALUES = {
    "compute": ("scheduler", "threads"),
    "data": ("source", "web"),
    "data.screens": ("mad_threshold", -1),
    "measures.returns": ("system", "market"),
    "measures.covar_qr": ("q", 1.5),
    "measures.spillover": ("window", 3),
    "measures.covar_dcc": ("vol", "egarch"),
    "measures.mes_srisk": ("k", 1.5),
    "measures.rankings": ("level", 1.5),
    "measures.cca": ("solver", "newton"),
    "measures.granger_network": ("alpha", 1.5),
    "measures.system": ("ar_window", 1),
    "measures.early_warning": ("episodes", "paper"),
    "contagion": ("ic", "xic"),
    "panel": ("effects", "fixed"),
    "stress.firesale": ("max_rounds", 0),
    "stress.cascade": ("threshold", 2.0),
    "stress.interbank": ("lgd", 2.0),
    "report": ("title", 3),
}


def group_class(name: str):
    if name == "compute":
        from pipeline.compute import ComputeConfig

        return ComputeConfig
    return next(load_stage(s).params[name] for s in stage_names() if name in load_stage(s).params)


def test_bad_values_cover_every_group():
    assert set(BAD_VALUES) == set(known_groups())


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_bad_input_bad_value_in_each_group(name):
    key, value = BAD_VALUES[name]
    config, errors = validate_group(name, group_class(name), repo_params(**{name: {key: value}}))
    assert config is None and len(errors) == 1
    assert errors[0].startswith(f"{name}") and key in errors[0] and re.search(r"allowed|must be", errors[0]), errors[0]


def test_bad_input_misspelled_key_gets_a_suggestion():
    params = repo_params(**{"measures.covar_qr": {"min_ob": 100}})
    params["measures"]["covar_qr"].pop("min_obs")
    config, errors = validate_group("measures.covar_qr", group_class("measures.covar_qr"), params)
    assert config is None
    assert errors == [errors[0]] and errors[0].startswith("measures.covar_qr: unknown option(s) min_ob for")
    assert "allowed options: " in errors[0] and errors[0].endswith("did you mean 'min_obs' for 'min_ob'?")


def test_bad_input_every_error_of_a_group_is_reported_not_only_the_first():
    params = repo_params(**{"measures.covar_dcc": {"vol": "egarch", "q": 1.5, "min_ob": 3}})
    config, errors = validate_group("measures.covar_dcc", group_class("measures.covar_dcc"), params)
    assert config is None
    assert [e.split(":")[1].split("=")[0].strip() for e in errors] == ["unknown option(s) min_ob for CovarDCCParams; allowed options", "vol", "q"]


def test_bad_input_nested_option_error_names_its_path():
    params = repo_params(**{"report": {"contagion": {"layout": "grid"}}})
    _, errors = validate_group("report", group_class("report"), params)
    assert errors == ["report.contagion: layout='grid' is not allowed; allowed values: 'circular', 'spring'"]


def test_a_null_group_validates_to_its_defaults_and_is_an_error_of_the_tree(tmp_path, capsys):
    params = repo_params()
    params["measures"]["covar_qr"] = None
    config, errors = validate_group("measures.covar_qr", group_class("measures.covar_qr"), params)
    assert config is not None and errors == []
    rc, out, err = run_check(tmp_path, params, capsys)
    assert rc == 2 and "measures.covar_qr: the group is null" in err


# --------------------------------------------------------------------------- the command


def test_check_on_the_default_data_prints_the_data_and_every_stage(tmp_path, capsys):
    rc, out, err = run_check(tmp_path, repo_params(), capsys)
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "params: 19 groups, no errors"
    assert lines[1] == "realtime: false (paper defaults: some values use the whole sample; docs/realtime.md)"
    assert lines[2] == "data: synthetic (the embedded simulator, seed 20071012): simulated data, not yours"
    assert "  banks          16: joint-stock 8, state-owned 5, city 3" in lines
    assert "  prices         2007-10-12 .. 2020-12-31, 3450 trading days, 55200 rows" in lines
    assert "  absent         (none)" in lines
    stages = [line.strip() for line in lines if line.startswith("  ") and not line.startswith("   ")
              and line.strip() in stage_names()]
    assert stages[:3] == ["ingest", "returns", "system_measures"] and sorted(stages) == [s for s in stage_names() if s != "params"]


def test_bad_input_all_errors_are_printed_together_with_no_traceback(tmp_path, capsys):
    params = repo_params(**{"measures.covar_dcc": {"vol": "egarch"}, "panel": {"effects": "fixed"}})
    params["contagoin"] = {}
    params["measures"]["covar_qr"] = None
    rc, out, err = run_check(tmp_path, params, capsys)
    assert rc == 2 and "Traceback" not in err
    assert err.splitlines()[0] == "4 error(s):"
    for text in ("unknown top-level group 'contagoin'", "measures.covar_qr: the group is null",
                 "measures.covar_dcc: vol='egarch'", "panel: effects='fixed'"):
        assert text in err
    assert out.splitlines()[0] == "params: 19 groups, 4 error(s) (below)"
    assert "data: synthetic" in out  # the data are still checked
    assert "    not checked: fix the errors below first" in out  # the stages whose group is bad


def test_bad_input_bad_data_group_stops_only_the_data(tmp_path, capsys):
    rc, out, err = run_check(tmp_path, repo_params(data={"source": "web"}), capsys)
    assert rc == 2 and "data.source='web' is not allowed; allowed values: 'synthetic', 'files'" in err
    assert "data: not read (fix the data group first)" in out


def test_bad_input_params_file_that_is_not_yaml(tmp_path, capsys):
    (tmp_path / "params.yaml").write_text("data: [unclosed\n", encoding="utf-8")
    assert main(["--params", str(tmp_path / "params.yaml")]) == 2
    err = capsys.readouterr().err
    assert "params.yaml" in err and "Traceback" not in err
    assert main(["--params", str(tmp_path / "absent.yaml")]) == 2
    assert "parameter file" in capsys.readouterr().err


def test_check_reads_canonical_files_and_writes_nothing(tmp_path, small_files, capsys):
    before = sorted(p.relative_to(small_files) for p in small_files.rglob("*"))
    rc, out, err = run_check(tmp_path, files_params(), capsys, root=small_files)
    assert rc == 0, err
    assert "data: files, format canonical, from data/raw/default" in out
    assert "  prices         2015-01-05 .. 2015-12-31, 259 trading days, 4144 rows" in out
    assert sorted(p.relative_to(small_files) for p in small_files.rglob("*")) == before


def test_bad_input_bad_data_file(tmp_path, small_files, capsys):
    raw = tmp_path / "data/raw/default"
    raw.mkdir(parents=True)
    for path in (small_files / "data/raw/default").iterdir():
        text = path.read_text(encoding="utf-8")
        if path.name == "prices.csv":
            lines = text.splitlines()
            lines[3] = lines[3].replace(lines[3].split(",")[2], "12.5x", 1)
            text = "\n".join(lines) + "\n"
        (raw / path.name).write_text(text, encoding="utf-8")
    rc, out, err = run_check(tmp_path, files_params(), capsys)
    assert rc == 2 and "Traceback" not in err
    assert re.search(r"data: .*prices\.csv, table prices, column 'close', row 4, bank 'CCB01', date 2015-01-07, value '12\.5x'", err), err
    assert "data: not read (error below)" in out and "    not checked: fix the errors below first" in out


def test_bad_input_missing_required_data_file(tmp_path, capsys):
    (tmp_path / "data/raw/default").mkdir(parents=True)
    rc, out, err = run_check(tmp_path, files_params(), capsys)
    assert rc == 2 and "required banks file not found" in err


def test_absent_table_is_listed_and_stages_without_a_hook_say_what_they_need(tmp_path, small_files, capsys):
    raw = tmp_path / "data/raw/default"
    raw.mkdir(parents=True)
    for path in (small_files / "data/raw/default").iterdir():
        if path.name != "market_states.csv":
            (raw / path.name).write_bytes(path.read_bytes())
    rc, out, err = run_check(tmp_path, files_params(), capsys)
    assert rc == 0, err
    assert "  absent         market_states" in out
    data = simulate(seed=1, start="2015-01-05", end="2015-12-31")
    data.market_states = None
    stage = Stage(name="x", run=lambda ctx: None, inputs=("returns", "market_states"))
    assert declared_lines(stage, data, {"returns": "returns"}) == [
        ("estimates", "after returns (no check hook: details when it runs)"),
        ("cannot", "needs market_states: absent → not estimable, unless the stage can do without it"),
    ]


def test_stage_hook_lines_are_printed_and_a_failing_hook_is_an_error_not_a_traceback(tmp_path, capsys, monkeypatch):
    data = simulate(seed=1, start="2015-01-05", end="2015-12-31")
    hook = Stage(name="x", run=lambda ctx: None, check=lambda d, c: [("estimates", f"{len(d.banks)} banks"), ("cannot", "no lcr")])
    assert stage_lines(hook, data, {}, {}) == [("estimates", "16 banks"), ("cannot", "no lcr")]

    import pipeline.stage as stage_module  # pipeline.check imports load_stage when it runs

    original = stage_module.load_stage

    def patched(name):
        stage = original(name)
        if name == "covar_qr":
            return Stage(name=stage.name, run=stage.run, params=stage.params, inputs=stage.inputs,
                         outputs=stage.outputs, check=lambda d, c: [("cannot", "market_states lacks the states")])
        if name == "spillover":
            return Stage(name=stage.name, run=stage.run, params=stage.params, inputs=stage.inputs,
                         outputs=stage.outputs, check=lambda d, c: 1 / 0)
        return stage

    monkeypatch.setattr(stage_module, "load_stage", patched)
    rc, out, err = run_check(tmp_path, repo_params(), capsys)
    assert rc == 2 and "Traceback" not in err
    assert "    cannot     market_states lacks the states" in out
    assert "stage spillover: its check failed: ZeroDivisionError: division by zero" in err
    assert "not estimable from this data: covar_qr (their outputs will be written empty" in out


# --------------------------------------------------------------------------- documented outputs on real data


def doc_blocks(text: str, kind: str) -> dict[str, tuple[int, int, str]]:
    """``<!-- kind: name -->`` followed by a fenced block -> (start, end, block text) per name."""
    out = {}
    for m in re.finditer(rf"<!-- {kind}: ([\w-]+) -->\n```\w*\n(.*?)```\n", text, flags=re.S):
        out[m.group(1)] = (m.start(2), m.end(2), m.group(2))
    return out


@pytest.mark.realdata
@pytest.mark.parametrize("dataset", ["cn-banks", "us-financials"])
def test_documented_check_output_on_the_real_data_is_what_the_command_prints(tmp_path, shared_data, dataset, capsys):
    text = DOC.read_text(encoding="utf-8")
    params = doc_blocks(text, "params")[dataset][2]
    data = yaml.safe_load(params)["data"]
    (tmp_path / "data/raw").mkdir(parents=True)
    (tmp_path / "data/raw" / dataset).symlink_to(shared_data / dataset, target_is_directory=True)
    rc, out, err = run_check(tmp_path, {**repo_params(), "data": data}, capsys)
    assert rc == 0, err
    start, end, documented = doc_blocks(text, "check")[dataset]
    if os.environ.get("UPDATE_OWN_DATA_DOC"):
        DOC.write_text(text[:start] + out + text[end:], encoding="utf-8")
        return
    assert out == documented, "docs/own-data.md is out of date: rerun this test with UPDATE_OWN_DATA_DOC=1"


def test_documented_params_blocks_are_the_data_groups_of_the_supported_formats():
    text = DOC.read_text(encoding="utf-8")
    blocks = doc_blocks(text, "params")
    assert set(blocks) >= {"cn-banks", "us-financials", "canonical"}
    for name, (_, _, block) in blocks.items():
        data = yaml.safe_load(block)["data"]
        config, errors = validate_group("data", group_class("data"), {"data": data})
        assert errors == [], (name, errors)
    assert str(SHARED_DATA.parent) not in text and "/work/" not in text


def test_validate_params_tree_imports_no_stage(tmp_path):
    import subprocess
    import sys

    code = ("import sys, pipeline.params as c; c.validate_params_tree({'data': {}}); "
            "print(sorted(m for m in sys.modules if m.startswith(('pipeline.stages', 'pipeline.adapters', 'panel'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "[]"


def test_bad_input_null_group_inside_a_group():
    known = ("data", "data.screens", "measures.returns")
    assert validate_params_tree({"data": {"screens": {}}, "measures": {"returns": {}}}, known) == []
    errors = validate_params_tree({"data": {"screens": None}}, known)
    assert len(errors) == 1 and errors[0].startswith("data.screens: the group is null")


def test_check_states_the_realtime_mode_and_refuses_a_bad_switch(tmp_path, capsys):
    rc, out, _ = run_check(tmp_path, repo_params(realtime=True), capsys)
    assert rc == 0 and out.splitlines()[1].startswith("realtime: true (every value dated t from data up to t only")
    rc, _, err = run_check(tmp_path, repo_params(realtime="yes"), capsys)
    assert rc == 2 and "realtime: 'yes' is not allowed; allowed values: false" in err
