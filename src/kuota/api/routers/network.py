"""The network side's HTTP door: credit control (RFC 8506 semantics, 3GPP Gy) over JSON."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy.orm import Session
from starlette.responses import Response

from kuota.api.answers import json_response
from kuota.api.deps import ContextDep, Transaction, WriteTransaction
from kuota.auth import service as auth
from kuota.cards.rules import normalize_msisdn
from kuota.core.errors import InvalidInput
from kuota.core.group_commit import GroupCommit
from kuota.core.security import hash_token
from kuota.usage import network

router = APIRouter(tags=["network"])


class CreditControlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str = Field(min_length=1, max_length=100)
    msisdn: str = Field(min_length=1, max_length=32)
    request_type: Literal["initial", "update", "terminate"]
    request_number: StrictInt = Field(ge=0)
    requested_bytes: StrictInt | None = Field(default=None, ge=0)
    used_bytes: StrictInt | None = Field(default=None, ge=0)


class FinalUnitOut(BaseModel):
    action: Literal["terminate", "redirect"]
    redirect_url: str | None = None


class CreditControlOut(BaseModel):
    result_code: int = Field(description="2001 success, 4012 credit limit reached, 5030 unknown")
    granted_bytes: int
    validity_time: int = Field(description="seconds the grant is valid; re-ask before then")
    final_unit: FinalUnitOut | None = None


@router.post("/credit-control", response_model=CreditControlOut)
async def credit_control(
    body: CreditControlIn,
    tx: WriteTransaction,
    ctx: ContextDep,
    http_request: Request,
    x_network_key: Annotated[str | None, Header()] = None,
) -> Response:
    """Grant quota in slices, reserve it, and charge what was used. The same
    (session_id, request_number) gets the first answer again and changes nothing."""
    request = network.CreditControlRequest(
        session_id=body.session_id,
        msisdn=body.msisdn,
        request_type=body.request_type,
        request_number=body.request_number,
        requested_bytes=body.requested_bytes,
        used_bytes=body.used_bytes,
    )

    writer: GroupCommit | None = http_request.app.state.credit_control
    if writer is None:  # served without the app's lifespan (some tests)

        def alone(session: Session) -> dict[str, object]:
            auth.network_element_from_key(session, x_network_key)
            return network.credit_control(session, ctx, request)

        return json_response(await tx.run(alone))
    # The key is checked before the request joins a shared commit: a caller with a bad
    # key must not make every group it lands in fall back to one commit each.
    await _check_network_key(tx, x_network_key)
    return json_response(
        await writer.run_one(
            _order_key(body.msisdn), lambda session: network.credit_control(session, ctx, request)
        )
    )


# Keys proven recently, by their hash, so the hot path skips the lookup; a removed
# network element's key keeps working for at most this long.
_KEY_CACHE_SECONDS = 60.0
_proven_keys: dict[str, float] = {}


async def _check_network_key(tx: Transaction, key: str | None) -> None:
    digest = hash_token(key.strip()) if key and key.strip() else ""
    now = time.monotonic()
    if digest and _proven_keys.get(digest, 0.0) > now:
        return
    await tx.run(lambda session: auth.network_element_from_key(session, key))
    if len(_proven_keys) > 1000:
        _proven_keys.clear()
    _proven_keys[digest] = now + _KEY_CACHE_SECONDS


def _order_key(msisdn: str) -> str:
    """The card number as stored, so every group locks cards in one order."""
    try:
        return normalize_msisdn(msisdn)
    except InvalidInput:
        return msisdn  # credit control answers an unknown number itself (5030)
