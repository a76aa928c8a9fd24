"""Browser sessions of signed-in people. The cookie holds a random id; the table holds
its SHA-256, the owner and when it ends. Signing in always starts a new id (no session
fixation); signing out and resetting the password delete it."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from kuota.auth.models import User, WebSession
from kuota.auth.service import PRINCIPAL_COLUMNS, user_principal
from kuota.core.clock import real_now
from kuota.core.db import run
from kuota.core.principal import Principal
from kuota.core.security import hash_token

SESSION_TTL = timedelta(hours=12)

_OWNER = (
    select(*PRINCIPAL_COLUMNS, WebSession.expires_at)
    .join(WebSession, WebSession.user_id == User.id)
    .where(WebSession.id_hash == bindparam("id_hash"), User.is_active.is_(True))
)


def start(session: Session, user_id: int, *, ttl: timedelta = SESSION_TTL) -> str:
    """A new session id for this user (returned once; only its hash is kept)."""
    session_id = secrets.token_urlsafe(32)
    now = real_now()
    session.execute(
        insert(WebSession).values(
            id_hash=hash_token(session_id), user_id=user_id, created_at=now, expires_at=now + ttl
        )
    )
    # Expired sessions of this user go when a new one starts.
    session.execute(
        delete(WebSession).where(WebSession.user_id == user_id, WebSession.expires_at <= now)
    )
    return session_id


def principal(session: Session, session_id: str) -> Principal | None:
    row = run(session, _OWNER, {"id_hash": hash_token(session_id)}).one_or_none()
    if row is None or row.expires_at <= real_now():
        return None
    return user_principal(row)


def end(session: Session, session_id: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id_hash == hash_token(session_id)))


def remember_locale(session: Session, user_id: int, locale: str) -> None:
    """Messages go out in the language the person last chose on the portal."""
    session.execute(update(User).where(User.id == user_id).values(locale=locale))
