"""The operator's side of retail: creating retailers, their stores and their people, and
setting commission rates. Every change is audited."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kuota.auth import service as auth
from kuota.auth.models import Role, User
from kuota.catalog.models import PlanVersion
from kuota.core import audit
from kuota.core.errors import Conflict, InvalidInput, NotFound
from kuota.core.principal import Principal
from kuota.ledger import service as ledger
from kuota.receipts.printing import check_printer
from kuota.retail.models import Retailer, RetailerCommission, Store

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,19}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def _code(raw: str, field: str) -> str:
    code = raw.strip().upper()
    if not _CODE.match(code):
        raise InvalidInput(f"a code is 2 to 20 letters, digits and -; not {raw!r}", field=field)
    return code


def _rate(basis_points: int, field: str) -> int:
    if not 0 <= basis_points <= 5000:
        raise InvalidInput("a commission is 0 to 5000 basis points (0 % to 50 %)", field=field)
    return basis_points


def _retailer_id(session: Session, code: str) -> int:
    found = session.execute(
        select(Retailer.id).where(Retailer.code == code.strip().upper())
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no retailer {code}")
    return int(found)


def _audit(
    session: Session,
    actor: Principal,
    action: str,
    target: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    audit.record(
        session,
        actor=f"{actor.scope}:{actor.name}",
        action=action,
        target=target,
        detail=detail,
        now=now,
    )


def create_retailer(
    session: Session,
    actor: Principal,
    *,
    code: str,
    name: str,
    commission_basis_points: int,
    currency: str,
    now: datetime,
) -> dict[str, Any]:
    code = _code(code, "code")
    if not name.strip():
        raise InvalidInput("give the retailer's name", field="name")
    _rate(commission_basis_points, "commission_basis_points")
    try:
        with session.begin_nested():
            retailer_id = session.execute(
                insert(Retailer)
                .values(
                    code=code,
                    name=name.strip(),
                    commission_basis_points=commission_basis_points,
                    created_at=now,
                )
                .returning(Retailer.id)
            ).scalar_one()
    except IntegrityError as exc:
        raise Conflict(f"retailer {code} already exists") from exc
    ledger.open_retailer_float(session, retailer_id=int(retailer_id), currency=currency, now=now)
    _audit(
        session,
        actor,
        "retailer.create",
        code,
        {"name": name.strip(), "commission_basis_points": commission_basis_points},
        now,
    )
    return {"code": code, "name": name.strip(), "commission_basis_points": commission_basis_points}


def add_store(
    session: Session,
    actor: Principal,
    retailer_code: str,
    *,
    code: str,
    name: str,
    city: str,
    address: str,
    latitude: float | None,
    longitude: float | None,
    open_days: str,
    opens_at: str,
    closes_at: str,
    printer: str,
    now: datetime,
) -> dict[str, Any]:
    retailer_id = _retailer_id(session, retailer_code)
    code = _code(code, "code")
    if (latitude is None) != (longitude is None):
        raise InvalidInput("give both latitude and longitude, or neither", field="latitude")
    if (
        not open_days
        or not set(open_days) <= set("1234567")
        or len(set(open_days)) != len(open_days)
    ):
        raise InvalidInput(
            "open_days lists ISO weekdays once each, e.g. 123456 (Monday–Saturday)",
            field="open_days",
        )
    for field, value in (("opens_at", opens_at), ("closes_at", closes_at)):
        if not _TIME.match(value):
            raise InvalidInput(f"{field} is a time like 08:00", field=field)
    check_printer(printer)
    values = {
        "retailer_id": retailer_id,
        "code": code,
        "name": name.strip(),
        "city": city.strip(),
        "address": address.strip(),
        "latitude": latitude,
        "longitude": longitude,
        "open_days": "".join(sorted(open_days)),
        "opens_at": opens_at,
        "closes_at": closes_at,
        "printer": printer,
        "is_authorised": True,
        "created_at": now,
    }
    try:
        with session.begin_nested():
            session.execute(insert(Store).values(**values))
    except IntegrityError as exc:
        raise Conflict(f"store {code} already exists") from exc
    _audit(session, actor, "store.create", code, {"retailer": retailer_code, "city": city}, now)
    return {k: v for k, v in values.items() if k not in ("retailer_id", "created_at")}


def set_store_authorised(
    session: Session, actor: Principal, code: str, authorised: bool, now: datetime
) -> None:
    """Withdraw (or restore) a store's authorisation: it stops selling and leaves the locator."""
    _update_store(session, code, is_authorised=authorised)
    _audit(session, actor, "store.authorise" if authorised else "store.withdraw", code, {}, now)


def set_store_printer(
    session: Session, actor: Principal, code: str, printer: str, now: datetime
) -> None:
    check_printer(printer)
    _update_store(session, code, printer=printer)
    _audit(session, actor, "store.printer", code, {"printer": printer}, now)


def _update_store(session: Session, code: str, **values: Any) -> None:
    changed = session.execute(
        update(Store).where(Store.code == code.strip().upper()).values(**values).returning(Store.id)
    ).first()
    if changed is None:
        raise NotFound(f"no store {code}")


def add_person(
    session: Session,
    actor: Principal,
    retailer_code: str,
    *,
    username: str,
    password: str,
    display_name: str,
    role: str,
    store_code: str | None,
    now: datetime,
) -> dict[str, Any]:
    retailer_id = _retailer_id(session, retailer_code)
    if role not in (Role.RETAIL_STAFF, Role.RETAIL_OWNER):
        raise InvalidInput("role is retail_staff or retail_owner", field="role")
    store_id = None
    if role == Role.RETAIL_STAFF:
        if not store_code:
            raise InvalidInput("staff sell at one store: give store_code", field="store_code")
        store_id = session.execute(
            select(Store.id).where(
                Store.code == store_code.strip().upper(), Store.retailer_id == retailer_id
            )
        ).scalar_one_or_none()
        if store_id is None:
            raise NotFound(f"retailer {retailer_code} has no store {store_code}")
    if session.execute(select(User.id).where(User.username == username.strip().lower())).first():
        raise Conflict(f"username {username} is taken")
    user_id = auth.create_user(
        session,
        username=username,
        password=password,
        role=Role(role),
        display_name=display_name.strip() or username,
        now=now,
        store_id=int(store_id) if store_id is not None else None,
    )
    if role == Role.RETAIL_OWNER:
        session.execute(update(User).where(User.id == user_id).values(retailer_id=retailer_id))
    _audit(
        session,
        actor,
        "retail_user.create",
        username,
        {"retailer": retailer_code, "role": role, "store": store_code},
        now,
    )
    return {"username": username.strip().lower(), "role": role, "store_code": store_code}


def set_commission(
    session: Session,
    actor: Principal,
    retailer_code: str,
    *,
    plan_code: str | None,
    basis_points: int,
    now: datetime,
) -> dict[str, Any]:
    """The retailer's overall rate (no plan) or its rate for one plan."""
    retailer_id = _retailer_id(session, retailer_code)
    _rate(basis_points, "basis_points")
    if plan_code is None:
        session.execute(
            update(Retailer)
            .where(Retailer.id == retailer_id)
            .values(commission_basis_points=basis_points)
        )
    else:
        if not session.execute(select(PlanVersion.id).where(PlanVersion.code == plan_code)).first():
            raise NotFound(f"no plan {plan_code}")
        updated = session.execute(
            update(RetailerCommission)
            .where(
                RetailerCommission.retailer_id == retailer_id,
                RetailerCommission.plan_code == plan_code,
            )
            .values(basis_points=basis_points)
            .returning(RetailerCommission.id)
        ).first()
        if updated is None:
            session.execute(
                insert(RetailerCommission).values(
                    retailer_id=retailer_id, plan_code=plan_code, basis_points=basis_points
                )
            )
    _audit(
        session,
        actor,
        "retailer.commission",
        retailer_code,
        {"plan_code": plan_code, "basis_points": basis_points},
        now,
    )
    return {"retailer": retailer_code, "plan_code": plan_code, "basis_points": basis_points}
