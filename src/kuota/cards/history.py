"""A subscriber's purchases across their cards: renewals and top-ups, each with its
payment, filtered, newest first. The portal's history page and its CSV share it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from kuota.cards.models import Card
from kuota.catalog.models import PlanVersion
from kuota.core.errors import InvalidInput
from kuota.payments.models import Payment, TopUp
from kuota.renewals.models import Renewal

KINDS = ("renewal", "top_up")
STATUSES = ("fulfilled", "credited", "pending_payment", "failed")
MAX_ROWS = 1000
S = TypeVar("S", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    msisdn: str | None = None
    kind: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def check(self) -> None:
        if self.kind and self.kind not in KINDS:
            raise InvalidInput(f"kind is one of {', '.join(KINDS)}", field="kind")
        if self.status and self.status not in STATUSES:
            raise InvalidInput(f"status is one of {', '.join(STATUSES)}", field="status")
        if self.since and self.until and self.until < self.since:
            raise InvalidInput("the end of the period is before its start", field="until")

    def narrow(self, query: S, status: Any, created_at: Any) -> S:
        """The same filters on renewals and top-ups alike."""
        if self.status:
            query = query.where(status == self.status)
        if self.since:
            query = query.where(created_at >= self.since)
        if self.until:
            query = query.where(created_at < self.until)
        return query


def entries(session: Session, owner_id: int, wanted: HistoryFilter) -> list[dict[str, Any]]:
    """Only the owner's own cards are ever read: another person's card gives nothing."""
    wanted.check()
    card_query = select(Card.id, Card.msisdn).where(Card.owner_user_id == owner_id)
    if wanted.msisdn:
        card_query = card_query.where(Card.msisdn == wanted.msisdn)
    numbers = {row.id: row.msisdn for row in session.execute(card_query)}
    if not numbers:
        return []
    rows: list[dict[str, Any]] = []
    if wanted.kind in (None, "renewal"):
        query = (
            select(Renewal, PlanVersion.name, Payment.status.label("payment_status"))
            .join(PlanVersion, PlanVersion.id == Renewal.plan_version_id)
            .join(Payment, Payment.id == Renewal.payment_id)
            .where(Renewal.card_id.in_(numbers))
        )
        query = wanted.narrow(query, Renewal.status, Renewal.created_at)
        for renewal, plan_name, payment_status in session.execute(
            query.order_by(Renewal.created_at.desc()).limit(MAX_ROWS)
        ):
            rows.append(
                {
                    "kind": "renewal",
                    "id": renewal.id,
                    "created_at": renewal.created_at,
                    "msisdn": numbers[renewal.card_id],
                    "what": plan_name,
                    "method": renewal.payment_method,
                    "channel": renewal.channel,
                    "status": renewal.status,
                    "payment_id": renewal.payment_id,
                    "payment_status": payment_status,
                    "total": {"amount": renewal.total, "currency": renewal.currency},
                    "receipt_no": renewal.receipt_no,
                }
            )
    if wanted.kind in (None, "top_up"):
        top_query = (
            select(TopUp, Payment.method, Payment.status.label("payment_status"))
            .join(Payment, Payment.id == TopUp.payment_id)
            .where(TopUp.card_id.in_(numbers))
        )
        top_query = wanted.narrow(top_query, TopUp.status, TopUp.created_at)
        for top_up, method, payment_status in session.execute(
            top_query.order_by(TopUp.created_at.desc()).limit(MAX_ROWS)
        ):
            rows.append(
                {
                    "kind": "top_up",
                    "id": top_up.id,
                    "created_at": top_up.created_at,
                    "msisdn": numbers[top_up.card_id],
                    "what": "",
                    "method": method,
                    "channel": "online",
                    "status": top_up.status,
                    "payment_id": top_up.payment_id,
                    "payment_status": payment_status,
                    "total": {"amount": top_up.amount, "currency": top_up.currency},
                    "receipt_no": None,
                }
            )
    rows.sort(key=lambda row: (row["created_at"], row["id"]), reverse=True)
    return rows[:MAX_ROWS]
