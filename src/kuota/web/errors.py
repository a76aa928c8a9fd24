"""Refusals on the portal's pages: a page in the visitor's language, or the sign-in page
for a visitor who has not signed in yet."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from starlette.responses import Response

from kuota.core.errors import KuotaError, Unauthenticated
from kuota.web.pages import error_page, redirect
from kuota.web.visitor import get_visitor, safe_next


async def html_error(request: Request, exc: KuotaError) -> Response:
    visitor = await get_visitor(request)
    if isinstance(exc, Unauthenticated):
        target = safe_next(request.url.path, "/cards")
        return redirect(visitor, f"/login?next={quote(target)}")
    return error_page(request, visitor, exc)
