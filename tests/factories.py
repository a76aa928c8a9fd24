"""Factories that build rows through the services, the way the product creates them."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuota.auth import service as auth
from kuota.auth.models import Role
from kuota.cards import service as cards
from kuota.cards.models import Card
from kuota.catalog import service as catalog
from kuota.core.context import Context
from kuota.core.money import Money
from kuota.core.principal import Principal
from kuota.demo import PLANS
from kuota.ledger import service as ledger
from kuota.usage import charging

_numbers = itertools.count(1)


def rupiah(value: int) -> Money:
    return Money(value * 100, "IDR")


def publish_demo_plans(session: Session, ctx: Context) -> None:
    for code, name, price, data_bytes, days in PLANS:
        catalog.publish_plan(
            session,
            code=code,
            name=name,
            price=rupiah(price),
            data_bytes=data_bytes,
            validity_days=days,
            now=ctx.clock.now(),
        )


def make_subscriber(
    session: Session,
    ctx: Context,
    *,
    username: str | None = None,
    password: str = "secret-pass-1",
    locale: str = "id",
) -> Principal:
    name = username or f"user{next(_numbers)}@kuota.test"
    user_id = auth.create_user(
        session,
        username=name,
        password=password,
        role=Role.SUBSCRIBER,
        display_name="Test User",
        now=ctx.clock.now(),
        email=name,
        locale=locale,
    )
    return Principal(kind="user", id=user_id, name=name, role=Role.SUBSCRIBER, locale=locale)


def make_staff(
    session: Session,
    ctx: Context,
    role: Role,
    *,
    username: str | None = None,
    password: str = "secret-pass-1",
) -> Principal:
    name = username or f"staff{next(_numbers)}"
    user_id = auth.create_user(
        session,
        username=name,
        password=password,
        role=role,
        display_name="Staff",
        now=ctx.clock.now(),
    )
    return Principal(kind="user", id=user_id, name=name, role=role)


def make_card(
    session: Session,
    ctx: Context,
    owner: Principal | None,
    *,
    balance: int = 0,
    msisdn: str | None = None,
    owner_name: str = "Siti Rahayu",
    nik: str | None = None,
) -> str:
    number = msisdn or f"+62812{next(_numbers):08d}"
    card_id = cards.register_card(
        session,
        msisdn=number,
        currency="IDR",
        now=ctx.clock.now(),
        secret_key=ctx.secret_key,
        owner_user_id=owner.id if owner else None,
        owner_name=owner_name,
        nik=nik,
    )
    if balance:
        ledger.move_guarded(
            session,
            ctx,
            account_id=ledger.card_account_id(session, card_id),
            amount=rupiah(balance),
            house="balance_adjustments",
            kind="adjustment",
            reference=number,
            memo="test opening balance",
        )
    return number


class FlakySender:
    """A message sender that fails its first `failures` sends, then records recipients."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[str] = []

    def send(self, *, channel: str, recipient: str, subject: str, body: str) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("gateway down")
        self.sent.append(recipient)


def lock_card(session: Session, card_id: int) -> None:
    """The card's row lock, as the engine takes it before changing its packages."""
    session.execute(select(Card.id).where(Card.id == card_id).with_for_update()).first()


def charge_card(
    session: Session, card_id: int, used_bytes: int, now: datetime, *, source: str
) -> charging.Charge:
    """One charge on its own, under the card's lock, by the engine's rule."""
    lock_card(session, card_id)
    book = charging.QuotaBook.load(session, [card_id], now)
    result = book.charge(card_id, used_bytes, source=source)
    book.save(session)
    return result
