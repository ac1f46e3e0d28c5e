"""``python -m pipeline fetch``: Chinese bank data from akshare or baostock as canonical raw files.

Usage::

    python -m pipeline fetch --source akshare --banks 601398.SH,600036.SH --start 2015-01-01 \\
        --end 2024-12-31 [--out data/raw/fetched] [--system-index 399986] [--series-only]

Writes into ``--out`` the canonical files of docs/formats.md — ``banks.csv``, ``prices.csv``
(back-adjusted close, market cap in yuan, shares, volume), ``system.csv`` (a bank-sector
index) — and the raw series of the market-state recipes: ``csi300.csv`` (CSI 300 close),
``shibor.csv`` (Shibor overnight and 1 week, %) and ``cgb_yields.csv`` (10-year CGB yield,
%; both akshare only), plus ``fetch.json`` (source, library version, functions called,
time of the fetch, notes). Then it prints the ``data`` section that makes ``dvc repro`` use
them. The optional extra installs the libraries: ``pip install -e '.[fetch]'``. A failed
call (no network, a refused service, an empty or changed response) prints one line and
exits 2 (``PIPELINE_DEBUG=1`` for the traceback). docs/fetch.md describes the mapping and the optional DVC stage.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.fetch import mapping
from pipeline.fetch.banks import UNASSIGNED, bank_row, parse_banks
from pipeline.fetch.sources import SOURCES, Client, FetchError
from pipeline.io import write_csv

#: calendar days fetched before --start for the series, so that a 20-day volatility and a yield change exist on the first day
SERIES_LOOKBACK_DAYS = 45
CSI300 = "000300"
DEFAULT_SYSTEM_INDEX = "399986"  # CSI Bank index (中证银行)


@dataclass
class Fetched:
    """What one fetch produced: files (name → table), notes, the banks left without a group."""

    files: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    unassigned: list[str] = field(default_factory=list)


def fetch(client: Client, banks: list[str], start: str, end: str, *, system_index: str | None, series_only: bool = False) -> Fetched:
    """Fetch and map every table (network through ``client``; the mapping is :mod:`pipeline.fetch.mapping`)."""
    out = Fetched()
    if not series_only:
        rows, table = [], []
        for bank_id in banks:
            frame, notes = client.prices(bank_id, start, end)
            rows.append(frame)
            out.notes += notes
            row = bank_row(bank_id)
            if row["group"] == UNASSIGNED:
                row = bank_row(bank_id, client.bank_name(bank_id))
                out.unassigned.append(bank_id)
            table.append(row)
            print(f"fetch {client.name}: {bank_id} {row['name']}: {len(frame)} day(s)", file=sys.stderr)
        out.files["banks.csv"] = pd.DataFrame(table)
        out.files["prices.csv"] = mapping.prices_table(rows, start, end)
    first = (pd.Timestamp(start) - pd.Timedelta(days=SERIES_LOOKBACK_DAYS)).strftime("%Y-%m-%d")
    if system_index:
        out.files["system.csv"] = mapping.table({"close": client.index(system_index, start, end)}, start, end)
    out.files["csi300.csv"] = mapping.table({"csi300_close": client.index(CSI300, first, end)}, first, end)
    for name, columns in client.rates(first, end).items():
        out.files[f"{name}.csv"] = mapping.table(columns, first, end)
    if "shibor.csv" not in out.files:
        out.notes.append(f"{client.name} has no Shibor and no CGB yields: add them with --source akshare --series-only into the same folder")
    return out


def states(files: dict[str, pd.DataFrame] | set[str]) -> list[str]:
    """The ``data.market_states`` specs (YAML flow lines) for the series files present."""
    specs = {
        "csi300.csv": '{name: stock_vol, file: csi300.csv, column: csi300_close, transform: rolling_vol, window: 20}',
        "shibor.csv": '{name: money, file: shibor.csv, column: shibor_1w_pct, unit: "%"}',
        "cgb_yields.csv": '{name: bond, file: cgb_yields.csv, column: cgb_10y_yield_pct, transform: yield_change_loss, duration: 8.5, unit: "%"}',
    }
    return [spec for name, spec in specs.items() if name in files]


def snippet(out: str, start: str, end: str, files, unassigned: list[str]) -> str:
    """The ``data`` section of params.yaml that reads the fetched folder (valid YAML)."""
    lines = ["data:", "  source: files", "  format: canonical", f"  raw_dir: {out}", f'  start: "{start}"', f'  end: "{end}"',
             "  currency: CNY", "  market_states:"] + [f"    - {s}" for s in states(files)]
    if unassigned:
        lines.append("  # banks outside the built-in list, group unassigned: set them, e.g.")
        lines.append("  # bank_groups: {" + ", ".join(f"{b}: city" for b in unassigned) + "}")
    return "\n".join(lines) + "\n"


def write(out: Path, fetched: Fetched, meta: dict) -> list[Path]:
    """Write the fetched files and ``fetch.json`` into ``out``."""
    paths = [write_csv(frame, out / name) for name, frame in fetched.files.items()]
    (out / "fetch.json").write_text(json.dumps({**meta, "files": sorted(fetched.files), "notes": fetched.notes}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return paths + [out / "fetch.json"]


def _date(text: str) -> str:
    try:
        return datetime.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; allowed: YYYY-MM-DD") from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipeline fetch", description="Fetch Chinese bank data into canonical raw files (docs/fetch.md).")
    p.add_argument("--source", required=True, choices=sorted(SOURCES))
    p.add_argument("--banks", default="", help="comma-separated codes (601398.SH, 601398, sh601398) or all")
    p.add_argument("--start", required=True, type=_date)
    p.add_argument("--end", required=True, type=_date)
    p.add_argument("--out", default="data/raw/fetched", help="output folder (default: data/raw/fetched)")
    p.add_argument("--system-index", default=DEFAULT_SYSTEM_INDEX, help="bank-sector index code for system.csv (default 399986, CSI Bank; none to skip)")
    p.add_argument("--series-only", action="store_true", help="fetch only the index and rate series (no banks)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.start > args.end:
            raise FetchError(f"fetch: --start {args.start} is after --end {args.end}; allowed: start <= end")
        banks = [] if args.series_only else parse_banks(args.banks)
        client = SOURCES[args.source]()
        try:
            system = None if args.system_index.lower() == "none" else args.system_index
            fetched = fetch(client, banks, args.start, args.end, system_index=system, series_only=args.series_only)
        finally:
            client.close()
        meta = {"source": client.name, "library_version": client.version, "functions": sorted(set(client.calls)),
                "fetched_at_utc": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ"), "start": args.start, "end": args.end, "banks": banks}
        paths = write(Path(args.out), fetched, meta)
    except (FetchError, ValueError) as exc:  # LayoutError and the bank-code errors are ValueErrors
        if os.environ.get("PIPELINE_DEBUG", "") not in ("", "0"):
            raise
        print(exc if str(exc).startswith("fetch") else f"fetch {args.source}: {exc}", file=sys.stderr)
        return 2
    for note in fetched.notes:
        print(f"fetch {client.name}: note: {note}", file=sys.stderr)
    print(f"fetch {client.name}: wrote {', '.join(p.name for p in paths)} into {args.out}; put this in params.yaml:", file=sys.stderr)
    present = set(fetched.files) | {p.name for p in Path(args.out).glob("*.csv")}
    print(snippet(args.out, args.start, args.end, present, fetched.unassigned), end="")
    return 0
