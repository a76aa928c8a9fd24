"""What every point-of-sale page starts from: who is at the till, their store, and
whether the retailer's float covers a sale (amounts for the owner only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuota.catalog import service as catalog
from kuota.core.context import Context
from kuota.core.errors import NotFound, Unauthenticated
from kuota.core.localtime import zone
from kuota.core.money import Money
from kuota.core.principal import Principal
from kuota.ledger import service as ledger
from kuota.renewals import service as renewals
from kuota.renewals.models import Channel
from kuota.retail import service as retail
from kuota.retail.models import Store
from kuota.web.visitor import Visitor


def desk_context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


def retail_person(request: Request, visitor: Visitor) -> Principal:
    """A retailer's staff or owner; anyone else is told there is no such page."""
    if visitor.principal is None:
        raise Unauthenticated("sign in to use the point of sale", next=request.url.path)
    if not visitor.principal.is_retail:
        raise NotFound("the point of sale is for an authorised store's staff")
    return visitor.principal


def is_owner(principal: Principal) -> bool:
    return principal.retailer_id is not None


@dataclass(frozen=True, slots=True)
class Desk:
    """The top of every point-of-sale page: where, and whether the float covers a sale."""

    stores: list[dict[str, str]]
    store: dict[str, str] | None  # the staff member's own store; None for an owner
    offers: list[dict[str, Any]]
    float_ok: bool
    float_balance: Money | None  # the owner's to see only
    sales_today: int
    commission_today: Money


def load_desk(session: Session, ctx: Context, principal: Principal) -> Desk:
    now = ctx.clock.now()
    if is_owner(principal):
        assert principal.retailer_id is not None
        retailer_id = principal.retailer_id
        own = None
    else:
        store = retail.store_of(session, principal)
        retailer_id = store.retailer_id
        own = {"code": store.code, "name": store.name}
    stores = [
        {"code": code, "name": name}
        for code, name in session.execute(
            select(Store.code, Store.name)
            .where(Store.retailer_id == retailer_id)
            .order_by(Store.code)
        )
    ]
    offers: list[dict[str, Any]] = []
    for plan in catalog.current_plans(session):
        _, _, _, priced = renewals.price_of(
            session, plan.code, None, channel=Channel.RETAIL, now=now
        )
        commission = priced.total.percent_of(
            retail.commission_rate(session, retailer_id, plan.code)
        )
        offers.append(
            {
                "plan": plan,
                "total": priced.total,
                "commission": commission,
                "draws": priced.total - commission,
            }
        )
    balance = ledger.guarded_balance(
        session, ledger.retailer_float_account_id(session, retailer_id)
    )
    # "Enough" means the dearest plan on sale can still be sold from it.
    needed = max((o["draws"].amount for o in offers), default=0)
    local = zone(ctx.settings.operator_timezone)
    midnight = datetime.combine(now.astimezone(local).date(), time(), tzinfo=local)
    today = retail.sales(session, principal, since=midnight)
    return Desk(
        stores=stores,
        store=own,
        offers=offers,
        float_ok=balance.amount >= needed,
        float_balance=balance if is_owner(principal) else None,
        sales_today=len(today),
        commission_today=Money(
            sum(int(s["commission"]["amount"]) for s in today), balance.currency
        ),
    )
