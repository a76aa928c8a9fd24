"""The ASGI application: the JSON API under /api/v1 and the health check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from kuota import __version__
from kuota.api import errors
from kuota.api.routers import (
    admin,
    admin_outlets,
    auth,
    cards,
    kiosk,
    network,
    outlets,
    payments,
    plans,
    renewals,
    retail,
    testing,
)
from kuota.core.clock import Clock, SystemClock
from kuota.core.clock_store import SharedBusinessClock
from kuota.core.config import Settings, ensure_secret_key
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.group_commit import GroupCommit
from kuota.core.logging import configure_logging
from kuota.ledger import service as ledger
from kuota.payments import providers
from kuota.payments.providers import Gateways
from kuota.usage import network as network_service
from kuota.web import account as account_pages
from kuota.web import dev as dev_pages
from kuota.web import kiosk as kiosk_pages
from kuota.web import outlets as outlet_pages
from kuota.web import portal as portal_pages
from kuota.web import pos as pos_pages
from kuota.web import public as public_pages
from kuota.web import retail_reports as retail_report_pages
from kuota.web import sandbox as sandbox_pages
from kuota.web.errors import html_error


def create_app(
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
    gateways: Gateways | None = None,
) -> FastAPI:
    settings = ensure_secret_key(settings)
    configure_logging()
    database = db or Database(settings.database_url, pool_size=settings.db_pool_size)
    if clock is None:
        clock = SharedBusinessClock(database) if settings.is_demo else SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Credit-control updates share durable commits (group commit); made here, on
        # the serving event loop, and drained before the process stops.
        ctx = app.state.context
        writer = GroupCommit(
            database,
            write_many=lambda session, requests: network_service.credit_control_many(
                session, ctx, requests
            ),
            # One group in flight per process: the next fills while it commits (more
            # writers split the groups; see radius/server.py).
            concurrency=1,
            name="kuota-credit-control",
        )
        app.state.credit_control = writer
        try:
            yield
        finally:
            app.state.credit_control = None
            await writer.close()

    app = FastAPI(
        lifespan=lifespan,
        title="kuota",
        version=__version__,
        description="Prepaid data-plan renewal: one engine for online, retail and kiosk.",
        openapi_url="/api/v1/openapi.json",
        # The interactive viewer would load its scripts from a CDN; every asset kuota
        # serves is its own, so only the OpenAPI document is published.
        docs_url=None,
        redoc_url=None,
    )
    app.state.db = database
    app.state.credit_control = None
    app.state.write_gate = asyncio.Lock()
    app.state.gateways = gateways or providers.configure(settings, database)
    app.state.context = Context(settings=settings, clock=clock)
    errors.install(app)
    with database.unit_of_work() as session:
        ledger.open_house_accounts(session, app.state.context)

    api = APIRouter(prefix="/api/v1")
    for router in (
        auth.router,
        plans.router,
        outlets.router,
        cards.router,
        renewals.router,
        payments.router,
        network.router,
        admin.router,
        admin_outlets.router,
        retail.router,
        kiosk.router,
    ):
        api.include_router(router)
    if settings.is_demo:
        api.include_router(testing.router)
    app.include_router(api)
    app.include_router(sandbox_pages.router)
    for pages in (
        public_pages,
        outlet_pages,
        account_pages,
        portal_pages,
        pos_pages,
        retail_report_pages,
        kiosk_pages,
    ):
        app.include_router(pages.router)
    if settings.is_demo:
        app.include_router(dev_pages.router)
    app.mount("/static", StaticFiles(packages=[("kuota.web", "static")]), name="static")
    app.state.html_error = html_error
    # The network's hot path skips the framework's routing (see routers/network.py);
    # `served` puts it ahead of the framework's own layers too.
    app.add_middleware(network.CreditControlLane)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        return Response(b"ok", media_type="text/plain")

    return app


def served(app: FastAPI) -> ASGIApp:
    """The app as a server runs it: credit control ahead of everything else, so the
    network's hot path pays for none of the framework's layers (see routers/network.py)."""
    return network.CreditControlLane(app)
