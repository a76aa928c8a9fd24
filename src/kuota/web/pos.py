"""The store's point of sale: the counter, the sale and its receipt.

A sale at the counter goes through the very path POST /api/v1/renewals takes
(`api.checkout.sell`, exactly once per Idempotency-Key): the sale form carries a key
minted when the counter was drawn, so a double-clicked "Sell" sells once. Every NIK
compared is counted as the API counts it, committed apart from the sale, so a refused
sale still counts towards the store's fraud flag.

Staff see whether the retailer's float covers a sale ("float OK" / "float low"); the
amounts, the statement and the refusal's float figures are the owner's alone.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kuota.api.checkout import count_identity_check, sell, without_nik
from kuota.api.deps import Credentials, WriteTransaction
from kuota.cards import service as cards
from kuota.core import idempotency
from kuota.core.clock import real_now
from kuota.core.errors import Conflict, InvalidInput, KuotaError, NotFound, Unauthenticated
from kuota.core.principal import Principal
from kuota.receipts import printing
from kuota.receipts.document import load_receipt
from kuota.receipts.escpos import render_escpos, render_text
from kuota.renewals import service as renewals
from kuota.renewals.models import Renewal
from kuota.renewals.schemas import RenewalIn
from kuota.retail.models import Store
from kuota.web.forms import posted
from kuota.web.i18n import N_
from kuota.web.pages import describe, read, receipt_pdf_response, redirect, render
from kuota.web.pos_desk import Desk, desk_context, is_owner, load_desk, retail_person
from kuota.web.visitor import Visitor, VisitorDep

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

SALE_PATH = "/pos/sell"

# What a refusal at the counter says to the person at the till; any other refusal gets
# the portal's words for its kind (pages.describe) next to the field it names.
_COUNTER_WORDS = {
    "identity-mismatch": N_(
        "The NIK does not match the card's registration. Nothing was sold: check the "
        "identity card and sell only to the card's registered holder."
    ),
    "insufficient-funds": N_(
        "The store's float is too low for this sale. Nothing was sold: the retailer must "
        "deposit money with the operator first."
    ),
}
_CASH_FIRST = N_("Take the customer's cash first, then tick “Cash received”.")


def _counter_error(visitor: Visitor, principal: Principal, exc: KuotaError) -> dict[str, str]:
    error = describe(visitor, exc)
    words = _COUNTER_WORDS.get(exc.slug)
    if words is not None:
        error["message"] = visitor.translator.gettext(words)
    if exc.slug == "identity-mismatch":
        error["field"], error["detail"] = "identity.nik", ""  # the message says it all
    elif exc.slug == "insufficient-funds":
        error["field"] = "float"
        if not is_owner(principal):
            error["detail"] = ""  # it names the float's amount: the owner's to know
    return error


async def _counter(
    request: Request,
    visitor: Visitor,
    principal: Principal,
    *,
    msisdn: str,
    chosen: str = "",
    error: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The counter: step one finds the card, step two sells it a plan."""
    ctx = desk_context(request)
    now = ctx.clock.now()

    def load(session: Session) -> tuple[Desk, dict[str, Any] | None, KuotaError | None]:
        desk = load_desk(session, ctx, principal)
        if not msisdn or desk.store is None:
            return desk, None, None
        try:
            return desk, cards.card_view(session, principal, msisdn, now), None
        except KuotaError as exc:
            return desk, None, exc

    desk, card, lookup_error = await read(request, load)
    if lookup_error is not None:
        error = describe(visitor, lookup_error)
        error["field"] = "msisdn"
        status = lookup_error.status
    names = {o["plan"].code: o["plan"].name for o in desk.offers}
    return render(
        request,
        visitor,
        "pos.html",
        status=status,
        desk=desk,
        is_owner=is_owner(principal),
        msisdn=msisdn,
        card=card,
        plan_names=names,
        chosen=chosen or (desk.offers[0]["plan"].code if desk.offers else ""),
        error=error,
        idempotency_key=secrets.token_urlsafe(18),
    )


@router.get("/pos")
async def counter(request: Request, visitor: VisitorDep, msisdn: str = "") -> Response:
    principal = retail_person(request, visitor)
    return await _counter(request, visitor, principal, msisdn=msisdn.strip()[:32])


@router.get(SALE_PATH)
async def counter_again(request: Request, visitor: VisitorDep) -> Response:
    """Where a language link on a refused sale's page leads: back to the counter."""
    retail_person(request, visitor)
    return redirect(visitor, "/pos")


@router.post(SALE_PATH)
async def sell_at_counter(request: Request, visitor: VisitorDep, tx: WriteTransaction) -> Response:
    """Sell for cash: the NIK is compared with the card's registration and the price less
    the store's commission is drawn from the retailer's float, as POST /renewals does."""
    principal = retail_person(request, visitor)
    form = await posted(request, visitor)
    ctx = desk_context(request)
    msisdn, plan_code = form.get("msisdn", ""), form.get("plan_code", "")

    async def again(error: dict[str, str], status: int) -> Response:
        return await _counter(
            request, visitor, principal, msisdn=msisdn, chosen=plan_code, error=error, status=status
        )

    if form.get("cash_received") != "yes":
        message = visitor.translator.gettext(_CASH_FIRST)
        cash = {"message": message, "detail": "", "field": "cash_received", "slug": "cash"}
        return await again(cash, 422)
    try:
        body = RenewalIn.model_validate(
            {
                "msisdn": msisdn,
                "plan_code": plan_code,
                "payment_method": "retail_float",
                "identity": {"nik": form.get("nik", "")},
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        invalid = InvalidInput(f"{field}: {first['msg']}", field=field)
        return await again(describe(visitor, invalid), invalid.status)
    assert body.identity is not None
    sale = renewals.RenewalRequest(
        msisdn=body.msisdn,
        plan_code=body.plan_code,
        payment_method=body.payment_method,
        identity_nik=body.identity.nik,
    )
    caller = Credentials(web_session=visitor.session_id)
    gateways = request.app.state.gateways
    try:
        answer = await sell(
            tx,
            ctx,
            gateways,
            caller,
            idempotency_key=form.get("idempotency_key", "") or None,
            fingerprint=idempotency.fingerprint("POST", SALE_PATH, without_nik(body, ctx)),
            operation=lambda session, seller: renewals.renew(session, ctx, seller, sale),
            description=lambda view: f"{view['plan_code']} {view['msisdn']}",
            view_for_payment=renewals.view_for_payment,
            options=None,
        )
    except Unauthenticated:
        raise
    except KuotaError as exc:  # the key is taken by another form, or missing
        return await again(_counter_error(visitor, principal, exc), exc.status)
    if not answer.replayed:
        await count_identity_check(tx, ctx, caller, body.msisdn, answer)
    view: dict[str, Any] = orjson.loads(answer.body)
    if answer.status_code == 201:
        return redirect(visitor, f"/pos/sales/{view['id']}")
    refusal = KuotaError.from_problem(answer.status_code, view)
    return await again(_counter_error(visitor, principal, refusal), answer.status_code)


# -- the sale and its receipt ---------------------------------------------------------


async def _sale_page(
    request: Request,
    visitor: Visitor,
    principal: Principal,
    renewal_id: str,
    *,
    printed: str = "",
    error: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    ctx = desk_context(request)

    def load(session: Session) -> tuple[Desk, dict[str, Any], Any, datetime | None]:
        sale = renewals.get_renewal(session, principal, renewal_id)  # 404 unless sold here
        desk = load_desk(session, ctx, principal)
        document = load_receipt(session, ctx, sale["receipt_no"]) if sale["receipt_no"] else None
        done = printing.already_printed(session, sale["receipt_no"]) if document else None
        return desk, sale, document, done

    desk, sale, document, printed_at = await read(request, load)
    return render(
        request,
        visitor,
        "pos_sale.html",
        status=status,
        desk=desk,
        is_owner=is_owner(principal),
        sale=sale,
        receipt=document,
        receipt_text=render_text(document, visitor.locale) if document else "",
        printed_at=printed_at,
        printed=printed,
        error=error,
    )


@router.get("/pos/sales/{renewal_id}")
async def sale_page(
    request: Request, visitor: VisitorDep, renewal_id: str, printed: str = ""
) -> Response:
    principal = retail_person(request, visitor)
    return await _sale_page(
        request,
        visitor,
        principal,
        renewal_id,
        printed=printed if printed in ("now", "before") else "",
    )


@router.post("/pos/sales/{renewal_id}/print")
async def print_receipt(
    request: Request, visitor: VisitorDep, tx: WriteTransaction, renewal_id: str
) -> Response:
    """Print on the store's printer, once; "Print again" (a jammed printer) prints anew."""
    principal = retail_person(request, visitor)
    form = await posted(request, visitor)
    ctx = desk_context(request)
    locale = visitor.locale

    def prepare(session: Session) -> tuple[str, str, bytes]:
        sale = renewals.get_renewal(session, principal, renewal_id)  # 404 unless sold here
        document = load_receipt(session, ctx, sale["receipt_no"]) if sale["receipt_no"] else None
        if document is None:
            raise Conflict(f"sale {renewal_id} has no receipt to print")
        printer = session.execute(
            select(Store.printer)
            .join(Renewal, Renewal.store_id == Store.id)
            .where(Renewal.id == renewal_id)
        ).scalar_one()
        if not printer:
            raise Conflict("this store has no receipt printer configured; download the PDF")
        return document.receipt_no, str(printer), render_escpos(document, locale)

    try:
        receipt_no, printer, data = await read(request, prepare)
        printed_now = await run_in_threadpool(
            partial(
                printing.print_at_store,
                tx.db,
                receipt_no=receipt_no,
                printer=printer,
                data=data,
                now=real_now(),
                again=form.get("again") == "yes",
                actor=f"{principal.scope}:{principal.name}",
            )
        )
    except (NotFound, Unauthenticated):
        raise
    except KuotaError as exc:
        return await _sale_page(
            request,
            visitor,
            principal,
            renewal_id,
            error=describe(visitor, exc),
            status=exc.status,
        )
    outcome = "now" if printed_now else "before"
    return redirect(visitor, f"/pos/sales/{renewal_id}?printed={outcome}")


@router.get("/pos/sales/{renewal_id}/receipt.pdf")
async def receipt_pdf(request: Request, visitor: VisitorDep, renewal_id: str) -> Response:
    principal = retail_person(request, visitor)
    ctx = desk_context(request)

    def load(session: Session) -> Any:
        sale = renewals.get_renewal(session, principal, renewal_id)  # 404 unless sold here
        document = load_receipt(session, ctx, sale["receipt_no"]) if sale["receipt_no"] else None
        if document is None:
            raise NotFound(f"sale {renewal_id} has no receipt")
        return document

    return await receipt_pdf_response(visitor, await read(request, load))
