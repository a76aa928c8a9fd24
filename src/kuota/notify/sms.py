"""SMS through an HTTP gateway in the style of Kannel's `sendsms` interface.

`GET {url}?username=…&password=…&from=…&to=…&text=…&charset=UTF-8&coding=2`: Kannel
answers 202 "0: Accepted for delivery" (or 200 "Sent."); anything else is a failure
the worker retries. `coding=2` (UCS-2) keeps Chinese and accented text intact.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from kuota.notify.senders import DeliveryError


@dataclass(frozen=True, slots=True)
class SmsGatewaySettings:
    url: str
    username: str
    password: str
    sender: str = "kuota"
    timeout_seconds: float = 10.0


class KannelSmsSender:
    def __init__(self, settings: SmsGatewaySettings, client: httpx.Client | None = None) -> None:
        self._settings = settings
        self._client = client or httpx.Client(timeout=settings.timeout_seconds)

    def send(self, *, channel: str, recipient: str, subject: str, body: str) -> None:
        s = self._settings
        params = {
            "username": s.username,
            "password": s.password,
            "from": s.sender,
            "to": recipient,
            "text": body,
            "charset": "UTF-8",
            "coding": "0" if body.isascii() else "2",
        }
        try:
            answer = self._client.get(s.url, params=params)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"SMS gateway unreachable: {exc}") from exc
        if answer.status_code not in (200, 202):
            raise DeliveryError(
                f"SMS gateway refused the message to {recipient}: "
                f"{answer.status_code} {answer.text.strip()[:200]}"
            )
