"""Pricing: a plan's list price, the promotion that applies, the total to charge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kuota.core.errors import PromotionRejected
from kuota.core.money import Money


class PromotionKind(StrEnum):
    PERCENT = "percent"
    FIXED = "fixed"
    BONUS_QUOTA = "bonus_quota"


@dataclass(frozen=True, slots=True)
class PromotionTerms:
    code: str
    kind: PromotionKind
    value: int
    currency: str
    starts_at: datetime
    ends_at: datetime
    plan_codes: tuple[str, ...] | None
    channels: tuple[str, ...] | None
    is_active: bool


@dataclass(frozen=True, slots=True)
class Quote:
    list_price: Money
    discount: Money
    total: Money
    bonus_bytes: int


def check_eligible(terms: PromotionTerms, *, plan_code: str, channel: str, now: datetime) -> None:
    """Raise `PromotionRejected` naming the first condition the sale does not meet."""
    if not terms.is_active:
        raise PromotionRejected(f"promotion {terms.code} is no longer offered", field="promo_code")
    if now < terms.starts_at:
        raise PromotionRejected(f"promotion {terms.code} has not started yet", field="promo_code")
    if now >= terms.ends_at:
        raise PromotionRejected(f"promotion {terms.code} has ended", field="promo_code")
    if terms.plan_codes is not None and plan_code not in terms.plan_codes:
        raise PromotionRejected(
            f"promotion {terms.code} does not apply to plan {plan_code}; it applies to "
            + ", ".join(terms.plan_codes),
            field="promo_code",
        )
    if terms.channels is not None and channel not in terms.channels:
        raise PromotionRejected(
            f"promotion {terms.code} is not offered through the {channel} channel",
            field="promo_code",
        )


def quote(price: Money, terms: PromotionTerms | None) -> Quote:
    """The exact total: percentage discounts round half up to the whole rupiah, never below 0."""
    if terms is None:
        return Quote(price, Money.zero(price.currency), price, 0)
    if terms.kind is PromotionKind.PERCENT:
        discount = price.percent_of(terms.value)
    elif terms.kind is PromotionKind.FIXED:
        if terms.currency != price.currency:
            raise PromotionRejected(
                f"promotion {terms.code} takes {terms.currency} off; this plan is priced in "
                f"{price.currency}",
                field="promo_code",
            )
        discount = Money(min(terms.value, price.amount), price.currency)
    else:
        return Quote(price, Money.zero(price.currency), price, terms.value)
    return Quote(price, discount, price - discount, 0)
