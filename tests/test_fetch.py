"""The fetch command: library responses → canonical raw files, on stored response frames (no network).

The frames in tests/fixtures/fetch/ have the columns and dtypes the libraries document
(pipeline/fetch/layouts.py; where each comes from: tests/fixtures/fetch/README.md); the fake
modules below serve them in place of akshare and baostock.
"""

from __future__ import annotations

import datetime
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import repo_params, run_stage
from pipeline import fetch as fetch_cli
from pipeline.fetch import banks, mapping
from pipeline.fetch.layouts import LAYOUTS, LayoutError, check_layout
from pipeline.io import read_parquet

FIXTURES = Path(__file__).parent / "fixtures" / "fetch"
START, END = "2020-01-02", "2020-01-23"


def load_fixture(name: str, layout: str) -> pd.DataFrame:
    """A stored response with the dtypes of its layout (dates as datetime.date, text as object)."""
    raw = pd.read_csv(FIXTURES / name, dtype=str, keep_default_na=False)
    out = {}
    for column, dtype in LAYOUTS[layout].columns.items():
        values = raw[column]
        if dtype == "date":
            out[column] = pd.to_datetime(values).dt.date.astype(object)
        elif dtype in ("str", "object"):
            out[column] = values.astype(object)
        elif dtype == "datetime64[ns]":
            out[column] = pd.to_datetime(values).astype("datetime64[ns]")
        else:
            out[column] = pd.to_numeric(values.replace("", np.nan)).astype(dtype)
    return pd.DataFrame(out)


def _between(frame: pd.DataFrame, column: str, start: str, end: str) -> pd.DataFrame:
    day = pd.to_datetime(frame[column].astype(str))
    return frame[(day >= pd.Timestamp(start)) & (day <= pd.Timestamp(end))].reset_index(drop=True)


def fake_akshare(**overrides) -> types.ModuleType:
    """A module with akshare's function signatures that serves the stored frames."""
    ak = types.ModuleType("akshare")
    ak.__version__ = "1.19.5"
    ak.calls = []

    def stock_zh_a_hist(symbol, period, start_date, end_date, adjust):
        ak.calls.append(("stock_zh_a_hist", symbol, adjust))
        frame = load_fixture(f"akshare/stock_zh_a_hist_{symbol}_{'hfq' if adjust == 'hfq' else 'raw'}.csv", "stock_zh_a_hist")
        return _between(frame, "日期", start_date, end_date)

    def index_zh_a_hist(symbol, period, start_date, end_date):
        return _between(load_fixture(f"akshare/index_zh_a_hist_{symbol}.csv", "index_zh_a_hist"), "日期", start_date, end_date)

    tenors = {"隔夜": "on", "1周": "1w"}
    ak.stock_zh_a_hist = stock_zh_a_hist
    ak.index_zh_a_hist = index_zh_a_hist
    ak.stock_zh_a_gbjg_em = lambda symbol: load_fixture(f"akshare/stock_zh_a_gbjg_em_{symbol[:6]}.csv", "stock_zh_a_gbjg_em")
    ak.stock_individual_info_em = lambda symbol: load_fixture(f"akshare/stock_individual_info_em_{symbol}.csv", "stock_individual_info_em")
    ak.rate_interbank = lambda market, symbol, indicator: load_fixture(f"akshare/rate_interbank_{tenors[indicator]}.csv", "rate_interbank")
    ak.bond_zh_us_rate = lambda start_date: _between(load_fixture("akshare/bond_zh_us_rate.csv", "bond_zh_us_rate"), "日期", start_date, "2100-01-01")
    for name, fn in overrides.items():
        setattr(ak, name, fn)
    return ak


class FakeResult:
    """baostock's ResultData: error_code, error_msg, fields, next(), get_row_data()."""

    def __init__(self, frame: pd.DataFrame | None = None, error_code: str = "0", error_msg: str = "success") -> None:
        self.error_code, self.error_msg = error_code, error_msg
        frame = frame if frame is not None else pd.DataFrame()
        self.fields = list(frame.columns)
        self._rows, self._i = frame.astype(str).values.tolist(), 0

    def next(self) -> bool:
        return self._i < len(self._rows)

    def get_row_data(self) -> list[str]:
        self._i += 1
        return self._rows[self._i - 1]


def fake_baostock(**overrides) -> types.ModuleType:
    bs = types.ModuleType("baostock")
    bs.__version__ = "0.9.4"

    def query_history_k_data_plus(code, fields, start_date, end_date, frequency, adjustflag):
        suffix = f"_{adjustflag}" if code.startswith(("sh.6", "sz.00")) and code != "sh.000300" else ""
        layout = "query_history_k_data_plus" if suffix else "query_history_k_data_plus_index"
        frame = load_fixture(f"baostock/query_history_k_data_plus_{code}{suffix}.csv", layout)
        assert list(frame.columns) == fields.split(",")
        return FakeResult(_between(frame, "date", start_date, end_date))

    def query_profit_data(code, year, quarter):
        frame = load_fixture(f"baostock/query_profit_data_{code}.csv", "query_profit_data")
        return FakeResult(frame[frame["statDate"] == str(pd.Period(f"{year}Q{quarter}").end_time.date())])

    bs.login = lambda: FakeResult()
    bs.logout = lambda: FakeResult()
    bs.query_history_k_data_plus = query_history_k_data_plus
    bs.query_profit_data = query_profit_data
    bs.query_stock_basic = lambda code: FakeResult(load_fixture(f"baostock/query_stock_basic_{code}.csv", "query_stock_basic"))
    for name, fn in overrides.items():
        setattr(bs, name, fn)
    return bs


def run_cli(monkeypatch, capsys, root: Path, *args: str, module=None, source="akshare"):
    """``python -m pipeline fetch`` in ``root`` with the fake library; returns (exit code, stdout, stderr)."""
    monkeypatch.setitem(sys.modules, source, module if module is not None else (fake_akshare() if source == "akshare" else fake_baostock()))
    monkeypatch.chdir(root)
    code = fetch_cli.main(["--source", source, "--start", START, "--end", END, *args])
    out, err = capsys.readouterr()
    return code, out, err


# --- ids, names, groups ----------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [("601398", "601398.SH"), ("000001", "000001.SZ"), ("sh601398", "601398.SH"),
                                            ("sh.601398", "601398.SH"), ("601398.sh", "601398.SH"), (" 002142.SZ ", "002142.SZ")])
def test_codes_become_wind_like_ids(text, expected):
    assert banks.wind_id(text) == expected


@pytest.mark.parametrize("text, match", [("60139", "not a bank code"), ("601398.SZ", "listed on SH, not SZ"),
                                         ("sz601398", "listed on SH"), ("701398", "not an A-share code")])
def test_bad_input_bank_code(text, match):
    with pytest.raises(ValueError, match=match):
        banks.wind_id(text)


def test_bad_input_bank_list_duplicate_or_empty():
    with pytest.raises(ValueError, match="601398.SH twice"):
        banks.parse_banks("601398,601398.SH")
    with pytest.raises(ValueError, match="--banks is empty"):
        banks.parse_banks(" , ")


def test_all_banks_and_groups():
    ids = banks.parse_banks("all")
    assert len(ids) == len(banks.LISTED_BANKS) and "000001.SZ" in ids and "601398.SH" in ids
    assert banks.bank_row("601398.SH") == {"bank_id": "601398.SH", "name": "工商银行", "group": "state-owned"}
    assert banks.bank_row("601128.SH")["group"] == "rural"
    assert banks.bank_row("688001.SH", "某银行") == {"bank_id": "688001.SH", "name": "某银行", "group": "unassigned"}


# --- the stored layouts ------------------------------------------------------------------------

def _fixture_layouts():
    for path in sorted(FIXTURES.glob("*/*.csv")):
        stem = path.stem
        if stem.startswith("query_history_k_data_plus_"):
            key = "query_history_k_data_plus" if stem[-2:] in ("_1", "_3") else "query_history_k_data_plus_index"
        else:
            key = next(k for k in LAYOUTS if stem.startswith(k))
        yield path, key


@pytest.mark.parametrize("path, key", list(_fixture_layouts()), ids=lambda v: getattr(v, "name", v))
def test_fixtures_have_the_documented_columns_and_dtypes(path, key):
    frame = load_fixture(f"{path.parent.name}/{path.name}", key)
    header = pd.read_csv(path, nrows=0).columns.tolist()
    assert header == list(LAYOUTS[key].columns)
    for column, dtype in LAYOUTS[key].columns.items():
        if dtype == "date":
            assert frame[column].dtype == object and isinstance(frame[column].iloc[0], datetime.date)
        elif dtype in ("str", "object"):
            assert frame[column].dtype == object
        else:
            assert str(frame[column].dtype) == dtype, column


# --- the mapping -------------------------------------------------------------------------------

def _akshare_prices(code: str):
    hist = {adj: load_fixture(f"akshare/stock_zh_a_hist_{code}_{adj}.csv", "stock_zh_a_hist") for adj in ("hfq", "raw")}
    shares = load_fixture(f"akshare/stock_zh_a_gbjg_em_{code}.csv", "stock_zh_a_gbjg_em")
    return hist, shares, mapping.akshare_prices(banks.wind_id(code), hist["hfq"], hist["raw"], shares)


def test_akshare_prices_units_and_market_cap():
    hist, _, (frame, notes) = _akshare_prices("601398")
    assert notes == []
    row, raw, hfq = frame.iloc[0], hist["raw"].iloc[0], hist["hfq"].iloc[0]
    assert row["close"] == hfq["收盘"]  # back-adjusted close
    assert row["volume"] == raw["成交量"] * 100  # lots of 100 shares (手) → shares
    assert row["shares"] == 356406257089  # shares outstanding (股), the 2019-06-30 record
    assert row["market_cap"] == pytest.approx(raw["收盘"] * 356406257089)  # unadjusted close × shares, in yuan
    assert row["market_cap"] / 1e8 == pytest.approx(raw["收盘"] * 3564.06257089)  # 亿元 check: ~2.1e4 亿


def test_akshare_share_changes_apply_from_their_date_and_suspensions_stay_missing():
    _, _, (frame, _) = _akshare_prices("600036")
    by_day = frame.set_index("date")
    assert by_day.loc["2020-01-14", "shares"] == 25219845601 and by_day.loc["2020-01-15", "shares"] == 25220000000
    assert "2020-01-09" not in by_day.index  # suspended: no row from the service, none added
    assert len(frame) == 15


def test_akshare_day_in_one_series_only_is_noted():
    _, _, (frame, notes) = _akshare_prices("000001")
    last = frame.set_index("date").loc["2020-01-23"]
    assert np.isnan(last["close"]) and last["market_cap"] > 0
    assert len(notes) == 1 and "000001.SZ: 1 day(s) in only one of the adjusted / unadjusted series (2020-01-23" in notes[0]


def test_days_before_the_first_share_record_have_no_market_cap():
    day = pd.DatetimeIndex(["2020-01-02", "2020-01-03"])
    close = pd.Series([5.0, 5.1], index=day)
    frame, notes = mapping.assemble_prices("X.SH", close, close, close * 0, pd.Series([10.0], index=pd.DatetimeIndex(["2020-01-03"])))
    assert np.isnan(frame["market_cap"].iloc[0]) and frame["market_cap"].iloc[1] == pytest.approx(51.0)
    assert notes == ["X.SH: 1 day(s) before the first share-count record, market cap left missing"]


def test_baostock_text_fields_map_like_akshare():
    k = {f: load_fixture(f"baostock/query_history_k_data_plus_sh.601398_{f}.csv", "query_history_k_data_plus") for f in "13"}
    profit = load_fixture("baostock/query_profit_data_sh.601398.csv", "query_profit_data")
    frame, notes = mapping.baostock_prices("601398.SH", k["1"], k["3"], profit)
    _, _, (ak_frame, _) = _akshare_prices("601398")
    pd.testing.assert_frame_equal(frame, ak_frame)  # same quotes, volume in shares (股) already
    assert notes == []


def test_names_from_the_sources():
    assert mapping.akshare_name(load_fixture("akshare/stock_individual_info_em_601577.csv", "stock_individual_info_em")) == "长沙银行"
    assert mapping.baostock_name(load_fixture("baostock/query_stock_basic_sh.601577.csv", "query_stock_basic")) == "长沙银行"


def test_bad_input_changed_layout():
    frame = load_fixture("akshare/stock_zh_a_hist_601398_raw.csv", "stock_zh_a_hist").rename(columns={"收盘": "close"})
    with pytest.raises(LayoutError, match=r"akshare.stock_zh_a_hist returned columns .*close.*; missing 收盘 of the akshare 1.19.5 layout"):
        check_layout(frame, "stock_zh_a_hist")


# --- the command, end to end -------------------------------------------------------------------

@pytest.fixture(scope="module")
def fetched_root(tmp_path_factory):
    """``fetch --source akshare`` into data/raw/fetched, then ingest and returns with the printed data section."""
    root = tmp_path_factory.mktemp("fetched")
    import contextlib
    import io

    mp = pytest.MonkeyPatch()
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        mp.setitem(sys.modules, "akshare", fake_akshare())
        mp.chdir(root)
        code = fetch_cli.main(["--source", "akshare", "--banks", "601398.SH,600036,sz000001", "--start", START, "--end", END])
    mp.undo()
    assert code == 0, stderr.getvalue()
    params = yaml.safe_load(stdout.getvalue())
    run_stage(root, "ingest", repo_params(data=params["data"]))
    run_stage(root, "returns", repo_params(data=params["data"]))
    return root, params, stderr.getvalue()


def test_fetch_writes_canonical_files_that_ingest_reads(fetched_root):
    root, params, err = fetched_root
    raw = root / "data" / "raw" / "fetched"
    assert sorted(p.name for p in raw.iterdir()) == ["banks.csv", "cgb_yields.csv", "csi300.csv", "fetch.json", "prices.csv", "shibor.csv", "system.csv"]
    assert pd.read_csv(raw / "prices.csv", nrows=0).columns.tolist() == ["bank_id", "date", "close", "market_cap [CNY]", "shares [shares]", "volume [shares]"]
    assert params["data"]["raw_dir"] == "data/raw/fetched" and params["data"]["format"] == "canonical"
    canonical = root / "data" / "interim" / "canonical"
    prices = read_parquet(canonical / "prices.parquet")
    icbc = prices[prices["bank_id"] == "601398.SH"].iloc[0]
    raw_close = load_fixture("akshare/stock_zh_a_hist_601398_raw.csv", "stock_zh_a_hist")["收盘"].iloc[0]
    assert icbc["market_cap"] == pytest.approx(raw_close * 356406257089)
    groups = read_parquet(canonical / "banks.parquet").set_index("bank_id")["group"].to_dict()
    assert groups == {"000001.SZ": "joint-stock", "600036.SH": "joint-stock", "601398.SH": "state-owned"}
    states = read_parquet(canonical / "market_states.parquet")
    assert {"stock_vol", "money", "bond"} <= set(states.columns)
    first = states[states["date"] == pd.Timestamp(START)].iloc[0]
    assert first[["stock_vol", "money", "bond"]].notna().all()  # the series lookback covers the 20-day window
    assert first["money"] == pytest.approx(load_fixture("akshare/rate_interbank_1w.csv", "rate_interbank").set_index("报告日")["利率"][datetime.date(2020, 1, 2)] / 100)
    assert "000001.SZ: 1 day(s) in only one of the adjusted / unadjusted series" in err


def test_fetched_data_runs_the_returns_stage(fetched_root):
    root, _, _ = fetched_root
    returns = read_parquet(root / "data" / "interim" / "returns.parquet")
    assert set(returns["bank_id"]) == {"000001.SZ", "600036.SH", "601398.SH"}


def test_baostock_fetch_notes_the_missing_rates(monkeypatch, capsys, tmp_path):
    code, out, err = run_cli(monkeypatch, capsys, tmp_path, "--banks", "601398.SH", source="baostock")
    assert code == 0, err
    data = yaml.safe_load(out)["data"]
    assert [s["name"] for s in data["market_states"]] == ["stock_vol"]
    assert "baostock has no Shibor and no CGB yields: add them with --source akshare --series-only" in err
    prices = pd.read_csv(tmp_path / "data" / "raw" / "fetched" / "prices.csv")
    assert prices["shares [shares]"].iloc[0] == 356406257089 and len(prices) == 16


def test_series_only_adds_rates_to_a_folder(monkeypatch, capsys, tmp_path):
    code, out, err = run_cli(monkeypatch, capsys, tmp_path, "--series-only", "--system-index", "none")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "data" / "raw" / "fetched").iterdir()) == ["cgb_yields.csv", "csi300.csv", "fetch.json", "shibor.csv"]
    assert [s["name"] for s in yaml.safe_load(out)["data"]["market_states"]] == ["stock_vol", "money", "bond"]


def test_unknown_bank_keeps_the_source_name_and_is_left_for_bank_groups(monkeypatch, capsys, tmp_path):
    monkeypatch.delitem(banks.LISTED_BANKS, "601577")
    hist = {adj: load_fixture(f"akshare/stock_zh_a_hist_601398_{adj}.csv", "stock_zh_a_hist") for adj in ("hfq", "raw")}
    ak = fake_akshare(stock_zh_a_hist=lambda symbol, period, start_date, end_date, adjust: hist["hfq" if adjust == "hfq" else "raw"],
                      stock_zh_a_gbjg_em=lambda symbol: load_fixture("akshare/stock_zh_a_gbjg_em_601398.csv", "stock_zh_a_gbjg_em"))
    code, out, err = run_cli(monkeypatch, capsys, tmp_path, "--banks", "601577.SH", module=ak)
    assert code == 0, err
    assert pd.read_csv(tmp_path / "data" / "raw" / "fetched" / "banks.csv").to_dict("records") == [{"bank_id": "601577.SH", "name": "长沙银行", "group": "unassigned"}]
    assert "# bank_groups: {601577.SH: city}" in out


# --- failures: one line, exit 2 ----------------------------------------------------------------

def _refuse(*args, **kwargs):
    raise ConnectionError("HTTPSConnectionPool(host='push2his.eastmoney.com', port=443): Max retries exceeded\nmore detail")


def test_bad_input_network_failure_akshare(monkeypatch, capsys, tmp_path):
    code, out, err = run_cli(monkeypatch, capsys, tmp_path, "--banks", "601398.SH", module=fake_akshare(stock_zh_a_hist=_refuse))
    assert code == 2 and out == ""
    line = err.strip().splitlines()[-1]
    assert line.startswith("fetch akshare: stock_zh_a_hist(601398.SH) failed: no network / the service refused: ConnectionError: HTTPSConnectionPool")
    assert "retry later" in line and "--source baostock" in line and "Traceback" not in err and "more detail" not in err
    assert not (tmp_path / "data" / "raw" / "fetched").exists()  # nothing half-written


def test_bad_input_network_failure_baostock(monkeypatch, capsys, tmp_path):
    bs = fake_baostock(login=lambda: FakeResult(error_code="10002007", error_msg="网络接收错误。"))
    code, _, err = run_cli(monkeypatch, capsys, tmp_path, "--banks", "601398.SH", module=bs, source="baostock")
    assert code == 2 and "fetch baostock: login(anonymous) failed: no network / the service refused: 网络接收错误。" in err
    bs = fake_baostock(query_profit_data=lambda **kw: FakeResult(error_code="10002002", error_msg="网络连接失败"))
    code, _, err = run_cli(monkeypatch, capsys, tmp_path, "--banks", "601398.SH", module=bs, source="baostock")
    assert code == 2 and "fetch baostock: query_profit_data(601398.SH) failed: no network / the service refused: RuntimeError: error 10002002 网络连接失败" in err


def test_bad_input_missing_library(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "akshare", None)  # import akshare raises ImportError
    monkeypatch.chdir(tmp_path)
    assert fetch_cli.main(["--source", "akshare", "--banks", "601398", "--start", START, "--end", END]) == 2
    assert capsys.readouterr().err.strip() == "fetch akshare: the akshare library is not installed; install the fetch extra: pip install -e '.[fetch]'"


def test_bad_input_empty_response(monkeypatch, capsys, tmp_path):
    ak = fake_akshare(stock_zh_a_hist=lambda **kw: pd.DataFrame())
    code, _, err = run_cli(monkeypatch, capsys, tmp_path, "--banks", "601398.SH", module=ak)
    assert code == 2 and "fetch akshare: stock_zh_a_hist(601398.SH) returned no rows for 2020-01-02..2020-01-23; check the code" in err


def test_bad_input_layout_of_a_live_response(monkeypatch, capsys, tmp_path):
    ak = fake_akshare(rate_interbank=lambda **kw: pd.DataFrame({"日期": [datetime.date(2020, 1, 2)], "利率": [2.5]}))
    code, _, err = run_cli(monkeypatch, capsys, tmp_path, "--series-only", module=ak)
    assert code == 2 and "fetch akshare: akshare.rate_interbank returned columns 日期, 利率; missing 报告日" in err


def test_bad_input_arguments(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert fetch_cli.main(["--source", "akshare", "--banks", "601398", "--start", END, "--end", START]) == 2
    assert "fetch: --start 2020-01-23 is after --end 2020-01-02" in capsys.readouterr().err
    assert fetch_cli.main(["--source", "akshare", "--banks", "60139", "--start", START, "--end", END]) == 2
    assert "fetch akshare: bank '60139' is not a bank code; allowed:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        fetch_cli.main(["--source", "akshare", "--banks", "601398", "--start", "2nd Jan", "--end", END])
    assert exc.value.code == 2 and "'2nd Jan' is not a date; allowed: YYYY-MM-DD" in capsys.readouterr().err


# --- docs --------------------------------------------------------------------------------------

def _yaml_blocks(text: str) -> list:
    return [yaml.safe_load(block.split("```")[0]) for block in text.split("```yaml\n")[1:]]


def test_doc_stage_and_data_section_match_the_command(repo_root):
    blocks = _yaml_blocks((repo_root / "docs" / "fetch.md").read_text(encoding="utf-8"))
    data = next(b for b in blocks if "data" in b)
    expected = yaml.safe_load(fetch_cli.snippet("data/raw/fetched", "2015-01-01", "2024-12-31", {"csi300.csv", "shibor.csv", "cgb_yields.csv"}, []))
    assert data == expected
    stage = next(b for b in blocks if "stages" in b)["stages"]["fetch"]
    assert stage["always_changed"] is True and stage["wdir"] == ".." and stage["outs"] == ["data/raw/fetched"]
    words = stage["cmd"].split()
    assert words[:4] == ["python", "-m", "pipeline", "fetch"]
    args = fetch_cli.parser().parse_args(words[4:])
    assert args.out == "data/raw/fetched" and (args.start, args.end) == (expected["data"]["start"], expected["data"]["end"])
    assert "fetch" not in yaml.safe_load((repo_root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]  # not in the default DAG


@pytest.mark.parametrize("source", ["akshare", "baostock"])
def test_calls_match_the_real_signatures(monkeypatch, capsys, tmp_path, source):
    """With the library installed (the [fetch] extra), every call the command makes binds to its real signature."""
    import inspect

    real = pytest.importorskip(source)
    fake = fake_akshare() if source == "akshare" else fake_baostock()
    for name in [n for n in vars(fake) if callable(getattr(fake, n)) and hasattr(real, n)]:
        def checked(*args, _fn=getattr(fake, name), _sig=inspect.signature(getattr(real, name)), **kwargs):
            _sig.bind(*args, **kwargs)
            return _fn(*args, **kwargs)
        setattr(fake, name, checked)
    code, _, err = run_cli(monkeypatch, capsys, tmp_path, "--banks", "601398.SH", module=fake, source=source)
    assert code == 0, err
