"""The store's point of sale (retail staff) and the owner's statement pages.

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
from dataclasses import dataclass
from datetime import datetime, time
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
from kuota.api.routers import retail as retail_api
from kuota.cards import service as cards
from kuota.catalog import service as catalog
from kuota.core import idempotency
from kuota.core.clock import real_now
from kuota.core.context import Context
from kuota.core.errors import Conflict, InvalidInput, KuotaError, NotFound, Unauthenticated
from kuota.core.localtime import zone
from kuota.core.money import Money
from kuota.core.principal import Principal
from kuota.ledger import service as ledger
from kuota.receipts import printing
from kuota.receipts.document import load_receipt
from kuota.receipts.escpos import render_escpos, render_text
from kuota.renewals import service as renewals
from kuota.renewals.models import Channel, Renewal
from kuota.renewals.schemas import RenewalIn
from kuota.retail import service as retail
from kuota.retail.models import Store
from kuota.web.forms import posted
from kuota.web.i18n import N_
from kuota.web.pages import describe, read, receipt_pdf_response, redirect, render
from kuota.web.portal import history_filter
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

# Float movements as the statement names them.
MOVEMENT_NAMES = {
    "float_deposit": N_("Deposit"),
    "renewal": N_("Sale"),
    "refund": N_("Refund"),
    "adjustment": N_("Adjustment"),
}


def _ctx(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


def _retail(request: Request, visitor: Visitor) -> Principal:
    """A retailer's staff or owner; anyone else is told there is no such page."""
    if visitor.principal is None:
        raise Unauthenticated("sign in to use the point of sale", next=request.url.path)
    if not visitor.principal.is_retail:
        raise NotFound("the point of sale is for an authorised store's staff")
    return visitor.principal


def _is_owner(principal: Principal) -> bool:
    return principal.retailer_id is not None


@dataclass(frozen=True, slots=True)
class Desk:
    """The top of every point-of-sale page: where, and whether the float covers a sale."""

    stores: list[dict[str, str]]
    store: dict[str, str] | None  # the staff member's own store; None for an owner
    offers: list[dict[str, Any]]
    float_ok: bool
    float_balance: Money | None  # the owner's to see only
    sales_today: int
    commission_today: Money


def _desk(session: Session, ctx: Context, principal: Principal) -> Desk:
    now = ctx.clock.now()
    if _is_owner(principal):
        assert principal.retailer_id is not None
        retailer_id = principal.retailer_id
        own = None
    else:
        store = retail.store_of(session, principal)
        retailer_id = store.retailer_id
        own = {"code": store.code, "name": store.name}
    stores = [
        {"code": code, "name": name}
        for code, name in session.execute(
            select(Store.code, Store.name)
            .where(Store.retailer_id == retailer_id)
            .order_by(Store.code)
        )
    ]
    offers: list[dict[str, Any]] = []
    for plan in catalog.current_plans(session):
        _, _, _, priced = renewals.price_of(
            session, plan.code, None, channel=Channel.RETAIL, now=now
        )
        commission = priced.total.percent_of(
            retail.commission_rate(session, retailer_id, plan.code)
        )
        offers.append(
            {
                "plan": plan,
                "total": priced.total,
                "commission": commission,
                "draws": priced.total - commission,
            }
        )
    balance = ledger.guarded_balance(
        session, ledger.retailer_float_account_id(session, retailer_id)
    )
    # "Enough" means the dearest plan on sale can still be sold from it.
    needed = max((o["draws"].amount for o in offers), default=0)
    local = zone(ctx.settings.operator_timezone)
    midnight = datetime.combine(now.astimezone(local).date(), time(), tzinfo=local)
    today = retail.sales(session, principal, since=midnight)
    return Desk(
        stores=stores,
        store=own,
        offers=offers,
        float_ok=balance.amount >= needed,
        float_balance=balance if _is_owner(principal) else None,
        sales_today=len(today),
        commission_today=Money(
            sum(int(s["commission"]["amount"]) for s in today), balance.currency
        ),
    )


def _counter_error(visitor: Visitor, principal: Principal, exc: KuotaError) -> dict[str, str]:
    error = describe(visitor, exc)
    words = _COUNTER_WORDS.get(exc.slug)
    if words is not None:
        error["message"] = visitor.translator.gettext(words)
    if exc.slug == "identity-mismatch":
        error["field"], error["detail"] = "identity.nik", ""  # the message says it all
    elif exc.slug == "insufficient-funds":
        error["field"] = "float"
        if not _is_owner(principal):
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
    ctx = _ctx(request)
    now = ctx.clock.now()

    def load(session: Session) -> tuple[Desk, dict[str, Any] | None, KuotaError | None]:
        desk = _desk(session, ctx, principal)
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
        is_owner=_is_owner(principal),
        msisdn=msisdn,
        card=card,
        plan_names=names,
        chosen=chosen or (desk.offers[0]["plan"].code if desk.offers else ""),
        error=error,
        idempotency_key=secrets.token_urlsafe(18),
    )


@router.get("/pos")
async def counter(request: Request, visitor: VisitorDep, msisdn: str = "") -> Response:
    principal = _retail(request, visitor)
    return await _counter(request, visitor, principal, msisdn=msisdn.strip()[:32])


@router.get(SALE_PATH)
async def counter_again(request: Request, visitor: VisitorDep) -> Response:
    """Where a language link on a refused sale's page leads: back to the counter."""
    _retail(request, visitor)
    return redirect(visitor, "/pos")


@router.post(SALE_PATH)
async def sell_at_counter(request: Request, visitor: VisitorDep, tx: WriteTransaction) -> Response:
    """Sell for cash: the NIK is compared with the card's registration and the price less
    the store's commission is drawn from the retailer's float, as POST /renewals does."""
    principal = _retail(request, visitor)
    form = await posted(request, visitor)
    ctx = _ctx(request)
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
    refusal = KuotaError(str(view.get("detail", "")), field=str(view.get("field", "")))
    refusal.slug = str(view.get("type", "")).rsplit("/", 1)[-1]
    refusal.status = answer.status_code
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
    ctx = _ctx(request)

    def load(session: Session) -> tuple[Desk, dict[str, Any], Any, datetime | None]:
        sale = renewals.get_renewal(session, principal, renewal_id)  # 404 unless sold here
        desk = _desk(session, ctx, principal)
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
        is_owner=_is_owner(principal),
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
    principal = _retail(request, visitor)
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
    principal = _retail(request, visitor)
    form = await posted(request, visitor)
    ctx = _ctx(request)
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
        if form.get("again") == "yes":
            await run_in_threadpool(printing.send, printer, data)
            printed_now = True
        else:
            printed_now = await run_in_threadpool(
                printing.print_once,
                tx.db,
                receipt_no=receipt_no,
                printer=printer,
                data=data,
                now=real_now(),
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
    principal = _retail(request, visitor)
    ctx = _ctx(request)

    def load(session: Session) -> Any:
        sale = renewals.get_renewal(session, principal, renewal_id)  # 404 unless sold here
        document = load_receipt(session, ctx, sale["receipt_no"]) if sale["receipt_no"] else None
        if document is None:
            raise NotFound(f"sale {renewal_id} has no receipt")
        return document

    return await receipt_pdf_response(visitor, await read(request, load))


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
    principal = _retail(request, visitor)
    ctx = _ctx(request)
    start, end = _days(request, since, until)

    def load(session: Session) -> tuple[Desk, list[dict[str, Any]]]:
        rows = retail.sales(session, principal, store_code=store or None, since=start, until=end)
        return _desk(session, ctx, principal), rows

    desk, rows = await read(request, load)
    return render(
        request,
        visitor,
        "pos_sales.html",
        desk=desk,
        is_owner=_is_owner(principal),
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
    principal = _retail(request, visitor)
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
    principal = _retail(request, visitor)
    if not _is_owner(principal):
        raise NotFound("the float statement is for the retailer's owner")
    return principal


@router.get("/retail/statement")
async def statement_page(
    request: Request, visitor: VisitorDep, since: str = "", until: str = ""
) -> Response:
    """Every movement of the float with the running balance, and the commission earned."""
    principal = _owner(request, visitor)
    ctx = _ctx(request)
    start, end = _days(request, since, until)

    def load(session: Session) -> tuple[Desk, dict[str, Any]]:
        statement = retail.float_statement(session, principal, since=start, until=end)
        return _desk(session, ctx, principal), statement

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
