"""The three steps of paying through a gateway, around the one network call.

1. The sale and its `pending` payment are committed (the renewal or top-up service).
2. `call_gateway` asks the gateway to open the order: no transaction is open.
3. `record_outcome` writes what came back, in a new transaction: the payer's next
   step, or `unknown` when no answer came (the reconciling job asks later), or
   `failed` when the gateway said no. A webhook that overtook the answer has already
   settled the payment; nothing here undoes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from kuota.core.context import Context
from kuota.payments import service as payments
from kuota.payments import settlement
from kuota.payments.gateway import (
    CheckoutRequest,
    GatewayEvent,
    GatewayRefused,
    GatewayStatus,
    GatewayUnavailable,
    NextAction,
    PaymentGateway,
)
from kuota.payments.models import PaymentStatus

FIRST_CHECK_AFTER_TIMEOUT = timedelta(seconds=15)


@dataclass(frozen=True, slots=True)
class CheckoutOutcome:
    action: NextAction | None = None
    unavailable: str | None = None
    refused: str | None = None


def call_gateway(gateway: PaymentGateway, request: CheckoutRequest) -> CheckoutOutcome:
    try:
        return CheckoutOutcome(action=gateway.start_checkout(request))
    except GatewayUnavailable as exc:
        return CheckoutOutcome(unavailable=str(exc) or type(exc).__name__)
    except GatewayRefused as exc:
        return CheckoutOutcome(refused=str(exc) or type(exc).__name__)


def record_outcome(
    session: Session, ctx: Context, payment_id: str, outcome: CheckoutOutcome
) -> None:
    now = ctx.clock.now()
    payment = payments.locked(session, payment_id)
    if payment is None:
        return
    actor = f"gateway:{payment.provider}:checkout"
    if outcome.action is not None:
        action = outcome.action
        payments.record_next_action(
            session,
            payment,
            checkout_url=action.url,
            qr_payload=action.qr_payload,
            provider_reference=action.provider_reference,
            now=now,
        )
        if action.status is not GatewayStatus.PENDING:  # decided at once (a card declined)
            settlement.settle(
                session,
                ctx,
                GatewayEvent(
                    order_id=payment_id,
                    status=action.status,
                    provider_reference=action.provider_reference,
                ),
                actor=actor,
            )
        return
    if outcome.unavailable is not None:
        payments.move(
            session,
            payment,
            PaymentStatus.UNKNOWN,
            actor=actor,
            detail={"error": outcome.unavailable},
            now=now,
            next_check_at=now + FIRST_CHECK_AFTER_TIMEOUT,
        )
        return
    settlement.settle(
        session,
        ctx,
        GatewayEvent(
            order_id=payment_id, status=GatewayStatus.FAILED, raw={"refused": outcome.refused}
        ),
        actor=actor,
    )
