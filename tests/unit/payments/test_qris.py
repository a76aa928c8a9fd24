import binascii
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuota.core.errors import InvalidInput
from kuota.core.money import Money
from kuota.payments.qris import InvalidQris, crc16_ccitt_false, dynamic_qris, parse_qris, parse_tlv

KIOSK: dict[str, Any] = {
    "merchant_name": "KUOTA DEMO",
    "merchant_city": "JAKARTA",
    "merchant_pan": "9360000812345678901",
    "merchant_id": "KUOTA0001",
    "amount": Money(1_500_000, "IDR"),  # Rp 15.000
    "terminal_label": "KSK-0001",
    "reference": "pay_01HX",
    "nmid": "ID1026000000001",
    "postal_code": "10110",
}

# The payload for KIOSK, written out by hand field by field, so the field order, the
# lengths and the CRC are pinned independently of the code under test.
KIOSK_PAYLOAD = (
    "000201"  # 00 payload format indicator "01"
    "010212"  # 01 point of initiation "12": dynamic, pay once
    "2661"  # 26 merchant account information, 61 characters:
    "0014ID.CO.QRIS.WWW"
    "01199360000812345678901"
    "0209KUOTA0001"
    "0303UBE"
    "5137"  # 51 QRIS repository, 37 characters:
    "0014ID.CO.QRIS.WWW"
    "0215ID1026000000001"
    "52044814"  # MCC 4814, telecommunication services
    "5303360"  # IDR
    "540515000"  # Rp 15.000, no decimals
    "5802ID"
    "5910KUOTA DEMO"
    "6007JAKARTA"
    "610510110"
    "6224"  # 62 additional data, 24 characters:
    "0508pay_01HX"
    "0708KSK-0001"
    "6304B052"
)


def independent_crc(text: str) -> int:
    # binascii.crc_hqx is CRC-CCITT (poly 0x1021, no reflection); init 0xFFFF makes it
    # CCITT-FALSE: a second implementation to check ours against.
    return binascii.crc_hqx(text.encode("ascii"), 0xFFFF)


def build(**changes: Any) -> str:
    return dynamic_qris(**{**KIOSK, **changes})


def test_crc_known_answer() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc16_ccitt_false(b"") == 0xFFFF


@pytest.mark.parametrize("data", [b"A", b"000201010212", bytes(range(256)), b"\xff" * 40])
def test_crc_agrees_with_the_standard_library(data: bytes) -> None:
    assert crc16_ccitt_false(data) == binascii.crc_hqx(data, 0xFFFF)


def test_payload_matches_the_hand_written_sample() -> None:
    assert build() == KIOSK_PAYLOAD
    assert independent_crc(KIOSK_PAYLOAD[:-4]) == 0xB052


def test_payload_parses_back_field_by_field() -> None:
    payload = build()
    fields = parse_qris(payload)
    assert list(fields) == [
        "00", "01", "26", "51", "52", "53", "54", "58", "59", "60", "61", "62", "63",
    ]  # fmt: skip
    assert fields["00"] == "01"
    assert fields["01"] == "12"
    assert fields["26"] == {
        "00": "ID.CO.QRIS.WWW",
        "01": "9360000812345678901",
        "02": "KUOTA0001",
        "03": "UBE",
    }
    assert fields["51"] == {"00": "ID.CO.QRIS.WWW", "02": "ID1026000000001"}
    assert fields["52"] == "4814"
    assert fields["53"] == "360"
    assert fields["54"] == "15000"
    assert fields["58"] == "ID"
    assert fields["59"] == "KUOTA DEMO"
    assert fields["60"] == "JAKARTA"
    assert fields["61"] == "10110"
    assert fields["62"] == {"05": "pay_01HX", "07": "KSK-0001"}
    # The CRC covers everything before its value, "6304" included.
    assert payload[-8:-4] == "6304"
    assert fields["63"] == f"{independent_crc(payload[:-4]):04X}"


def test_optional_fields_are_left_out_and_criteria_is_a_parameter() -> None:
    fields = parse_qris(build(nmid=None, postal_code=None, merchant_criteria="UMI", mcc="5999"))
    assert "61" not in fields
    assert fields["51"] == {"00": "ID.CO.QRIS.WWW"}
    assert fields["26"]["03"] == "UMI"  # type: ignore[index]
    assert fields["52"] == "5999"


def test_amount_is_whole_rupiah_without_decimals() -> None:
    assert parse_qris(build(amount=Money(100, "IDR")))["54"] == "1"
    assert parse_qris(build(amount=Money(1_234_567_800, "IDR")))["54"] == "12345678"


def test_longest_allowed_name_and_city_fit() -> None:
    fields = parse_qris(build(merchant_name="N" * 25, merchant_city="C" * 15))
    assert fields["59"] == "N" * 25
    assert fields["60"] == "C" * 15


@pytest.mark.parametrize(
    ("changes", "message", "field"),
    [
        ({"amount": Money(1_500_000, "USD")}, "must be in IDR, not USD", "amount"),
        ({"amount": Money(0, "IDR")}, "amount must be positive", "amount"),
        ({"amount": Money(-100, "IDR")}, "amount must be positive", "amount"),
        ({"amount": Money(1_500_050, "IDR")}, "amount must be whole rupiah", "amount"),
        ({"amount": Money(10**14 * 100, "IDR")}, "amount is 15 characters; at most 13", "amount"),
        (
            {"merchant_name": "N" * 26},
            "merchant name is 26 characters; at most 25",
            "merchant_name",
        ),
        (
            {"merchant_name": "Warung Bu Siti ☕"},
            "merchant name .* printable ASCII",
            "merchant_name",
        ),
        ({"merchant_name": ""}, "merchant name must not be empty", "merchant_name"),
        (
            {"merchant_city": "KOTA JAKARTA SELATAN"},
            "merchant city is 20 characters; at most 15",
            "merchant_city",
        ),
        ({"merchant_city": "JAKARTA\n"}, "merchant city .* printable ASCII", "merchant_city"),
        ({"postal_code": "12345678901"}, "postal code is 11 characters; at most 10", "postal_code"),
        ({"merchant_pan": "93600008A"}, "merchant PAN .* digits only", "merchant_pan"),
        ({"merchant_pan": "9" * 20}, "merchant PAN is 20 characters; at most 19", "merchant_pan"),
        ({"merchant_id": "M" * 100}, "merchant id is 100 characters; at most 99", "merchant_id"),
        (
            {"merchant_id": "M" * 60},
            r"merchant account information \(tag 26\) is 1\d\d",
            "merchant_id",
        ),
        ({"merchant_id": "tokó"}, "merchant id .* printable ASCII", "merchant_id"),
        ({"nmid": "ID" + "9" * 98}, "NMID is 100 characters; at most 99", "nmid"),
        ({"nmid": ""}, "NMID must not be empty", "nmid"),
        ({"mcc": "481"}, "MCC '481' must be four digits", "mcc"),
        ({"mcc": "48a4"}, "MCC '48a4' must be four digits", "mcc"),
        (
            {"merchant_criteria": "UXX"},
            "merchant criteria 'UXX' must be one of UBE, UKE",
            "merchant_criteria",
        ),
        ({"reference": "R" * 26}, "reference label is 26 characters; at most 25", "reference"),
        ({"reference": "pay\t1"}, "reference label .* printable ASCII", "reference"),
        (
            {"terminal_label": "T" * 26},
            "terminal label is 26 characters; at most 25",
            "terminal_label",
        ),
        ({"terminal_label": ""}, "terminal label must not be empty", "terminal_label"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    changes: dict[str, Any], message: str, field: str
) -> None:
    with pytest.raises(InvalidQris, match=message) as caught:
        build(**changes)
    # One error type that both the API (422 problem) and plain Python callers understand.
    assert isinstance(caught.value, InvalidInput)
    assert isinstance(caught.value, ValueError)
    assert caught.value.status == 422
    assert caught.value.extra == {"field": field}


def test_a_changed_character_is_a_crc_mismatch() -> None:
    tampered = KIOSK_PAYLOAD.replace("540515000", "540515001")
    with pytest.raises(ValueError, match="CRC mismatch: payload says B052"):
        parse_qris(tampered)


def test_lowercase_crc_is_read() -> None:
    assert parse_qris(KIOSK_PAYLOAD[:-4] + "b052")["63"] == "b052"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("", "must end with its CRC"),
        (KIOSK_PAYLOAD[:-8], "must end with its CRC"),
        (KIOSK_PAYLOAD[:-8] + "630512345", "must end with its CRC"),
        (KIOSK_PAYLOAD[:-4] + "XYZW", "CRC 'XYZW' is not four hex digits"),
        (KIOSK_PAYLOAD[:-1], "tag 63 says 4 characters but only 3 remain"),
        (KIOSK_PAYLOAD + "0", f"malformed at character {len(KIOSK_PAYLOAD)}"),
        ("000201" + "0002AB" + "6304FFFF", "tag 00 appears twice"),
        ("00Z201", "malformed at character 0"),
        (KIOSK_PAYLOAD.replace("KUOTA DEMO", "KUOTA DEMÖ"), "printable ASCII"),
    ],
)
def test_bad_payloads_are_refused(payload: str, message: str) -> None:
    with pytest.raises(InvalidQris, match=message):
        parse_qris(payload)


def test_parse_tlv_reads_one_level() -> None:
    assert parse_tlv("0002AB0103xyz") == {"00": "AB", "01": "xyz"}
    assert parse_tlv("") == {}
    assert parse_tlv("0500") == {"05": ""}


def test_a_template_with_bad_contents_is_refused() -> None:
    body = "000201010212" + "2604ABCD" + "6304"
    payload = body + f"{independent_crc(body):04X}"
    with pytest.raises(InvalidQris, match="in template 26: QRIS payload is malformed at char"):
        parse_qris(payload)


PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


@given(
    name=st.text(PRINTABLE, min_size=1, max_size=25),
    city=st.text(PRINTABLE, min_size=1, max_size=15),
    rupiah=st.integers(min_value=1, max_value=10**13 - 1),
    reference=st.text(PRINTABLE, min_size=1, max_size=25),
    terminal=st.text(PRINTABLE, min_size=1, max_size=25),
)
def test_any_valid_input_round_trips(
    name: str, city: str, rupiah: int, reference: str, terminal: str
) -> None:
    payload = build(
        merchant_name=name,
        merchant_city=city,
        amount=Money(rupiah * 100, "IDR"),
        reference=reference,
        terminal_label=terminal,
    )
    fields = parse_qris(payload)
    assert (fields["59"], fields["60"], fields["54"]) == (name, city, str(rupiah))
    assert fields["62"] == {"05": reference, "07": terminal}
    assert int(payload[-4:], 16) == independent_crc(payload[:-4])
