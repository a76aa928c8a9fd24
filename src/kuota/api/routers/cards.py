from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.responses import Response

from kuota.api.answers import json_response
from kuota.api.deps import ContextDep, CurrentPrincipal, SessionDep
from kuota.cards import service as cards
from kuota.core.errors import Forbidden, InvalidInput
from kuota.renewals import service as renewals
from kuota.renewals.schemas import MoneyOut, PackageOut, RenewalOut

router = APIRouter(prefix="/cards", tags=["cards"])


class CardOut(BaseModel):
    msisdn: str
    status: str | None = None
    balance: MoneyOut | None = None
    auto_renew: bool | None = None
    owner_name: str | None = None
    owner_name_masked: str | None = None
    packages: list[PackageOut]


@router.get("", response_model=list[CardOut])
def my_cards(session: SessionDep, ctx: ContextDep, principal: CurrentPrincipal) -> Response:
    """The caller's own cards (subscribers)."""
    if not principal.is_subscriber:
        raise Forbidden("only subscribers own cards; look a card up by its number")
    now = ctx.clock.now()
    return json_response(
        [
            cards.card_view(session, principal, card.msisdn, now)
            for card in cards.cards_of(session, principal.id)
        ]
    )


@router.get("/{msisdn}", response_model=CardOut)
def get_card(
    msisdn: str, session: SessionDep, ctx: ContextDep, principal: CurrentPrincipal
) -> Response:
    """Balance and packages for the owner and operator staff; masked for stores and kiosks."""
    return json_response(cards.card_view(session, principal, msisdn, ctx.clock.now()))


@router.get("/{msisdn}/renewals", response_model=list[RenewalOut])
def card_renewals(
    msisdn: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[datetime | None, Query(description="RFC 3339; page backwards")] = None,
) -> Response:
    """The card's renewal history, newest first."""
    if before is not None and before.tzinfo is None:
        raise InvalidInput("'before' needs a time zone, e.g. 2026-11-25T00:00:00Z", field="before")
    return json_response(renewals.history(session, principal, msisdn, limit=limit, before=before))


class DailyUsageOut(BaseModel):
    package_id: int
    plan_code: str
    day: str = Field(description="the day in the operator's time zone, YYYY-MM-DD")
    bytes: int


@router.get("/{msisdn}/usage", response_model=list[DailyUsageOut])
def card_usage(
    msisdn: str,
    session: SessionDep,
    ctx: ContextDep,
    principal: CurrentPrincipal,
    days: Annotated[int, Query(ge=1, le=90)] = 30,
) -> Response:
    """Data used per package per day over the last `days` days."""
    return json_response(
        cards.usage_by_day(
            session,
            principal,
            msisdn,
            days=days,
            now=ctx.clock.now(),
            zone_name=ctx.settings.operator_timezone,
        )
    )


class CardSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auto_renew: StrictBool


@router.patch("/{msisdn}", response_model=CardOut)
def change_card(
    msisdn: str,
    body: CardSettingsIn,
    session: SessionDep,
    ctx: ContextDep,
    principal: CurrentPrincipal,
) -> Response:
    """The owner turns auto-renewal at expiry (from the main balance) on or off."""
    cards.set_auto_renew(session, principal, msisdn, body.auto_renew)
    return json_response(cards.card_view(session, principal, msisdn, ctx.clock.now()))
