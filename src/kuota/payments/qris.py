"""Dynamic QRIS payloads: EMVCo Merchant-Presented Mode, as Bank Indonesia's QRIS uses it.

A payload is a run of TLV fields: a two-digit tag, a two-digit decimal length and
the value, ASCII only. Tags 26-51, 62, 64 and 80-99 are templates whose value is
itself a run of TLV fields. The last field is always 63, a CRC-16/CCITT-FALSE
over every character before its value, including its own "6304".

`dynamic_qris` builds the code a kiosk shows for one payment (point of initiation
"12", amount fixed); `parse_qris` reads one back and checks its CRC, so the kiosk
and the tests can see exactly what a payer's app will see.

Field order written by `dynamic_qris`::

    00 payload format "01"       01 point of initiation "12" (dynamic)
    26 merchant account          00 "ID.CO.QRIS.WWW", 01 PAN, 02 merchant id, 03 criteria
    51 QRIS repository           00 "ID.CO.QRIS.WWW", 02 NMID (when given)
    52 MCC                       53 currency "360" (IDR)
    54 amount, whole rupiah      58 country "ID"
    59 merchant name (<= 25)     60 merchant city (<= 15)
    61 postal code (when given)  62 additional data: 05 reference, 07 terminal label
    63 CRC, 4 uppercase hex digits
"""

from __future__ import annotations

import re

from kuota.core.errors import InvalidInput
from kuota.core.money import Money

QRIS_GLOBAL_ID = "ID.CO.QRIS.WWW"
MERCHANT_CRITERIA = frozenset({"UMI", "UKE", "UME", "UBE"})  # micro, small, medium, large
# Templates whose value is itself TLV: merchant account information (26-51),
# additional data (62), merchant information in another language (64), unreserved (80-99).
TEMPLATE_TAGS = frozenset(
    [f"{tag:02d}" for tag in range(26, 52)] + ["62", "64"] + [str(tag) for tag in range(80, 100)]
)

_MAX_VALUE = 99  # a length is two decimal digits
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_CRC_TAG = "6304"


class InvalidQris(InvalidInput, ValueError):
    """A QRIS field that cannot be encoded, or a payload that cannot be read.

    Both an `InvalidInput` (rendered as a 422 problem) and a `ValueError`, so callers
    outside the web layer can catch it as the standard library's kind of error.
    """


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, xorout 0."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _tlv(
    tag: str, value: str, name: str, *, max_length: int = _MAX_VALUE, param: str = "payload"
) -> str:
    """One field, its value checked; `name` is what an error calls it, `param` the
    argument it came from (the problem's `field`)."""
    if not value:
        raise InvalidQris(f"QRIS {name} must not be empty", field=param)
    if not _PRINTABLE_ASCII.fullmatch(value):
        raise InvalidQris(
            f"QRIS {name} {value!r} may contain printable ASCII characters only", field=param
        )
    if len(value) > max_length:
        raise InvalidQris(
            f"QRIS {name} is {len(value)} characters; at most {max_length} fit", field=param
        )
    return f"{tag}{len(value):02d}{value}"


def _rupiah(amount: Money) -> str:
    if amount.currency != "IDR":
        raise InvalidQris(f"QRIS amount must be in IDR, not {amount.currency}", field="amount")
    if amount.amount <= 0:
        raise InvalidQris(f"QRIS amount must be positive, not {amount.format()}", field="amount")
    if not amount.is_whole_charge_unit():
        raise InvalidQris(
            f"QRIS amount must be whole rupiah, not {amount.format()}", field="amount"
        )
    return str(amount.amount // 100)


def dynamic_qris(
    *,
    merchant_name: str,
    merchant_city: str,
    merchant_pan: str,
    merchant_id: str,
    amount: Money,
    terminal_label: str,
    reference: str,
    nmid: str | None = None,
    mcc: str = "4814",
    postal_code: str | None = None,
    merchant_criteria: str = "UBE",
) -> str:
    """The QRIS payload for one payment of `amount`, payable once; refuses any field
    QRIS cannot carry (too long, not printable ASCII, amount not whole positive rupiah)."""
    if not merchant_pan.isascii() or not merchant_pan.isdigit():
        raise InvalidQris(
            f"QRIS merchant PAN {merchant_pan!r} must be digits only", field="merchant_pan"
        )
    if not (len(mcc) == 4 and mcc.isascii() and mcc.isdigit()):
        raise InvalidQris(f"QRIS MCC {mcc!r} must be four digits", field="mcc")
    if merchant_criteria not in MERCHANT_CRITERIA:
        raise InvalidQris(
            f"QRIS merchant criteria {merchant_criteria!r} must be one of "
            + ", ".join(sorted(MERCHANT_CRITERIA)),
            field="merchant_criteria",
        )
    merchant_account = (
        _tlv("00", QRIS_GLOBAL_ID, "merchant account global id")
        + _tlv("01", merchant_pan, "merchant PAN", max_length=19, param="merchant_pan")
        + _tlv("02", merchant_id, "merchant id", param="merchant_id")
        + _tlv("03", merchant_criteria, "merchant criteria")
    )
    repository = _tlv("00", QRIS_GLOBAL_ID, "QRIS repository global id")
    if nmid is not None:
        repository += _tlv("02", nmid, "NMID", param="nmid")
    additional_data = _tlv(
        "05", reference, "reference label", max_length=25, param="reference"
    ) + _tlv("07", terminal_label, "terminal label", max_length=25, param="terminal_label")
    fields = [
        _tlv("00", "01", "payload format indicator"),
        _tlv("01", "12", "point of initiation method"),
        _tlv("26", merchant_account, "merchant account information (tag 26)", param="merchant_id"),
        _tlv("51", repository, "QRIS repository information (tag 51)", param="nmid"),
        _tlv("52", mcc, "MCC", param="mcc"),
        _tlv("53", "360", "transaction currency"),
        _tlv("54", _rupiah(amount), "amount", max_length=13, param="amount"),
        _tlv("58", "ID", "country code"),
        _tlv("59", merchant_name, "merchant name", max_length=25, param="merchant_name"),
        _tlv("60", merchant_city, "merchant city", max_length=15, param="merchant_city"),
    ]
    if postal_code is not None:
        fields.append(_tlv("61", postal_code, "postal code", max_length=10, param="postal_code"))
    fields.append(_tlv("62", additional_data, "additional data (tag 62)", param="reference"))
    body = "".join(fields) + _CRC_TAG
    return body + f"{crc16_ccitt_false(body.encode('ascii')):04X}"


def parse_tlv(payload: str) -> dict[str, str]:
    """One level of TLV fields, in payload order. Refuses truncated, malformed or
    repeated tags."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(payload):
        header = payload[position : position + 4]
        if len(header) < 4 or not (header.isascii() and header.isdigit()):
            raise InvalidQris(
                f"QRIS payload is malformed at character {position}: expected a two-digit "
                f"tag and a two-digit length, found {header!r}",
                field="payload",
            )
        tag, length = header[:2], int(header[2:])
        value = payload[position + 4 : position + 4 + length]
        if len(value) < length:
            raise InvalidQris(
                f"QRIS tag {tag} says {length} characters but only {len(value)} remain",
                field="payload",
            )
        if tag in fields:
            raise InvalidQris(f"QRIS tag {tag} appears twice", field="payload")
        fields[tag] = value
        position += 4 + length
    return fields


def parse_qris(payload: str) -> dict[str, str | dict[str, str]]:
    """The payload's fields, templates (26-51, 62, 64, 80-99) split into their own
    sub-fields. Raises `InvalidQris` ("CRC mismatch: ...") when the CRC is wrong, and
    for a payload that has no CRC or cannot be read."""
    if not _PRINTABLE_ASCII.fullmatch(payload):
        raise InvalidQris("QRIS payload may contain printable ASCII characters only")
    top = parse_tlv(payload)
    if not top or list(top)[-1] != "63" or len(top["63"]) != 4:
        raise InvalidQris("QRIS payload must end with its CRC (tag 63, 4 characters)")
    stated = top["63"]
    if not re.fullmatch(r"[0-9A-Fa-f]{4}", stated):
        raise InvalidQris(f"QRIS CRC {stated!r} is not four hex digits")
    computed = crc16_ccitt_false(payload[:-4].encode("ascii"))
    if int(stated, 16) != computed:
        raise InvalidQris(f"CRC mismatch: payload says {stated}, computed {computed:04X}")
    fields: dict[str, str | dict[str, str]] = {}
    for tag, value in top.items():
        if tag not in TEMPLATE_TAGS:
            fields[tag] = value
            continue
        try:
            fields[tag] = parse_tlv(value)
        except InvalidQris as exc:
            raise InvalidQris(f"in template {tag}: {exc.detail}", field="payload") from exc
    return fields
