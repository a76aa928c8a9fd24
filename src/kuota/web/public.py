"""Pages anyone may open: the plan catalogue, the receipt verifier and the lookup of
authorised stores and kiosks. None of them shows personal data."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from kuota.catalog import service as catalog
from kuota.core.db import Database
from kuota.receipts.document import load_receipt
from kuota.receipts.rules import receipt_code_matches
from kuota.retail import locator
from kuota.web.pages import read, redirect, render
from kuota.web.visitor import VisitorDep

router = APIRouter(include_in_schema=False)


def _db(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


@router.get("/")
async def home(request: Request, visitor: VisitorDep) -> Response:
    if visitor.signed_in:
        return redirect(visitor, "/cards")
    plans = await read(request, catalog.current_plans)
    return render(request, visitor, "home.html", plans=plans)


@router.get("/plans")
async def plans_page(request: Request, visitor: VisitorDep) -> Response:
    plans = await read(request, catalog.current_plans)
    return render(request, visitor, "plans.html", plans=plans)


@router.get("/verify")
async def verify_form(
    request: Request, visitor: VisitorDep, receipt_no: str = "", c: str = ""
) -> Response:
    if receipt_no.strip():
        number = receipt_no.strip().upper()[:40]
        return redirect(visitor, f"/verify/{number}?c={c.strip().upper()[:16]}")
    return render(request, visitor, "verify_form.html")


@router.get("/verify/{receipt_no}")
async def verify(request: Request, visitor: VisitorDep, receipt_no: str, c: str = "") -> Response:
    """Genuine only with the code printed on that receipt; never shows who bought it."""
    ctx = request.app.state.context
    number = receipt_no.strip().upper()[:40]
    code = c.strip()[:16]
    receipt = None
    if code and receipt_code_matches(number, code, ctx.secret_key):
        receipt = await read(request, lambda session: load_receipt(session, ctx, number))
    if receipt is None:
        return render(
            request, visitor, "verify_result.html", status=404, receipt=None, receipt_no=number
        )
    return render(request, visitor, "verify_result.html", receipt=receipt, receipt_no=number)


@router.get("/authorised")
async def authorised(request: Request, visitor: VisitorDep, code: str = "") -> Response:
    """Is this store or kiosk one of the operator's? Asked by code, answered plainly."""
    wanted = code.strip().upper()[:20]
    found = None
    if wanted:
        found = await read(request, lambda session: locator.outlet_by_code(session, wanted))
    status = 404 if wanted and found is None else 200
    return render(request, visitor, "authorised.html", status=status, code=wanted, outlet=found)
