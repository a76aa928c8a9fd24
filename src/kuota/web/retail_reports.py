"""A retailer's reports: sales (staff their store, owners every store) and the owner's
float statement, each as a page and as the same CSV the API gives."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from kuota.api.routers import retail as retail_api
from kuota.core.errors import NotFound
from kuota.core.money import Money
from kuota.core.principal import Principal
from kuota.retail import service as retail
from kuota.web.i18n import N_
from kuota.web.pages import read, render
from kuota.web.portal import history_filter
from kuota.web.pos_desk import Desk, desk_context, is_owner, load_desk, retail_person
from kuota.web.visitor import Visitor, VisitorDep

router = APIRouter(include_in_schema=False)

# Float movements as the statement names them.
MOVEMENT_NAMES = {
    "float_deposit": N_("Deposit"),
    "renewal": N_("Sale"),
    "refund": N_("Refund"),
    "adjustment": N_("Adjustment"),
}


# -- sales and the float statement ----------------------------------------------------


def _days(request: Request, since: str, until: str) -> tuple[datetime | None, datetime | None]:
    """Days in the operator's zone, `until` included, as the history page reads them."""
    wanted = history_filter(request, since=since, until=until)
    return wanted.since, wanted.until


def _rfc3339(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant else None


@router.get("/pos/sales")
async def sales_page(
    request: Request, visitor: VisitorDep, store: str = "", since: str = "", until: str = ""
) -> Response:
    """Staff see their own store's sales; an owner every store of theirs, or one."""
    principal = retail_person(request, visitor)
    ctx = desk_context(request)
    start, end = _days(request, since, until)

    def load(session: Session) -> tuple[Desk, list[dict[str, Any]]]:
        rows = retail.sales(session, principal, store_code=store or None, since=start, until=end)
        return load_desk(session, ctx, principal), rows

    desk, rows = await read(request, load)
    return render(
        request,
        visitor,
        "pos_sales.html",
        desk=desk,
        is_owner=is_owner(principal),
        rows=rows,
        filters={"store": store, "since": since, "until": until},
        total=Money(sum(int(r["total"]["amount"]) for r in rows), ctx.settings.currency),
        commission=Money(sum(int(r["commission"]["amount"]) for r in rows), ctx.settings.currency),
        query=request.url.query,
    )


@router.get("/pos/sales.csv")
async def sales_csv(
    request: Request, visitor: VisitorDep, store: str = "", since: str = "", until: str = ""
) -> Response:
    """The same CSV as GET /api/v1/retail/sales?format=csv, for the page's filters."""
    principal = retail_person(request, visitor)
    start, end = _days(request, since, until)
    answer = await read(
        request,
        lambda session: retail_api.sales(
            session,
            principal,
            store=store or None,
            since=_rfc3339(start),
            until=_rfc3339(end),
            format="csv",
        ),
    )
    return visitor.finish(answer)


def _owner(request: Request, visitor: Visitor) -> Principal:
    principal = retail_person(request, visitor)
    if not is_owner(principal):
        raise NotFound("the float statement is for the retailer's owner")
    return principal


@router.get("/retail/statement")
async def statement_page(
    request: Request, visitor: VisitorDep, since: str = "", until: str = ""
) -> Response:
    """Every movement of the float with the running balance, and the commission earned."""
    principal = _owner(request, visitor)
    ctx = desk_context(request)
    start, end = _days(request, since, until)

    def load(session: Session) -> tuple[Desk, dict[str, Any]]:
        statement = retail.float_statement(session, principal, since=start, until=end)
        return load_desk(session, ctx, principal), statement

    desk, statement = await read(request, load)
    translate = visitor.translator.gettext
    return render(
        request,
        visitor,
        "retail_statement.html",
        desk=desk,
        is_owner=True,
        statement=statement,
        movement_name=lambda kind: (
            translate(MOVEMENT_NAMES[kind]) if kind in MOVEMENT_NAMES else kind
        ),
        filters={"since": since, "until": until},
        query=request.url.query,
    )


@router.get("/retail/statement.csv")
async def statement_csv(
    request: Request, visitor: VisitorDep, since: str = "", until: str = ""
) -> Response:
    """The same CSV as GET /api/v1/retail/float-statement?format=csv."""
    principal = _owner(request, visitor)
    start, end = _days(request, since, until)
    answer = await read(
        request,
        lambda session: retail_api.float_statement(
            session, principal, since=_rfc3339(start), until=_rfc3339(end), format="csv"
        ),
    )
    return visitor.finish(answer)
