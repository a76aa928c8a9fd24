"""Subscriber accounts on the portal: registering, signing in, attaching a card by
proving it is held, and resetting a forgotten password.

Every outcome that must be remembered even when the request is refused (a failed
sign-in, a wrong code) is returned, not raised, so the caller's transaction commits
the record and only then shows the refusal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kuota.auth import guard
from kuota.auth.codes import Purpose, check_code, send_code
from kuota.auth.models import Role, User, WebSession
from kuota.auth.service import create_user
from kuota.cards.models import Card, CardStatus
from kuota.cards.rules import normalize_msisdn
from kuota.core import audit
from kuota.core.clock import real_now
from kuota.core.context import Context
from kuota.core.errors import Conflict, InvalidInput, KuotaError, NotFound, TooManyAttempts
from kuota.core.security import hash_password, verify_password

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


@dataclass(frozen=True, slots=True)
class SignIn:
    """Who signed in, or why nobody did."""

    user_id: int | None
    error: KuotaError | None = None


def normalize_email(raw: str) -> str:
    email = raw.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise InvalidInput(f"{raw.strip()!r} is not an e-mail address", field="email")
    return email


def check_new_password(password: str) -> None:
    if len(password) < 8:
        raise InvalidInput("a password has at least 8 characters", field="password")
    if len(password) > 200:
        raise InvalidInput("a password has at most 200 characters", field="password")


def register(session: Session, *, email: str, password: str, display_name: str, locale: str) -> int:
    address = normalize_email(email)
    check_new_password(password)
    name = display_name.strip()
    if not 1 <= len(name) <= 120:
        raise InvalidInput("give your name (1 to 120 characters)", field="display_name")
    if session.execute(select(User.id).where(User.username == address)).first():
        raise Conflict(f"{address} already has an account; sign in or reset the password")
    try:
        with session.begin_nested():
            return create_user(
                session,
                username=address,
                email=address,
                password=password,
                role=Role.SUBSCRIBER,
                display_name=name,
                locale=locale,
                now=real_now(),
            )
    except IntegrityError as exc:
        raise Conflict(f"{address} already has an account; sign in or reset the password") from exc


def sign_in_with_password(
    session: Session, ctx: Context, *, username: str, password: str, address: str
) -> SignIn:
    subject = username.strip().lower()
    now = real_now()
    try:
        guard.ensure_allowed(
            session,
            kind=guard.AttemptKind.PASSWORD,
            subject=subject,
            address=address,
            now=now,
            enabled=ctx.settings.rate_limits,
        )
    except TooManyAttempts as exc:
        guard.record(
            session,
            kind=guard.AttemptKind.PASSWORD,
            subject=subject,
            address=address,
            succeeded=False,
            reason="locked",
            now=now,
        )
        return SignIn(None, exc)
    user = session.execute(
        select(User).where(User.username == subject, User.is_active.is_(True))
    ).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password) and user is not None
    guard.record(
        session,
        kind=guard.AttemptKind.PASSWORD,
        subject=subject,
        address=address,
        succeeded=ok,
        reason="" if ok else "wrong_credentials",
        now=now,
    )
    if not ok or user is None:
        return SignIn(None, InvalidInput("wrong e-mail or password", field="password"))
    return SignIn(user.id)


def request_sign_in_code(
    session: Session, ctx: Context, *, msisdn: str, locale: str, address: str
) -> str:
    """Send a sign-in code to a card that belongs to an account. For a number that has
    no account the answer looks the same (a challenge id) and nothing is sent, so the
    form does not tell who is a customer."""
    number = normalize_msisdn(msisdn)
    owner = session.execute(
        select(Card.owner_user_id, User.locale)
        .join(User, User.id == Card.owner_user_id)
        .where(Card.msisdn == number, User.is_active.is_(True))
    ).one_or_none()
    return send_code(
        session,
        ctx,
        purpose=Purpose.SIGN_IN,
        channel="sms" if owner else None,
        destination=number,
        user_id=owner.owner_user_id if owner else None,
        locale=(owner.locale if owner else None) or locale,
        address=address,
    )


def sign_in_with_code(
    session: Session, ctx: Context, *, code_id: str, code: str, address: str
) -> SignIn:
    checked = check_code(
        session, ctx, code_id=code_id, code=code, purpose=Purpose.SIGN_IN, address=address
    )
    if checked.error is not None:
        return SignIn(None, checked.error)
    if checked.user_id is None:
        return SignIn(None, InvalidInput("wrong code", field="code"))
    return SignIn(checked.user_id)


def request_card_code(
    session: Session, ctx: Context, *, user_id: int, msisdn: str, locale: str, address: str
) -> str:
    """Send a code to the card to be attached: only whoever holds the SIM can read it."""
    number = normalize_msisdn(msisdn)
    card = session.execute(select(Card).where(Card.msisdn == number)).scalar_one_or_none()
    if card is None or card.status == CardStatus.TERMINATED:
        raise NotFound(f"{number} is not one of this operator's active cards")
    if card.owner_user_id == user_id:
        raise Conflict(f"{number} is already on your account")
    if card.owner_user_id is not None:
        raise Conflict(f"{number} is attached to another account; ask support to move it")
    return send_code(
        session,
        ctx,
        purpose=Purpose.ATTACH_CARD,
        channel="sms",
        destination=number,
        user_id=user_id,
        locale=locale,
        address=address,
    )


def attach_card(
    session: Session, ctx: Context, *, user_id: int, code_id: str, code: str, address: str
) -> tuple[str | None, KuotaError | None]:
    """Attach the card the code was sent to, if the code is right and the card still free."""
    checked = check_code(
        session, ctx, code_id=code_id, code=code, purpose=Purpose.ATTACH_CARD, address=address
    )
    if checked.error is not None:
        return None, checked.error
    if checked.user_id != user_id:
        return None, InvalidInput("this code was sent for another account", field="code")
    claimed = session.execute(
        update(Card)
        .where(Card.msisdn == checked.destination, Card.owner_user_id.is_(None))
        .values(owner_user_id=user_id)
        .returning(Card.id)
    ).first()
    if claimed is None:
        return None, Conflict(f"{checked.destination} was attached to another account meanwhile")
    audit.record(
        session,
        actor=f"user:{user_id}",
        action="card.attach",
        target=checked.destination,
        detail={"proof": "sms_code"},
        now=real_now(),
    )
    return checked.destination, None


def request_password_reset(
    session: Session, ctx: Context, *, email: str, locale: str, address: str
) -> str:
    """Mail a reset code. Unknown addresses get the same answer and no mail."""
    subject = normalize_email(email)
    user = session.execute(
        select(User.id, User.locale).where(User.email == subject, User.is_active.is_(True))
    ).one_or_none()
    return send_code(
        session,
        ctx,
        purpose=Purpose.RESET_PASSWORD,
        channel="email" if user else None,
        destination=subject,
        user_id=user.id if user else None,
        locale=(user.locale if user else None) or locale,
        address=address,
    )


def reset_password(
    session: Session, ctx: Context, *, code_id: str, code: str, password: str, address: str
) -> SignIn:
    """Set a new password with the mailed code; every open session of the account ends."""
    check_new_password(password)
    checked = check_code(
        session, ctx, code_id=code_id, code=code, purpose=Purpose.RESET_PASSWORD, address=address
    )
    if checked.error is not None:
        return SignIn(None, checked.error)
    if checked.user_id is None:
        return SignIn(None, InvalidInput("wrong code", field="code"))
    session.execute(
        update(User).where(User.id == checked.user_id).values(password_hash=hash_password(password))
    )
    session.execute(delete(WebSession).where(WebSession.user_id == checked.user_id))
    audit.record(
        session,
        actor=f"user:{checked.user_id}",
        action="password.reset",
        target=checked.destination,
        detail={"proof": "email_code"},
        now=real_now(),
    )
    return SignIn(checked.user_id)
