"""Receipt numbers and the short code that proves a receipt genuine."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from kuota.core.ids import random_code
from kuota.core.money import CHARGE_UNITS, Money

_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_receipt_no(now: datetime) -> str:
    """`KU-2611-7F3K9QXD2M`: year-month for people, 50 random bits for uniqueness."""
    return f"KU-{now:%y%m}-{random_code(10)}"


def receipt_code(receipt_no: str, secret_key: str) -> str:
    """An 8-character HMAC of the receipt number, printed on the receipt and in its QR."""
    digest = hmac.new(secret_key.encode(), b"receipt:" + receipt_no.encode(), hashlib.sha256)
    value = int.from_bytes(digest.digest()[:5], "big")
    return "".join(_CODE_ALPHABET[(value >> (5 * i)) & 31] for i in range(8))


def receipt_code_matches(receipt_no: str, code: str, secret_key: str) -> bool:
    return hmac.compare_digest(receipt_code(receipt_no, secret_key), code.strip().upper())


def vat_included(total: Money, rate_basis_points: int) -> Money:
    """The VAT contained in a VAT-inclusive `total`: total × rate / (1 + rate), rounded half
    up to the charge unit (whole rupiah)."""
    unit = CHARGE_UNITS.get(total.currency, 1)
    numerator = total.amount * rate_basis_points
    denominator = (10000 + rate_basis_points) * unit
    units = (2 * numerator + denominator) // (2 * denominator)
    return Money(units * unit, total.currency)


def verify_url(public_url: str, receipt_no: str, code: str) -> str:
    """Where anyone holding the receipt can check it is genuine."""
    return f"{public_url}/verify/{receipt_no}?c={code}"
