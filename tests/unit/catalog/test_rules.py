from datetime import UTC, datetime, timedelta

import pytest

from kuota.catalog.rules import PromotionKind, PromotionTerms, check_eligible, quote
from kuota.core.errors import PromotionRejected
from kuota.core.money import Money

NOW = datetime(2026, 11, 25, tzinfo=UTC)
PRICE = Money(1_500_000, "IDR")


def terms(kind: PromotionKind, value: int, **over: object) -> PromotionTerms:
    base: dict[str, object] = {
        "code": "HEMAT",
        "kind": kind,
        "value": value,
        "currency": "IDR",
        "starts_at": NOW - timedelta(days=1),
        "ends_at": NOW + timedelta(days=1),
        "plan_codes": None,
        "channels": None,
        "is_active": True,
    }
    base.update(over)
    return PromotionTerms(**base)  # type: ignore[arg-type]


def test_no_promotion_charges_list_price() -> None:
    q = quote(PRICE, None)
    assert (q.total, q.discount, q.bonus_bytes) == (PRICE, Money(0, "IDR"), 0)


def test_percent_discount_rounds_half_up() -> None:
    q = quote(PRICE, terms(PromotionKind.PERCENT, 333))
    assert q.discount == Money(50_000, "IDR")
    assert q.total == Money(1_450_000, "IDR")


def test_fixed_discount_never_goes_below_zero() -> None:
    q = quote(PRICE, terms(PromotionKind.FIXED, 2_000_000))
    assert q.total == Money(0, "IDR")
    assert q.discount == PRICE


def test_bonus_quota_keeps_price() -> None:
    q = quote(PRICE, terms(PromotionKind.BONUS_QUOTA, 500_000_000))
    assert q.total == PRICE
    assert q.bonus_bytes == 500_000_000


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"starts_at": NOW + timedelta(hours=1)}, "has not started"),
        ({"ends_at": NOW}, "has ended"),
        ({"plan_codes": ("DATA-20GB-30D",)}, "does not apply to plan DATA-1GB-7D"),
        ({"channels": ("kiosk",)}, "not offered through the online channel"),
        ({"is_active": False}, "no longer offered"),
    ],
)
def test_eligibility_names_the_failed_condition(over: dict[str, object], message: str) -> None:
    with pytest.raises(PromotionRejected, match=message):
        check_eligible(
            terms(PromotionKind.PERCENT, 1000, **over),
            plan_code="DATA-1GB-7D",
            channel="online",
            now=NOW,
        )


def test_fixed_discount_in_another_currency_is_refused() -> None:
    with pytest.raises(PromotionRejected, match="USD"):
        quote(PRICE, terms(PromotionKind.FIXED, 500, currency="USD"))
