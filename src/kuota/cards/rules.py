"""Pure identity rules: card numbers, ICCIDs, NIKs, and what others may see of a name."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re

import phonenumbers

from kuota.core.errors import InvalidInput

DEFAULT_REGION = "ID"
_NIK = re.compile(r"^\d{16}$")


def normalize_msisdn(raw: str, region: str = DEFAULT_REGION) -> str:
    """A card number as E.164 (`+62…`); accepts local (`0811…`) and international forms."""
    if isinstance(raw, str):
        return _normalized(raw, region)
    raise InvalidInput("the card number is empty", field="msisdn")


# Parsing a number costs about 80 µs and the network asks about the same cards all day:
# answers are remembered (a refusal is not: it is raised again each time).
@functools.lru_cache(maxsize=65_536)
def _normalized(raw: str, region: str) -> str:
    text = raw.strip()
    if not text:
        raise InvalidInput("the card number is empty", field="msisdn")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"{raw!r} is not a phone number", field="msisdn") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(f"{raw!r} is not a valid mobile number", field="msisdn")
    number_type = phonenumbers.number_type(parsed)
    if number_type not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise InvalidInput(f"{raw!r} is not a mobile number", field="msisdn")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def check_iccid(raw: str) -> str:
    """ICCID (ITU-T E.118): 19 or 20 digits starting with 89, the last a Luhn check digit."""
    iccid = raw.strip().replace(" ", "")
    if not iccid.isdigit():
        raise InvalidInput("the ICCID must contain digits only", field="iccid")
    if len(iccid) not in (19, 20):
        raise InvalidInput(f"the ICCID must have 19 or 20 digits, not {len(iccid)}", field="iccid")
    if not iccid.startswith("89"):
        raise InvalidInput("an ICCID starts with 89 (telecom industry)", field="iccid")
    if not luhn_valid(iccid):
        raise InvalidInput("the ICCID's check digit is wrong (Luhn)", field="iccid")
    return iccid


def check_nik(raw: str) -> str:
    nik = raw.strip()
    if not _NIK.match(nik):
        raise InvalidInput("a NIK has exactly 16 digits", field="identity.nik")
    return nik


def hash_nik(nik: str, secret_key: str) -> str:
    """Keyed hash of a NIK: comparable at the retail check, useless to a thief of the table."""
    return hmac.new(
        secret_key.encode(), b"nik:" + check_nik(nik).encode(), hashlib.sha256
    ).hexdigest()


def mask_name(name: str | None) -> str | None:
    """`Siti Rahayu` → `S*** R*****`: enough to recognise, not to identify."""
    if not name:
        return None
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())


def mask_msisdn(msisdn: str) -> str:
    """`+6281100000001` → `+62811****0001`: the country code, the first three national
    digits and the last four, enough for the buyer to recognise the number."""
    digits = msisdn.removeprefix("+")
    try:
        country = str(phonenumbers.parse(msisdn, None).country_code)
    except phonenumbers.NumberParseException:
        country = ""
    if not (msisdn.startswith("+") and digits.startswith(country)):
        country = ""
    national = digits[len(country) :]
    tail = min(4, len(national))
    # A number too short to hide anything between head and tail shows its tail only.
    head = 3 if len(national) - tail > 3 else 0
    hidden = len(national) - head - tail
    prefix = "+" if msisdn.startswith("+") else ""
    return f"{prefix}{country}{national[:head]}{'*' * hidden}{national[len(national) - tail :]}"
