"""The network side's HTTP door: credit control (RFC 8506 semantics, 3GPP Gy) over JSON.

Credit control is the hot path: a packet gateway asks for every slice of every
session. Its requests are served by `CreditControlLane`, a plain ASGI layer in front
of the framework (whose middleware and routing cost more per request than the work
itself), and answered through a group commit: requests that arrive while a commit is
under way share the next transaction, which `network.credit_control_many` does in one
read and one write per table. A served app has the lane outermost (`app.served`);
`create_app` also installs it as the app's outermost middleware, so an app used
directly (tests) answers the same way. The route below declares the same endpoint for
the OpenAPI document and serves it where neither is in place; all answer through
`answer_credit_control`.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from kuota.api.answers import json_response
from kuota.api.errors import (
    log_server_error,
    problem_response,
    unexpected_response,
    validation_problem,
)
from kuota.auth import service as auth
from kuota.cards.rules import normalize_msisdn
from kuota.core.db import Database
from kuota.core.errors import InvalidInput, KuotaError
from kuota.core.group_commit import GroupCommit
from kuota.core.security import hash_token
from kuota.usage import network
from kuota.usage.rules import MAX_REPORT_BYTES

router = APIRouter(tags=["network"])
PATH = "/api/v1/credit-control"
MAX_BODY_BYTES = 16 * 1024  # a credit-control body is a few hundred bytes
# RFC 8506's CC-Request-Number is 32 bits; kuota keeps it as a signed 32-bit integer.
MAX_REQUEST_NUMBER = 2**31 - 1
log = logging.getLogger("kuota.api")


class CreditControlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str = Field(min_length=1, max_length=100)
    msisdn: str = Field(min_length=1, max_length=32)
    request_type: Literal["initial", "update", "terminate"]
    request_number: StrictInt = Field(ge=0, le=MAX_REQUEST_NUMBER)
    requested_bytes: StrictInt | None = Field(default=None, ge=0, le=MAX_REPORT_BYTES)
    used_bytes: StrictInt | None = Field(default=None, ge=0, le=MAX_REPORT_BYTES)


class FinalUnitOut(BaseModel):
    action: Literal["terminate", "redirect"]
    redirect_url: str | None = None


class CreditControlOut(BaseModel):
    result_code: int = Field(description="2001 success, 4012 credit limit reached, 5030 unknown")
    granted_bytes: int
    validity_time: int = Field(description="seconds the grant is valid; re-ask before then")
    final_unit: FinalUnitOut | None = None


@router.post(PATH.removeprefix("/api/v1"), response_model=CreditControlOut)
async def credit_control(
    body: CreditControlIn,
    http_request: Request,
    x_network_key: Annotated[str | None, Header()] = None,
) -> Response:
    """Grant quota in slices, reserve it, and charge what was used. The same
    (session_id, request_number) gets the first answer again and changes nothing."""
    return await answer_credit_control(http_request.app, body, x_network_key)


async def answer_credit_control(app: Any, body: CreditControlIn, key: str | None) -> Response:
    """Check the caller's key, then answer in the next group commit (or alone, where the
    app runs without its lifespan, as some tests do)."""
    request = network.CreditControlRequest(
        session_id=body.session_id,
        msisdn=body.msisdn,
        request_type=body.request_type,
        request_number=body.request_number,
        requested_bytes=body.requested_bytes,
        used_bytes=body.used_bytes,
    )
    db: Database = app.state.db
    writer: GroupCommit | None = app.state.credit_control
    try:
        # The key is checked before the request joins a shared commit: a caller with a
        # bad key must not make every group it lands in fall back to one commit each.
        await _check_network_key(db, key)
        if writer is None:
            ctx = app.state.context

            def alone() -> dict[str, Any]:
                with db.unit_of_work() as session:
                    return network.credit_control(session, ctx, request)

            return json_response(await run_in_threadpool(alone))
        return json_response(await writer.submit(_order_key(body.msisdn), request))
    except KuotaError as refusal:
        log_server_error(refusal)
        return problem_response(refusal.status, refusal.problem())


class CreditControlLane:
    """ASGI: `POST /api/v1/credit-control` straight to `answer_credit_control`, every
    other request on to `app`. Errors get the same problem+json as everywhere else in
    the API: an invalid body 422, a body over `MAX_BODY_BYTES` 413, an unexpected error
    500 (logged).

    Outermost, `app` is the kuota app itself; as the app's middleware, the app is in the
    scope (Starlette puts it there)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            response = await self._answer(scope, receive)
        except Exception:
            log.exception("unexpected error")
            response = unexpected_response()
        await response(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive) -> Response:
        chunks = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return Response(status_code=499)  # nobody is left to read it
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return problem_response(413, _too_large())
            chunks.append(chunk)
            more = message.get("more_body", False)
        key = None
        for name, value in scope["headers"]:
            if name == b"x-network-key":
                key = value.decode("latin-1")
        try:
            body = CreditControlIn.model_validate_json(b"".join(chunks))
        except ValidationError as exc:
            return problem_response(422, validation_problem(exc.errors()))
        return await answer_credit_control(scope.get("app", self.app), body, key)


def _too_large() -> dict[str, Any]:
    return {
        "type": "https://kuota.dev/problems/too-large",
        "title": "Body too large",
        "status": 413,
        "detail": f"a credit-control request body is at most {MAX_BODY_BYTES} bytes",
    }


# Keys proven recently, by their hash, so the hot path skips the lookup; a removed
# network element's key keeps working for at most this long.
_KEY_CACHE_SECONDS = 10.0  # as long as RADIUS servers keep their clients
_proven_keys: dict[str, float] = {}
_monotonic = time.monotonic  # the cache's clock (a test moves it)


async def _check_network_key(db: Database, key: str | None) -> None:
    digest = hash_token(key.strip()) if key and key.strip() else ""
    now = _monotonic()
    if digest and _proven_keys.get(digest, 0.0) > now:
        return

    def look_up() -> None:
        with db.unit_of_work(write=False) as session:
            auth.network_element_from_key(session, key)

    await run_in_threadpool(look_up)
    if len(_proven_keys) > 1000:
        _proven_keys.clear()
    _proven_keys[digest] = now + _KEY_CACHE_SECONDS


def _order_key(msisdn: str) -> str:
    """The card number as stored, so every group locks cards in one order."""
    try:
        return normalize_msisdn(msisdn)
    except InvalidInput:
        return msisdn  # credit control answers an unknown number itself (5030)
