"""Reading a posted form: the CSRF token first, then plain text fields only."""

from __future__ import annotations

from fastapi import Request

from kuota.web.visitor import Visitor

MAX_FIELD = 500


async def posted(request: Request, visitor: Visitor) -> dict[str, str]:
    """The form's fields, once its CSRF token is proved; refused (403) otherwise."""
    form = await request.form()
    visitor.check_csrf(form.get("csrf_token"))
    return {key: value.strip()[:MAX_FIELD] for key, value in form.items() if isinstance(value, str)}


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
