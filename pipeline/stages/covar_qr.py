"""ΔCoVaR by quantile regression with lagged state variables, per bank (Adrian–Brunnermeier 2016).

Reads ``returns`` (bank ``loss``), ``system_returns`` (system ``loss``) and the canonical
``market_states`` (``measures.covar_qr.states`` picks the columns, default all; without a market_states table,
or with a constant or all-missing state column, the stage is not estimable or refused with
the column named). Writes

* ``covar_qr`` — daily, one row per bank and date: ``bank_id, date, var_q, var_med, covar,
  delta_covar, status`` (the input of ``contagion.series: qr``);
* ``covar_qr_weekly`` — the same columns on the last date of each week (weeks ending Friday)
  on which the bank has a value;
* ``covar_qr_estimates`` — ``bank_id, window_end, equation, term, estimate, std_error, p_value,
  status``: the coefficients of the three regressions per window (one window, ending at the last
  date, for the full sample; one per refit for expanding), their standard errors
  (``measures.covar_qr.se``) and the p-values of H0: coefficient = 0; the row ``equation ==
  "system", term == "bank_loss"`` (β) is the per-bank test of H0: ΔCoVaR = 0 (docs/covar.md).
  Written per batch of banks (:class:`PartsWriter`), so memory stays bounded at many banks and
  rolling windows;
* the quality records (exclusions and flags, windows without standard errors).

The science is :func:`measures.covar_qr.estimate_delta_covar_banks` (exact quantile regression).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from measures.covar_qr import COEFFICIENT_COLUMNS, CoVaRConfig, check_plan, estimate_delta_covar_banks, loss_panel
from pipeline.artifacts import artifact
from pipeline.io import PROVENANCE_KEY, canonical_json, normalize_dtypes
from pipeline.stage import Stage, StageContext


class PartsWriter:
    """Write one Parquet output of a stage in parts (row groups), for bounded memory.

    Each part is a frame of rows that follow every earlier part in the artifact's key order (e.g.
    the next banks); it gets the registry's dtypes and is sorted by the key, as
    :func:`pipeline.io.write_parquet` does for a whole frame, with the stage's provenance as the
    file's metadata. The same parts give the same bytes. Use as a context manager: on success the
    output is registered as written (an output without parts is written empty, with ``columns``); on an error the
    partial file is removed, so the runner can mark the output (not estimable, say).
    """

    def __init__(self, ctx: StageContext, name: str, columns: list[str]) -> None:
        self.ctx, self.name, self.art, self.columns = ctx, name, artifact(name), list(columns)
        self.path = ctx.path(name)
        self.writer = None
        self.last: tuple | None = None

    def __call__(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not len(frame):
            return
        key = list(self.art.key)
        frame = normalize_dtypes(frame, self.art.dtypes).sort_values(key, kind="mergesort").reset_index(drop=True)
        first, last = tuple(frame.loc[0, key]), tuple(frame.loc[len(frame) - 1, key])
        if self.last is not None and not first > self.last:
            raise RuntimeError(f"{self.name}: parts out of key order ({first} after {self.last})")
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            schema = table.schema.with_metadata({PROVENANCE_KEY: canonical_json(self.ctx.provenance())})
            self.writer = pq.ParquetWriter(self.path, schema, compression="zstd", write_statistics=True,
                                           use_dictionary=True)
        self.writer.write_table(table.cast(self.writer.schema))
        self.last = last

    def __enter__(self) -> "PartsWriter":
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if self.writer is not None:
            self.writer.close()
        if kind is not None:
            Path(self.path).unlink(missing_ok=True)
            return
        if self.writer is None:
            self.ctx.write(self.name, pd.DataFrame({c: pd.Series([], dtype=self.art.dtypes.get(c, "object"))
                                                    for c in self.columns}))
        self.ctx.written[self.name] = self.path


def run(ctx: StageContext) -> dict:
    config = ctx.config()
    panel = loss_panel(ctx.read("returns"), ctx.read("system_returns"), ctx.read("market_states", required=False),
                       config.states, where="measures.covar_qr.states")
    ctx.events(panel.state_events, table="market_states")
    with PartsWriter(ctx, "covar_qr_estimates", COEFFICIENT_COLUMNS) as sink:
        result = estimate_delta_covar_banks(panel, config, mapper=ctx.mapper, coefficients=sink)
        ctx.events(result.events, table="returns")
        result.check_estimable()
    ctx.budget(result.values["status"], config.max_failure_share, what="covar_qr ΔCoVaR values (bank x date)")
    return {"covar_qr": result.values, "covar_qr_weekly": result.weekly}


def check(data, configs) -> list:
    """Which banks and state variables the fits will use, from the canonical tables."""
    return check_plan(data.prices, data.market_states, configs["measures.covar_qr"])

STAGE = Stage(
    name="covar_qr",
    run=run,
    params={"measures.covar_qr": CoVaRConfig},
    inputs=("returns", "system_returns", "market_states"),
    outputs=("covar_qr", "covar_qr_weekly", "covar_qr_estimates"),
    check=check,
    realtime=True,
)
