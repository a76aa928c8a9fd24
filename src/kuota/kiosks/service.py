"""Kiosk devices: registration with a key shown once, heartbeats, health as the
operator sees it, and printing a kiosk sale's receipt exactly once."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kuota.core import audit
from kuota.core.errors import Conflict, InvalidInput, NotFound
from kuota.core.principal import Principal
from kuota.core.security import hash_token
from kuota.kiosks.models import Kiosk
from kuota.receipts.printing import check_printer
from kuota.renewals.models import Renewal, RenewalStatus

OFFLINE_AFTER = timedelta(minutes=3)  # three missed beats of one a minute
PRINTER_STATES = ("ok", "error", "offline")
PAPER_STATES = ("ok", "low", "out")


def register(
    session: Session,
    *,
    actor: Principal,
    code: str,
    location: str,
    city: str,
    latitude: float | None,
    longitude: float | None,
    printer: str,
    now: datetime,
) -> dict[str, Any]:
    """A new kiosk and its API key; the key is in this answer only, stored as its hash."""
    code = code.strip().upper()
    if not code or len(code) > 20 or not code.replace("-", "").isalnum():
        raise InvalidInput("a kiosk code is up to 20 letters, digits and -", field="code")
    if not location.strip():
        raise InvalidInput("say where the kiosk stands", field="location")
    if (latitude is None) != (longitude is None):
        raise InvalidInput("give both latitude and longitude, or neither", field="latitude")
    check_printer(printer)
    key = f"ksk_{secrets.token_urlsafe(32)}"
    try:
        with session.begin_nested():
            kiosk_id = session.execute(
                insert(Kiosk)
                .values(
                    code=code,
                    location=location.strip(),
                    city=city.strip(),
                    latitude=latitude,
                    longitude=longitude,
                    api_key_hash=hash_token(key),
                    printer=printer,
                    is_authorised=True,
                    created_at=now,
                    printer_status="unknown",
                    paper_status="unknown",
                    app_version="",
                )
                .returning(Kiosk.id)
            ).scalar_one()
    except IntegrityError as exc:
        raise Conflict(f"kiosk {code} already exists") from exc
    audit.record(
        session,
        actor=f"{actor.scope}:{actor.name}",
        action="kiosk.register",
        target=code,
        detail={"location": location.strip(), "city": city.strip()},
        now=now,
    )
    return {"id": int(kiosk_id), "code": code, "api_key": key}


def heartbeat(
    session: Session,
    principal: Principal,
    *,
    printer_status: str,
    paper_status: str,
    app_version: str,
    now: datetime,
) -> dict[str, Any]:
    if printer_status not in PRINTER_STATES:
        raise InvalidInput(
            f"printer_status is one of {', '.join(PRINTER_STATES)}", field="printer_status"
        )
    if paper_status not in PAPER_STATES:
        raise InvalidInput(
            f"paper_status is one of {', '.join(PAPER_STATES)}", field="paper_status"
        )
    session.execute(
        update(Kiosk)
        .where(Kiosk.id == principal.id)
        .values(
            last_seen_at=now,
            printer_status=printer_status,
            paper_status=paper_status,
            app_version=app_version[:40],
        )
    )
    return {"code": principal.name, "seen_at": now, "next_beat_seconds": 60}


def health(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Every kiosk with its last beat; one not heard from for 3 minutes is offline."""
    return [
        {
            "code": k.code,
            "location": k.location,
            "city": k.city,
            "authorised": k.is_authorised,
            "online": k.last_seen_at is not None and now - k.last_seen_at <= OFFLINE_AFTER,
            "last_seen_at": k.last_seen_at,
            "printer_status": k.printer_status,
            "paper_status": k.paper_status,
            "app_version": k.app_version,
        }
        for k in session.execute(select(Kiosk).order_by(Kiosk.code)).scalars()
    ]


def sale_to_print(session: Session, principal: Principal, receipt_no: str) -> str:
    """The kiosk's printer, if this receipt is of a sale this kiosk made."""
    row = session.execute(
        select(Renewal.kiosk_id, Renewal.status).where(Renewal.receipt_no == receipt_no)
    ).one_or_none()
    if row is None or row.kiosk_id != principal.id or row.status != RenewalStatus.FULFILLED:
        raise NotFound(f"no receipt {receipt_no} sold at this kiosk")
    printer = session.execute(select(Kiosk.printer).where(Kiosk.id == principal.id)).scalar_one()
    if not printer:
        raise Conflict("this kiosk has no printer configured; ask the operator")
    return str(printer)


def _kiosk_by_code(session: Session, code: str) -> Kiosk:
    kiosk = session.execute(
        select(Kiosk).where(Kiosk.code == code.strip().upper())
    ).scalar_one_or_none()
    if kiosk is None:
        raise NotFound(f"no kiosk {code}")
    return kiosk


def change(
    session: Session,
    *,
    actor: Principal,
    code: str,
    authorised: bool | None,
    printer: str | None,
    new_key: bool,
    now: datetime,
) -> dict[str, Any]:
    """Withdraw or restore a kiosk, point it at another printer, or issue a new key (the
    old one stops working at once; the new one is in this answer only)."""
    kiosk = _kiosk_by_code(session, code)
    answer: dict[str, Any] = {"code": kiosk.code}
    if printer is not None:
        check_printer(printer)
        kiosk.printer = printer
        answer["printer"] = printer
    if authorised is not None:
        kiosk.is_authorised = authorised
        answer["authorised"] = authorised
    if new_key:
        key = f"ksk_{secrets.token_urlsafe(32)}"
        kiosk.api_key_hash = hash_token(key)
        answer["api_key"] = key
    session.flush()
    audit.record(
        session,
        actor=f"{actor.scope}:{actor.name}",
        action="kiosk.change",
        target=kiosk.code,
        detail={"authorised": authorised, "printer": printer, "new_key": new_key},
        now=now,
    )
    return answer
