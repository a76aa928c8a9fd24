"""Cards: registering them, finding them, and deciding who may see what of them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kuota.cards.models import Card, CardStatus
from kuota.cards.rules import check_iccid, hash_nik, mask_name, normalize_msisdn
from kuota.core.errors import Conflict, NotFound
from kuota.core.principal import Principal
from kuota.ledger import service as ledger
from kuota.usage import service as usage


def register_card(
    session: Session,
    *,
    msisdn: str,
    currency: str,
    now: datetime,
    secret_key: str,
    iccid: str | None = None,
    owner_user_id: int | None = None,
    owner_name: str | None = None,
    nik: str | None = None,
) -> int:
    """Create a card and its main-balance account; the NIK is kept only as a keyed hash."""
    number = normalize_msisdn(msisdn)
    values = {
        "msisdn": number,
        "iccid": check_iccid(iccid) if iccid else None,
        "owner_user_id": owner_user_id,
        "owner_name": owner_name,
        "nik_hash": hash_nik(nik, secret_key) if nik else None,
        "status": CardStatus.ACTIVE,
        "auto_renew": False,
        "created_at": now,
    }
    try:
        with session.begin_nested():
            card_id = session.execute(insert(Card).values(**values).returning(Card.id)).scalar_one()
    except IntegrityError as exc:
        raise Conflict(f"card {number} (or its ICCID) is already registered") from exc
    ledger.open_card_account(session, card_id=int(card_id), currency=currency, now=now)
    return int(card_id)


def can_see(principal: Principal, card: Card) -> bool:
    """Owners and operator staff see a card in full; stores and kiosks see it masked."""
    if principal.is_operator or principal.is_retail or principal.is_kiosk:
        return True
    return principal.is_subscriber and card.owner_user_id == principal.id


def sees_in_full(principal: Principal, card: Card) -> bool:
    return principal.is_operator or (principal.is_subscriber and card.owner_user_id == principal.id)


_CARD = select(Card).where(Card.msisdn == bindparam("msisdn"))
_CARD_LOCKED = _CARD.with_for_update()


def card_for(session: Session, principal: Principal, msisdn: str, *, lock: bool = False) -> Card:
    """The card, if the caller may see it; otherwise 404, never a hint that it exists."""
    number = normalize_msisdn(msisdn)
    query = _CARD_LOCKED if lock else _CARD
    card = session.execute(query, {"msisdn": number}).scalar_one_or_none()
    if card is None or not can_see(principal, card):
        raise NotFound(f"no card {number} that you may see")
    return card


def cards_of(session: Session, user_id: int) -> list[Card]:
    return list(
        session.execute(select(Card).where(Card.owner_user_id == user_id).order_by(Card.msisdn))
        .scalars()
        .all()
    )


def card_view(session: Session, principal: Principal, msisdn: str, now: datetime) -> dict[str, Any]:
    """What the caller may know of a card: in full for its owner and operator staff, and
    only the masked owner name and the packages for stores and kiosks."""
    card = card_for(session, principal, msisdn)
    packages = [usage.package_view(p) for p in usage.active_packages(session, card.id, now)]
    if not sees_in_full(principal, card):
        return {
            "msisdn": card.msisdn,
            "owner_name_masked": mask_name(card.owner_name),
            "packages": packages,
        }
    return {
        "msisdn": card.msisdn,
        "status": card.status,
        "balance": ledger.card_balance(session, card.id).as_json(),
        "auto_renew": card.auto_renew,
        "owner_name": card.owner_name,
        "packages": packages,
    }


def usage_by_day(
    session: Session, principal: Principal, msisdn: str, *, days: int, now: datetime, zone_name: str
) -> list[dict[str, Any]]:
    """The card's data use per package per day, for its owner and operator staff."""
    card = card_for(session, principal, msisdn)
    if not sees_in_full(principal, card):
        raise NotFound(f"no card {card.msisdn} that you may see")
    return usage.daily_usage(
        session, card.id, since=now - timedelta(days=days), zone_name=zone_name
    )


def set_auto_renew(session: Session, principal: Principal, msisdn: str, on: bool) -> None:
    """Only the card's owner decides whether its packages renew themselves."""
    card = card_for(session, principal, msisdn, lock=True)
    if not (principal.is_subscriber and card.owner_user_id == principal.id):
        raise NotFound(f"no card {card.msisdn} that you may see")
    card.auto_renew = on
    session.flush()
