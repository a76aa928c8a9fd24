"""The outbox: sent only after commit, retried with backoff, dead-lettered at the limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from kuota.core.clock import real_now
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.errors import InsufficientFunds
from kuota.notify import service as outbox
from kuota.notify.models import MailboxMessage, OutboxMessage, OutboxStatus
from kuota.notify.senders import LocalMailbox
from kuota.notify.worker import backoff, deliver_due
from kuota.renewals import service as renewals
from kuota.renewals.service import RenewalRequest

from factories import FlakySender, make_card, make_subscriber, publish_demo_plans


def make_due(db: Database) -> None:
    with db.unit_of_work() as s:
        s.execute(update(OutboxMessage).values(next_attempt_at=real_now() - timedelta(seconds=1)))


def test_renewal_confirmations_reach_the_mailbox(db: Database, ctx: Context) -> None:
    with db.unit_of_work() as s:
        publish_demo_plans(s, ctx)
        user = make_subscriber(s, ctx)
        msisdn = make_card(s, ctx, user, balance=100_000)
    with db.unit_of_work() as s:
        renewals.renew(s, ctx, user, RenewalRequest(msisdn, "DATA-1GB-7D", "balance"))
    make_due(db)
    mailbox = LocalMailbox(db)
    stats = deliver_due(db, {"sms": mailbox, "email": mailbox}, max_attempts=3)
    assert stats.sent == 2
    with db.unit_of_work(write=False) as s:
        got = {(m.channel, m.recipient) for m in s.execute(select(MailboxMessage)).scalars()}
    assert got == {("sms", msisdn), ("email", user.name)}


def test_nothing_is_queued_for_a_rolled_back_renewal(db: Database, ctx: Context) -> None:
    with db.unit_of_work() as s:
        publish_demo_plans(s, ctx)
        user = make_subscriber(s, ctx)
        msisdn = make_card(s, ctx, user, balance=100_000)
    with pytest.raises(RuntimeError), db.unit_of_work() as s:
        renewals.renew(s, ctx, user, RenewalRequest(msisdn, "DATA-1GB-7D", "balance"))
        raise RuntimeError("crash after the renewal, before commit")
    with pytest.raises(InsufficientFunds), db.unit_of_work() as s:
        renewals.renew(s, ctx, user, RenewalRequest(msisdn, "DATA-20GB-30D", "balance"))
    with db.unit_of_work(write=False) as s:
        assert s.execute(select(OutboxMessage)).first() is None


def test_retry_with_backoff_then_dead_letter(db: Database, ctx: Context) -> None:
    from kuota.notify.service import enqueue

    with db.unit_of_work() as s:
        enqueue(
            s,
            channel="sms",
            recipient="+6281100000001",
            subject="s",
            body="b",
            now=real_now() - timedelta(seconds=1),
        )
    flaky = FlakySender(failures=1)
    assert deliver_due(db, {"sms": flaky}, max_attempts=3).retried == 1
    with db.unit_of_work(write=False) as s:
        message = s.execute(select(OutboxMessage)).scalar_one()
    assert message.status == OutboxStatus.PENDING and message.last_error
    assert message.next_attempt_at > real_now() + timedelta(seconds=3)
    assert deliver_due(db, {"sms": flaky}, max_attempts=3).sent == 0  # not due yet
    make_due(db)
    assert deliver_due(db, {"sms": flaky}, max_attempts=3).sent == 1
    assert flaky.sent == ["+6281100000001"]

    with db.unit_of_work() as s:
        enqueue(
            s,
            channel="sms",
            recipient="+6281100000003",
            subject="s",
            body="b",
            now=real_now() - timedelta(seconds=1),
        )
    down = FlakySender(failures=100)
    for _ in range(3):
        make_due(db)
        deliver_due(db, {"sms": down}, max_attempts=3)
    with db.unit_of_work(write=False) as s:
        dead = s.execute(
            select(OutboxMessage).where(OutboxMessage.recipient == "+6281100000003")
        ).scalar_one()
    assert dead.status == OutboxStatus.DEAD and dead.attempts == 3


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert backoff(30) == timedelta(hours=1)


def test_messages_of_their_own_are_queued_together_each_as_given(
    db: Database, ctx: Context
) -> None:
    """`enqueue_each` (the lifecycle sweep's one statement for a batch): every message
    keeps its own recipient, subject and body, in the order given; none is a no-op."""
    messages = [
        ("sms", "+6281100000001", "expires", "your package expires in 3 days"),
        ("email", "a@example.com", "expires", "your package expires in 3 days"),
        ("sms", "+6281100000002", "low", "under 10% left"),
    ]
    with db.unit_of_work() as s:
        outbox.enqueue_each(s, [], now=ctx.clock.now())
        outbox.enqueue_each(s, messages, now=ctx.clock.now())
    with db.unit_of_work(write=False) as s:
        rows = s.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
        got = [(m.channel, m.recipient, m.subject, m.body, m.status) for m in rows]
    assert got == [(*m, OutboxStatus.PENDING) for m in messages]
