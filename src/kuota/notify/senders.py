"""Where messages go: the `MessageSender` protocol and the demo-mode local mailbox."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import insert

from kuota.core.clock import real_now
from kuota.core.db import Database
from kuota.notify.models import MailboxMessage


class DeliveryError(Exception):
    """A temporary failure: the worker retries with backoff."""


class MessageSender(Protocol):
    def send(self, *, channel: str, recipient: str, subject: str, body: str) -> None: ...


class LocalMailbox:
    """Demo mode: every SMS and e-mail lands in a table shown at /dev/mailbox."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def send(self, *, channel: str, recipient: str, subject: str, body: str) -> None:
        with self._db.unit_of_work() as session:
            session.execute(
                insert(MailboxMessage).values(
                    channel=channel,
                    recipient=recipient,
                    subject=subject,
                    body=body,
                    created_at=real_now(),
                )
            )
