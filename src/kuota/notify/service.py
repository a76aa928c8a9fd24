"""Queueing messages in the outbox, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from kuota.notify.models import OutboxMessage, OutboxStatus


def enqueue(
    session: Session, *, channel: str, recipient: str, subject: str, body: str, now: datetime
) -> None:
    """An outbox row; it leaves the building only if this transaction commits."""
    session.execute(
        insert(OutboxMessage).values(
            channel=channel,
            recipient=recipient,
            subject=subject,
            body=body,
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
