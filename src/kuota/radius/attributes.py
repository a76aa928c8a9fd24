"""What kuota reads from and writes into RADIUS packets: the card number, the usage
counters, the session key, and the quota limit split into octets and gigawords.

Pure functions over pyrad packets; no database, no sockets.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from typing import Any

from pyrad.dictionary import Dictionary  # type: ignore[import-untyped]

from kuota.cards.rules import normalize_msisdn
from kuota.core.errors import InvalidInput

GIGAWORD = 2**32  # RFC 2869: a gigaword counts how many times a 32-bit counter wrapped
MAX_INTEGER = GIGAWORD - 1

START, STOP, INTERIM_UPDATE = 1, 2, 3
ACCOUNTING_ON, ACCOUNTING_OFF = 7, 8

# usage_sessions.id is 120 characters and network.account() prefixes "radius:".
_SESSION_KEY_LIMIT = 120 - len("radius:")


@lru_cache(maxsize=1)
def dictionary() -> Any:
    """kuota's RADIUS dictionary, shipped beside this module (read once)."""
    source = resources.files("kuota.radius").joinpath("dictionary")
    with resources.as_file(source) as path:
        return Dictionary(str(path))


@lru_cache(maxsize=65536)
def _as_msisdn(raw: str) -> str | None:
    # Cached: phone-number parsing costs tens of microseconds, and a NAS sends the same
    # few numbers over and over.
    candidates = [raw]
    if raw.isdigit():
        # 3GPP access servers send the MSISDN in international form without "+"
        # (TS 29.061 Calling-Station-Id), which a national parse would misread.
        candidates.append("+" + raw)
    for candidate in candidates:
        try:
            return normalize_msisdn(candidate)
        except InvalidInput:
            continue
    return None


def first_value(packet: Any, name: str) -> Any:
    values = packet.get(name)
    return values[0] if values else None


def status_type(packet: Any) -> int | None:
    """Acct-Status-Type as its number (Start 1, Stop 2, Interim-Update 3, ...)."""
    raw = packet.get(40)  # by code: by name pyrad would answer the value's name
    return int.from_bytes(raw[0], "big") if raw and len(raw[0]) == 4 else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        # pyrad hands back bytes for strings that are not UTF-8.
        return value.decode("utf-8", "replace")
    return str(value)


def card_number(packet: Any) -> str:
    """The card the request is about: User-Name, or else Calling-Station-Id, whichever
    is a valid mobile number (E.164). When neither is, the raw User-Name: the rules
    then answer "unknown subscriber" as for any number they do not know."""
    user_name = _text(first_value(packet, "User-Name"))
    calling = _text(first_value(packet, "Calling-Station-Id"))
    for raw in (user_name, calling):
        if raw:
            number = _as_msisdn(raw.strip())
            if number is not None:
                return number
    return user_name or calling or ""


def reported_total_bytes(packet: Any) -> int:
    """The session's running total, input plus output, with each gigaword worth 2^32."""

    def counter(name: str) -> int:
        value = first_value(packet, name)
        return int(value) if value is not None else 0

    octets = counter("Acct-Input-Octets") + counter("Acct-Output-Octets")
    gigawords = counter("Acct-Input-Gigawords") + counter("Acct-Output-Gigawords")
    return gigawords * GIGAWORD + octets


def nas_address(packet: Any, source: str) -> str:
    """Where the access server takes Disconnect-Requests: its NAS-IP-Address (or
    NAS-IPv6-Address) when it says, else the address the request came from."""
    for name in ("NAS-IP-Address", "NAS-IPv6-Address"):
        value = first_value(packet, name)
        if value:
            return str(value)
    return source


def session_key(packet: Any, nas: str, msisdn: str) -> str | None:
    """The usage session an accounting record belongs to: Acct-Session-Id is unique only
    per access server, so the server and the card are part of the key. None when the
    record carries no Acct-Session-Id."""
    acct_session_id = _text(first_value(packet, "Acct-Session-Id"))
    if not acct_session_id:
        return None
    key = f"{nas}/{acct_session_id}/{msisdn}"
    if len(key) > _SESSION_KEY_LIMIT:
        # Cutting the key would merge sessions that differ only at the end.
        digest = hashlib.sha256(key.encode()).hexdigest()[:40]
        key = f"{key[: _SESSION_KEY_LIMIT - 41]}#{digest}"
    return key


def split_quota(total_bytes: int) -> tuple[int, int]:
    """(octets, gigawords): the low 32 bits and the rest, as access servers take a
    limit above 4 GiB. A quota past 2^64 bytes is capped, not wrapped."""
    total = max(0, min(total_bytes, GIGAWORD * MAX_INTEGER + MAX_INTEGER))
    return total % GIGAWORD, total // GIGAWORD


def add_quota_limit(reply: Any, remaining_bytes: int) -> None:
    """The card's remaining quota as the session's data limit, for CoovaChilli and
    MikroTik alike: a NAS ignores the other vendor's attributes."""
    octets, gigawords = split_quota(remaining_bytes)
    reply["ChilliSpot-Max-Total-Octets"] = octets
    reply["ChilliSpot-Max-Total-Gigawords"] = gigawords
    reply["Mikrotik-Total-Limit"] = octets
    reply["Mikrotik-Total-Limit-Gigawords"] = gigawords
