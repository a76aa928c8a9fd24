"""Reading the demo-mode local mailbox: the JSON test API and the /dev/mailbox page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuota.cards.rules import normalize_msisdn
from kuota.notify.models import MailboxMessage


def messages(session: Session, to: str | None, *, limit: int = 200) -> list[dict[str, Any]]:
    """Newest first; for one recipient (card number or e-mail) or everyone."""
    query = select(MailboxMessage).order_by(MailboxMessage.id.desc()).limit(limit)
    if to and to.strip():
        recipient = to.strip()
        if "@" not in recipient:
            # An unescaped '+' in a query string arrives as a space: '?to=+62…' still works.
            recipient = normalize_msisdn(recipient)
        query = query.where(MailboxMessage.recipient == recipient)
    return [
        {
            "channel": m.channel,
            "to": m.recipient,
            "subject": m.subject,
            "body": m.body,
            "created_at": m.created_at,
        }
        for m in session.execute(query).scalars()
    ]
