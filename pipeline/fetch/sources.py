"""The network side of the fetch command: one client per library, every call guarded.

A call that raises (no network, a refused or changed service) becomes a
:class:`FetchError` with one line naming the source, the function, the bank or
series, the library's own message and what to do; so does an empty response and a
missing library. What a library prints on stdout (baostock's login banner and its own
connection messages) is dropped, so that stdout carries only the params snippet and a
failure is one line.
"""

from __future__ import annotations

import contextlib
import importlib
import io
from collections.abc import Callable
from typing import Any

import pandas as pd

from pipeline.fetch import mapping
from pipeline.fetch.layouts import BAOSTOCK_INDEX_FIELDS, BAOSTOCK_K_FIELDS

SHIBOR = {"shibor_on_pct": "隔夜", "shibor_1w_pct": "1周"}


class FetchError(Exception):
    """A fetch that cannot go on; the message is the one line the user sees."""


def import_library(name: str):
    """The library module, or a :class:`FetchError` saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise FetchError(f"fetch {name}: the {name} library is not installed; install the fetch extra: pip install -e '.[fetch]'") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200]}" if text else type(exc).__name__


class Client:
    """Guarded calls of one library (``lib``), named ``name``; ``other`` is the source to suggest."""

    name = ""
    other = ""

    def __init__(self) -> None:
        self.lib = import_library(self.name)
        self.version = str(getattr(self.lib, "__version__", "unknown"))
        self.calls: list[str] = []

    def call(self, function: str, target: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``; any exception → a one-line :class:`FetchError` for ``function(target)``."""
        self.calls.append(function)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                return fn(*args, **kwargs)
        except Exception as exc:  # the libraries raise anything from ConnectionError to KeyError on a refused request
            raise FetchError(
                f"fetch {self.name}: {function}({target}) failed: no network / the service refused: {_first_line(exc)}; "
                f"check the connection (proxy, firewall), retry later (the services limit request rates), or try --source {self.other}"
            ) from None

    def rows(self, frame: pd.DataFrame | None, function: str, target: str, span: str = "") -> pd.DataFrame:
        """``frame`` if it has rows, else a :class:`FetchError` naming the call."""
        if frame is None or not isinstance(frame, pd.DataFrame) or frame.empty:
            when = f" for {span}" if span else ""
            raise FetchError(f"fetch {self.name}: {function}({target}) returned no rows{when}; check the code "
                             "(listed in that period?) and the dates")
        return frame

    def close(self) -> None:
        """Release the connection (nothing to do for most libraries)."""


class Akshare(Client):
    """akshare: Eastmoney daily bars and share structure, Shibor, CGB yields, index bars."""

    name, other = "akshare", "baostock"

    def _get(self, function: str, target: str, span: str = "", **kwargs: Any) -> pd.DataFrame:
        return self.rows(self.call(function, target, getattr(self.lib, function), **kwargs), function, target, span)

    def prices(self, bank_id: str, start: str, end: str) -> tuple[pd.DataFrame, list[str]]:
        code, span = bank_id[:6], f"{start}..{end}"
        bars = {adjust: self._get("stock_zh_a_hist", bank_id, span, symbol=code, period="daily", start_date=start.replace("-", ""),
                                  end_date=end.replace("-", ""), adjust=adjust) for adjust in ("hfq", "")}
        shares = self._get("stock_zh_a_gbjg_em", bank_id, symbol=bank_id)
        return mapping.akshare_prices(bank_id, bars["hfq"], bars[""], shares)

    def bank_name(self, bank_id: str) -> str | None:
        return mapping.akshare_name(self._get("stock_individual_info_em", bank_id, symbol=bank_id[:6]))

    def index(self, code: str, start: str, end: str) -> pd.Series:
        frame = self._get("index_zh_a_hist", code, f"{start}..{end}", symbol=code, period="daily",
                          start_date=start.replace("-", ""), end_date=end.replace("-", ""))
        return mapping.series(frame, "index_zh_a_hist", "日期", "收盘")

    def rates(self, start: str, end: str) -> dict[str, dict[str, pd.Series]]:
        shibor = {column: mapping.series(self._get("rate_interbank", f"Shibor {tenor}", market="上海银行同业拆借市场", symbol="Shibor人民币",
                                                   indicator=tenor), "rate_interbank", "报告日", "利率")
                  for column, tenor in SHIBOR.items()}
        cgb = self._get("bond_zh_us_rate", "CGB yields", start_date=start.replace("-", ""))
        return {"shibor": shibor, "cgb_yields": {"cgb_10y_yield_pct": mapping.series(cgb, "bond_zh_us_rate", "日期", "中国国债收益率10年")}}


def baostock_code(bank_id: str) -> str:
    """Wind-like id → baostock code: ``601398.SH`` → ``sh.601398``."""
    return f"{bank_id[-2:].lower()}.{bank_id[:6]}"


def baostock_index(code: str) -> str:
    """Index code → baostock code: Shenzhen ``399xxx`` → ``sz.399986``, else Shanghai ``sh.000300``."""
    return f"{'sz' if code.startswith('399') else 'sh'}.{code}"


class Baostock(Client):
    """baostock: daily k-lines (adjusted and not), quarterly total shares, index k-lines (no Shibor, no CGB yields)."""

    name, other = "baostock", "akshare"

    def __init__(self) -> None:
        super().__init__()
        login = self.call("login", "anonymous", self.lib.login)
        if str(getattr(login, "error_code", "")) != "0":
            raise FetchError(f"fetch baostock: login(anonymous) failed: no network / the service refused: {getattr(login, 'error_msg', '')}; "
                             "check the connection, retry later, or try --source akshare")

    def close(self) -> None:
        with contextlib.suppress(FetchError):
            self.call("logout", "anonymous", self.lib.logout)

    def _query(self, function: str, target: str, *args: Any, span: str = "", allow_empty: bool = False, **kwargs: Any) -> pd.DataFrame:
        def run() -> pd.DataFrame:
            result = getattr(self.lib, function)(*args, **kwargs)
            if str(result.error_code) != "0":
                raise RuntimeError(f"error {result.error_code} {result.error_msg}")
            rows = []
            while result.next():
                rows.append(result.get_row_data())
            return pd.DataFrame(rows, columns=result.fields)

        frame = self.call(function, target, run)
        return frame if allow_empty else self.rows(frame, function, target, span)

    def prices(self, bank_id: str, start: str, end: str) -> tuple[pd.DataFrame, list[str]]:
        code = baostock_code(bank_id)
        bars = {flag: self._query("query_history_k_data_plus", bank_id, code, BAOSTOCK_K_FIELDS, start_date=start, end_date=end,
                                  frequency="d", adjustflag=flag, span=f"{start}..{end}") for flag in ("1", "3")}
        quarters = [self._query("query_profit_data", bank_id, code=code, year=year, quarter=q, allow_empty=True)
                    for year in range(int(start[:4]) - 1, int(end[:4]) + 1) for q in (1, 2, 3, 4)]
        profit = pd.concat([q for q in quarters if not q.empty] or [quarters[0]], ignore_index=True)
        return mapping.baostock_prices(bank_id, bars["1"], bars["3"], profit)

    def bank_name(self, bank_id: str) -> str | None:
        return mapping.baostock_name(self._query("query_stock_basic", bank_id, code=baostock_code(bank_id)))

    def index(self, code: str, start: str, end: str) -> pd.Series:
        frame = self._query("query_history_k_data_plus", code, baostock_index(code), BAOSTOCK_INDEX_FIELDS, start_date=start, end_date=end,
                            frequency="d", adjustflag="3", span=f"{start}..{end}")
        return mapping.series(frame, "query_history_k_data_plus_index", "date", "close")

    def rates(self, start: str, end: str) -> dict[str, dict[str, pd.Series]]:
        return {}


SOURCES: dict[str, type[Client]] = {"akshare": Akshare, "baostock": Baostock}
