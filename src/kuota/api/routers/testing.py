"""Demo mode only: move the business clock, read the local mailbox."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, model_validator
from starlette.responses import Response

from kuota.api.answers import json_response
from kuota.api.deps import ContextDep, OperatorAdmin, SessionDep
from kuota.core import audit, clock_store
from kuota.core.clock import BusinessClock
from kuota.notify import mailbox

router = APIRouter(prefix="/test", tags=["demo mode only"])


class ClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    now: datetime | None = None
    reset: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> ClockIn:
        if (self.now is None) == (not self.reset):
            raise ValueError('send either {"now": RFC 3339} or {"reset": true}')
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError("'now' needs a time zone, e.g. 2026-12-01T08:00:00+07:00")
        return self


@router.post("/clock")
def move_clock(
    body: ClockIn, request: Request, session: SessionDep, ctx: ContextDep, principal: OperatorAdmin
) -> Response:
    """Move the business clock to `now` and let it run on from there, or reset it."""
    offset = clock_store.move_to(session, None if body.reset else body.now)
    if isinstance(ctx.clock, BusinessClock):
        ctx.clock.set_offset(offset)
        # This process knows the new offset before it commits: a re-read now would
        # still see the old one and put it back.
        ctx.clock.last_refreshed = time.monotonic()
    audit.record(
        session,
        actor=principal.name,
        action="test.clock_moved",
        target="clock",
        detail={"offset_seconds": offset.total_seconds()},
        now=ctx.clock.now(),
    )
    return json_response({"now": ctx.clock.now(), "offset_seconds": offset.total_seconds()})


@router.get("/messages")
def messages(
    session: SessionDep,
    to: Annotated[str, Query(min_length=1, description="a card number or an e-mail address")],
) -> Response:
    """What the local mailbox received for one recipient, newest first."""
    return json_response(mailbox.messages(session, to))
