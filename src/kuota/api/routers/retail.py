"""What a retailer's people read (sales, float statement, commission) and print.
Selling itself is POST /renewals with payment_method retail_float."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from functools import partial
from typing import Any, Literal

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kuota.api.answers import json_response
from kuota.api.deps import Caller, ContextDep, CurrentPrincipal, SessionDep, WriteTransaction
from kuota.core.clock import real_now
from kuota.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kuota.receipts.document import load_receipt
from kuota.receipts.escpos import render_escpos
from kuota.receipts.printing import print_at_store
from kuota.renewals.models import Renewal
from kuota.retail import service as retail
from kuota.retail.models import Store

router = APIRouter(prefix="/retail", tags=["retail"])


def _instant(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            "write the time as RFC 3339, e.g. 2026-11-01T00:00:00+07:00", field=field
        ) from exc
    if parsed.tzinfo is None:
        raise InvalidInput("the time needs a zone, e.g. +07:00", field=field)
    return parsed


def _csv(rows: list[list[Any]], header: list[str], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/sales")
def sales(
    session: SessionDep,
    principal: CurrentPrincipal,
    store: str | None = None,
    since: str | None = None,
    until: str | None = None,
    format: Literal["json", "csv"] = "json",
) -> Response:
    """Staff see their own store's sales; owners every store of theirs (filter by `store`)."""
    rows = retail.sales(
        session,
        principal,
        store_code=store,
        since=_instant(since, "since"),
        until=_instant(until, "until"),
    )
    if format == "json":
        return json_response(rows)
    return _csv(
        [
            [
                r["created_at"].isoformat(),
                r["store"],
                r["id"],
                r["msisdn_masked"],
                r["plan_code"],
                r["total"]["amount"] // 100,
                r["commission"]["amount"] // 100,
                r["receipt_no"],
                r["sold_by"],
            ]
            for r in rows
        ],
        [
            "created_at",
            "store",
            "renewal_id",
            "card",
            "plan",
            "total_idr",
            "commission_idr",
            "receipt_no",
            "sold_by",
        ],
        "sales.csv",
    )


@router.get("/float-statement")
def float_statement(
    session: SessionDep,
    principal: CurrentPrincipal,
    since: str | None = None,
    until: str | None = None,
    format: Literal["json", "csv"] = "json",
) -> Response:
    """Every movement of the retailer's float with the running balance, and the commission
    earned; for the retailer's owner."""
    statement = retail.float_statement(
        session, principal, since=_instant(since, "since"), until=_instant(until, "until")
    )
    if format == "json":
        return json_response(statement)
    return _csv(
        [
            [
                m["created_at"].isoformat(),
                m["kind"],
                m["reference"],
                m["memo"],
                m["change"]["amount"] // 100,
                m["balance"]["amount"] // 100,
            ]
            for m in statement["movements"]
        ],
        ["created_at", "kind", "reference", "memo", "change_idr", "balance_idr"],
        "float-statement.csv",
    )


@router.post("/receipts/{receipt_no}/print")
async def print_receipt(
    receipt_no: str,
    tx: WriteTransaction,
    ctx: ContextDep,
    caller: Caller,
    again: bool = False,
    lang: Literal["id", "en", "zh"] = "id",
) -> Response:
    """Print a sale's receipt on the store's printer. A second print needs `again=true`
    (a jammed printer); a retried request without it does not print twice."""

    def prepare(session: Session) -> tuple[str, bytes, str]:
        principal = caller.principal(session)
        row = session.execute(
            select(Renewal.store_id).where(Renewal.receipt_no == receipt_no)
        ).one_or_none()
        if (
            row is None
            or row.store_id is None
            or not retail.sold_by(session, principal, row.store_id)
        ):
            raise NotFound(f"no receipt {receipt_no} sold at your store")
        if not principal.is_retail:
            raise Forbidden("printing at a store is for its staff")
        printer = session.execute(
            select(Store.printer).where(Store.id == row.store_id)
        ).scalar_one()
        if not printer:
            raise Conflict("this store has no receipt printer configured; download the PDF")
        document = load_receipt(session, ctx, receipt_no)
        assert document is not None
        return str(printer), render_escpos(document, lang), f"{principal.scope}:{principal.name}"

    printer, data, actor = await tx.run(prepare)
    printed = await run_in_threadpool(
        partial(
            print_at_store,
            tx.db,
            receipt_no=receipt_no,
            printer=printer,
            data=data,
            now=real_now(),
            again=again,
            actor=actor,
        )
    )
    return json_response({"receipt_no": receipt_no, "printed_now": printed, "bytes": len(data)})
