import pytest

from kuota.cards.rules import mask_msisdn
from kuota.core.money import Money
from kuota.receipts.rules import vat_included, verify_url


@pytest.mark.parametrize(
    ("msisdn", "masked"),
    [
        ("+6281100000001", "+62811****0001"),  # 11 national digits, the usual length
        ("+62812345678901", "+62812*****8901"),  # 12 national digits
        ("+6281234567", "+62812*4567"),  # 8 national digits
        ("+6591234567", "+65912*4567"),  # Singapore: 8 national digits
        ("+12025550123", "+1202***0123"),  # one-digit country code
    ],
)
def test_masking_keeps_country_first_three_and_last_four(msisdn: str, masked: str) -> None:
    assert mask_msisdn(msisdn) == masked


def test_a_number_too_short_to_mask_in_the_middle_shows_its_last_four_only() -> None:
    assert mask_msisdn("+628123456") == "+62***3456"


def test_a_number_that_is_not_e164_still_hides_all_but_the_ends() -> None:
    assert mask_msisdn("081100000001") == "081*****0001"


@pytest.mark.parametrize(
    ("total", "basis_points", "expected"),
    [
        (1_500_000, 1100, 148_600),  # Rp 15.000 × 11/111 = Rp 1.486,49 → Rp 1.486
        (5_000_000, 1100, 495_500),  # Rp 50.000 × 11/111 = Rp 4.954,95 → Rp 4.955
        (11_100, 1100, 1_100),  # Rp 111 contains exactly Rp 11
        (300, 10_000, 200),  # 100 %: Rp 3 contains Rp 1,50 → half up to Rp 2
        (100, 10_000, 100),  # Rp 0,50 → half up to Rp 1
        (1_500_000, 0, 0),  # no VAT
        (0, 1100, 0),
    ],
)
def test_vat_included_in_a_total_is_rounded_half_up_to_whole_rupiah(
    total: int, basis_points: int, expected: int
) -> None:
    assert vat_included(Money(total, "IDR"), basis_points) == Money(expected, "IDR")


def test_vat_of_a_currency_without_charge_unit_rounds_to_the_minor_unit() -> None:
    assert vat_included(Money(1_000, "USD"), 1100) == Money(99, "USD")  # 99.099 → 99


def test_verify_url_carries_number_and_code() -> None:
    assert (
        verify_url("https://kuota.example", "KU-2611-ABCDEFGHJK", "12345678")
        == "https://kuota.example/verify/KU-2611-ABCDEFGHJK?c=12345678"
    )
