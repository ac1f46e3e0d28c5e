"""Listed Chinese banks: exchange codes → Wind-like ids, short names and peer groups.

The fetch command accepts a bank as ``601398``, ``601398.SH``, ``sh601398`` or
``sh.601398`` and writes the Wind-like id ``601398.SH`` (Shanghai: codes starting
with 6; Shenzhen: 0 and 3; Beijing: 4 and 8). :data:`LISTED_BANKS` holds the
A-share listed banks the project knows, with the short name of the exchange
listing and the peer group used in the literature on Chinese banks: the six
large state-owned commercial banks, the joint-stock banks, the city commercial
banks and the rural commercial banks. A bank not in the list keeps the name its
source gives and the group ``unassigned`` (set it with ``data.bank_groups``).
"""

from __future__ import annotations

import re

UNASSIGNED = "unassigned"

_GROUPS: dict[str, dict[str, str]] = {
    "state-owned": {
        "601398": "工商银行", "601939": "建设银行", "601288": "农业银行",
        "601988": "中国银行", "601328": "交通银行", "601658": "邮储银行",
    },
    "joint-stock": {
        "600036": "招商银行", "601166": "兴业银行", "600000": "浦发银行",
        "600016": "民生银行", "601998": "中信银行", "601818": "光大银行",
        "600015": "华夏银行", "000001": "平安银行", "601916": "浙商银行",
    },
    "city": {
        "601169": "北京银行", "601009": "南京银行", "002142": "宁波银行",
        "600919": "江苏银行", "601229": "上海银行", "600926": "杭州银行",
        "601838": "成都银行", "601577": "长沙银行", "600928": "西安银行",
        "601997": "贵阳银行", "002936": "郑州银行", "002948": "青岛银行",
        "601187": "厦门银行", "601963": "重庆银行", "002966": "苏州银行",
        "601665": "齐鲁银行", "001227": "兰州银行",
    },
    "rural": {
        "601077": "渝农商行", "601825": "沪农商行", "002958": "青农商行",
        "601860": "紫金银行", "600908": "无锡银行", "603323": "苏农银行",
        "002839": "张家港行", "601128": "常熟银行", "002807": "江阴银行",
        "601528": "瑞丰银行",
    },
}

#: code (6 digits) → (short name, group)
LISTED_BANKS: dict[str, tuple[str, str]] = {code: (name, group) for group, banks in _GROUPS.items() for code, name in banks.items()}

_EXCHANGES = {"6": "SH", "0": "SZ", "3": "SZ", "4": "BJ", "8": "BJ"}
_FORMS = (
    re.compile(r"^(?P<code>\d{6})$"),
    re.compile(r"^(?P<code>\d{6})\.(?P<ex>SH|SZ|BJ)$"),
    re.compile(r"^(?P<ex>SH|SZ|BJ)\.?(?P<code>\d{6})$"),
)


def exchange(code: str) -> str:
    """Exchange suffix of a 6-digit A-share code (``601398`` → ``SH``); raises for another first digit."""
    if len(code) != 6 or not code.isdigit() or code[0] not in _EXCHANGES:
        raise ValueError(f"bank code {code!r} is not an A-share code; allowed: 6 digits starting with 6 (SH), 0 or 3 (SZ), 4 or 8 (BJ)")
    return _EXCHANGES[code[0]]


def wind_id(text: str) -> str:
    """Wind-like id of a bank given as ``601398``, ``601398.SH``, ``sh601398`` or ``sh.601398``."""
    value = text.strip().upper()
    for form in _FORMS:
        match = form.match(value)
        if match:
            code = match["code"]
            ex = exchange(code)
            given = match.groupdict().get("ex")
            if given and given != ex:
                raise ValueError(f"bank {text!r}: code {code} is listed on {ex}, not {given}; allowed: {code}.{ex}")
            return f"{code}.{ex}"
    raise ValueError(f"bank {text!r} is not a bank code; allowed: 601398, 601398.SH, sh601398 or sh.601398")


def parse_banks(text: str) -> list[str]:
    """``--banks`` value → Wind-like ids (comma-separated codes, or ``all`` for :data:`LISTED_BANKS`)."""
    if text.strip().lower() == "all":
        return [f"{code}.{exchange(code)}" for code in sorted(LISTED_BANKS)]
    ids = [wind_id(part) for part in text.split(",") if part.strip()]
    if not ids:
        raise ValueError("--banks is empty; allowed: comma-separated codes such as 601398.SH,600036.SH, or all")
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"--banks names {', '.join(duplicated)} twice; allowed: each bank once")
    return ids


def bank_row(bank_id: str, source_name: str | None = None) -> dict[str, str]:
    """The banks-table row of ``bank_id``: the built-in name and group, else the source's name and ``unassigned``."""
    code = bank_id.split(".")[0]
    if code in LISTED_BANKS:
        name, group = LISTED_BANKS[code]
        return {"bank_id": bank_id, "name": name, "group": group}
    return {"bank_id": bank_id, "name": source_name or bank_id, "group": UNASSIGNED}
