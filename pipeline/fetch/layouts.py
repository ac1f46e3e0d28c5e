"""The documented output layouts of the library functions the fetch command calls.

One :class:`Layout` per function: its columns with their pandas dtypes and units, as
the library documents them and as its source builds them (akshare 1.19.5: the
"输出参数" tables of its documentation and the function bodies; baostock 0.9.4: the
Python API documentation, whose result sets are all text). The mapping
(:mod:`pipeline.fetch.mapping`) reads only the columns listed in ``used``; a live
response that lacks one of them stops the fetch with a message naming the function,
the columns found and the layout expected (:func:`check_layout`). The test
fixtures in ``tests/fixtures/fetch/`` are stored with exactly these columns and
dtypes. Dtype ``date`` means an object column of :class:`datetime.date`; ``str`` an
object column of text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

AKSHARE_VERSION = "1.19.5"
BAOSTOCK_VERSION = "0.9.4"


@dataclass(frozen=True)
class Layout:
    """Columns (name → dtype), units (name → unit text for :mod:`pipeline.units`) and the columns the mapping uses."""

    function: str
    library: str
    version: str
    columns: dict[str, str]
    used: tuple[str, ...]
    units: dict[str, str] = field(default_factory=dict)


def _floats(*names: str) -> dict[str, str]:
    return dict.fromkeys(names, "float64")


_KLINE = {"开盘": "float64", "收盘": "float64", "最高": "float64", "最低": "float64", "成交量": "int64", "成交额": "float64",
          **_floats("振幅", "涨跌幅", "涨跌额", "换手率")}
_KLINE_UNITS = {"成交量": "手", "成交额": "元", "振幅": "%", "涨跌幅": "%", "涨跌额": "元", "换手率": "%"}

LAYOUTS: dict[str, Layout] = {
    "stock_zh_a_hist": Layout(
        "stock_zh_a_hist", "akshare", AKSHARE_VERSION,
        {"日期": "date", "股票代码": "str", **_KLINE},
        used=("日期", "收盘", "成交量"), units=_KLINE_UNITS,
    ),
    "stock_zh_a_gbjg_em": Layout(
        "stock_zh_a_gbjg_em", "akshare", AKSHARE_VERSION,
        {"变更日期": "date", "总股本": "int64", **_floats("流通受限股份", "其他内资持股(受限)", "境内法人持股(受限)",
                                                    "境内自然人持股(受限)", "已流通股份", "已上市流通A股"), "变动原因": "str"},
        used=("变更日期", "总股本"), units={"总股本": "股"},
    ),
    "stock_individual_info_em": Layout(
        "stock_individual_info_em", "akshare", AKSHARE_VERSION, {"item": "str", "value": "object"}, used=("item", "value"),
    ),
    "index_zh_a_hist": Layout(
        "index_zh_a_hist", "akshare", AKSHARE_VERSION, {"日期": "str", **_KLINE}, used=("日期", "收盘"), units=_KLINE_UNITS,
    ),
    "rate_interbank": Layout(
        "rate_interbank", "akshare", AKSHARE_VERSION, {"报告日": "date", "利率": "float64", "涨跌": "float64"},
        used=("报告日", "利率"), units={"利率": "%", "涨跌": "bp"},
    ),
    "bond_zh_us_rate": Layout(
        "bond_zh_us_rate", "akshare", AKSHARE_VERSION,
        {"日期": "datetime64[ns]", **_floats("中国国债收益率2年", "中国国债收益率5年", "中国国债收益率10年", "中国国债收益率30年",
                                         "中国国债收益率10年-2年", "中国GDP年增率", "美国国债收益率2年", "美国国债收益率5年",
                                         "美国国债收益率10年", "美国国债收益率30年", "美国国债收益率10年-2年", "美国GDP年增率")},
        used=("日期", "中国国债收益率10年"), units={"中国国债收益率10年": "%"},
    ),
    "query_history_k_data_plus": Layout(
        "query_history_k_data_plus", "baostock", BAOSTOCK_VERSION,
        dict.fromkeys(("date", "code", "close", "volume", "amount", "adjustflag", "tradestatus"), "str"),
        used=("date", "close", "volume"), units={"volume": "股", "amount": "元"},
    ),
    "query_history_k_data_plus_index": Layout(
        "query_history_k_data_plus", "baostock", BAOSTOCK_VERSION, dict.fromkeys(("date", "code", "close"), "str"), used=("date", "close"),
    ),
    "query_profit_data": Layout(
        "query_profit_data", "baostock", BAOSTOCK_VERSION,
        dict.fromkeys(("code", "pubDate", "statDate", "roeAvg", "npMargin", "gpMargin", "netProfit", "epsTTM", "MBRevenue",
                       "totalShare", "liqaShare"), "str"),
        used=("statDate", "totalShare"), units={"totalShare": "股", "liqaShare": "股"},
    ),
    "query_stock_basic": Layout(
        "query_stock_basic", "baostock", BAOSTOCK_VERSION,
        dict.fromkeys(("code", "code_name", "ipoDate", "outDate", "type", "status"), "str"), used=("code", "code_name"),
    ),
}

#: the fields the baostock k-line queries ask for, for a stock and for an index (the columns of their layouts, in order)
BAOSTOCK_K_FIELDS = ",".join(LAYOUTS["query_history_k_data_plus"].columns)
BAOSTOCK_INDEX_FIELDS = ",".join(LAYOUTS["query_history_k_data_plus_index"].columns)


class LayoutError(ValueError):
    """A response whose columns are not the documented layout (the library changed its output)."""


def check_layout(frame: pd.DataFrame, key: str) -> None:
    """Raise :class:`LayoutError` when ``frame`` lacks a column the mapping uses (``key`` of :data:`LAYOUTS`)."""
    layout = LAYOUTS[key]
    missing = [c for c in layout.used if c not in frame.columns]
    if missing:
        raise LayoutError(
            f"{layout.library}.{layout.function} returned columns {', '.join(map(str, frame.columns)) or '(none)'}; "
            f"missing {', '.join(missing)} of the {layout.library} {layout.version} layout; "
            f"install {layout.library}=={layout.version} or report the new layout"
        )
