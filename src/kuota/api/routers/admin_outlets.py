"""The operator's side of stores and kiosks: float deposits, kiosk registration and
health, and the fraud flags the velocity rules raise."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from kuota.api.answers import json_response, stored_response
from kuota.api.deps import (
    Caller,
    ContextDep,
    IdempotencyKey,
    OperatorAdmin,
    SessionDep,
    WriteTransaction,
    require_admin,
)
from kuota.api.money import MoneyIn
from kuota.core import audit, idempotency
from kuota.core.clock import real_now
from kuota.core.errors import Conflict, InvalidInput, NotFound
from kuota.core.principal import Principal
from kuota.kiosks import service as kiosks
from kuota.ledger import service as ledger
from kuota.retail import admin as retail_admin
from kuota.retail.models import FraudFlag, Retailer

router = APIRouter(prefix="/admin", tags=["operator"])


class RetailerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=2, max_length=20, examples=["MAWAR"])
    name: str = Field(min_length=1, max_length=120)
    commission_basis_points: int = Field(default=0, description="500 = 5 %")


class StoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=2, max_length=20, examples=["RTL-0201"])
    name: str = Field(min_length=1, max_length=120)
    city: str = Field(min_length=1, max_length=80)
    address: str = Field(default="", max_length=240)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    open_days: str = Field(default="1234567", description="ISO weekdays open: 123456 = Mon–Sat")
    opens_at: str = "08:00"
    closes_at: str = "21:00"
    printer: str = Field(default="", max_length=200, examples=["network:10.0.0.50:9100"])


class RetailPersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=3, max_length=80)
    password: str = Field(min_length=8, max_length=200)
    display_name: str = Field(default="", max_length=120)
    role: str = Field(description="retail_staff | retail_owner")
    store_code: str | None = None


class CommissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan_code: str | None = Field(default=None, description="absent: the retailer's overall rate")
    basis_points: int


class AuthorisationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    authorised: bool


class PrinterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    printer: str = Field(
        max_length=200, description="network:HOST:PORT, usb:VID:PID, file:PATH or empty"
    )


class ResolutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=500, description="what was found and done")


class KioskChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    authorised: bool | None = None
    printer: str | None = Field(default=None, max_length=200)
    new_key: bool = Field(default=False, description="issue a new API key; the old one stops")


@router.post("/retailers", status_code=201)
def create_retailer(
    body: RetailerIn, session: SessionDep, ctx: ContextDep, principal: OperatorAdmin
) -> Response:
    """A new authorised retailer with an empty float."""
    return json_response(
        retail_admin.create_retailer(
            session,
            principal,
            currency=ctx.settings.currency,
            now=ctx.clock.now(),
            **body.model_dump(),
        ),
        status=201,
    )


@router.post("/retailers/{code}/stores", status_code=201)
def add_store(
    code: str, body: StoreIn, session: SessionDep, ctx: ContextDep, principal: OperatorAdmin
) -> Response:
    return json_response(
        retail_admin.add_store(session, principal, code, now=ctx.clock.now(), **body.model_dump()),
        status=201,
    )


@router.put("/stores/{code}/authorisation")
def authorise_store(
    code: str, body: AuthorisationIn, session: SessionDep, ctx: ContextDep, principal: OperatorAdmin
) -> Response:
    """Withdraw a store's authorisation (it stops selling, leaves the locator) or restore it."""
    retail_admin.set_store_authorised(session, principal, code, body.authorised, ctx.clock.now())
    return json_response({"store": code.upper(), "authorised": body.authorised})


@router.put("/stores/{code}/printer")
def set_store_printer(
    code: str, body: PrinterIn, session: SessionDep, ctx: ContextDep, principal: OperatorAdmin
) -> Response:
    retail_admin.set_store_printer(session, principal, code, body.printer, ctx.clock.now())
    return json_response({"store": code.upper(), "printer": body.printer})


@router.patch("/kiosks/{code}")
def change_kiosk(
    code: str, body: KioskChangeIn, session: SessionDep, ctx: ContextDep, principal: OperatorAdmin
) -> Response:
    """Withdraw or restore a kiosk, change its printer, or re-key it (a lost or stolen
    device): the new key is in this answer only."""
    return json_response(
        kiosks.change(session, actor=principal, code=code, now=ctx.clock.now(), **body.model_dump())
    )


@router.post("/fraud-flags/{flag_id}/resolution")
def resolve_fraud_flag(
    flag_id: int, body: ResolutionIn, session: SessionDep, ctx: ContextDep, principal: OperatorAdmin
) -> Response:
    """Mark a flag as looked at, with what was found; audited."""
    flag = session.get(FraudFlag, flag_id)
    if flag is None:
        raise NotFound(f"no fraud flag {flag_id}")
    if flag.resolved_at is not None:
        raise Conflict(f"fraud flag {flag_id} was resolved already")
    now = ctx.clock.now()
    flag.resolved_at = now
    audit.record(
        session,
        actor=f"{principal.scope}:{principal.name}",
        action="fraud_flag.resolve",
        target=str(flag_id),
        detail={"note": body.note},
        now=now,
    )
    return json_response({"id": flag_id, "resolved_at": now, "note": body.note})


@router.post("/retailers/{code}/people", status_code=201)
def add_person(
    code: str, body: RetailPersonIn, session: SessionDep, ctx: ContextDep, principal: OperatorAdmin
) -> Response:
    """A login for the retailer's staff (at one store) or owner (all its stores)."""
    return json_response(
        retail_admin.add_person(session, principal, code, now=ctx.clock.now(), **body.model_dump()),
        status=201,
    )


@router.put("/retailers/{code}/commission")
def set_commission(
    code: str, body: CommissionIn, session: SessionDep, ctx: ContextDep, principal: OperatorAdmin
) -> Response:
    return json_response(
        retail_admin.set_commission(
            session, principal, code, now=ctx.clock.now(), **body.model_dump()
        )
    )


class FloatDepositIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: MoneyIn
    reference: str = Field(min_length=1, max_length=80, description="the bank transfer's reference")


@router.post("/retailers/{code}/float-deposits", status_code=201)
async def deposit_float(
    code: str,
    body: FloatDepositIn,
    tx: WriteTransaction,
    ctx: ContextDep,
    caller: Caller,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """The retailer paid money in: its float grows by that much. Once per key; audited."""
    amount = body.amount.to_money()
    if amount.amount <= 0 or not amount.is_whole_charge_unit():
        raise InvalidInput("a deposit is a positive whole-rupiah amount", field="amount.amount")

    def operation(session: Session, principal: Principal) -> dict[str, Any]:
        retailer_id = session.execute(
            select(Retailer.id).where(Retailer.code == code.strip().upper())
        ).scalar_one_or_none()
        if retailer_id is None:
            raise NotFound(f"no retailer {code}")
        account = ledger.retailer_float_account_id(session, int(retailer_id))
        entry = ledger.move_guarded(
            session,
            ctx,
            account_id=account,
            amount=amount,
            house="retailer_deposits",
            kind="float_deposit",
            reference=body.reference,
            memo=f"deposit by {code}",
        )
        audit.record(
            session,
            actor=f"{principal.scope}:{principal.name}",
            action="retailer.float_deposit",
            target=code,
            detail={"amount": amount.as_json(), "reference": body.reference},
            now=ctx.clock.now(),
        )
        return {
            "retailer": code,
            "entry_id": entry,
            "float": ledger.guarded_balance(session, account).as_json(),
        }

    answer = await tx.exactly_once(
        caller,
        ctx,
        idempotency_key=idempotency_key,
        fingerprint=idempotency.fingerprint("POST", f"/admin/retailers/{code}", body.model_dump()),
        operation=operation,
        authorize=require_admin,
    )
    return stored_response(answer)


class KioskIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    code: str = Field(min_length=1, max_length=20, examples=["KSK-0002"])
    location: str = Field(min_length=1, max_length=160)
    city: str = Field(default="", max_length=80)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    printer: str = Field(default="", max_length=200, examples=["usb:04b8:0202"])


@router.post("/kiosks", status_code=201)
def register_kiosk(
    body: KioskIn, session: SessionDep, ctx: ContextDep, principal: OperatorAdmin
) -> Response:
    """Register a kiosk. Its API key is in this answer only: configure the device with it."""
    return json_response(
        kiosks.register(session, actor=principal, now=ctx.clock.now(), **body.model_dump()),
        status=201,
    )


@router.get("/kiosks")
def kiosk_health(session: SessionDep, principal: OperatorAdmin) -> Response:
    """Every kiosk, online or offline (no heartbeat for 3 minutes), with printer and paper."""
    return json_response(kiosks.health(session, real_now()))


@router.get("/fraud-flags")
def fraud_flags(session: SessionDep, principal: OperatorAdmin) -> Response:
    rows = session.execute(select(FraudFlag).order_by(FraudFlag.created_at.desc()).limit(500))
    return json_response(
        [
            {
                "id": f.id,
                "kind": f.kind,
                "subject": f.subject,
                "detail": f.detail,
                "created_at": f.created_at,
                "resolved_at": f.resolved_at,
            }
            for f in rows.scalars()
        ]
    )
