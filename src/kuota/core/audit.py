"""The audit log: every staff action, written in the same transaction as the action."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from kuota.core.models import AuditEvent


def record(
    session: Session, *, actor: str, action: str, target: str, detail: dict[str, Any], now: datetime
) -> None:
    session.execute(
        insert(AuditEvent).values(
            actor=actor, action=action, target=target, detail=detail, created_at=now
        )
    )
