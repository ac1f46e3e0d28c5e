"""Sample and coverage: banks, groups, trading days, balance-sheet periods."""

from __future__ import annotations



from pipeline.report import text
from pipeline.report.core import ReportContext, Section, table_html

ID = "sample"
TITLE = "Sample and coverage"


#: the columns of the returns table that this section and returns_summary use
RETURN_COLUMNS = ("bank_id", "date", "ret")


def build(ctx: ReportContext) -> Section | None:
    banks = ctx.artifact("banks")
    rets = ctx.artifact("returns", RETURN_COLUMNS)
    if banks is None or rets is None:
        return None
    bs = ctx.artifact("balance_sheet")
    cover = rets.groupby("bank_id").agg(
        first=("date", "min"), last=("date", "max"), rows=("date", "size"), returns=("ret", "count")
    )
    cover["masked"] = cover["rows"] - cover["returns"]
    if bs is not None:
        cover["bs_periods"] = bs.groupby("bank_id").size().reindex(cover.index).fillna(0).astype(int)
    table = banks.set_index("bank_id").join(cover, how="left").reset_index()
    table = table.sort_values(["group", "bank_id"], kind="mergesort")
    groups = banks.groupby("group").size().rename("banks").reset_index()
    metrics = {
        "n_banks": len(banks),
        "n_groups": int(banks["group"].nunique()),
        "first_date": rets["date"].min(),
        "last_date": rets["date"].max(),
        "n_days": int(rets["date"].nunique()),
        "n_returns": int(rets["ret"].notna().sum()),
        "n_masked": int(rets["ret"].isna().sum()),
    }
    shown = table.rename(columns={"bank_id": "bank", "first": "first return", "last": "last return",
                                  "rows": "trading days", "returns": "returns", "masked": "masked returns",
                                  "bs_periods": "balance-sheet periods"})
    blocks = [
        table_html(groups, caption="Banks per peer group", name="groups"),
        table_html(shown, caption="Coverage per bank: first and last trading day with a return, trading days, "
                   "daily returns available and masked, balance-sheet periods", digits=0, name="coverage"),
    ]
    return Section(ID, TITLE, intro(ctx), blocks, metrics, {"coverage": table})


def intro(ctx: ReportContext) -> str:
    return text.render(ID, system=ctx.param("system_returns", "measures.returns.system"))
