"""Selling at an authorised store: the identity check, the prepaid float, the commission,
and what staff and owners may see of their sales.

A store sale is paid in cash at the counter; kuota draws the price less the retailer's
commission from the retailer's prepaid float, in the same journal entry that books the
revenue, so a float never goes negative and 30 racing sales against a float that covers
10 sell exactly 10.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.orm import Session

from kuota.cards.models import Card
from kuota.cards.rules import hash_nik, mask_msisdn
from kuota.catalog.models import PlanVersion
from kuota.catalog.rules import Quote
from kuota.core.context import Context
from kuota.core.errors import (
    Conflict,
    Forbidden,
    IdentityMismatch,
    InsufficientFunds,
    InvalidInput,
    NotFound,
)
from kuota.core.money import Money
from kuota.core.principal import Principal
from kuota.ledger import service as ledger
from kuota.ledger.models import Account, JournalEntry, JournalLine
from kuota.ledger.rules import Posting
from kuota.renewals.models import Renewal, RenewalStatus
from kuota.retail.models import FraudFlag, IdentityCheck, Retailer, RetailerCommission, Store

MISMATCH_WINDOW = timedelta(hours=1)
MISMATCHES_TO_FLAG = 3


def store_of(session: Session, principal: Principal) -> Store:
    """The store a member of retail staff sells at."""
    if not principal.is_retail or principal.store_id is None:
        raise Forbidden("selling at a store needs a retail staff account attached to a store")
    store = session.get(Store, principal.store_id)
    if store is None or not store.is_authorised:
        raise Forbidden("this store is no longer authorised to sell")
    return store


def check_identity(session: Session, ctx: Context, card: Card, nik: str | None) -> None:
    """Compare the NIK typed in with the card's registration, by keyed hash."""
    if not nik or not nik.strip():
        raise InvalidInput("type the NIK from the customer's identity card", field="identity.nik")
    if card.nik_hash is None:
        raise Conflict(
            f"card {card.msisdn} has no identity registration; the holder must register it "
            "with the operator before buying at a store"
        )
    typed = hash_nik(nik, ctx.secret_key)  # raises InvalidInput for a malformed NIK
    if typed != card.nik_hash:
        raise IdentityMismatch(
            "the NIK does not match the card's registration; check the identity card and "
            "sell only to its registered holder"
        )


def record_identity_check(
    session: Session, principal: Principal, msisdn: str, *, matched: bool, now: datetime
) -> bool:
    """Count a check; answers True when it raised a fraud flag for the store."""
    if principal.store_id is None:
        return False
    card_id = session.execute(select(Card.id).where(Card.msisdn == msisdn)).scalar_one_or_none()
    if card_id is None:
        return False
    session.execute(
        insert(IdentityCheck).values(
            store_id=principal.store_id,
            card_id=card_id,
            user_id=principal.id,
            matched=matched,
            created_at=now,
        )
    )
    if matched:
        return False
    since = now - MISMATCH_WINDOW
    misses = session.execute(
        select(func.count())
        .select_from(IdentityCheck)
        .where(
            IdentityCheck.store_id == principal.store_id,
            IdentityCheck.matched.is_(False),
            IdentityCheck.created_at >= since,
        )
    ).scalar_one()
    if misses < MISMATCHES_TO_FLAG:
        return False
    subject = f"store:{principal.store_id}"
    already = session.execute(
        select(FraudFlag.id).where(
            FraudFlag.kind == "identity_mismatches",
            FraudFlag.subject == subject,
            FraudFlag.resolved_at.is_(None),
            FraudFlag.created_at >= since,
        )
    ).first()
    if already:
        return False
    session.execute(
        insert(FraudFlag).values(
            kind="identity_mismatches",
            subject=subject,
            detail=f"{misses} NIK mismatches within an hour, last by {principal.name}",
            created_at=now,
            resolved_at=None,
        )
    )
    return True


def commission_rate(session: Session, retailer_id: int, plan_code: str) -> int:
    """Basis points: the plan's own rate for this retailer, else the retailer's overall."""
    own = session.execute(
        select(RetailerCommission.basis_points).where(
            RetailerCommission.retailer_id == retailer_id,
            RetailerCommission.plan_code == plan_code,
        )
    ).scalar_one_or_none()
    if own is not None:
        return int(own)
    return int(
        session.execute(
            select(Retailer.commission_basis_points).where(Retailer.id == retailer_id)
        ).scalar_one()
    )


def pay_from_float(
    session: Session,
    ctx: Context,
    store: Store,
    card: Card,
    renewal_id: str,
    plan: PlanVersion,
    priced: Quote,
    now: datetime,
) -> Money:
    """Draw price − commission from the float; answers the commission earned."""
    total = priced.total
    commission = total.percent_of(commission_rate(session, store.retailer_id, plan.code))
    float_id = ledger.retailer_float_account_id(session, store.retailer_id)
    currency = total.currency
    drawn = total - commission
    postings = [
        Posting(
            ledger.house_account_id(session, ctx, "revenue", currency),
            -(total.amount + priced.discount.amount),
            currency,
        )
    ]
    for account, amount in (
        (float_id, drawn.amount),
        (ledger.house_account_id(session, ctx, "retail_commission", currency), commission.amount),
        (
            ledger.house_account_id(session, ctx, "promotion_expense", currency),
            priced.discount.amount,
        ),
    ):
        if amount:
            postings.append(Posting(account, amount, currency))
    try:
        ledger.post(
            session,
            kind="renewal",
            reference=renewal_id,
            # Retailers see this memo in their statement: the number masked, as everywhere.
            memo=f"{plan.code} for {mask_msisdn(card.msisdn)} at {store.code}",
            postings=postings,
            guarded=[ledger.GuardedMove(float_id, -drawn.amount)] if drawn.amount else [],
            now=now,
        )
    except InsufficientFunds as exc:
        # Staff are told that the float is short, not what is in it (that is the owner's).
        raise InsufficientFunds(
            f"the store's float is less than the {drawn.format()} this sale draws from it; "
            "the retailer must deposit money with the operator first",
            required=drawn.as_json(),
        ) from exc
    return commission


def sold_by(session: Session, principal: Principal, store_id: int) -> bool:
    """Whether a sale at this store is the caller's to see (its staff, its owner)."""
    try:
        return store_id in _store_ids(session, principal, None)
    except Forbidden:
        return False


def _store_ids(session: Session, principal: Principal, store_code: str | None) -> list[int]:
    """The stores whose sales the caller may see: staff their own, owners all of theirs."""
    if principal.is_retail and principal.store_id is not None and principal.retailer_id is None:
        own = session.get_one(Store, principal.store_id)
        if store_code and store_code != own.code:
            raise NotFound(f"no store {store_code} that you may see")
        return [own.id]
    if principal.retailer_id is None:
        raise Forbidden("only a retailer's staff and owners see its sales")
    query = select(Store.id).where(Store.retailer_id == principal.retailer_id)
    if store_code:
        query = query.where(Store.code == store_code)
    ids = [int(i) for i in session.execute(query).scalars()]
    if store_code and not ids:
        raise NotFound(f"no store {store_code} that you may see")
    return ids


def sales(
    session: Session,
    principal: Principal,
    *,
    store_code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    store_ids = _store_ids(session, principal, store_code)
    query = (
        select(Renewal, Store.code, Card.msisdn, PlanVersion.code.label("plan_code"))
        .join(Store, Store.id == Renewal.store_id)
        .join(Card, Card.id == Renewal.card_id)
        .join(PlanVersion, PlanVersion.id == Renewal.plan_version_id)
        .where(Renewal.store_id.in_(store_ids), Renewal.status == RenewalStatus.FULFILLED)
    )
    if since:
        query = query.where(Renewal.created_at >= since)
    if until:
        query = query.where(Renewal.created_at < until)
    return [
        {
            "id": r.id,
            "store": code,
            "msisdn_masked": mask_msisdn(msisdn),
            "plan_code": plan_code,
            "total": {"amount": r.total, "currency": r.currency},
            "commission": {"amount": r.commission, "currency": r.currency},
            "receipt_no": r.receipt_no,
            "sold_by": r.actor,
            "created_at": r.created_at,
        }
        for r, code, msisdn, plan_code in session.execute(
            query.order_by(Renewal.created_at.desc()).limit(5000)
        )
    ]


def float_statement(
    session: Session,
    principal: Principal,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Every movement of the owner's float, oldest first, with the running balance."""
    if not principal.is_retail or principal.retailer_id is None:
        raise Forbidden("the float statement is for the retailer's owner")
    account = session.execute(
        select(Account).where(Account.retailer_id == principal.retailer_id)
    ).scalar_one()
    lines = select(
        JournalEntry.id,
        JournalEntry.kind,
        JournalEntry.reference,
        JournalEntry.memo,
        JournalEntry.created_at,
        JournalLine.amount,
    ).join(JournalLine, and_(JournalLine.entry_id == JournalEntry.id))
    lines = lines.where(JournalLine.account_id == account.id)
    opening = 0
    if since:
        opening = -int(
            session.execute(
                select(func.coalesce(func.sum(JournalLine.amount), 0))
                .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
                .where(JournalLine.account_id == account.id, JournalEntry.created_at < since)
            ).scalar_one()
        )
        lines = lines.where(JournalEntry.created_at >= since)
    if until:
        lines = lines.where(JournalEntry.created_at < until)
    running = opening
    movements = []
    for row in session.execute(lines.order_by(JournalEntry.created_at, JournalEntry.id)):
        change = -int(row.amount)  # the float is a liability: a credit grows it
        running += change
        movements.append(
            {
                "entry_id": row.id,
                "kind": row.kind,
                "reference": row.reference,
                "memo": row.memo,
                "created_at": row.created_at,
                "change": {"amount": change, "currency": account.currency},
                "balance": {"amount": running, "currency": account.currency},
            }
        )
    commission = session.execute(
        select(func.coalesce(func.sum(Renewal.commission), 0))
        .join(Store, Store.id == Renewal.store_id)
        .where(
            Store.retailer_id == principal.retailer_id,
            Renewal.status == RenewalStatus.FULFILLED,
            *([Renewal.created_at >= since] if since else []),
            *([Renewal.created_at < until] if until else []),
        )
    ).scalar_one()
    return {
        "currency": account.currency,
        "opening_balance": {"amount": opening, "currency": account.currency},
        "closing_balance": {"amount": running, "currency": account.currency},
        "current_balance": {"amount": int(account.balance or 0), "currency": account.currency},
        "commission_earned": {"amount": int(commission), "currency": account.currency},
        "movements": movements,
    }
