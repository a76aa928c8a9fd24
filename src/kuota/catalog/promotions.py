"""Creating promotions, with every condition checked before anything is written."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kuota.catalog.models import PlanVersion, Promotion
from kuota.catalog.rules import PromotionKind
from kuota.core.errors import Conflict, InvalidInput
from kuota.core.money import check_currency
from kuota.renewals.models import Channel


def create_promotion(
    session: Session,
    *,
    code: str,
    kind: str,
    value: int,
    currency: str,
    starts_at: datetime,
    ends_at: datetime,
    plan_codes: list[str] | None,
    channels: list[str] | None,
    max_redemptions: int | None,
    max_per_card: int | None,
    now: datetime,
) -> dict[str, Any]:
    code = code.strip().upper()
    if not code.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput("a promotion code uses letters, digits, - and _ only", field="code")
    try:
        promo_kind = PromotionKind(kind)
    except ValueError as exc:
        raise InvalidInput("kind is one of percent, fixed, bonus_quota", field="kind") from exc
    if promo_kind is PromotionKind.PERCENT and not 1 <= value <= 10000:
        raise InvalidInput(
            "a percent discount is 1 to 10000 basis points (0.01 % to 100 %)", field="value"
        )
    if promo_kind is PromotionKind.FIXED and (value <= 0 or value % 100):
        raise InvalidInput(
            "a fixed discount is a positive whole-rupiah amount in minor units", field="value"
        )
    if promo_kind is PromotionKind.BONUS_QUOTA and value <= 0:
        raise InvalidInput("bonus quota is a positive number of bytes", field="value")
    check_currency(currency)
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput(
            "dates need a time zone, e.g. 2026-12-01T00:00:00+07:00", field="starts_at"
        )
    if ends_at <= starts_at:
        raise InvalidInput("a promotion ends after it starts", field="ends_at")
    for limit_name, limit in (("max_redemptions", max_redemptions), ("max_per_card", max_per_card)):
        if limit is not None and limit < 1:
            raise InvalidInput(
                f"{limit_name} is at least 1 (or absent for no limit)", field=limit_name
            )
    if channels is not None:
        known = {c.value for c in Channel}
        unknown = sorted(set(channels) - known)
        if unknown or not channels:
            raise InvalidInput(f"unknown channels {unknown}; use {sorted(known)}", field="channels")
    if plan_codes is not None:
        on_sale = set(session.execute(select(PlanVersion.code).distinct()).scalars())
        missing = sorted(set(plan_codes) - on_sale)
        if missing or not plan_codes:
            raise InvalidInput(f"no such plans: {missing}", field="plan_codes")
    if session.execute(select(Promotion.id).where(Promotion.code == code)).first():
        raise Conflict(f"promotion {code} already exists")
    values = {
        "code": code,
        "kind": promo_kind.value,
        "value": value,
        "currency": currency,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "plan_codes": plan_codes,
        "channels": channels,
        "max_redemptions": max_redemptions,
        "max_per_card": max_per_card,
        "redemptions": 0,
        "is_active": True,
        "created_at": now,
    }
    promotion_id = session.execute(
        insert(Promotion).values(**values).returning(Promotion.id)
    ).scalar_one()
    return {"id": int(promotion_id), **{k: v for k, v in values.items() if k != "created_at"}}
