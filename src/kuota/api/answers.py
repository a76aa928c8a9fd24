"""Building JSON answers fast: orjson, UTC instants as RFC 3339 with Z."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from kuota.core.idempotency import JSON_OPTIONS, StoredAnswer

JSON = "application/json"


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload, option=JSON_OPTIONS), status_code=status, media_type=JSON)


def stored_response(answer: StoredAnswer) -> Response:
    media = JSON if answer.status_code < 400 else "application/problem+json"
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return Response(answer.body, status_code=answer.status_code, media_type=media, headers=headers)
