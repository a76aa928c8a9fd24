"""Every error as RFC 9457 problem+json with a detail a person can act on."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from kuota.core.errors import KuotaError


class Unexpected(KuotaError):
    status = 500
    slug = "unexpected"
    title = "Internal error"


log = logging.getLogger("kuota.api")

PROBLEM = "application/problem+json"


def problem_response(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_problem(errors: Any) -> dict[str, Any]:
    """A body or query that failed validation, field by field (pydantic's errors)."""
    fields = [
        {"field": _field(e.get("loc", ())), "message": e.get("msg", "invalid")} for e in errors
    ]
    return {
        "type": "https://kuota.dev/problems/invalid-input",
        "title": "Invalid input",
        "status": 422,
        "detail": "; ".join(f"{e['field']}: {e['message']}" for e in fields),
        "errors": fields,
    }


def wants_page(request: Request) -> bool:
    """The portal's pages answer errors as pages; the API (and the gateways' callbacks)
    as problem+json."""
    path = request.url.path
    return (
        not path.startswith(("/api/", "/sandbox/", "/healthz"))
        and getattr(request.app.state, "html_error", None) is not None
    )


def log_server_error(exc: KuotaError) -> None:
    """A refusal that is the server's fault (5xx: busy, misconfigured) is logged."""
    if exc.status >= 500:
        log.error("server error: %s", exc.detail)


def install(app: FastAPI) -> None:
    @app.exception_handler(KuotaError)
    async def _kuota(request: Request, exc: KuotaError) -> Response:
        log_server_error(exc)
        if wants_page(request):
            page: Response = await request.app.state.html_error(request, exc)
            return page
        return problem_response(exc.status, exc.problem())

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        return problem_response(422, validation_problem(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        return problem_response(
            exc.status_code,
            {
                "type": "about:blank",
                "title": str(exc.detail),
                "status": exc.status_code,
                "detail": str(exc.detail),
            },
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error", exc_info=exc)
        if wants_page(request):
            page: Response = await request.app.state.html_error(
                request, Unexpected("kuota hit an unexpected error and applied nothing")
            )
            return page
        return unexpected_response()


def unexpected_response() -> Response:
    """500 problem+json for an error nobody foresaw (the caller logs it)."""
    return problem_response(
        500,
        {
            "type": "about:blank",
            "title": "Internal error",
            "status": 500,
            "detail": "kuota hit an unexpected error and applied nothing; retry with the "
            "same Idempotency-Key",
        },
    )
