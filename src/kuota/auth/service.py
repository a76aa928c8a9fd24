"""Logging in, bearer tokens, kiosk keys: turning credentials into a `Principal`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from kuota.auth.models import ApiToken, Role, User
from kuota.core.clock import real_now
from kuota.core.db import run
from kuota.core.errors import InvalidInput, Unauthenticated
from kuota.core.principal import Principal
from kuota.core.security import hash_password, hash_token, new_token, verify_password
from kuota.kiosks.models import Kiosk
from kuota.usage.models import NetworkElement


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str,
    now: datetime,
    email: str | None = None,
    locale: str = "id",
    store_id: int | None = None,
) -> int:
    if len(password) < 8:
        raise InvalidInput("a password has at least 8 characters", field="password")
    user_id = session.execute(
        insert(User)
        .values(
            username=username.strip().lower(),
            email=email,
            password_hash=hash_password(password),
            role=role,
            display_name=display_name,
            locale=locale,
            store_id=store_id,
            is_active=True,
            created_at=now,
        )
        .returning(User.id)
    ).scalar_one()
    return int(user_id)


def issue_token(session: Session, *, username: str, password: str, ttl: timedelta) -> str:
    """A bearer token for valid credentials. The token is shown once and stored hashed."""
    user = session.execute(
        select(User).where(User.username == username.strip().lower(), User.is_active.is_(True))
    ).scalar_one_or_none()
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthenticated("wrong username or password")
    token = new_token()
    now = real_now()
    session.execute(
        insert(ApiToken).values(
            token_hash=hash_token(token), user_id=user.id, created_at=now, expires_at=now + ttl
        )
    )
    return token


# Every authenticated request runs these: built once, not per call.
# What `user_principal` needs of a user; token and browser-session lookups select it.
PRINCIPAL_COLUMNS = (
    User.id,
    User.username,
    User.role,
    User.store_id,
    User.retailer_id,
    User.locale,
)
_TOKEN_OWNER = (
    select(*PRINCIPAL_COLUMNS, ApiToken.expires_at)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"), User.is_active.is_(True))
)
_KIOSK_BY_KEY = select(Kiosk.id, Kiosk.code).where(
    Kiosk.api_key_hash == bindparam("key_hash"), Kiosk.is_authorised.is_(True)
)


def principal_from_token(session: Session, token: str) -> Principal:
    row = run(session, _TOKEN_OWNER, {"token_hash": hash_token(token)}).one_or_none()
    if row is None or row.expires_at <= real_now():
        raise Unauthenticated("the bearer token is unknown or expired; log in again")
    return user_principal(row)


def user_principal(row: Any) -> Principal:
    """The caller, from a row of the user columns that token and session lookups select."""
    return Principal(
        kind="user",
        id=row.id,
        name=row.username,
        role=Role(row.role),
        store_id=row.store_id,
        retailer_id=row.retailer_id,
        locale=row.locale,
    )


def revoke_token(session: Session, token: str) -> None:
    session.execute(delete(ApiToken).where(ApiToken.token_hash == hash_token(token)))


def principal_from_kiosk_key(session: Session, key: str) -> Principal:
    row = run(session, _KIOSK_BY_KEY, {"key_hash": hash_token(key)}).one_or_none()
    if row is None:
        raise Unauthenticated("the kiosk key is unknown or the kiosk is no longer authorised")
    return Principal(kind="kiosk", id=row.id, name=row.code)


_NETWORK_ELEMENT_BY_KEY = select(NetworkElement.id, NetworkElement.name).where(
    NetworkElement.key_hash == bindparam("key_hash")
)


def network_element_from_key(session: Session, key: str | None) -> str:
    """The name of the network element that holds this X-Network-Key."""
    if not key or not key.strip():
        raise Unauthenticated("send the network element's key in the X-Network-Key header")
    row = run(session, _NETWORK_ELEMENT_BY_KEY, {"key_hash": hash_token(key.strip())}).first()
    if row is None:
        raise Unauthenticated("the X-Network-Key is unknown")
    return str(row.name)
