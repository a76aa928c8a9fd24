"""Settling payments on the gateway's word: fulfil what was paid, fail what was not,
refund what was paid but cannot be delivered. Exactly once, whatever arrives twice.

Called with the gateway's answer already in hand (a verified notification confirmed by
a status query, or the reconciling job's own query); the gateway is never called here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuota.auth.models import User
from kuota.cards.models import Card
from kuota.core.context import Context
from kuota.core.errors import Conflict
from kuota.core.money import Money
from kuota.ledger import service as ledger
from kuota.ledger.rules import Posting
from kuota.notify import service as outbox
from kuota.notify.templates import render
from kuota.payments import service as payments
from kuota.payments import topups
from kuota.payments.gateway import GatewayEvent, GatewayStatus, RefundResult
from kuota.payments.models import Payment, PaymentPurpose, PaymentStatus
from kuota.payments.rules import decide
from kuota.renewals import service as renewals

log = logging.getLogger("kuota.payments")


@dataclass(frozen=True, slots=True)
class Outcome:
    payment_id: str
    status: str  # the payment's status afterwards
    action: str  # fulfilled | refund_due | failed | expired | refunded | unchanged | unknown


def settle(session: Session, ctx: Context, said: GatewayEvent, *, actor: str) -> Outcome:
    """Apply the gateway's word on one order to kuota's payment and what it paid for."""
    now = ctx.clock.now()
    payment = payments.locked(session, said.order_id)
    if payment is None:
        log.warning("gateway %s spoke of an unknown order %s", actor, said.order_id)
        return Outcome(said.order_id, "none", "unknown")
    detail: dict[str, Any] = {
        "gateway_status": said.status,
        "provider_reference": said.provider_reference,
        "event_id": said.event_id,
        "raw": dict(said.raw),
    }
    decision = decide(PaymentStatus(payment.status), said.status)
    if decision.to is None:
        payments.note(
            session, payment, actor=actor, detail={**detail, "ignored": decision.reason}, now=now
        )
        return Outcome(payment.id, payment.status, "unchanged")
    expected = Money(payment.amount, payment.currency)
    if (
        said.amount is not None
        and said.amount != expected
        and decision.to is PaymentStatus.SUCCEEDED
    ):
        # Never deliver for a different sum than was asked: take it in, give it back.
        detail["amount_mismatch"] = {"expected": expected.as_json(), "said": said.amount.as_json()}
    payments.move(
        session,
        payment,
        decision.to,
        actor=actor,
        detail=detail,
        now=now,
        provider_reference=payment.provider_reference or said.provider_reference,
        # Still open (an unknown payment the gateway turns out to know): asked again at
        # its expiry; anything else is final, never asked about again.
        next_check_at=payment.expires_at if decision.to is PaymentStatus.PENDING else None,
    )
    if decision.to is PaymentStatus.SUCCEEDED:
        return _paid(session, ctx, payment, mismatch="amount_mismatch" in detail)
    if decision.to in (PaymentStatus.FAILED, PaymentStatus.EXPIRED):
        if payment.purpose == PaymentPurpose.RENEWAL:
            renewals.fail_unpaid(session, payment, f"payment {decision.to}")
        else:
            topups.fail_unpaid(session, payment)
        return Outcome(payment.id, payment.status, str(decision.to))
    if decision.to is PaymentStatus.REFUNDED:
        if payment.refund_due:  # ours: the gateway's word overtook the refund call's answer
            _refund_completed(session, ctx, payment, said.provider_reference or "")
        else:  # a refund kuota did not ask for (made in the gateway's dashboard)
            _book_refund(session, ctx, payment, payable=False)
        return Outcome(payment.id, payment.status, "refunded")
    return Outcome(payment.id, payment.status, "unchanged")


def _paid(session: Session, ctx: Context, payment: Payment, *, mismatch: bool) -> Outcome:
    reason = "the amount paid differs from the amount asked"
    if not mismatch:
        try:
            with session.begin_nested():
                if payment.purpose == PaymentPurpose.RENEWAL:
                    renewals.fulfil_paid(session, ctx, payment)
                else:
                    topups.credit_paid(session, ctx, payment)
            return Outcome(payment.id, payment.status, "fulfilled")
        except Conflict as exc:  # CannotFulfil, a terminated card, already credited
            reason = exc.detail
    if payment.purpose == PaymentPurpose.RENEWAL:
        renewals.fail_unpaid(session, payment, f"paid but not deliverable ({reason}); refunded")
    else:
        topups.fail_unpaid(session, payment)
    # Paid, but it cannot be delivered: hold the money as owed and refund it.
    currency = payment.currency
    ledger.post(
        session,
        kind="payment_held",
        reference=payment.id,
        memo=f"refund due: {reason}"[:240],
        postings=[
            Posting(
                ledger.house_account_id(session, ctx, f"clearing:{payment.provider}", currency),
                payment.amount,
                currency,
            ),
            Posting(
                ledger.house_account_id(session, ctx, "refunds_payable", currency),
                -payment.amount,
                currency,
            ),
        ],
        guarded=[],
        now=ctx.clock.now(),
    )
    payments.mark_refund_due(session, payment, reason=reason, now=ctx.clock.now())
    return Outcome(payment.id, payment.status, "refund_due")


def refunded(session: Session, ctx: Context, payment_id: str, result: RefundResult) -> Outcome:
    """The gateway has given a held payment's money back: book it and tell the payer."""
    now = ctx.clock.now()
    payment = payments.locked(session, payment_id)
    if payment is None or not payment.refund_due:
        return Outcome(payment_id, payment.status if payment else "none", "unchanged")
    payments.move(
        session,
        payment,
        PaymentStatus.REFUNDED,
        actor=f"gateway:{payment.provider}:refund",
        detail={"refund_reference": result.refund_reference},
        now=now,
    )
    _refund_completed(session, ctx, payment, result.refund_reference)
    return Outcome(payment.id, payment.status, "refunded")


def _refund_completed(session: Session, ctx: Context, payment: Payment, reference: str) -> None:
    """A refund kuota asked for is done: settle what was owed and tell the payer."""
    now = ctx.clock.now()
    payments.refund_settled(session, payment, reference=reference, now=now)
    _book_refund(session, ctx, payment, payable=True)
    msisdn = session.execute(select(Card.msisdn).where(Card.id == payment.card_id)).scalar_one()
    amount = Money(payment.amount, payment.currency).format()
    subject, body = render(
        "payment_refunded",
        _locale_of_card_owner(session, payment.card_id),
        amount=amount,
        payment_id=payment.id,
        reference=reference,
    )
    outbox.enqueue(session, channel="sms", recipient=msisdn, subject=subject, body=body, now=now)


def _locale_of_card_owner(session: Session, card_id: int) -> str:
    locale = session.execute(
        select(User.locale).join(Card, Card.owner_user_id == User.id).where(Card.id == card_id)
    ).scalar_one_or_none()
    return locale or "id"


def _book_refund(session: Session, ctx: Context, payment: Payment, *, payable: bool) -> None:
    currency = payment.currency
    other = "refunds_payable" if payable else "revenue"
    ledger.post(
        session,
        kind="refund",
        reference=payment.id,
        memo="refund to the payer" if payable else "refund made at the gateway",
        postings=[
            Posting(
                ledger.house_account_id(session, ctx, other, currency), payment.amount, currency
            ),
            Posting(
                ledger.house_account_id(session, ctx, f"clearing:{payment.provider}", currency),
                -payment.amount,
                currency,
            ),
        ],
        guarded=[],
        now=ctx.clock.now(),
    )


def gateway_says_unknown_order(order_id: str) -> GatewayEvent:
    """A status query the gateway answered with "no such order": the checkout never
    reached it, so nobody can pay it."""
    return GatewayEvent(order_id=order_id, status=GatewayStatus.FAILED, raw={"unknown_order": True})
