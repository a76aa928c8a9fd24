"""Payments: gateway notifications, a payment's state, and top-ups of the main balance."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kuota.api.answers import json_response, stored_response
from kuota.api.checkout import sell
from kuota.api.deps import (
    Caller,
    ContextDep,
    CurrentPrincipal,
    GatewaysDep,
    IdempotencyKey,
    SessionDep,
    WriteTransaction,
)
from kuota.api.money import MoneyIn
from kuota.core import idempotency
from kuota.core.clock import real_now
from kuota.core.errors import GatewayBusy, NotFound, WebhookRejected
from kuota.payments import service as payments
from kuota.payments import settlement, topups
from kuota.payments.gateway import (
    GatewayEvent,
    GatewayRefused,
    GatewayStatus,
    GatewayUnavailable,
    NotificationRejected,
)
from kuota.renewals.schemas import GatewayOptionsIn

router = APIRouter(tags=["payments"])


@router.post("/payments/webhooks/{provider}", include_in_schema=True)
async def gateway_notification(
    provider: Annotated[str, Path(max_length=20)],
    request: Request,
    tx: WriteTransaction,
    ctx: ContextDep,
    gateways: GatewaysDep,
) -> Response:
    """A payment gateway's notification. Acted on only when authentic and fresh, once per
    notification id, and only as far as the gateway's own status query confirms."""
    gateway = gateways.named(provider)
    if gateway is None:
        raise NotFound(f"no payment gateway {provider!r} is configured")
    body = await request.body()
    try:
        event = gateway.verify_notification(request.headers, body, real_now())
    except NotificationRejected as exc:
        raise WebhookRejected(str(exc)) from exc
    event_id = event.event_id or f"{event.order_id}:{event.status}:{event.provider_reference}"
    if await tx.run(lambda session: payments.webhook_seen(session, provider, event_id)):
        return json_response({"result": "duplicate", "event_id": event_id})
    try:
        said = await run_in_threadpool(gateway.fetch_status, event.order_id)
    except GatewayUnavailable as exc:
        # No confirmation, no action: an error makes the gateway deliver it again later.
        raise GatewayBusy(f"could not confirm with {provider}: {exc}") from exc
    except GatewayRefused:
        said = GatewayEvent(order_id=event.order_id, status=GatewayStatus.FAILED)

    def act(session: Session) -> dict[str, Any]:
        if not payments.claim_webhook(session, provider, event_id, real_now()):
            return {"result": "duplicate", "event_id": event_id}
        outcome = settlement.settle(session, ctx, said, actor=f"gateway:{provider}:webhook")
        return {"result": outcome.action, "payment_status": outcome.status, "event_id": event_id}

    return json_response(await tx.run(act))


@router.get("/payments/{payment_id}")
def get_payment(payment_id: str, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """A payment's state and, while it is open, what the payer must do next."""
    return json_response(payments.view_for(session, principal, payment_id))


class TopUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: MoneyIn
    payment_method: str = Field(min_length=1, max_length=20, examples=["qris"])
    gateway_options: GatewayOptionsIn | None = None


@router.post("/cards/{msisdn}/top-ups", status_code=201)
async def create_top_up(
    msisdn: str,
    body: TopUpIn,
    tx: WriteTransaction,
    ctx: ContextDep,
    caller: Caller,
    gateways: GatewaysDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Add money to the card's main balance, paid by card, e-wallet or QRIS."""
    amount = body.amount.to_money()
    answer = await sell(
        tx,
        ctx,
        gateways,
        caller,
        idempotency_key=idempotency_key,
        fingerprint=idempotency.fingerprint("POST", f"/cards/{msisdn}/top-ups", body.model_dump()),
        operation=lambda session, principal: topups.start_top_up(
            session,
            ctx,
            principal,
            msisdn=msisdn,
            amount=amount,
            payment_method=body.payment_method,
            gateway_name=gateways.default,
            gateway_methods=gateways.methods,
        ),
        description=lambda view: f"top-up {view['msisdn']}",
        view_for_payment=topups.view_for_payment,
        options=body.gateway_options,
    )
    return stored_response(answer)
