"""Short typed dependencies: a route's signature says who may call it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from kuota.auth import service as auth
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.errors import Forbidden, Unauthenticated
from kuota.core.principal import Principal

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed when the route returns, before the response
    is sent (function scope), rolled back if it raises."""
    db: Database = request.app.state.db
    with db.unit_of_work(write=request.method not in READ_METHODS) as session:
        yield session


def get_context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ContextDep = Annotated[Context, Depends(get_context)]


def get_principal(
    session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
    x_kiosk_key: Annotated[str | None, Header()] = None,
) -> Principal:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "use 'Authorization: Bearer <token>' from POST /api/v1/auth/token"
            )
        return auth.principal_from_token(session, token.strip())
    if x_kiosk_key:
        return auth.principal_from_kiosk_key(session, x_kiosk_key.strip())
    raise Unauthenticated("log in: send 'Authorization: Bearer <token>' (or X-Kiosk-Key)")


def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise Forbidden("this needs an operator admin")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
OperatorAdmin = Annotated[Principal, Depends(get_admin)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
