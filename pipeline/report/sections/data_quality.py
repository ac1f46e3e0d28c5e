"""Data quality: every exclusion, mask, flag, fill and not-estimable output of every stage, counted by
reason, with the plausibility-screen hits (reasons ``screen_*``) listed bank by bank."""

from __future__ import annotations

import pandas as pd

from pipeline.report import text
from pipeline.report.core import ReportContext, Section, table_html

ID = "quality"
TITLE = "Data quality: exclusions and flags"
SUMMARY = True  # records of every stage: labelled here, not listed in the header
SCREEN_PREFIX = "screen_"
COUNT_COLUMNS = ["stage", "action", "reason", "records", "rows"]


def counts(q: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Records and rows (``n_rows``) per ``by`` group."""
    if q.empty:
        return pd.DataFrame(columns=[*by, "records", "rows"])
    return (q.groupby(by, dropna=False).agg(records=("reason", "size"), rows=("n_rows", "sum")).reset_index())


def screen_hits(q: pd.DataFrame) -> pd.DataFrame:
    """The records of the plausibility screens (reason ``screen_*``): bank, dates, rule, action and detail."""
    hits = q[q["reason"].astype(str).str.startswith(SCREEN_PREFIX)]
    return hits[["stage", "table", "bank_id", "date_start", "date_end", "n_rows", "action", "reason", "detail"]]


def build(ctx: ReportContext) -> Section | None:
    q = ctx.quality()
    table = counts(q, ["stage", "action", "reason"])
    actions = counts(q, ["action"])
    hits = screen_hits(q)
    blocks = [table_html(table, caption="Records by stage, action and reason", digits=0, name="by_reason"),
              table_html(actions, caption="Records and rows by action", digits=0, name="by_action")]
    not_estimable = q[q["action"] == "not_estimable"][["stage", "table", "detail"]]
    if len(not_estimable):
        blocks.append(table_html(not_estimable, caption="Outputs not estimable from the data (written empty and "
                                 "marked; their sections say what to add)", wrap=True, name="not_estimable"))
    if len(hits):
        per_rule = counts(hits, ["stage", "reason", "action"]).merge(
            hits.groupby(["stage", "reason", "action"])["bank_id"].nunique().rename("banks").reset_index())
        blocks.append(table_html(per_rule, caption="Plausibility-screen hits by rule", digits=0, name="screens"))
        blocks.append(table_html(hits.fillna({"bank_id": ""}), caption="Plausibility-screen hits: bank, dates, rule, "
                                 "action, and the value in the detail", digits=0, wrap=True, name="screen_hits"))
    if len(q):
        full = table_html(q.fillna({"bank_id": ""}), caption="All records", digits=0, wrap=True, name="records",
                          max_rows=50)
        blocks.append(f"<details><summary>All {len(q)} records (click to expand)</summary>{full}</details>")
    metrics = {
        "n_records": len(q),
        "by_reason": {f"{r.stage}/{r.reason}": int(r.records) for r in table.itertuples()},
        "by_action": {r.action: {"records": int(r.records), "rows": int(r.rows)} for r in actions.itertuples()},
        "rows_excluded": int(q.loc[q["action"] == "excluded", "n_rows"].sum()) if len(q) else 0,
        "rows_masked": int(q.loc[q["action"] == "masked", "n_rows"].sum()) if len(q) else 0,
        "not_estimable_outputs": [f"{r.stage}: {r.detail}" for r in not_estimable.itertuples()],
        "screens": {f"{r.stage}/{r.reason}": int(r.records) for r in counts(hits, ["stage", "reason"]).itertuples()},
        "n_screen_hits": len(hits),
    }
    plots = {"records": q}
    if len(hits):
        plots["screens"] = hits
    return Section(ID, TITLE, intro(ctx), blocks, metrics, plots)


def intro(ctx: ReportContext) -> str:
    return text.render(ID)
