"""What a kiosk device calls besides selling (POST /renewals with X-Kiosk-Key): its
heartbeat, its sale's QR code, and the receipt printed once on its own printer."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kuota.api.answers import json_response
from kuota.api.deps import (
    Caller,
    ContextDep,
    CurrentPrincipal,
    GatewaysDep,
    SessionDep,
    WriteTransaction,
)
from kuota.core.clock import real_now
from kuota.core.errors import Conflict, Forbidden, GatewayBusy, NotFound
from kuota.core.principal import Principal
from kuota.kiosks import service as kiosks
from kuota.payments import service as payments
from kuota.payments import settlement
from kuota.payments.gateway import (
    GatewayEvent,
    GatewayRefused,
    GatewayStatus,
    GatewayUnavailable,
    PaymentGateway,
)
from kuota.payments.models import Payment
from kuota.receipts.document import load_receipt
from kuota.receipts.escpos import render_escpos
from kuota.receipts.printing import already_printed, print_once
from kuota.receipts.qr import qr_png
from kuota.renewals import service as renewals
from kuota.renewals.models import Renewal

router = APIRouter(prefix="/kiosk", tags=["kiosk"])


def _kiosk(principal: Principal) -> Principal:
    if not principal.is_kiosk:
        raise Forbidden("this is for kiosk devices (send X-Kiosk-Key)")
    return principal


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    printer_status: Literal["ok", "error", "offline"]
    paper_status: Literal["ok", "low", "out"]
    app_version: str = Field(default="", max_length=40)


@router.post("/heartbeat")
async def heartbeat(body: HeartbeatIn, tx: WriteTransaction, caller: Caller) -> Response:
    """Once a minute; three missed beats and the operator sees the kiosk offline."""

    def beat(session: Session) -> dict[str, object]:
        kiosk = _kiosk(caller.principal(session))
        return kiosks.heartbeat(
            session,
            kiosk,
            printer_status=body.printer_status,
            paper_status=body.paper_status,
            app_version=body.app_version,
            now=real_now(),
        )

    return json_response(await tx.run(beat))


@router.get("/payments/{payment_id}/qr.png")
def payment_qr(payment_id: str, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """The QRIS code of an open payment for a sale this kiosk made, to draw on screen."""
    kiosk = _kiosk(principal)
    sold_here = session.execute(
        select(Renewal.id).where(Renewal.payment_id == payment_id, Renewal.kiosk_id == kiosk.id)
    ).first()
    if sold_here is None:
        raise NotFound(f"no payment {payment_id} at this kiosk")
    payment = session.execute(select(Payment).where(Payment.id == payment_id)).scalar_one()
    action = payments.payment_view(payment)["next_action"] or {}
    if action.get("kind") != "qr":
        raise NotFound(f"payment {payment_id} has no QR code to scan")
    return Response(
        qr_png(str(action["qr_payload"]), scale=8),
        media_type="image/png",
        headers={"Cache-Control": "no-store"},
    )


@router.post("/renewals/{renewal_id}/cancel")
async def cancel_sale(
    renewal_id: str, tx: WriteTransaction, ctx: ContextDep, caller: Caller, gateways: GatewaysDep
) -> Response:
    """The customer walked away from an open payment: close the order at the gateway so
    it can no longer be paid. Paid meanwhile, the sale is fulfilled and this says so (the
    kiosk then prints); a sale already decided is answered as it stands."""

    def find(session: Session) -> tuple[Principal, dict[str, Any]]:
        kiosk = _kiosk(caller.principal(session))
        return kiosk, renewals.get_renewal(session, kiosk, renewal_id)

    kiosk, view = await tx.run(find)
    payment = view["payment"]
    if view["status"] != "pending_payment":
        return json_response(view)
    gateway = gateways.named(payment.get("provider", ""))
    if gateway is None:
        raise Conflict(f"the payment of sale {renewal_id} is not at a gateway kuota can reach")
    said = await run_in_threadpool(_close_at_gateway, gateway, str(payment["id"]))

    def settle(session: Session) -> dict[str, Any]:
        settlement.settle(session, ctx, said, actor=f"kiosk:{kiosk.name}:cancel")
        return renewals.get_renewal(session, kiosk, renewal_id)

    return json_response(await tx.run(settle))


def _close_at_gateway(gateway: PaymentGateway, order_id: str) -> GatewayEvent:
    """The order's state after asking the gateway to close it. A refusal is not taken
    as closed unless the gateway, asked for the order, says it never had it: a
    misconfigured key or a proxy's error page must not fail a sale that can still be
    paid."""
    try:
        return gateway.cancel(order_id)
    except GatewayUnavailable as exc:
        raise GatewayBusy(f"could not reach {gateway.name} to close the order: {exc}") from exc
    except GatewayRefused:
        try:
            return gateway.fetch_status(order_id)
        except GatewayRefused:
            # The gateway never had the order (its creation was lost): nothing can pay it.
            return GatewayEvent(order_id=order_id, status=GatewayStatus.FAILED)
        except GatewayUnavailable as exc:
            raise GatewayBusy(f"could not ask {gateway.name} about the order: {exc}") from exc


@router.post("/receipts/{receipt_no}/print")
async def print_receipt(
    receipt_no: str,
    tx: WriteTransaction,
    ctx: ContextDep,
    caller: Caller,
    lang: Literal["id", "en", "zh"] = "id",
) -> Response:
    """Print the sale's receipt on this kiosk's printer, once: a kiosk that restarts and
    asks again is told it was printed already."""

    def prepare(session: Session) -> tuple[str, bytes | None]:
        kiosk = _kiosk(caller.principal(session))
        printer = kiosks.sale_to_print(session, kiosk, receipt_no)
        if already_printed(session, receipt_no) is not None:
            return printer, None
        document = load_receipt(session, ctx, receipt_no)
        assert document is not None
        return printer, render_escpos(document, lang)

    printer, data = await tx.run(prepare)
    printed = False
    if data is not None:
        printed = await run_in_threadpool(
            print_once, tx.db, receipt_no=receipt_no, printer=printer, data=data, now=real_now()
        )
    printed_at = await tx.run(lambda session: already_printed(session, receipt_no))
    return json_response(
        {"receipt_no": receipt_no, "printed_now": printed, "printed_at": printed_at}
    )
