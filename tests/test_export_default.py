"""``python -m pipeline export-default``: the embedded default data as canonical input files.

The exported files, read back by ``data.source: files`` / ``data.format: canonical``, give the
same canonical tables as the simulator (exact values), in CSV and in Parquet.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import REPO, repo_params, run_stage

from pipeline.artifacts import artifact
from pipeline.export import export_data, header, main
from pipeline.io import read_json, read_parquet
from pipeline.simulator import simulate

TABLES = ("banks", "prices", "system", "market_states", "balance_sheet")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_exported_files_read_back_to_the_same_canonical_tables(tmp_path, default_root, fmt, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--out", "data/raw/default", "--format", fmt, "--params", str(REPO / "params.yaml")]) == 0
    snippet = capsys.readouterr().out.split("\n\n", 1)[1]
    data = yaml.safe_load(snippet)["data"]
    assert data == {"source": "files", "format": "canonical", "raw_dir": "data/raw/default",
                    "start": "2007-10-12", "end": "2020-12-31", "currency": "CNY"}
    assert sorted(p.name for p in (tmp_path / "data/raw/default").iterdir()) == sorted(f"{t}.{fmt}" for t in TABLES)
    run_stage(tmp_path, "ingest", repo_params(data=data))
    for table in TABLES:
        path = artifact(table).path
        pd.testing.assert_frame_equal(read_parquet(tmp_path / path), read_parquet(default_root / path), check_exact=True)
    meta = read_json(tmp_path / artifact("canonical/meta").path)
    assert meta["currency"] == "CNY" and meta["tables"] == sorted(TABLES)
    assert read_parquet(tmp_path / artifact("quality/ingest").path).empty  # nothing ignored, derived or filled


def test_headers_carry_the_units_of_docs_formats():
    assert header("balance_sheet", "total_assets", "CNY") == "total_assets [CNY]"
    assert header("balance_sheet", "car", "CNY") == "car [fraction]"
    assert header("prices", "close", "CNY") == "close [CNY]"
    assert header("prices", "volume", "CNY") == "volume [shares]"
    assert header("system", "close", "CNY") == "close [index]"
    assert header("market_states", "money", "CNY") == "money"  # state variables are taken as given
    assert header("prices", "date", "CNY") == "date"


def test_export_follows_the_params_seed_and_period(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"seed": 7, "start": "2015-01-05", "end": "2015-12-31"}}), encoding="utf-8")
    assert main(["--out", str(tmp_path / "raw"), "--params", str(params)]) == 0
    out = capsys.readouterr().out
    assert "seed 7, 2015-01-05 .. 2015-12-31" in out and "keep the files inside data/raw" in out
    prices = pd.read_csv(tmp_path / "raw/prices.csv")
    expected = simulate(seed=7, start="2015-01-05", end="2015-12-31").prices
    assert prices["close [CNY]"].to_numpy().tolist() == expected["close"].tolist()


def test_bad_input_export_folder_with_a_table_in_another_format(tmp_path, capsys):
    (tmp_path / "prices.xlsx").write_bytes(b"")
    assert main(["--out", str(tmp_path), "--params", str(tmp_path / "none.yaml")]) == 2
    err = capsys.readouterr().err
    assert "already holds prices.xlsx" in err and "one file per table" in err


def test_bad_input_export_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="allowed values: csv, parquet"):
        export_data(simulate(seed=1, start="2015-01-05", end="2015-06-30"), tmp_path, fmt="xlsx")
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path), "--format", "xlsx"])
    assert exc.value.code == 2


def test_bad_input_export_params_with_a_bad_seed(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"seed": -1}}), encoding="utf-8")
    assert main(["--out", str(tmp_path / "raw"), "--params", str(params)]) == 2
    assert "data.seed=-1 is out of range" in capsys.readouterr().err
