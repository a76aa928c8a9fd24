import pytest

from kuota.core.errors import InvalidInput
from kuota.core.money import Money


def test_money_is_integer_minor_units() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "IDR")  # type: ignore[arg-type]


def test_unknown_currency_is_named() -> None:
    with pytest.raises(InvalidInput, match="'XYZ' is not supported"):
        Money(100, "XYZ")


def test_arithmetic_refuses_mixed_currencies() -> None:
    with pytest.raises(ValueError, match="currency mismatch"):
        Money(100, "IDR") + Money(100, "USD")


@pytest.mark.parametrize(
    ("price", "basis_points", "expected"),
    [
        (1_500_000, 1000, 150_000),  # 10 % of Rp 15.000 = Rp 1.500
        (1_500_000, 333, 50_000),  # 3.33 % of Rp 15.000 = Rp 499.5 → Rp 500 (half up)
        (1_500_000, 330, 49_500),  # 3.3 % = Rp 495 exactly
        (5_000_000, 1234, 617_000),  # 12.34 % of Rp 50.000 = Rp 6.170
        (1_000_100, 5000, 500_100),  # Rp 5.000,50 → half up to Rp 5.001
        (10_000, 2500, 2_500 - 2_500 % 100),  # Rp 25 exactly
    ],
)
def test_percent_rounds_half_up_to_whole_rupiah(
    price: int, basis_points: int, expected: int
) -> None:
    assert Money(price, "IDR").percent_of(basis_points) == Money(expected, "IDR")


def test_half_rupiah_rounds_up_not_to_even() -> None:
    # 50 % of Rp 1 (100 minor units) is Rp 0,50 → Rp 1, not banker's Rp 0.
    assert Money(100, "IDR").percent_of(5000).amount == 100
    assert Money(300, "IDR").percent_of(5000).amount == 200


def test_format_uses_indonesian_grouping() -> None:
    assert Money(5_000_000, "IDR").format() == "Rp 50.000"
    assert Money(-150_000, "IDR").format() == "-Rp 1.500"
    assert Money(12_000_000_00, "IDR").format() == "Rp 12.000.000"
