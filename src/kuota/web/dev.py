"""Demo mode only: the local mailbox, where every SMS and e-mail lands instead of leaving."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kuota.core.db import Database
from kuota.notify import mailbox
from kuota.web.pages import render
from kuota.web.visitor import VisitorDep

router = APIRouter(include_in_schema=False)


@router.get("/dev/mailbox")
async def mailbox_page(request: Request, visitor: VisitorDep, to: str = "") -> Response:
    db: Database = request.app.state.db

    def load() -> list[dict[str, object]]:
        with db.unit_of_work(write=False) as session:
            return mailbox.messages(session, to or None, limit=100)

    found = await run_in_threadpool(load)
    return render(request, visitor, "mailbox.html", messages=found, to=to)
