"""The sandbox gateway's hosted checkout page (the gateway's page, not kuota's), and the
page the payer's browser returns to after any checkout."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kuota.core.errors import InvalidInput, NotFound
from kuota.core.money import Money
from kuota.payments.gateway import GatewayRefused
from kuota.payments.models import Payment, TopUp
from kuota.payments.providers import Gateways
from kuota.payments.sandbox import SandboxGateway
from kuota.renewals.models import Renewal
from kuota.web.visitor import SESSION_COOKIE

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
 body {{ font-family: system-ui, sans-serif; max-width: 28rem;
        margin: 2rem auto; padding: 0 1rem; }}
 .amount {{ font-size: 2rem; font-weight: 700; }}
 button {{ font-size: 1.1rem; padding: .8rem 1.2rem; margin: .3rem 0; width: 100%; }}
 .note {{ color: #555; font-size: .9rem; }} pre {{ white-space: pre-wrap; word-break: break-all; }}
</style></head><body>{body}</body></html>"""


def _sandbox(request: Request) -> SandboxGateway:
    gateways: Gateways = request.app.state.gateways
    gateway = gateways.named("sandbox")
    if not isinstance(gateway, SandboxGateway):
        raise NotFound("the sandbox gateway is not configured")
    return gateway


@router.get("/sandbox/checkout/{order_id}")
async def checkout_page(order_id: str, request: Request) -> Response:
    gateway = _sandbox(request)
    order = await run_in_threadpool(gateway.order, order_id)
    if order is None:
        raise NotFound(f"the sandbox has no order {order_id}")
    amount = escape(Money(order.amount, order.currency).format())
    if order.status != "pending":
        body = f"<h1>Sandbox gateway</h1><p>This order is <b>{escape(order.status)}</b>.</p>"
        return HTMLResponse(_PAGE.format(title="Sandbox checkout", body=body))
    qr = ""
    if order.qr_payload:
        qr = (
            "<p class=note>QRIS payload (what a payer's banking app would scan):</p>"
            f"<pre>{escape(order.qr_payload)}</pre>"
        )
    choices = (
        (
            ("approve", "Approve: card accepted, PIN right"),
            ("decline", "Decline: the bank refuses the card"),
            ("timeout", "Timeout: the terminal never answers"),
            ("remove", "Card removed before the end"),
        )
        if order.method == "kiosk_card"
        else (
            ("approve", "Approve payment"),
            ("decline", "Decline"),
            ("abandon", "Abandon (close without paying)"),
        )
    )
    buttons = "".join(
        f'<form method="post"><input type="hidden" name="action" value="{action}">'
        f'<button type="submit" data-action="{action}">{label}</button></form>'
        for action, label in choices
    )
    body = (
        "<h1>Sandbox gateway</h1>"
        f"<p class=note>Test payment by {escape(order.method)}; no money moves.</p>"
        f"<p class=amount>{amount}</p><p>Order {escape(order.order_id)}</p>{qr}{buttons}"
    )
    return HTMLResponse(_PAGE.format(title="Sandbox checkout", body=body))


@router.post("/sandbox/checkout/{order_id}")
async def payer_action(
    order_id: str, request: Request, action: Annotated[str, Form(max_length=20)]
) -> Response:
    gateway = _sandbox(request)
    try:
        target = await run_in_threadpool(gateway.payer_acts, order_id, action)
    except GatewayRefused as exc:
        raise NotFound(str(exc)) from exc
    return RedirectResponse(target, status_code=303)


@router.get("/payments/{payment_id}/return")
async def payment_return(payment_id: str, request: Request) -> Response:
    """Where the payer lands after a checkout: the payment's state, nothing personal."""

    portal_page = await run_in_threadpool(_portal_page_of, request, payment_id)
    if portal_page is not None and request.cookies.get(SESSION_COOKIE, "").startswith("s."):
        # A signed-in portal visitor goes back to the sale's own page.
        return RedirectResponse(portal_page, status_code=303)

    def read() -> tuple[str, str] | None:
        with request.app.state.db.unit_of_work(write=False) as session:
            row = session.execute(
                select(Payment.status, Payment.amount, Payment.currency).where(
                    Payment.id == payment_id
                )
            ).one_or_none()
            if row is None:
                return None
            return str(row.status), Money(row.amount, row.currency).format()

    found = await run_in_threadpool(read)
    if found is None:
        raise NotFound(f"no payment {payment_id}")
    status, amount = found
    said = {
        "succeeded": "Payment received. Your purchase is confirmed by SMS.",
        "pending": "Waiting for the payment to be confirmed. This page does not need to stay open.",
        "unknown": "Waiting for the payment to be confirmed. This page does not need to stay open.",
        "failed": "The payment was declined. Nothing was charged; you can try again.",
        "expired": "The payment expired. Nothing was charged; you can try again.",
        "refunded": "The payment was refunded.",
    }.get(status, status)
    body = f'<h1>{escape(amount)}</h1><p data-status="{escape(status)}">{escape(said)}</p>'
    return HTMLResponse(_PAGE.format(title="Payment", body=body))


def _portal_page_of(request: Request, payment_id: str) -> str | None:
    with request.app.state.db.unit_of_work(write=False) as session:
        renewal_id = session.execute(
            select(Renewal.id).where(Renewal.payment_id == payment_id)
        ).scalar_one_or_none()
        if renewal_id is not None:
            return f"/renewals/{renewal_id}"
        top_up_id = session.execute(
            select(TopUp.id).where(TopUp.payment_id == payment_id)
        ).scalar_one_or_none()
        return f"/top-ups/{top_up_id}" if top_up_id is not None else None


@router.get("/sandbox/settlements/{day}.csv")
async def settlement_report(day: str, request: Request) -> Response:
    """The sandbox gateway's daily settlement report (UTC day), for `kuota reconcile`."""
    gateway = _sandbox(request)
    try:
        wanted = date.fromisoformat(day)
    except ValueError as exc:
        raise InvalidInput("the day is YYYY-MM-DD", field="day") from exc
    text = await run_in_threadpool(gateway.settlement_report, wanted)
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="sandbox-settlement-{day}.csv"'},
    )
