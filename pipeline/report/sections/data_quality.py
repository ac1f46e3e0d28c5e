"""Data quality: every exclusion, mask and flag of every stage, counted by reason."""

from __future__ import annotations

from pipeline.report.core import ReportContext, Section, table_html

ID = "quality"
TITLE = "Data quality: exclusions and flags"
INTRO = (
    "Nothing is dropped silently. Each row below is one record written by a stage to "
    "<code>data/processed/quality/</code>: the stage, the table, the bank (blank when it concerns every bank), the "
    "period, the number of rows concerned (<em>n_rows</em>), what was done (<em>excluded</em>: rows removed; "
    "<em>masked</em>: values set to missing; <em>flagged</em>: kept and marked; <em>ignored</em>: an input column "
    "not used; <em>filled</em>: a value derived) and why."
)


def build(ctx: ReportContext) -> Section | None:
    q = ctx.quality()
    counts = (
        q.groupby(["stage", "action", "reason"], dropna=False)
        .agg(records=("reason", "size"), rows=("n_rows", "sum"))
        .reset_index()
    )
    blocks = [table_html(counts, caption="Records by stage, action and reason", digits=0)]
    if len(q):
        full = table_html(q.fillna({"bank_id": ""}), caption="All records", digits=0)
        blocks.append(f"<details><summary>All {len(q)} records (click to expand)</summary>{full}</details>")
    metrics = {
        "n_records": len(q),
        "by_reason": {f"{r.stage}/{r.reason}": int(r.records) for r in counts.itertuples()},
        "rows_excluded": int(q.loc[q["action"] == "excluded", "n_rows"].sum()) if len(q) else 0,
        "rows_masked": int(q.loc[q["action"] == "masked", "n_rows"].sum()) if len(q) else 0,
    }
    return Section(ID, TITLE, INTRO, blocks, metrics, {"records": q})
