"""The plan catalogue and promotion redemption."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from kuota.catalog.models import PlanVersion, Promotion, PromotionCardUse
from kuota.catalog.rules import PromotionKind, PromotionTerms
from kuota.core.errors import InvalidInput, PromotionRejected
from kuota.core.money import Money, check_currency


def current_plans(session: Session) -> list[PlanVersion]:
    return list(
        session.execute(
            select(PlanVersion)
            .where(PlanVersion.is_current.is_(True))
            .order_by(PlanVersion.price_amount, PlanVersion.code)
        )
        .scalars()
        .all()
    )


_PLAN_ON_SALE = select(PlanVersion).where(
    PlanVersion.code == bindparam("code"), PlanVersion.is_current.is_(True)
)


def current_plan(session: Session, code: str) -> PlanVersion:
    plan = session.execute(_PLAN_ON_SALE, {"code": code}).scalar_one_or_none()
    if plan is None:
        raise InvalidInput(f"there is no plan {code!r} on sale", field="plan_code")
    return plan


def publish_plan(
    session: Session,
    *,
    code: str,
    name: str,
    price: Money,
    data_bytes: int,
    validity_days: int,
    now: datetime,
) -> int:
    """Put a plan on sale at a price; an existing plan gets a new version, old sales keep theirs."""
    if not code or not code.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput("a plan code uses letters, digits, - and _ only", field="code")
    if price.amount <= 0 or not price.is_whole_charge_unit():
        raise InvalidInput("a plan's price is a positive whole amount", field="price")
    if data_bytes <= 0:
        raise InvalidInput("a plan gives a positive number of bytes", field="data_bytes")
    if not 1 <= validity_days <= 366:
        raise InvalidInput("validity is 1 to 366 days", field="validity_days")
    check_currency(price.currency)
    latest = session.execute(
        select(PlanVersion.version)
        .where(PlanVersion.code == code)
        .order_by(PlanVersion.version.desc())
        .limit(1)
        .with_for_update()
    ).scalar_one_or_none()
    session.execute(update(PlanVersion).where(PlanVersion.code == code).values(is_current=False))
    new_id = session.execute(
        insert(PlanVersion)
        .values(
            code=code,
            version=(latest or 0) + 1,
            name=name,
            price_amount=price.amount,
            currency=price.currency,
            data_bytes=data_bytes,
            validity_days=validity_days,
            is_current=True,
            created_at=now,
        )
        .returning(PlanVersion.id)
    ).scalar_one()
    return int(new_id)


def withdraw_plan(session: Session, code: str) -> None:
    """Take a plan off sale. Past sales keep their version; unpaid ones are not delivered."""
    withdrawn = session.execute(
        update(PlanVersion)
        .where(PlanVersion.code == code, PlanVersion.is_current.is_(True))
        .values(is_current=False)
    )
    if withdrawn.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidInput(f"there is no plan {code!r} on sale", field="code")


def is_on_sale(session: Session, code: str) -> bool:
    return session.execute(_PLAN_ON_SALE, {"code": code}).first() is not None


def promotion_by_code(session: Session, code: str) -> tuple[int, PromotionTerms]:
    promo = session.execute(
        select(Promotion).where(Promotion.code == code.strip().upper())
    ).scalar_one_or_none()
    if promo is None:
        raise PromotionRejected(f"there is no promotion {code!r}", field="promo_code")
    return promo.id, PromotionTerms(
        code=promo.code,
        kind=PromotionKind(promo.kind),
        value=promo.value,
        currency=promo.currency,
        starts_at=promo.starts_at,
        ends_at=promo.ends_at,
        plan_codes=tuple(promo.plan_codes) if promo.plan_codes is not None else None,
        channels=tuple(promo.channels) if promo.channels is not None else None,
        is_active=promo.is_active,
    )


def redeem(session: Session, *, promotion_id: int, card_id: int, code: str) -> None:
    """Count one redemption against the total and per-card limits, atomically.

    Both limits are conditional updates, so concurrent sales can never exceed them:
    the loser's update matches no row and the sale is refused.
    """
    taken = session.execute(
        update(Promotion)
        .where(
            Promotion.id == promotion_id,
            (Promotion.max_redemptions.is_(None))
            | (Promotion.redemptions < Promotion.max_redemptions),
        )
        .values(redemptions=Promotion.redemptions + 1)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise PromotionRejected(f"promotion {code} has been fully redeemed", field="promo_code")
    per_card = session.execute(
        select(Promotion.max_per_card).where(Promotion.id == promotion_id)
    ).scalar_one()
    if per_card is None:
        return
    bumped = session.execute(
        update(PromotionCardUse)
        .where(
            PromotionCardUse.promotion_id == promotion_id,
            PromotionCardUse.card_id == card_id,
            PromotionCardUse.uses < per_card,
        )
        .values(uses=PromotionCardUse.uses + 1)
    )
    if bumped.rowcount == 1:  # type: ignore[attr-defined]
        return
    exists = session.execute(
        select(PromotionCardUse.uses).where(
            PromotionCardUse.promotion_id == promotion_id, PromotionCardUse.card_id == card_id
        )
    ).scalar_one_or_none()
    if exists is not None:
        raise PromotionRejected(
            f"this card has already used promotion {code} {per_card} time(s), the limit",
            field="promo_code",
        )
    # The card row is locked by the renewal, so no other sale for this card races this insert.
    session.execute(
        insert(PromotionCardUse).values(promotion_id=promotion_id, card_id=card_id, uses=1)
    )


def count_late_redemption(session: Session, *, promotion_id: int, card_id: int) -> None:
    """A sale given up on (its redemption released) was paid after all: it counts again,
    even past the limits: the payer was quoted the discount and has paid for it."""
    session.execute(
        update(Promotion)
        .where(Promotion.id == promotion_id)
        .values(redemptions=Promotion.redemptions + 1)
    )
    session.execute(
        update(PromotionCardUse)
        .where(PromotionCardUse.promotion_id == promotion_id, PromotionCardUse.card_id == card_id)
        .values(uses=PromotionCardUse.uses + 1)
    )


def release(session: Session, *, promotion_id: int, card_id: int) -> None:
    """Give back one redemption of a sale that was never paid."""
    session.execute(
        update(Promotion)
        .where(Promotion.id == promotion_id, Promotion.redemptions > 0)
        .values(redemptions=Promotion.redemptions - 1)
    )
    session.execute(
        update(PromotionCardUse)
        .where(
            PromotionCardUse.promotion_id == promotion_id,
            PromotionCardUse.card_id == card_id,
            PromotionCardUse.uses > 0,
        )
        .values(uses=PromotionCardUse.uses - 1)
    )
