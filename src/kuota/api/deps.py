"""Short typed dependencies: a route's signature says who may call it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kuota.auth import service as auth
from kuota.auth import sessions as web_sessions
from kuota.core import idempotency
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.errors import Forbidden, Unauthenticated
from kuota.core.principal import Principal
from kuota.payments.providers import Gateways

T = TypeVar("T")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request, committed when the route returns and before the
    response is sent (function scope), rolled back if it raises.

    On SQLite, writers queue on an asyncio lock *before* they take a worker thread:
    queuing on the database's own lock inside the thread pool would let waiting
    requests fill every thread while the request holding the lock has none left
    to finish in. The request body has already been read, so a slow client cannot
    hold the queue."""
    db: Database = request.app.state.db
    write = request.method not in READ_METHODS
    gate: asyncio.Lock | None = request.app.state.write_gate if write and db.is_sqlite else None
    if gate is not None:
        await gate.acquire()
    try:
        unit = db.unit_of_work(write=write)
        session = await run_in_threadpool(unit.__enter__)
        try:
            yield session
        except BaseException as exc:
            await run_in_threadpool(unit.__exit__, type(exc), exc, exc.__traceback__)
            raise
        await run_in_threadpool(unit.__exit__, None, None, None)
    finally:
        if gate is not None:
            gate.release()


def get_context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ContextDep = Annotated[Context, Depends(get_context)]


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the caller presented, checked for shape only; who it is needs the database."""

    bearer_token: str | None = None
    kiosk_key: str | None = None
    web_session: str | None = None  # the portal's signed-in browser

    def principal(self, session: Session) -> Principal:
        if self.bearer_token is not None:
            return auth.principal_from_token(session, self.bearer_token)
        if self.web_session is not None:
            found = web_sessions.principal(session, self.web_session)
            if found is None:
                raise Unauthenticated("your session has ended; sign in again")
            return found
        assert self.kiosk_key is not None
        return auth.principal_from_kiosk_key(session, self.kiosk_key)


def get_credentials(
    authorization: Annotated[str | None, Header()] = None,
    x_kiosk_key: Annotated[str | None, Header()] = None,
) -> Credentials:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "use 'Authorization: Bearer <token>' from POST /api/v1/auth/token"
            )
        return Credentials(bearer_token=token.strip())
    if x_kiosk_key and x_kiosk_key.strip():
        return Credentials(kiosk_key=x_kiosk_key.strip())
    raise Unauthenticated("log in: send 'Authorization: Bearer <token>' (or X-Kiosk-Key)")


Caller = Annotated[Credentials, Depends(get_credentials)]


def get_principal(session: SessionDep, credentials: Caller) -> Principal:
    return credentials.principal(session)


class Transaction:
    """A write request's unit of work, run whole in one worker thread.

    Authentication, the service call and the commit happen in a single hop to the
    thread pool, so the time a SQLite writer holds the lock is the work itself and
    never a wait for the event loop between steps. Used by the routes that move money
    or quota, the busiest writers; the answer is committed before it is returned."""

    def __init__(self, db: Database, gate: asyncio.Lock | None) -> None:
        self._db = db
        self._gate = gate

    @property
    def db(self) -> Database:
        return self._db

    async def run(self, work: Callable[[Session], T]) -> T:
        if self._gate is None:
            return await run_in_threadpool(self._run, work)
        async with self._gate:
            return await run_in_threadpool(self._run, work)

    def _run(self, work: Callable[[Session], T]) -> T:
        with self._db.unit_of_work() as session:
            return work(session)

    async def exactly_once(
        self,
        caller: Credentials,
        ctx: Context,
        *,
        idempotency_key: str | None,
        fingerprint: str,
        operation: Callable[[Session, Principal], Any],
        authorize: Callable[[Principal], None] | None = None,
        success_status: int = 201,
    ) -> idempotency.StoredAnswer:
        """Authenticate, then run `operation` once per Idempotency-Key of this caller."""
        key = idempotency.check_key(idempotency_key)

        def work(session: Session) -> idempotency.StoredAnswer:
            principal = caller.principal(session)
            if authorize is not None:
                authorize(principal)
            return idempotency.run_once(
                session,
                scope=principal.scope,
                key=key,
                fp=fingerprint,
                now=ctx.clock.now(),
                success_status=success_status,
                operation=lambda: operation(session, principal),
            )

        return await self.run(work)


async def get_transaction(request: Request) -> Transaction:
    db: Database = request.app.state.db
    return Transaction(db, request.app.state.write_gate if db.is_sqlite else None)


WriteTransaction = Annotated[Transaction, Depends(get_transaction)]


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("this needs an operator admin")


def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    require_admin(principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
OperatorAdmin = Annotated[Principal, Depends(get_admin)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def get_gateways(request: Request) -> Gateways:
    gateways: Gateways = request.app.state.gateways
    return gateways


GatewaysDep = Annotated[Gateways, Depends(get_gateways)]
