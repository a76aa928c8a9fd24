import pytest

from kuota.cards.rules import (
    check_iccid,
    check_nik,
    hash_nik,
    luhn_valid,
    mask_msisdn,
    mask_name,
    normalize_msisdn,
)
from kuota.core.errors import InvalidInput


@pytest.mark.parametrize(
    "raw", ["+6281100000001", "081100000001", "6281100000001", " +62 811-0000-0001 "]
)
def test_numbers_become_e164(raw: str) -> None:
    assert normalize_msisdn(raw) == "+6281100000001"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("hello", "not a phone number"),
        ("+62811", "not a valid mobile number"),
        ("+62215550123", "not a mobile number"),  # a Jakarta landline
    ],
)
def test_bad_numbers_are_named(raw: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        normalize_msisdn(raw)
    assert info.value.extra["field"] == "msisdn"


def _with_check_digit(body: str) -> str:
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return body + digit
    raise AssertionError


def test_iccid_accepts_19_and_20_digits_with_luhn() -> None:
    for body in ("896210000000000001", "8962100000000000012"):
        iccid = _with_check_digit(body)
        assert check_iccid(iccid) == iccid


@pytest.mark.parametrize(
    ("iccid", "message"),
    [
        ("89621000000000000", "19 or 20 digits, not 17"),
        ("8962100000000000A12", "digits only"),
        ("1962100000000000001", "starts with 89"),
    ],
)
def test_iccid_errors_say_what_is_wrong(iccid: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_iccid(iccid)


def test_iccid_wrong_check_digit() -> None:
    good = _with_check_digit("896210000000000001")
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(InvalidInput, match="Luhn"):
        check_iccid(bad)


def test_nik_is_hashed_with_the_key_and_never_kept() -> None:
    digest = hash_nik("3171010101900001", "key-a")
    assert "3171010101900001" not in digest
    assert digest == hash_nik(" 3171010101900001 ", "key-a")
    assert digest != hash_nik("3171010101900001", "key-b")
    with pytest.raises(InvalidInput, match="16 digits"):
        check_nik("31710101019")


def test_masks() -> None:
    assert mask_name("Siti Rahayu") == "S*** R*****"
    assert mask_name(None) is None
    assert mask_msisdn("+6281100000001") == "+62811****0001"
