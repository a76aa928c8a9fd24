"""Standard Webhooks signatures (standardwebhooks.com), both ends.

`webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{raw body}")>`, with
`webhook-id` and `webhook-timestamp` (Unix seconds) beside it; several signatures may
stand in the header, space-separated, while a key is rotated. The key is the
base64 part of a `whsec_…` secret. A message older or newer than five minutes is
refused, so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime

from kuota.payments.gateway import NotificationRejected

TOLERANCE_SECONDS = 5 * 60


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError as exc:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime) -> str:
    """The message id of an authentic, fresh delivery; NotificationRejected otherwise."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (message_id and stamp and signatures):
        raise NotificationRejected(
            "missing webhook-id, webhook-timestamp or webhook-signature header"
        )
    if not stamp.isdigit():
        raise NotificationRejected("webhook-timestamp is not a Unix time in seconds")
    age = now.timestamp() - int(stamp)
    if abs(age) > TOLERANCE_SECONDS:
        raise NotificationRejected(
            f"webhook-timestamp is {int(age)} s from now; more than {TOLERANCE_SECONDS} s "
            "apart is refused as a replay"
        )
    expected = sign(secret, message_id, int(stamp), body).encode()
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return message_id
    raise NotificationRejected("no webhook-signature matches this body")
