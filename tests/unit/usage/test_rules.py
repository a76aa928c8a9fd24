from datetime import UTC, datetime, timedelta

from kuota.usage.rules import Extend, PackageView, StartNew, apply_purchase, draw_order

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
GB = 10**9


def pkg(id_: int, code: str, expires_in: timedelta, used: int = 0, total: int = GB) -> PackageView:
    return PackageView(id_, code, total, used, NOW + expires_in)


def test_first_purchase_starts_now_for_validity_days_times_24h() -> None:
    decision = apply_purchase([], plan_code="DATA-1GB-7D", data_bytes=GB, validity_days=7, now=NOW)
    assert decision == StartNew("DATA-1GB-7D", GB, NOW, NOW + timedelta(hours=168))


def test_same_plan_while_active_extends_from_current_expiry_and_adds_quota() -> None:
    active = pkg(1, "DATA-1GB-7D", timedelta(days=2), used=GB // 4)
    decision = apply_purchase(
        [active], plan_code="DATA-1GB-7D", data_bytes=GB, validity_days=7, now=NOW
    )
    assert decision == Extend(1, GB, active.expires_at + timedelta(days=7))


def test_other_plan_adds_a_separate_package() -> None:
    active = pkg(1, "DATA-1GB-7D", timedelta(days=2))
    decision = apply_purchase(
        [active], plan_code="DATA-5GB-30D", data_bytes=5 * GB, validity_days=30, now=NOW
    )
    assert isinstance(decision, StartNew)
    assert decision.expires_at == NOW + timedelta(days=30)


def test_after_expiry_a_new_package_starts_now() -> None:
    expired = pkg(1, "DATA-1GB-7D", -timedelta(seconds=1))
    decision = apply_purchase(
        [expired], plan_code="DATA-1GB-7D", data_bytes=GB, validity_days=7, now=NOW
    )
    assert decision == StartNew("DATA-1GB-7D", GB, NOW, NOW + timedelta(days=7))


def test_expiring_exactly_now_counts_as_expired() -> None:
    at_expiry = pkg(1, "DATA-1GB-7D", timedelta(0))
    decision = apply_purchase(
        [at_expiry], plan_code="DATA-1GB-7D", data_bytes=GB, validity_days=7, now=NOW
    )
    assert isinstance(decision, StartNew)


def test_usage_draws_from_the_package_expiring_first() -> None:
    later = pkg(1, "DATA-5GB-30D", timedelta(days=20))
    sooner = pkg(2, "DATA-1GB-7D", timedelta(days=3))
    gone = pkg(3, "DATA-1GB-7D", -timedelta(days=1))
    assert [p.id for p in draw_order([later, sooner, gone], NOW)] == [2, 1]
