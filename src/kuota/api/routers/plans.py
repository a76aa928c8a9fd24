from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import Response

from kuota.api.answers import json_response
from kuota.api.deps import SessionDep
from kuota.catalog import service as catalog
from kuota.catalog.models import PlanVersion
from kuota.renewals.schemas import MoneyOut

router = APIRouter(tags=["plans"])


class PlanOut(BaseModel):
    code: str
    name: str
    version: int
    price: MoneyOut
    data_bytes: int
    validity_days: int


def plan_view(plan: PlanVersion) -> dict[str, object]:
    return {
        "code": plan.code,
        "name": plan.name,
        "version": plan.version,
        "price": {"amount": plan.price_amount, "currency": plan.currency},
        "data_bytes": plan.data_bytes,
        "validity_days": plan.validity_days,
    }


@router.get("/plans", response_model=list[PlanOut])
def list_plans(session: SessionDep) -> Response:
    """The public catalogue: every plan on sale, at its current price."""
    return json_response([plan_view(p) for p in catalog.current_plans(session)])
