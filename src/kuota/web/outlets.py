"""The public store locator: where to renew in person, nearest first from the visitor's
position (which the browser gives only when asked) or by city. The position only sorts
this one answer; nothing is saved."""

from __future__ import annotations

from typing import TypeVar

from babel.dates import get_day_names
from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from starlette.responses import Response

from kuota.core.context import Context
from kuota.core.errors import InvalidInput
from kuota.retail import locator
from kuota.web.pages import describe, read, render
from kuota.web.visitor import VisitorDep

router = APIRouter(include_in_schema=False)
T = TypeVar("T")
PAGE_SIZE = 20


def _degrees(value: str, field: str) -> float | None:
    if not value.strip():
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise InvalidInput(f"{field} is a number of degrees, e.g. -6.1754", field=field) from exc


def days_text(days: list[int], locale: str) -> str:
    """The open days in the visitor's language, a run of three or more as a range:
    `Mon–Fri, Sun`."""
    names = get_day_names("abbreviated", locale=locale)  # 0 is Monday
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(
        f"{names[run[0] - 1]}–{names[run[-1] - 1]}"
        if len(run) > 2
        else ", ".join(names[day - 1] for day in run)
        for run in runs
    )


@router.get("/outlets")
async def outlets_page(
    request: Request, visitor: VisitorDep, city: str = "", lat: str = "", lon: str = ""
) -> Response:
    """Authorised stores and kiosks: by city without JavaScript, nearest first with it."""
    ctx: Context = request.app.state.context
    wanted_city = city.strip()[:80]
    error = None
    found: list[dict[str, object]] = []
    near = False
    try:
        latitude, longitude = _degrees(lat, "latitude"), _degrees(lon, "longitude")
        near = latitude is not None
        found = await read(
            request,
            lambda session: locator.find_outlets(
                session,
                latitude=latitude,
                longitude=longitude,
                city=wanted_city or None,
                limit=PAGE_SIZE,
                now=ctx.clock.now(),
                zone_name=ctx.settings.operator_timezone,
            ),
        )
    except InvalidInput as exc:
        error = describe(visitor, exc)
    locale = visitor.locale
    return render(
        request,
        visitor,
        "outlets.html",
        status=422 if error else 200,
        error=error,
        outlets=found,
        city=wanted_city,
        near=near,
        km=lambda value: format_decimal(value, format="#,##0.0", locale=locale),
        days=lambda value: days_text(value, locale),
    )
