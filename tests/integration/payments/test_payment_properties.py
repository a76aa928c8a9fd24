"""Property: whatever a gateway does, in whatever order, money and fulfilment agree.

Hypothesis draws orders and a sequence of gateway events (payer approves, declines or
abandons; notifications delivered late, twice, or stale; status queries; kuota's clock
moving past expiry; a card terminated before its payment lands; refunds). After the
sequence and a final drain, for every order:

- the gateway kept the money  ⇔ kuota's payment succeeded and its renewal is fulfilled
  with exactly one package;
- the gateway gave it back     ⇔ kuota refunded it, and nothing was delivered;
- the gateway never took it    ⇔ kuota failed or expired it, and nothing was delivered;

and the ledger is clean, with the sandbox's clearing account holding exactly the money
the gateway kept and nothing left owed to payers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from kuota.api.app import create_app
from kuota.cards.models import Card, CardStatus
from kuota.core.clock import FixedClock
from kuota.core.config import Settings
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.ledger.models import Account, JournalEntry, JournalLine
from kuota.ledger.service import check_ledger
from kuota.payments import checkout, jobs, webhooks
from kuota.payments.gateway import CheckoutRequest, GatewayStatus
from kuota.payments.models import Payment, SandboxOrder
from kuota.payments.providers import Gateways
from kuota.payments.sandbox import SandboxGateway, SandboxSettings
from kuota.renewals import service as renewals
from kuota.renewals.models import Renewal
from kuota.renewals.service import RenewalRequest
from kuota.usage.models import Package

from conftest import T0
from factories import make_card, make_subscriber, publish_demo_plans, rupiah

ORDERS = 3
step = st.one_of(
    st.tuples(st.sampled_from(["approve", "decline", "abandon"]), st.integers(0, ORDERS - 1)),
    st.tuples(st.just("duplicate"), st.integers(0, ORDERS - 1), st.integers(2, 3)),
    st.tuples(
        st.just("stale"),
        st.integers(0, ORDERS - 1),
        st.sampled_from([GatewayStatus.FAILED, GatewayStatus.SUCCEEDED, GatewayStatus.EXPIRED]),
    ),
    st.tuples(st.just("terminate"), st.integers(0, ORDERS - 1)),
    st.tuples(st.just("deliver")),
    st.tuples(st.just("check"), st.integers(0, 30)),
    st.tuples(st.just("refunds")),
    st.tuples(st.just("outage")),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, max_size=25), lost_checkout=st.integers(0, ORDERS - 1))
def test_any_sequence_of_gateway_events_ends_consistent(
    db: Database, settings: Settings, steps: list[tuple[Any, ...]], lost_checkout: int
) -> None:
    clock = FixedClock(T0)
    ctx = Context(settings=settings, clock=clock)
    sandbox = SandboxGateway(
        db, SandboxSettings(public_url=settings.public_url, webhook_secret=webhooks.new_secret())
    )
    gateways = Gateways({"sandbox": sandbox}, default="sandbox")
    app = create_app(settings, db=db, clock=clock, gateways=gateways)
    with TestClient(app) as client:

        def post(url: str, headers: dict[str, str], body: bytes) -> int:
            return client.post(urlsplit(url).path, headers=headers, content=body).status_code

        with db.unit_of_work() as s:
            if s.execute(select(func.count()).select_from(Renewal)).scalar_one() == 0:
                publish_demo_plans(s, ctx)
            user = make_subscriber(s, ctx)
            msisdns = [make_card(s, ctx, user, balance=0) for _ in range(ORDERS)]
        orders: list[str] = []
        for index, msisdn in enumerate(msisdns):
            with db.unit_of_work() as s:
                sale = renewals.renew(
                    s,
                    ctx,
                    user,
                    RenewalRequest(msisdn, "DATA-1GB-7D", "card"),
                    gateway_methods=sandbox.methods,
                    gateway_name="sandbox",
                )
            order = sale["payment"]["id"]
            orders.append(order)
            if index == lost_checkout:
                sandbox.lost_answers = 1
            outcome = checkout.call_gateway(
                sandbox,
                CheckoutRequest(
                    order_id=order,
                    method="card",
                    amount=rupiah(15_000),
                    description="property",
                    return_url="http://kuota.test/back",
                ),
            )
            with db.unit_of_work() as s:
                checkout.record_outcome(s, ctx, order, outcome)

        for action, *args in steps:
            if action in ("approve", "decline", "abandon"):
                sandbox.payer_acts(orders[args[0]], action)
            elif action == "duplicate":
                sandbox.schedule_webhook(orders[args[0]], copies=args[1])
            elif action == "stale":
                sandbox.schedule_webhook(orders[args[0]], status=args[1])
            elif action == "terminate":
                with db.unit_of_work() as s:
                    s.execute(
                        update(Card)
                        .where(Card.msisdn == msisdns[args[0]])
                        .values(status=CardStatus.TERMINATED)
                    )
            elif action == "deliver":
                sandbox.deliver_due(post)
            elif action == "check":
                clock.advance(timedelta(minutes=args[0]))
                jobs.check_open_payments(db, ctx, gateways)
            elif action == "refunds":
                jobs.refund_owed_payments(db, ctx, gateways)
            elif action == "outage":
                sandbox.outages = 1

        # Drain: every notification delivered, every open payment asked about, every
        # refund made, until nothing moves.
        sandbox.outages = sandbox.lost_answers = 0
        clock.advance(timedelta(days=1))
        for _ in range(3):
            sandbox.deliver_due(post)
            jobs.check_open_payments(db, ctx, gateways)
            jobs.refund_owed_payments(db, ctx, gateways)
            sandbox.deliver_due(post)
            clock.advance(timedelta(hours=2))

    kept = 0
    renewal_ids: list[str] = []
    with db.unit_of_work(write=False) as s:
        for order, msisdn in zip(orders, msisdns, strict=True):
            said = s.get_one(SandboxOrder, order).status
            payment = s.get_one(Payment, order)
            renewal = s.execute(select(Renewal).where(Renewal.payment_id == order)).scalar_one()
            delivered = s.execute(
                select(func.count())
                .select_from(Package)
                .join(Card, Card.id == Package.card_id)
                .where(Card.msisdn == msisdn)
            ).scalar_one()
            renewal_ids.append(renewal.id)
            context = (order, said, payment.status, renewal.status, delivered, steps)
            assert not payment.refund_due, context
            if said == GatewayStatus.SUCCEEDED:
                kept += payment.amount
                assert payment.status == "succeeded", context
                assert renewal.status == "fulfilled" and delivered == 1, context
            elif said == GatewayStatus.REFUNDED:
                assert payment.status == "refunded", context
                assert renewal.status != "fulfilled" and delivered == 0, context
            else:
                assert payment.status in ("failed", "expired"), context
                assert renewal.status == "failed" and delivered == 0, context
        report = check_ledger(s)
        assert report.clean, report

        references = [*orders, *renewal_ids]

        def house(name: str) -> int:
            """A house account's movements for this example's sales only (the database
            keeps earlier examples' too)."""
            return int(
                s.execute(
                    select(func.coalesce(func.sum(JournalLine.amount), 0))
                    .join(Account, Account.id == JournalLine.account_id)
                    .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
                    .where(
                        Account.code == f"house:{name}:IDR",
                        JournalEntry.reference.in_(references),
                    )
                ).scalar_one()
            )

        assert house("refunds_payable") == 0
        assert house("clearing:sandbox") == kept
