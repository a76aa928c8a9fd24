"""Operator actions on cards: balance adjustments, audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuota.auth.models import User
from kuota.cards import service as cards
from kuota.core import audit
from kuota.core.context import Context
from kuota.core.errors import Forbidden, InsufficientFunds, InvalidInput
from kuota.core.money import Money
from kuota.core.principal import Principal
from kuota.ledger import service as ledger
from kuota.notify import service as outbox
from kuota.notify.templates import render


def adjust_balance(
    session: Session,
    ctx: Context,
    principal: Principal,
    *,
    msisdn: str,
    amount: Money,
    reason: str,
) -> dict[str, Any]:
    """Credit (or with a negative amount, debit) a card's main balance; never below zero."""
    if not principal.is_admin:
        raise Forbidden("only operator admins adjust balances")
    reason = reason.strip()
    if not reason:
        raise InvalidInput("say why the balance is adjusted", field="reason")
    if amount.amount == 0:
        raise InvalidInput("an adjustment of zero changes nothing", field="amount.amount")
    if not amount.is_whole_charge_unit():
        raise InvalidInput(
            "adjust by whole rupiah (multiples of 100 minor units)", field="amount.amount"
        )
    now = ctx.clock.now()
    card = cards.card_for(session, principal, msisdn, lock=True)
    account = ledger.card_account_id(session, card.id)
    current = ledger.card_balance(session, card.id)
    if current.currency != amount.currency:
        raise InvalidInput(
            f"card {card.msisdn} keeps its balance in {current.currency}", field="amount.currency"
        )
    try:
        entry_id = ledger.move_guarded(
            session,
            ctx,
            account_id=account,
            amount=amount,
            house="balance_adjustments",
            kind="adjustment",
            reference=card.msisdn,
            memo=reason[:240],
        )
    except InsufficientFunds as exc:
        raise InsufficientFunds(
            f"the main balance of {card.msisdn} is {current.format()}; a debit of "
            f"{(-amount).format()} would take it below zero",
            balance=current.as_json(),
        ) from exc
    balance = ledger.card_balance(session, card.id)
    audit.record(
        session,
        actor=principal.name,
        action="card.balance_adjusted",
        target=card.msisdn,
        detail={"amount": amount.as_json(), "reason": reason, "entry_id": entry_id},
        now=now,
    )
    locale = "id"
    if card.owner_user_id is not None:
        locale = session.execute(
            select(User.locale).where(User.id == card.owner_user_id)
        ).scalar_one()
    subject, body = render(
        "balance_adjusted",
        locale,
        msisdn=card.msisdn,
        amount=amount.format(),
        balance=balance.format(),
    )
    outbox.enqueue(
        session, channel="sms", recipient=card.msisdn, subject=subject, body=body, now=now
    )
    return {
        "msisdn": card.msisdn,
        "balance": balance.as_json(),
        "entry_id": entry_id,
        "amount": amount.as_json(),
        "reason": reason,
    }
