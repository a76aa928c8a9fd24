"""A receipt built by hand, for the renderers' tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kuota.core.money import Money
from kuota.receipts.document import ReceiptDocument


@pytest.fixture
def receipt() -> ReceiptDocument:
    return ReceiptDocument(
        receipt_no="KU-2611-7F3K9QXD2M",
        code="ABCD2345",
        verify_url="http://kuota.test/verify/KU-2611-7F3K9QXD2M?c=ABCD2345",
        operator_name="kuota demo operator",
        operator_npwp="01.234.567.8-901.000",
        msisdn_masked="+62812****0001",
        plan_code="DATA-1GB-7D",
        plan_name="Data 1 GB / 7 hari",
        data_bytes=10**9,
        validity_days=7,
        bonus_bytes=500 * 10**6,
        list_price=Money(1_500_000, "IDR"),
        discount=Money(150_000, "IDR"),
        total=Money(1_350_000, "IDR"),
        vat_included=Money(133_800, "IDR"),
        promo_code="HEMAT10",
        payment_method="balance",
        channel="online",
        paid_at=datetime(2026, 11, 25, 3, 0, tzinfo=UTC),
        expires_at=datetime(2026, 12, 2, 3, 0, tzinfo=UTC),
    )
