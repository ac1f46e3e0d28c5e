"""The stage mechanism: configs from params, typed status, the runner's errors, quality, budgets, provenance."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from conftest import REPO, copy_root, run_stage

from measures.core.config import Config, ConfigError, check_choice, check_range
from measures.core.mapping import SERIAL
from measures.core.status import FailureBudgetExceeded, FitStatus, NotEstimable, is_failed, worst
from pipeline.io import normalize_dtypes, read_provenance
from pipeline.quality import QualityRecord
from pipeline.compute import SerialMapper
from pipeline.stage import Stage, run_stage as runner


@dataclasses.dataclass(frozen=True, kw_only=True)
class Inner(Config):
    horizon: int = 10
    scale: float = 1.0

    def validate(self) -> None:
        check_range("horizon", self.horizon, low=1, integer=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Outer(Config):
    q: float = 0.95
    grid: tuple[float, ...] = (0.0, 0.5)
    pair: tuple[str, int] | None = None
    inner: Inner = dataclasses.field(default_factory=Inner)
    method: str = "a"

    def validate(self) -> None:
        check_choice("method", self.method, ("a", "b"))


def test_from_mapping_converts_from_the_type_hints():
    cfg = Outer.from_mapping({"q": 1, "grid": [1, 2], "pair": ["x", 3], "inner": {"horizon": 5, "scale": 2}}, where="g")
    assert cfg.q == 1.0 and isinstance(cfg.q, float)
    assert cfg.grid == (1.0, 2.0) and all(isinstance(v, float) for v in cfg.grid)
    assert cfg.pair == ("x", 3)
    assert cfg.inner == Inner(horizon=5, scale=2.0)
    assert Outer.from_mapping({}) == Outer()
    assert cfg.to_dict()["grid"] == [1.0, 2.0]


def test_from_mapping_names_the_group_and_the_allowed_values():
    with pytest.raises(ConfigError, match=r"^g: unknown option\(s\) methd for Outer; allowed options: grid, inner, method, pair, q$"):
        Outer.from_mapping({"methd": "a"}, where="g")
    with pytest.raises(ConfigError, match=r"^g: method='c' is not allowed; allowed values: 'a', 'b'$"):
        Outer.from_mapping({"method": "c"}, where="g")
    with pytest.raises(ConfigError, match=r"^g.inner: horizon=0 is out of range; allowed: \[1, inf\]$"):
        Outer.from_mapping({"inner": {"horizon": 0}}, where="g")
    with pytest.raises(ConfigError, match=r"g.inner: unknown option\(s\) h for Inner"):
        Outer.from_mapping({"inner": {"h": 1}}, where="g")


def test_fit_status_has_a_severity_order():
    assert worst("ok", "warning:X", "ok") == "warning:X"
    assert worst("warning:X", "failed:E: boom", "warning:Y") == "failed:E: boom"
    assert worst("warning:X", "warning:Y") == "warning:X"
    assert worst() == "ok" and worst(None, "ok") == "ok"
    assert is_failed("failed:E: m") and not is_failed("warning:failed")
    assert FitStatus.parse("failed:E: a: b") == FitStatus("failed", "E", "a: b")
    with pytest.raises(ValueError, match="kind='bad'"):
        FitStatus("bad")


def test_normalize_dtypes_fixes_dates_strings_and_declared_types():
    frame = pd.DataFrame({"date": pd.to_datetime(["2020-01-02"]).astype("datetime64[s]"),
                          "bank": pd.Series(["A"], dtype="string"), "x": [None]})
    out = normalize_dtypes(frame, {"x": "float64"})
    assert str(out["date"].dtype) == "datetime64[ns]"
    assert out["bank"].dtype == object and out["x"].dtype == "float64"


def test_mappers_keep_the_item_order():
    assert SERIAL.map(lambda x: x * x, [3, 1, 2]) == [9, 1, 4]
    assert SerialMapper("t").map(lambda x: -x, range(4)) == [0, -1, -2, -3]


def _params(**groups):
    return {"measures": {"returns": {}}, **groups}


def test_quality_is_written_when_the_stage_fails(tmp_path):
    def run(ctx):
        ctx.record(QualityRecord("returns", "prices", "AAA", None, None, 1, "excluded", "test", "recorded before failing"))
        raise ConfigError("measures.returns.system='x' is not allowed")

    stage = Stage(name="returns", run=run, outputs=("returns",))
    with pytest.raises(ConfigError, match="is not allowed"):
        runner(stage, params=_params(), root=tmp_path)
    quality = pd.read_parquet(tmp_path / "data/processed/quality/returns.parquet")
    assert quality["detail"].tolist() == ["recorded before failing"]
    assert not (tmp_path / "data/interim/returns.parquet").exists()


def test_a_stage_the_data_cannot_support_writes_its_outputs_empty_and_marked(tmp_path):
    def run(ctx):
        ctx.record(QualityRecord("returns", "prices", "AAA", None, None, 1, "excluded", "test", "too short"))
        raise NotEstimable("too few banks: 1 (need 2)", needs="a second bank's prices")

    stage = Stage(name="returns", run=run, outputs=("returns", "system_returns"))
    ctx = runner(stage, params=_params(), root=tmp_path)
    assert ctx.not_estimable_reason == "too few banks: 1 (need 2)"
    out = tmp_path / "data/interim/returns.parquet"
    assert pd.read_parquet(out).empty
    assert read_provenance(out)["not_estimable"] == {"reason": "too few banks: 1 (need 2)", "needs": "a second bank's prices"}
    quality = pd.read_parquet(tmp_path / "data/processed/quality/returns.parquet")
    assert quality["action"].tolist() == ["excluded", "not_estimable"]
    assert "returns, system_returns not estimable: too few banks" in quality["detail"].iloc[1]

    def consume(ctx):
        assert ctx.read("system_returns", required=False) is None
        ctx.read("returns")

    consumer = Stage(name="covar_qr", run=consume, inputs=("returns", "system_returns"), outputs=("covar_qr",))
    ctx = runner(consumer, params=_params(), root=tmp_path)
    assert ctx.not_estimable_reason.startswith("input data/interim/returns.parquet is not estimable: too few banks")
    assert read_provenance(tmp_path / "data/processed/measures/covar_qr.parquet")["not_estimable"]["needs"] == "a second bank's prices"


def test_failure_budget_is_checked_after_the_outputs_are_written(tmp_path):
    def run(ctx):
        ctx.budget(["ok", "failed:E: x", "failed:E: y"], 0.5, what="bank fits")
        return {"returns": pd.DataFrame({"bank_id": ["A"], "date": pd.to_datetime(["2020-01-02"]), "ret": [0.1]})}

    stage = Stage(name="returns", run=run, outputs=("returns",))
    with pytest.raises(FailureBudgetExceeded, match=r"bank fits: 2 of 3 fits failed \(66.7%\) > max_failure_share=50.0%"):
        runner(stage, params=_params(), root=tmp_path)
    assert (tmp_path / "data/interim/returns.parquet").is_file()
    assert (tmp_path / "data/processed/quality/returns.parquet").is_file()


def test_a_declared_output_that_is_not_written_is_an_error(tmp_path):
    stage = Stage(name="returns", run=lambda ctx: {}, outputs=("returns",))
    with pytest.raises(RuntimeError, match="did not write its declared output"):
        runner(stage, params=_params(), root=tmp_path)


def test_every_artifact_records_its_provenance_and_reruns_are_byte_identical(default_root, tmp_path):
    prov = read_provenance(default_root / "data/interim/returns.parquet")
    assert prov["stage"] == "returns"
    assert prov["params"]["measures.returns"] == {"system": "sample", "suspensions": "mask", "suspension_min_run": 5,
                                                  "drop_non_trading_days": True}
    assert set(prov["params"]) == {"measures.returns", "data.screens"}
    assert prov["data_source"] == {"kind": "synthetic", "seed": 20071012, "n_banks": 16,
                                   "sample": {"start": "2007-10-12", "end": "2020-12-31"}}
    assert prov["version"]
    assert read_provenance(default_root / "data/interim/canonical/prices.parquet")["stage"] == "ingest"
    assert read_provenance(default_root / "data/processed/quality/returns.parquet")["stage"] == "returns"
    root = copy_root(default_root, tmp_path, "prices", "banks", "system", "balance_sheet")
    run_stage(root, "returns")
    for name in ("returns.parquet", "system_returns.parquet"):
        assert (root / "data/interim" / name).read_bytes() == (default_root / "data/interim" / name).read_bytes()


def _cli(args, cwd, **env):
    full = {**os.environ, **env}
    full.pop("PIPELINE_DEBUG", None) if "PIPELINE_DEBUG" not in env else None
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=full, capture_output=True, text=True, check=False)


def test_a_known_error_exits_2_with_the_message_alone(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["data"]["source"] = "bloomberg"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    proc = _cli(["run", "ingest", "--params", str(tmp_path / "params.yaml"), "--root", str(tmp_path)], REPO)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "stage ingest: data.source='bloomberg' is not allowed; allowed values: 'synthetic', 'files'"
    assert "Traceback" not in proc.stderr
    debug = _cli(["run", "ingest", "--params", str(tmp_path / "params.yaml"), "--root", str(tmp_path)], REPO, PIPELINE_DEBUG="1")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_a_not_estimable_stage_exits_0_and_says_why(default_root, tmp_path):
    root = copy_root(default_root, tmp_path, "returns", "system_returns", "market_states")
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["measures"]["spillover"]["window"] = 5000  # longer than any bank's history: not estimable
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    proc = _cli(["run", "spillover", "--params", str(tmp_path / "p.yaml"), "--root", str(root)], REPO)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("stage spillover: not estimable from this data: ") and "5000" in proc.stderr
    quality = pd.read_parquet(root / "data/processed/quality/spillover.parquet")
    assert (quality["action"] == "excluded").sum() == 16  # every bank excluded, with its reason
    assert pd.read_parquet(root / "data/processed/measures/spillover.parquet").empty


def test_a_failing_stage_names_its_quality_file(tmp_path):
    raw = tmp_path / "data/raw"
    raw.mkdir(parents=True)
    for name in ("banks.csv", "prices.csv"):
        (raw / name).write_bytes((REPO / "tests/fixtures/canonical" / name).read_bytes())
    lines = (raw / "prices.csv").read_text(encoding="utf-8").splitlines()
    head, first = lines[0].split(","), lines[1].split(",")
    first[head.index("close")] = "abc"
    (raw / "prices.csv").write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n", encoding="utf-8")
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["data"].update(source="files", start=None, end=None)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    proc = _cli(["run", "ingest", "--params", str(tmp_path / "p.yaml"), "--root", str(tmp_path)], tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("stage ingest: ") and "'abc'" in lines[0]
    quality = tmp_path / "data/processed/quality/ingest.parquet"
    assert lines[1] == f"stage ingest: the records of what it excluded or flagged so far are in {quality}"
    assert quality.is_file()


def test_an_unknown_stage_is_refused_with_the_stage_names(tmp_path):
    proc = _cli(["run", "covar", "--root", str(tmp_path)], REPO)
    assert proc.returncode == 2
    assert "unknown stage 'covar'; allowed values: 'cca', 'contagion', 'covar_dcc', 'covar_qr', 'early_warning', 'ingest'" in proc.stderr


def _stage_groups():
    from pipeline.dag import STAGES
    from pipeline.stage import load_stage

    return [(name, group, cls) for name in STAGES for group, cls in load_stage(name).params.items()]


@pytest.mark.parametrize("stage, group, cls", _stage_groups(), ids=lambda v: getattr(v, "__name__", str(v)))
def test_params_yaml_holds_the_api_defaults(stage, group, cls):
    """One config per model: the shipped params.yaml group equals the configuration class's defaults,
    so a notebook user calling the science with ``cls()`` gets what ``dvc repro`` computes."""
    from pipeline.params import group as params_group

    shipped = cls.from_mapping(params_group(yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8")), group), where=group)
    if group == "panel":  # params.yaml spells out the nine default models that `models: []` stands for
        assert shipped.specs() == cls().specs()
        shipped = dataclasses.replace(shipped, models=cls().models)
    assert shipped == cls()


def test_known_groups_are_the_groups_the_stages_declare_and_the_runners():
    from pipeline.params import RUNNER_GROUPS, known_groups
    from pipeline.stage import load_stage, stage_names

    declared = {g for name in stage_names() for g in load_stage(name).params}
    assert set(known_groups()) == declared | {"compute"} and RUNNER_GROUPS == ("compute",)


@pytest.mark.parametrize("params, message", [
    ({"contagoin": {"window": "year"}}, "params.yaml: unknown top-level group 'contagoin' (did you mean 'contagion'?); allowed groups: compute, contagion, data, measures, panel, report, stress; or the switch realtime"),
    ({"measures": {"covar_q": {}}}, "measures: unknown group 'covar_q' (did you mean 'covar_qr'?); allowed groups: cca, covar_dcc, covar_qr"),
    ({"measures": {"covar_qr": None}}, "measures.covar_qr: the group is null (its line has nothing under it); allowed: a mapping of its options"),
    ({"panel": None}, "panel: the group is null"),
    ({"stress": ["firesale"]}, "stress: expected a mapping of options, got ['firesale']"),
])
def test_bad_input_unknown_or_null_params_groups(params, message, tmp_path):
    stage = Stage(name="returns", run=lambda ctx: None, params={"measures.returns": type(Outer())})
    with pytest.raises(ConfigError) as err:
        runner(stage, params={"measures": {"returns": {}}, **params} if "measures" not in params else params, root=tmp_path)
    assert message in str(err.value)


def test_stages_run_with_one_blas_thread_whatever_the_environment(tmp_path):
    from threadpoolctl import threadpool_info

    seen = []
    stage = Stage(name="returns", run=lambda ctx: seen.extend(i["num_threads"] for i in threadpool_info()))
    runner(stage, params=_params(), root=tmp_path)
    assert seen and set(seen) == {1}


def _data_config(**values):
    from pipeline.params import DataConfig

    return DataConfig.from_mapping({"source": "files", "start": None, "end": None, **values}, where="data")


def test_bad_input_data_outside_data_raw_is_untracked(tmp_path):
    from pipeline.params import check_tracked, untracked_inputs

    root, outside = tmp_path / "root", tmp_path / "elsewhere"
    outside.mkdir()
    (root / "data/raw/mine").mkdir(parents=True)
    inside = _data_config(raw_dir="data/raw/mine", files={"prices": "p.csv"},
                          market_states=[{"name": "m", "file": "../states.csv", "column": "x"}])
    assert untracked_inputs(inside, root=root, deps=[]) == []
    config = _data_config(raw_dir=str(outside), files={"prices": "p.csv"})
    assert untracked_inputs(config, root=root, deps=[]) == [("data.raw_dir", str(outside)), ("data.files.prices", str(outside / "p.csv"))]
    assert untracked_inputs(config, root=root, deps=[str(outside)]) == []
    with pytest.raises(ConfigError, match=r"data: data.raw_dir='.*elsewhere'.*outside data/raw .*python -m pipeline dag --write"):
        check_tracked(config, root=root, deps=[])
    escape = _data_config(raw_dir="data/raw/mine", market_states=[{"name": "m", "file": "../../../states.csv", "column": "x"}])
    assert untracked_inputs(escape, root=root, deps=[]) == [("data.market_states[0].file", "states.csv")]


def test_bad_input_a_link_out_of_data_raw_is_untracked_unless_listed(tmp_path):
    from pipeline.params import untracked_inputs

    target = tmp_path / "shared"
    target.mkdir()
    (tmp_path / "data/raw").mkdir(parents=True)
    (tmp_path / "data/raw/linked").symlink_to(target)
    config = _data_config(raw_dir="data/raw/linked")
    assert untracked_inputs(config, root=tmp_path, deps=[]) == [("data.raw_dir", "data/raw/linked")]  # DVC does not follow it
    assert untracked_inputs(config, root=tmp_path, deps=["data/raw/linked"]) == []


def test_bad_input_ingest_refuses_untracked_data_in_a_dvc_project(tmp_path):
    (tmp_path / "ext").mkdir()
    for name in ("banks.csv", "prices.csv"):
        (tmp_path / "ext" / name).write_bytes((REPO / "tests/fixtures/canonical" / name).read_bytes())
    (tmp_path / "dvc.yaml").write_text("stages:\n  ingest:\n    cmd: x\n    deps: [data/raw]\n", encoding="utf-8")
    params = {"data": {"source": "files", "raw_dir": str(tmp_path / "ext"), "start": None, "end": None}}
    with pytest.raises(ConfigError, match="not a dependency of the ingest stage in dvc.yaml"):
        run_stage(tmp_path, "ingest", params)
    (tmp_path / "dvc.yaml").write_text(f"stages:\n  ingest:\n    cmd: x\n    deps: [data/raw, {tmp_path / 'ext'}]\n", encoding="utf-8")
    run_stage(tmp_path, "ingest", params)
    assert (tmp_path / "data/interim/canonical/prices.parquet").is_file()


def test_ingest_lists_external_data_as_dependencies():
    from pipeline.stage import configs_for, load_stage

    stage = load_stage("ingest")
    configs = configs_for(stage, {"data": {"source": "files", "raw_dir": "/srv/bank-data", "start": None, "end": None,
                                           "files": {"prices": "p.csv"}}})
    assert stage.param_files(configs) == ("/srv/bank-data",)
    assert stage.param_files(configs_for(stage, {"data": {}})) == ()


def test_a_failing_stage_marks_the_previous_report_stale(tmp_path):
    from pipeline.report_stale import mark_stale

    report = tmp_path / "data/report/index.html"
    report.parent.mkdir(parents=True)
    report.write_text("<html><body>\n<h1>Report</h1></body></html>", encoding="utf-8")
    proc = _cli(["run", "returns", "--root", str(tmp_path)], REPO)
    assert proc.returncode == 2 and "prices.parquet not found" in proc.stderr
    html = report.read_text(encoding="utf-8")
    assert html.count("This report is stale: stage returns failed on the last run: stage returns: input ") == 1
    assert html.index("stale-report") < html.index("<h1>Report</h1>")
    assert mark_stale(report, "x", "a <b> & c")
    html = report.read_text(encoding="utf-8")
    assert html.count("<!-- stale-report -->") == 1 and "a &lt;b&gt; &amp; c" in html
    assert not mark_stale(tmp_path / "none.html", "x", "y")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Dated(Config):
    estimation: str = "full"

    def validate(self) -> None:
        check_choice("estimation", self.estimation, ("full", "expanding", "rolling"))

    def for_realtime(self) -> "Dated":
        return dataclasses.replace(self, estimation="expanding") if self.estimation == "full" else self


def _dated_stage(realtime: bool) -> Stage:
    return Stage(name="returns", run=lambda ctx: None, params={"measures.returns": Dated},
                 realtime=realtime)


@pytest.mark.parametrize(("switch", "given", "declared", "resolved"), [
    (True, "full", True, "expanding"), (True, "rolling", True, "rolling"), (False, "full", True, "full"),
    (True, "full", False, "full"),
])
def test_the_realtime_switch_resolves_each_config_of_a_stage_that_declares_it(switch, given, declared, resolved, tmp_path):
    params = {"realtime": switch, "measures": {"returns": {"estimation": given}}}
    ctx = runner(_dated_stage(declared), params=params, root=tmp_path, mapper=SerialMapper())
    assert ctx.config("measures.returns").estimation == resolved
    assert ctx.realtime is (switch and declared)
    prov = read_provenance(tmp_path / "data/processed/quality/returns.parquet")
    assert prov["params"]["measures.returns"]["estimation"] == resolved
    assert ("realtime" in prov) is declared and prov.get("realtime", switch and declared) is (switch and declared)


@pytest.mark.parametrize("value", ["yes", 1, None, [True]])
def test_bad_input_realtime_switch(value, tmp_path):
    with pytest.raises(ConfigError, match=r"^realtime: .* is not allowed; allowed values: false .*, true "):
        runner(_dated_stage(True), params={"realtime": value}, root=tmp_path, mapper=SerialMapper())


def test_a_stage_that_declares_realtime_has_it_as_a_dvc_param():
    from pipeline.dag import stage_entry

    assert stage_entry(_dated_stage(True))["params"] == ["measures.returns", "realtime"]
    assert stage_entry(_dated_stage(False))["params"] == ["measures.returns"]
