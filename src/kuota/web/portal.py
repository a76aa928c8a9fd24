"""The signed-in subscriber's pages: cards, renewing, topping up, history, receipts.

Purchases go through the very path the JSON API uses (`api.checkout.sell`, exactly once
per Idempotency-Key): the form carries a key minted when the page was drawn, so a
double-clicked "Pay" replays the first answer instead of charging twice.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import quote as urlquote

import orjson
from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from kuota.api.checkout import sell
from kuota.api.deps import Credentials, WriteTransaction
from kuota.auth import accounts
from kuota.cards import history as purchase_history
from kuota.cards import service as cards
from kuota.cards.models import Card
from kuota.cards.rules import normalize_msisdn
from kuota.catalog import service as catalog
from kuota.core import idempotency
from kuota.core.context import Context
from kuota.core.errors import InvalidInput, KuotaError, NotFound, Unauthenticated
from kuota.core.localtime import zone
from kuota.core.money import Money
from kuota.core.principal import Principal
from kuota.payments import service as payments
from kuota.payments import topups
from kuota.payments.models import TopUp
from kuota.payments.providers import Gateways
from kuota.receipts.document import load_receipt
from kuota.receipts.qr import qr_png
from kuota.renewals import service as renewals
from kuota.renewals.models import Channel, Renewal
from kuota.web.forms import client_address, posted
from kuota.web.pages import describe, read, receipt_pdf_response, redirect, render
from kuota.web.visitor import Visitor, VisitorDep

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

TOP_UP_AMOUNTS = (25_000, 50_000, 100_000, 200_000)  # whole rupiah offered as buttons
REMINDER_OFFSETS = (timedelta(days=3), timedelta(days=1), timedelta(0))


def _subscriber(request: Request, visitor: Visitor) -> Principal:
    if visitor.principal is None:
        raise Unauthenticated("sign in to see your cards", next=request.url.path)
    return visitor.principal


def _ctx(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


def _credentials(visitor: Visitor) -> Credentials:
    return Credentials(web_session=visitor.session_id)


def _next_reminder(expires_at: datetime, now: datetime) -> datetime | None:
    for offset in REMINDER_OFFSETS:
        if expires_at - offset > now:
            return expires_at - offset
    return None


@router.get("/cards")
async def my_cards(request: Request, visitor: VisitorDep) -> Response:
    principal = _subscriber(request, visitor)
    now = _ctx(request).clock.now()

    def load(session: Session) -> list[dict[str, Any]]:
        return [
            cards.card_view(session, principal, card.msisdn, now)
            for card in cards.cards_of(session, principal.id)
        ]

    return render(request, visitor, "cards.html", cards=await read(request, load))


@router.get("/cards/attach")
async def attach_form(request: Request, visitor: VisitorDep) -> Response:
    _subscriber(request, visitor)
    return render(request, visitor, "attach.html", error=None, challenge=None, msisdn="")


@router.post("/cards/attach")
async def attach(request: Request, visitor: VisitorDep, tx: WriteTransaction) -> Response:
    """Step one sends a code by SMS to the number; step two proves it was received."""
    principal = _subscriber(request, visitor)
    form = await posted(request, visitor)
    ctx = _ctx(request)
    address = client_address(request)
    msisdn = form.get("msisdn", "")
    challenge = form.get("challenge", "")
    if not challenge:
        try:
            sent = await tx.run(
                lambda session: accounts.request_card_code(
                    session,
                    ctx,
                    user_id=principal.id,
                    msisdn=msisdn,
                    locale=visitor.locale,
                    address=address,
                )
            )
        except KuotaError as exc:
            return render(
                request,
                visitor,
                "attach.html",
                status=exc.status,
                error=describe(visitor, exc),
                challenge=None,
                msisdn=msisdn,
            )
        return render(request, visitor, "attach.html", error=None, challenge=sent, msisdn=msisdn)
    attached, error = await tx.run(
        lambda session: accounts.attach_card(
            session,
            ctx,
            user_id=principal.id,
            code_id=challenge,
            code=form.get("code", ""),
            address=address,
        )
    )
    if error is not None or attached is None:
        assert error is not None
        return render(
            request,
            visitor,
            "attach.html",
            status=error.status,
            error=describe(visitor, error),
            challenge=None if error.status in (409, 429) else challenge,
            msisdn=msisdn,
        )
    return redirect(visitor, f"/cards/{urlquote(attached)}")


@router.get("/cards/{msisdn}")
async def card_page(request: Request, visitor: VisitorDep, msisdn: str) -> Response:
    principal = _subscriber(request, visitor)
    ctx = _ctx(request)
    now = ctx.clock.now()

    def load(session: Session) -> dict[str, Any]:
        view = cards.card_view(session, principal, msisdn, now)
        if "balance" not in view:
            raise NotFound(f"no card {msisdn} that you may see")
        days = cards.usage_by_day(
            session, principal, msisdn, days=14, now=now, zone_name=ctx.settings.operator_timezone
        )
        names = {p.code: p.name for p in catalog.current_plans(session)}
        return {"card": view, "usage": days, "plan_names": names}

    loaded = await read(request, load)
    packages = []
    for package in loaded["card"]["packages"]:
        total = max(int(package["quota_total_bytes"]), 1)
        left = max(int(package["quota_remaining_bytes"]), 0)
        expires_at = package["expires_at"]
        packages.append(
            {
                **package,
                "name": loaded["plan_names"].get(package["plan_code"], package["plan_code"]),
                "percent_left": min(100, round(100 * left / total)),
                "days_left": max(0, (expires_at - now).days),
                "next_reminder": _next_reminder(expires_at, now),
                "low": left * 10 < total,
            }
        )
    return render(
        request,
        visitor,
        "card.html",
        card=loaded["card"],
        packages=packages,
        usage=loaded["usage"],
    )


@router.post("/cards/{msisdn}/auto-renew")
async def auto_renew(
    request: Request, visitor: VisitorDep, tx: WriteTransaction, msisdn: str
) -> Response:
    principal = _subscriber(request, visitor)
    form = await posted(request, visitor)
    on = form.get("auto_renew") == "on"
    await tx.run(lambda session: cards.set_auto_renew(session, principal, msisdn, on))
    return redirect(visitor, f"/cards/{urlquote(normalize_msisdn(msisdn))}")


def _methods(gateways: Gateways) -> list[str]:
    return ["balance"] + [m for m in ("card", "ewallet", "qris") if m in gateways.methods]


@router.get("/cards/{msisdn}/renew")
async def renew_form(
    request: Request, visitor: VisitorDep, msisdn: str, plan: str = "", promo: str = ""
) -> Response:
    principal = _subscriber(request, visitor)
    ctx = _ctx(request)
    now = ctx.clock.now()
    promo_code = promo.strip().upper()[:40]

    def load(session: Session) -> dict[str, Any]:
        view = cards.card_view(session, principal, msisdn, now)
        if "balance" not in view:
            raise NotFound(f"no card {msisdn} that you may see")
        offers = []
        refusals: dict[str, KuotaError] = {}
        for on_sale in catalog.current_plans(session):
            try:
                _, _, terms, priced = renewals.price_of(
                    session, on_sale.code, promo_code or None, channel=Channel.ONLINE, now=now
                )
            except KuotaError as exc:
                if exc.extra.get("field") != "promo_code":
                    raise
                refusals[on_sale.code] = exc
                _, _, terms, priced = renewals.price_of(
                    session, on_sale.code, None, channel=Channel.ONLINE, now=now
                )
            offers.append(
                {
                    "plan": on_sale,
                    "quote": priced,
                    "promo": terms,
                    "promo_refused": on_sale.code in refusals,
                }
            )
        # The code is wrong for this purchase when the chosen plan (or every plan) refuses it.
        chosen_refusal = refusals.get(plan) if plan else None
        if chosen_refusal is None and offers and len(refusals) == len(offers):
            chosen_refusal = next(iter(refusals.values()))
        promo_error = chosen_refusal
        return {"card": view, "offers": offers, "promo_error": promo_error}

    loaded = await read(request, load)
    error = describe(visitor, loaded["promo_error"]) if loaded["promo_error"] else None
    chosen = plan or (loaded["offers"][0]["plan"].code if loaded["offers"] else "")
    return render(
        request,
        visitor,
        "renew.html",
        card=loaded["card"],
        offers=loaded["offers"],
        chosen=chosen,
        promo=promo_code,
        error=error,
        methods=_methods(request.app.state.gateways),
        idempotency_key=secrets.token_urlsafe(18),
    )


async def _sell(
    request: Request,
    visitor: Visitor,
    tx: WriteTransaction,
    *,
    path: str,
    fields: dict[str, Any],
    operation: Callable[[Session, Principal], Any],
    view_for_payment: Callable[[Session, str], dict[str, Any]],
    describe_sale: Callable[[dict[str, Any]], str],
) -> tuple[int, dict[str, Any]]:
    ctx = _ctx(request)
    answer = await sell(
        tx,
        ctx,
        request.app.state.gateways,
        _credentials(visitor),
        idempotency_key=fields.pop("idempotency_key", "") or None,
        fingerprint=idempotency.fingerprint("POST", path, fields),
        operation=operation,
        description=describe_sale,
        view_for_payment=view_for_payment,
        options=None,
    )
    return answer.status_code, orjson.loads(answer.body)


def _after_sale(visitor: Visitor, page: str, view: dict[str, Any]) -> Response:
    """Paid: the confirmation. Card or e-wallet: off to the gateway's checkout.
    QRIS: our page with the QR, which follows the payment by itself."""
    action = (view.get("payment") or {}).get("next_action") or {}
    if action.get("kind") == "redirect" and action.get("url"):
        return visitor.finish(RedirectResponse(str(action["url"]), status_code=303))
    return redirect(visitor, page)


@router.post("/cards/{msisdn}/renew")
async def renew(
    request: Request, visitor: VisitorDep, tx: WriteTransaction, msisdn: str
) -> Response:
    _subscriber(request, visitor)
    form = await posted(request, visitor)
    ctx = _ctx(request)
    gateways: Gateways = request.app.state.gateways
    sale = renewals.RenewalRequest(
        msisdn=msisdn,
        plan_code=form.get("plan_code", ""),
        payment_method=form.get("payment_method", ""),
        promo_code=form.get("promo_code") or None,
    )
    status, view = await _sell(
        request,
        visitor,
        tx,
        path=f"/cards/{msisdn}/renew",
        fields={
            "msisdn": sale.msisdn,
            "plan_code": sale.plan_code,
            "payment_method": sale.payment_method,
            "promo_code": sale.promo_code,
            "idempotency_key": form.get("idempotency_key", ""),
        },
        operation=lambda session, principal: renewals.renew(
            session,
            ctx,
            principal,
            sale,
            gateway_methods=gateways.methods,
            gateway_name=gateways.default or "none",
            payment_ttl=timedelta(seconds=ctx.settings.payment_ttl_seconds),
        ),
        view_for_payment=renewals.view_for_payment,
        describe_sale=lambda v: f"{v['plan_code']} {v['msisdn']}",
    )
    if status != 201:
        return _refused(request, visitor, status, view)
    return _after_sale(visitor, f"/renewals/{view['id']}", view)


def _refused(request: Request, visitor: Visitor, status: int, problem: dict[str, Any]) -> Response:
    error = KuotaError.from_problem(status, problem)
    return render(request, visitor, "error.html", status=status, error=describe(visitor, error))


@router.get("/cards/{msisdn}/top-up")
async def top_up_form(request: Request, visitor: VisitorDep, msisdn: str) -> Response:
    principal = _subscriber(request, visitor)
    now = _ctx(request).clock.now()
    view = await read(request, lambda s: cards.card_view(s, principal, msisdn, now))
    if "balance" not in view:
        raise NotFound(f"no card {msisdn} that you may see")
    methods = [m for m in _methods(request.app.state.gateways) if m != "balance"]
    return render(
        request,
        visitor,
        "top_up.html",
        card=view,
        amounts=TOP_UP_AMOUNTS,
        methods=methods,
        idempotency_key=secrets.token_urlsafe(18),
    )


@router.post("/cards/{msisdn}/top-up")
async def top_up(
    request: Request, visitor: VisitorDep, tx: WriteTransaction, msisdn: str
) -> Response:
    _subscriber(request, visitor)
    form = await posted(request, visitor)
    ctx = _ctx(request)
    gateways: Gateways = request.app.state.gateways
    raw = form.get("amount", "").replace(".", "").replace(",", "")
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidInput("the amount is whole rupiah, e.g. 50000", field="amount")
    amount = Money(int(raw) * 100, ctx.settings.currency)
    method = form.get("payment_method", "")
    status, view = await _sell(
        request,
        visitor,
        tx,
        path=f"/cards/{msisdn}/top-up",
        fields={
            "msisdn": msisdn,
            "amount": amount.amount,
            "payment_method": method,
            "idempotency_key": form.get("idempotency_key", ""),
        },
        operation=lambda session, principal: topups.start_top_up(
            session,
            ctx,
            principal,
            msisdn=msisdn,
            amount=amount,
            payment_method=method,
            gateway_name=gateways.default,
            gateway_methods=gateways.methods,
        ),
        view_for_payment=topups.view_for_payment,
        describe_sale=lambda v: f"top-up {v['msisdn']}",
    )
    if status != 201:
        return _refused(request, visitor, status, view)
    return _after_sale(visitor, f"/top-ups/{view['id']}", view)


def _owned_renewal(session: Session, principal: Principal, renewal_id: str) -> dict[str, Any]:
    return renewals.get_renewal(session, principal, renewal_id)


def _owned_top_up(session: Session, principal: Principal, top_up_id: str) -> dict[str, Any]:
    row = session.execute(
        select(TopUp.payment_id, Card.owner_user_id)
        .join(Card, Card.id == TopUp.card_id)
        .where(TopUp.id == top_up_id)
    ).one_or_none()
    if row is None or row.owner_user_id != principal.id:
        raise NotFound(f"no top-up {top_up_id} that you may see")
    return topups.view_for_payment(session, row.payment_id)


@router.get("/renewals/{renewal_id}")
async def renewal_page(request: Request, visitor: VisitorDep, renewal_id: str) -> Response:
    principal = _subscriber(request, visitor)
    ctx = _ctx(request)
    view = await read(request, lambda s: _owned_renewal(s, principal, renewal_id))
    receipt = None
    if view["receipt_no"]:
        receipt = await read(request, lambda s: load_receipt(s, ctx, view["receipt_no"]))
    return render(
        request,
        visitor,
        "renewal.html",
        sale=view,
        receipt=receipt,
        kind="renewal",
        status_url=f"/renewals/{renewal_id}/status",
    )


@router.get("/top-ups/{top_up_id}")
async def top_up_page(request: Request, visitor: VisitorDep, top_up_id: str) -> Response:
    principal = _subscriber(request, visitor)
    view = await read(request, lambda s: _owned_top_up(s, principal, top_up_id))
    return render(
        request,
        visitor,
        "renewal.html",
        sale=view,
        receipt=None,
        kind="top_up",
        status_url=f"/top-ups/{top_up_id}/status",
    )


@router.get("/renewals/{renewal_id}/status")
async def renewal_status(request: Request, visitor: VisitorDep, renewal_id: str) -> Response:
    principal = _subscriber(request, visitor)
    view = await read(request, lambda s: _owned_renewal(s, principal, renewal_id))
    return JSONResponse({"status": view["status"], "payment": view["payment"]["status"]})


@router.get("/top-ups/{top_up_id}/status")
async def top_up_status(request: Request, visitor: VisitorDep, top_up_id: str) -> Response:
    principal = _subscriber(request, visitor)
    view = await read(request, lambda s: _owned_top_up(s, principal, top_up_id))
    return JSONResponse({"status": view["status"], "payment": view["payment"]["status"]})


@router.get("/payments/{payment_id}/qr.png")
async def payment_qr(request: Request, visitor: VisitorDep, payment_id: str) -> Response:
    """The QRIS code of one of the visitor's own open payments, as a PNG."""
    principal = _subscriber(request, visitor)
    view = await read(request, lambda s: payments.view_for(s, principal, payment_id))
    action = view.get("next_action") or {}
    if action.get("kind") != "qr":
        raise NotFound(f"payment {payment_id} has no QR code to scan")
    png = await run_in_threadpool(qr_png, str(action["qr_payload"]))
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def history_filter(
    request: Request,
    card: str = "",
    kind: str = "",
    status: str = "",
    since: str = "",
    until: str = "",
) -> purchase_history.HistoryFilter:
    """The history page's filters, from its query string; dates are days in the operator's
    zone, `until` included."""
    local = zone(_ctx(request).settings.operator_timezone)

    def day(value: str, field: str) -> datetime | None:
        if not value:
            return None
        try:
            return datetime.fromisoformat(value).replace(tzinfo=local)
        except ValueError as exc:
            raise InvalidInput("a date is written YYYY-MM-DD", field=field) from exc

    until_day = day(until, "until")
    return purchase_history.HistoryFilter(
        msisdn=normalize_msisdn(card) if card else None,
        kind=kind or None,
        status=status or None,
        since=day(since, "since"),
        until=until_day + timedelta(days=1) if until_day else None,
    )


HistoryFilterDep = Annotated[purchase_history.HistoryFilter, Depends(history_filter)]


@router.get("/history")
async def history_page(request: Request, visitor: VisitorDep, wanted: HistoryFilterDep) -> Response:
    principal = _subscriber(request, visitor)

    def load(session: Session) -> tuple[list[dict[str, Any]], list[str]]:
        rows = purchase_history.entries(session, principal.id, wanted)
        return rows, [c.msisdn for c in cards.cards_of(session, principal.id)]

    rows, numbers = await read(request, load)
    params = request.query_params
    filters = {name: params.get(name, "") for name in ("card", "kind", "status", "since", "until")}
    return render(
        request,
        visitor,
        "history.html",
        rows=rows,
        numbers=numbers,
        filters=filters,
        kinds=purchase_history.KINDS,
        statuses=purchase_history.STATUSES,
        query=request.url.query,
    )


@router.get("/history.csv")
async def history_csv(request: Request, visitor: VisitorDep, wanted: HistoryFilterDep) -> Response:
    principal = _subscriber(request, visitor)
    rows = await read(request, lambda s: purchase_history.entries(s, principal.id, wanted))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "created_at",
            "kind",
            "id",
            "msisdn",
            "plan",
            "payment_method",
            "status",
            "payment_status",
            "total_idr",
            "receipt_no",
        ]
    )
    for row in rows:
        writer.writerow(
            [
                row["created_at"].isoformat(),
                row["kind"],
                row["id"],
                row["msisdn"],
                row["what"],
                row["method"],
                row["status"],
                row["payment_status"],
                int(row["total"]["amount"]) // 100,
                row["receipt_no"] or "",
            ]
        )
    return visitor.finish(
        Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="kuota-history.csv"'},
        )
    )


@router.get("/receipts/{receipt_no}.pdf")
async def receipt_pdf(request: Request, visitor: VisitorDep, receipt_no: str) -> Response:
    principal = _subscriber(request, visitor)
    ctx = _ctx(request)

    def load(session: Session) -> Any:
        owner = session.execute(
            select(Card.owner_user_id)
            .join(Renewal, Renewal.card_id == Card.id)
            .where(Renewal.receipt_no == receipt_no)
        ).scalar_one_or_none()
        document = load_receipt(session, ctx, receipt_no) if owner == principal.id else None
        if document is None:
            raise NotFound(f"no receipt {receipt_no} that you may see")
        return document

    return await receipt_pdf_response(visitor, await read(request, load))


@router.get("/renew")
async def renew_link(request: Request, visitor: VisitorDep, msisdn: str = "") -> Response:
    """Where reminders and the network's out-of-quota redirect send people."""
    return _card_link(request, visitor, msisdn, "renew")


@router.get("/top-up")
async def top_up_link(request: Request, visitor: VisitorDep, msisdn: str = "") -> Response:
    return _card_link(request, visitor, msisdn, "top-up")


def _card_link(request: Request, visitor: Visitor, msisdn: str, page: str) -> Response:
    try:
        number = normalize_msisdn(msisdn)
    except InvalidInput:
        return redirect(visitor, "/cards" if visitor.signed_in else "/plans")
    target = f"/cards/{urlquote(number)}/{page}"
    if not visitor.signed_in:
        return redirect(visitor, f"/login?next={urlquote(target)}")
    return redirect(visitor, target)
