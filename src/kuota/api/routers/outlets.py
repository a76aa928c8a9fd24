from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from kuota.api.answers import json_response
from kuota.api.deps import ContextDep, SessionDep
from kuota.core.errors import InvalidInput
from kuota.retail import locator

router = APIRouter(prefix="/outlets", tags=["outlets"])

# The locator names its arguments in full; a caller of this API wrote `lat` and `lon`.
_QUERY_NAMES = {"latitude": "lat", "longitude": "lon"}


class HoursOut(BaseModel):
    days: list[int] = Field(description="ISO weekdays open: 1 = Monday … 7 = Sunday")
    opens_at: str = Field(description="HH:MM on the operator's clock")
    closes_at: str = Field(
        description="HH:MM; 24:00 is midnight, a time before opens_at runs past midnight"
    )


class OutletOut(BaseModel):
    kind: Literal["store", "kiosk"]
    code: str
    name: str
    retailer: str | None
    city: str
    address: str
    latitude: float | None
    longitude: float | None
    distance_km: float | None = Field(description="from lat/lon, to 0.1 km; null without them")
    hours: HoursOut
    always_open: bool = Field(description="kiosks sell 24/7")
    open_now: bool | None = Field(description="on the operator's clock; null if hours unknown")


@router.get("", response_model=list[OutletOut])
def find_outlets(
    session: SessionDep,
    ctx: ContextDep,
    lat: Annotated[float | None, Query(description="your latitude, with lon")] = None,
    lon: Annotated[float | None, Query(description="your longitude, with lat")] = None,
    city: Annotated[str | None, Query(max_length=80, description="any case")] = None,
    code: Annotated[str | None, Query(max_length=20, description="the code on its sticker")] = None,
    limit: int = 20,
) -> Response:
    """Where to renew in person: authorised stores and kiosks, nearest first when lat and
    lon are given, else by city and name. Public; no login."""
    try:
        found = locator.find_outlets(
            session,
            latitude=lat,
            longitude=lon,
            city=city,
            code=code,
            limit=limit,
            now=ctx.clock.now(),
            zone_name=ctx.settings.operator_timezone,
        )
    except InvalidInput as exc:
        field = str(exc.extra.get("field", ""))
        raise InvalidInput(exc.detail, field=_QUERY_NAMES.get(field, field)) from exc
    return json_response(found)
