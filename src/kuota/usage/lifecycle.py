"""A package's life after the sale, driven by the injected business clock.

Reminders before a package expires (3 days, 1 day), the notice at expiry, auto-renewal
at expiry from the main balance through the renewal service (or a message that the
balance is short and how to top up), and a reminder when under 10 % of its quota is
left. Packages are never deleted: a package has expired when `expires_at <= now`.

Each reminder is sent once per package period: a `reminders_sent` row keyed by
(package, kind, period_end), period_end being the package's expiry when the reminder
fell due. Extending a package moves its expiry, which starts a new period, so its
reminders fall due again. A sweep claims a reminder by inserting that row with
`ON CONFLICT DO NOTHING` in the same transaction that queues the message: two workers
never both send it, and a rolled-back batch sends nothing.

Selection is set-based, one window on the indexed `expires_at` per kind, paged by
keyset in batches: a pass touches the packages whose reminder falls in a window, not
the whole table. Candidates are read outside the write transaction (on SQLite, web
requests are not kept waiting behind the scan); the claim re-checks the window. An
expiry is looked back on for `EXPIRY_LOOKBACK` only: a worker down for longer does
not announce, or auto-renew, what expired long before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    String,
    bindparam,
    exists,
    literal,
    or_,
    select,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from kuota.auth.models import Role, User
from kuota.cards.models import Card, CardStatus
from kuota.catalog import service as catalog
from kuota.catalog.models import PlanVersion
from kuota.core.clock import real_now
from kuota.core.context import Context
from kuota.core.db import Database, UTCDateTime, insert_for, run, table_of
from kuota.core.errors import InsufficientFunds, KuotaError
from kuota.core.localtime import format_local
from kuota.core.money import Money
from kuota.core.principal import Principal
from kuota.ledger import service as ledger
from kuota.notify import service as outbox
from kuota.notify.lifecycle_templates import format_bytes
from kuota.notify.templates import render
from kuota.renewals import service as renewals
from kuota.renewals.service import RenewalRequest
from kuota.usage import network
from kuota.usage.models import Package, ReminderSent

log = logging.getLogger("kuota.lifecycle")

# An expiry further back than this is not announced or auto-renewed any more.
EXPIRY_LOOKBACK = timedelta(days=7)
# Low quota: remaining (total − used) under 1/LOW_QUOTA_DIVISOR of the total.
LOW_QUOTA_DIVISOR = 10
# The principal kind auto-renewals run as: the card's owner, acting through the worker.
AUTO_RENEWAL = "auto_renewal"
# A change this large in the business clock's distance from real time is a moved clock.
_CLOCK_JUMP = timedelta(seconds=2)


@dataclass(frozen=True, slots=True)
class ReminderKind:
    """One kind of `reminders_sent` row and the window of expiries it falls due in:
    `now + after < expires_at <= now + until` (no upper bound when `until` is None)."""

    name: str
    template: str
    after: timedelta
    until: timedelta | None
    low_quota: bool = False
    # Paged in id order: the window is most of the table, cheaper read in table order
    # than through the expiry index.
    by_id: bool = False


THREE_DAYS = ReminderKind("3d", "package_expires_in_3_days", timedelta(days=1), timedelta(days=3))
ONE_DAY = ReminderKind("1d", "package_expires_tomorrow", timedelta(0), timedelta(days=1))
EXPIRED = ReminderKind("expired", "package_expired", -EXPIRY_LOOKBACK, timedelta(0))
# Claims the auto-renewal of one package period, so the main balance is debited once.
AUTO = ReminderKind("auto", "package_expired", -EXPIRY_LOOKBACK, timedelta(0))
LOW = ReminderKind("low", "package_quota_low", timedelta(0), None, low_quota=True, by_id=True)


@dataclass
class SweepStats:
    reminders_3d: int = 0
    reminders_1d: int = 0
    expired: int = 0  # expiries announced, including those auto-renewed or short of balance
    low_quota: int = 0
    auto_renewed: int = 0
    auto_renew_short: int = 0
    reservations_released: int = 0

    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))


def _window(kind: ReminderKind) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        Package.expires_at > bindparam("lo", type_=UTCDateTime())
    ]
    if kind.until is not None:
        conditions.append(Package.expires_at <= bindparam("hi", type_=UTCDateTime()))
    if kind.low_quota:
        conditions.append(
            (Package.quota_total_bytes - Package.quota_used_bytes) * LOW_QUOTA_DIVISOR
            < Package.quota_total_bytes
        )
    return conditions


def _window_params(kind: ReminderKind, now: datetime) -> dict[str, datetime]:
    params = {"lo": now + kind.after}
    if kind.until is not None:
        params["hi"] = now + kind.until
    return params


def _due_statement(kind: ReminderKind) -> Select[*tuple[Any, ...]]:
    """The next batch of packages whose `kind` reminder is due and not yet sent for
    their current period, in (expires_at, id) order (or id order) after the keyset
    cursor."""
    already_sent = exists().where(
        ReminderSent.package_id == Package.id,
        ReminderSent.kind == kind.name,
        ReminderSent.period_end == Package.expires_at,
    )
    after_id = Package.id > bindparam("after_id")
    order: list[Any]
    if kind.by_id:
        after, order = [after_id], [Package.id]
    else:
        after_at = bindparam("after_at", type_=UTCDateTime())
        after = [Package.expires_at >= after_at, or_(Package.expires_at > after_at, after_id)]
        order = [Package.expires_at, Package.id]
    return (
        select(
            Package.id,
            Package.card_id,
            Package.plan_code,
            Package.quota_total_bytes,
            Package.quota_used_bytes,
            Package.expires_at,
            PlanVersion.name.label("plan_name"),
            Card.msisdn,
            Card.auto_renew,
            Card.owner_user_id,
            User.username,
            User.role,
            User.email,
            User.locale,
        )
        .select_from(Package)
        .join(Card, Card.id == Package.card_id)
        .join(PlanVersion, PlanVersion.id == Package.plan_version_id)
        .outerjoin(User, User.id == Card.owner_user_id)
        .where(*_window(kind), *after, Card.status != CardStatus.TERMINATED, ~already_sent)
        .order_by(*order)
        .limit(bindparam("batch"))
    )


def _claim_statement(kind: ReminderKind, dialect: str) -> Insert:
    """Claim `kind` for the given packages still in its window, for their current
    period; returns the (package_id, period_end) pairs this transaction claimed."""
    still_due = select(
        Package.id,
        literal(kind.name, String()),
        Package.expires_at,
        bindparam("now", type_=UTCDateTime()),
    ).where(Package.id.in_(bindparam("ids", expanding=True)), *_window(kind))
    statement: Insert = (
        insert_for(dialect)(table_of(ReminderSent))
        .from_select(["package_id", "kind", "period_end", "sent_at"], still_due)
        .on_conflict_do_nothing()
        .returning(ReminderSent.package_id, ReminderSent.period_end)
    )
    return statement


_KINDS = (THREE_DAYS, ONE_DAY, EXPIRED, AUTO, LOW)
_DUE = {kind.name: _due_statement(kind) for kind in (THREE_DAYS, ONE_DAY, EXPIRED, LOW)}
_CLAIM = {
    (kind.name, dialect): _claim_statement(kind, dialect)
    for kind in _KINDS
    for dialect in ("sqlite", "postgresql")
}
_CARD_LOCKED = (
    select(Card.auto_renew, Card.owner_user_id, Card.status)
    .where(Card.id == bindparam("card_id"))
    .with_for_update()
)
_ACTIVE_OF_PLAN = select(Package.id).where(
    Package.card_id == bindparam("card_id"),
    Package.plan_code == bindparam("plan_code"),
    Package.expires_at > bindparam("now", type_=UTCDateTime()),
)


def _claim(
    session: Session, kind: ReminderKind, ids: list[int], now: datetime
) -> dict[int, datetime]:
    statement = _CLAIM[(kind.name, session.get_bind().dialect.name)]
    params = {**_window_params(kind, now), "ids": ids, "now": now}
    return {row.package_id: row.period_end for row in run(session, statement, params)}


def sweep(db: Database, ctx: Context, *, batch: int = 1000) -> SweepStats:
    """One pass at the business clock's `now`: reminders due, expiries (auto-renewed
    where the card asks for it), low quota, and credit-control reservations whose
    validity ran out. Safe to run from any number of workers at once."""
    now = ctx.clock.now()
    stats = SweepStats()
    stats.reminders_3d = _remind(db, ctx, THREE_DAYS, now, batch)
    stats.reminders_1d = _remind(db, ctx, ONE_DAY, now, batch)
    _expire(db, ctx, now, batch, stats)
    stats.low_quota = _remind(db, ctx, LOW, now, batch)
    while True:
        with db.unit_of_work() as session:
            released = network.release_expired_reservations(session, now, limit=batch)
        stats.reservations_released += released
        if released < batch:
            break
    return stats


def _due_batches(
    db: Database, kind: ReminderKind, now: datetime, batch: int
) -> Callable[[], list[Row[Any]]]:
    """Successive batches of due packages (an empty list when done), read without the
    writer lock; the keyset cursor moves past every candidate, claimed or not."""
    params: dict[str, Any] = {**_window_params(kind, now), "batch": batch}
    cursor: dict[str, Any] = {"after_id": 0}
    if not kind.by_id:
        cursor["after_at"] = params["lo"]
    done = False

    def next_batch() -> list[Row[Any]]:
        nonlocal done
        if done:
            return []
        with db.unit_of_work(write=False) as session:
            rows = list(run(session, _DUE[kind.name], {**params, **cursor}).all())
        if len(rows) < batch:
            done = True
        if rows:
            cursor["after_id"] = rows[-1].id
            if not kind.by_id:
                cursor["after_at"] = rows[-1].expires_at
        return rows

    return next_batch


def _remind(db: Database, ctx: Context, kind: ReminderKind, now: datetime, batch: int) -> int:
    """Claim and queue every due `kind` reminder, one transaction per batch."""
    sent = 0
    next_batch = _due_batches(db, kind, now, batch)
    while rows := next_batch():
        sent += _announce(db, ctx, kind, rows, now)
    return sent


def _announce(
    db: Database, ctx: Context, kind: ReminderKind, rows: list[Row[Any]], now: datetime
) -> int:
    """Claim `kind` for these packages and queue a message for each one claimed, in one
    transaction; returns how many were claimed."""
    if not rows:
        return 0
    with db.unit_of_work() as session:
        claimed = _claim(session, kind, [row.id for row in rows], now)
        _queue(
            session,
            [
                _message(ctx, row, kind.template, expires_at=claimed[row.id])
                for row in rows
                if row.id in claimed
            ],
        )
    return len(claimed)


def _expire(db: Database, ctx: Context, now: datetime, batch: int, stats: SweepStats) -> None:
    """Packages that expired since the last sweep: the notice, or on a card that
    auto-renews the renewal, each in a transaction of its own that holds the card's row
    lock only as long as its own renewal."""
    next_batch = _due_batches(db, EXPIRED, now, batch)
    while rows := next_batch():
        plain: list[Row[Any]] = []
        auto: list[Row[Any]] = []
        for row in rows:
            (auto if row.auto_renew and row.owner_user_id is not None else plain).append(row)
        stats.expired += _announce(db, ctx, EXPIRED, plain, now)
        for row in auto:
            try:
                with db.unit_of_work() as session:
                    outcome = _auto_renew_one(session, ctx, row, now)
            except Exception:  # rolled back, claim and all: tried again next pass
                log.exception("auto-renewal of package %s on %s failed", row.id, row.msisdn)
                continue
            if outcome is None:
                continue
            stats.expired += 1
            stats.auto_renewed += outcome == "renewed"
            stats.auto_renew_short += outcome == "short"


def _auto_renew_one(session: Session, ctx: Context, row: Row[Any], now: datetime) -> str | None:
    """Renew one expired package once per period through the renewal service, paid from
    the main balance; the service's confirmation is the message. A short balance gets
    one that says what is missing and where to top up instead. None when nothing was
    told: another worker has it, or the owner already bought the plan again."""
    claimed = _claim(session, AUTO, [row.id], now)
    period_end = claimed.get(row.id)
    if period_end is None:
        return None
    # This transaction tells of the expiry: the plain notice is never sent besides.
    _claim(session, EXPIRED, [row.id], now)
    card = run(session, _CARD_LOCKED, {"card_id": row.card_id}).one()
    if card.status == CardStatus.TERMINATED:
        return None
    if not card.auto_renew or card.owner_user_id is None:  # turned off since it was read
        _queue(session, [_message(ctx, row, EXPIRED.template, expires_at=period_end)])
        return "expired"
    active = {"card_id": row.card_id, "plan_code": row.plan_code, "now": now}
    if run(session, _ACTIVE_OF_PLAN, active).first() is not None:
        return None  # bought again by hand after expiry, before this sweep came by
    owner = Principal(
        kind=AUTO_RENEWAL,
        id=card.owner_user_id,
        name=str(row.username)[:50],  # the sale's actor column holds 80 characters
        role=Role(row.role),
        locale=row.locale or "id",
    )
    request = RenewalRequest(msisdn=row.msisdn, plan_code=row.plan_code, payment_method="balance")
    try:
        with session.begin_nested():
            renewals.renew(session, ctx, owner, request)
    except InsufficientFunds:
        plan = catalog.current_plan(session, row.plan_code)
        short = _message(
            ctx,
            row,
            "auto_renewal_balance_short",
            expires_at=period_end,
            price=Money(plan.price_amount, plan.currency).format(),
            balance=ledger.card_balance(session, row.card_id).format(),
            top_up_url=top_up_url(ctx, row.msisdn),
        )
        _queue(session, [short])
        return "short"
    except KuotaError as exc:  # plan withdrawn, card terminated meanwhile, …
        log.warning("auto-renewal of package %s on %s refused: %s", row.id, row.msisdn, exc)
        _queue(session, [_message(ctx, row, EXPIRED.template, expires_at=period_end)])
        return "expired"
    return "renewed"


@dataclass(frozen=True, slots=True)
class Message:
    recipients: list[tuple[str, str]]  # (channel, address)
    subject: str
    body: str


def _message(
    ctx: Context, row: Row[Any], template: str, *, expires_at: datetime, **extra: str
) -> Message:
    """SMS to the card, e-mail to its owner (if any), in the owner's language."""
    locale = row.locale or "id"
    remaining = row.quota_total_bytes - row.quota_used_bytes
    subject, body = render(
        template,
        locale,
        plan_name=row.plan_name,
        msisdn=row.msisdn,
        expires_at=format_local(expires_at, ctx.settings.operator_timezone),
        remaining=format_bytes(remaining, locale),
        percent=max(remaining, 0) * 100 // row.quota_total_bytes if row.quota_total_bytes else 0,
        renew_url=renew_url(ctx, row.msisdn),
        **extra,
    )
    recipients = [("sms", row.msisdn)]
    if row.email:
        recipients.append(("email", row.email))
    return Message(recipients, subject, body)


def _queue(session: Session, messages: list[Message]) -> None:
    """Into the outbox, in the caller's transaction, all in one statement."""
    # Delivery runs on real time: a message queued at a business time the demo clock has
    # moved ahead would otherwise wait for real time to catch up.
    outbox.enqueue_each(
        session,
        [
            (channel, recipient, message.subject, message.body)
            for message in messages
            for channel, recipient in message.recipients
        ],
        now=real_now(),
    )


def renew_url(ctx: Context, msisdn: str) -> str:
    return f"{ctx.settings.public_url}/renew?msisdn={quote(msisdn, safe='')}"


def top_up_url(ctx: Context, msisdn: str) -> str:
    return f"{ctx.settings.public_url}/top-up?msisdn={quote(msisdn, safe='')}"


def run_forever(
    db: Database,
    ctx: Context,
    *,
    stop: threading.Event,
    interval_seconds: float = 30.0,
    poll_seconds: float = 1.0,
) -> None:
    """The lifecycle loop of `kuota worker`: a sweep every `interval_seconds`, and at once
    when the business clock jumps (the demo-mode test clock was moved)."""
    log.info("lifecycle worker started")
    last_sweep = -interval_seconds
    last_skew: timedelta | None = None
    while not stop.is_set():
        try:
            skew = _skew(ctx)  # reading the shared business clock may need the database
            moved = last_skew is not None and abs(skew - last_skew) > _CLOCK_JUMP
            if moved or time.monotonic() - last_sweep >= interval_seconds:
                last_skew, last_sweep = skew, time.monotonic()
                stats = sweep(db, ctx)
                if stats.total():
                    log.info("lifecycle sweep: %s", stats)
        except Exception:
            log.exception("lifecycle sweep failed; retrying")
        stop.wait(poll_seconds)
    log.info("lifecycle worker stopped")


def _skew(ctx: Context) -> timedelta:
    """How far the business clock is from real time: it changes when the clock is moved."""
    return ctx.clock.now() - real_now()
