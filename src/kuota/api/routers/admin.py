from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictInt
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
from kuota.api.routers.plans import PlanOut, plan_view
from kuota.cards import admin
from kuota.catalog import promotions
from kuota.catalog import service as catalog
from kuota.catalog.models import PlanVersion
from kuota.core import audit, idempotency
from kuota.renewals.schemas import MoneyOut

router = APIRouter(prefix="/admin", tags=["operator"])


class BalanceAdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: MoneyIn
    reason: str = Field(min_length=1, max_length=240)


class BalanceAdjustmentOut(BaseModel):
    msisdn: str
    balance: MoneyOut
    amount: MoneyOut
    reason: str
    entry_id: int


@router.post(
    "/cards/{msisdn}/balance-adjustments", response_model=BalanceAdjustmentOut, status_code=201
)
async def adjust_balance(
    msisdn: str,
    body: BalanceAdjustmentIn,
    tx: WriteTransaction,
    ctx: ContextDep,
    caller: Caller,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Credit (or, negative, debit) a card's main balance. Operator admins only; audited."""
    amount = body.amount.to_money()
    answer = await tx.exactly_once(
        caller,
        ctx,
        idempotency_key=idempotency_key,
        fingerprint=idempotency.fingerprint(
            "POST", f"/admin/cards/{msisdn}/balance-adjustments", body.model_dump()
        ),
        authorize=require_admin,
        operation=lambda session, principal: admin.adjust_balance(
            session, ctx, principal, msisdn=msisdn, amount=amount, reason=body.reason
        ),
    )
    return stored_response(answer)


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=120)
    price: MoneyIn
    data_bytes: StrictInt = Field(gt=0)
    validity_days: StrictInt = Field(gt=0, le=3650)


@router.post("/plans", response_model=PlanOut, status_code=201)
def publish_plan(
    body: PlanIn, session: SessionDep, ctx: ContextDep, principal: OperatorAdmin
) -> Response:
    """Put a plan on sale, or change its price: a new version; past sales keep theirs."""
    now = ctx.clock.now()
    plan_id = catalog.publish_plan(
        session,
        code=body.code,
        name=body.name,
        price=body.price.to_money(),
        data_bytes=body.data_bytes,
        validity_days=body.validity_days,
        now=now,
    )
    plan = session.get_one(PlanVersion, plan_id)
    audit.record(
        session,
        actor=principal.name,
        action="plan.published",
        target=plan.code,
        detail={"version": plan.version, "price": plan.price_amount},
        now=now,
    )
    return json_response(plan_view(plan), status=201)


class PromotionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=2, max_length=40)
    kind: str = Field(description="percent | fixed | bonus_quota")
    value: StrictInt = Field(
        description="percent: basis points (1000 = 10 %); fixed: minor units; bonus_quota: bytes"
    )
    currency: str = "IDR"
    starts_at: datetime
    ends_at: datetime
    plan_codes: list[str] | None = None
    channels: list[str] | None = None
    max_redemptions: StrictInt | None = Field(default=None, gt=0)
    max_per_card: StrictInt | None = Field(default=None, gt=0)


@router.post("/promotions", status_code=201)
def create_promotion(
    body: PromotionIn, session: SessionDep, ctx: ContextDep, principal: OperatorAdmin
) -> Response:
    """Create a promotion code with its limits."""
    now = ctx.clock.now()
    view = promotions.create_promotion(session, now=now, **body.model_dump())
    audit.record(
        session,
        actor=principal.name,
        action="promotion.created",
        target=body.code,
        detail=body.model_dump(mode="json"),
        now=now,
    )
    return json_response(view, status=201)
