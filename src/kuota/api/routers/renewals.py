from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from starlette.responses import Response

from kuota.api.answers import json_response, stored_response
from kuota.api.checkout import count_identity_check, sell, without_nik
from kuota.api.deps import (
    Caller,
    ContextDep,
    CurrentPrincipal,
    GatewaysDep,
    IdempotencyKey,
    SessionDep,
    WriteTransaction,
)
from kuota.core import idempotency
from kuota.renewals import service as renewals
from kuota.renewals.schemas import RenewalIn, RenewalOut

router = APIRouter(prefix="/renewals", tags=["renewals"])


@router.post("", response_model=RenewalOut, status_code=201)
async def create_renewal(
    body: RenewalIn,
    tx: WriteTransaction,
    ctx: ContextDep,
    caller: Caller,
    gateways: GatewaysDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Renew a plan on a card. Replaying the same Idempotency-Key returns the first answer
    and moves nothing again."""
    request = renewals.RenewalRequest(
        msisdn=body.msisdn,
        plan_code=body.plan_code,
        payment_method=body.payment_method,
        promo_code=body.promo_code,
        identity_nik=body.identity.nik if body.identity else None,
    )
    answer = await sell(
        tx,
        ctx,
        gateways,
        caller,
        idempotency_key=idempotency_key,
        fingerprint=idempotency.fingerprint("POST", "/renewals", without_nik(body, ctx)),
        operation=lambda session, principal: renewals.renew(
            session,
            ctx,
            principal,
            request,
            gateway_methods=gateways.methods,
            gateway_name=gateways.default or "none",
            payment_ttl=timedelta(seconds=ctx.settings.payment_ttl_seconds),
        ),
        description=lambda view: f"{view['plan_code']} {view['msisdn']}",
        view_for_payment=renewals.view_for_payment,
        options=body.gateway_options,
    )
    if body.identity is not None and not answer.replayed:
        await count_identity_check(tx, ctx, caller, body.msisdn, answer)
    return stored_response(answer)


@router.get("/{renewal_id}", response_model=RenewalOut)
def get_renewal(renewal_id: str, session: SessionDep, principal: CurrentPrincipal) -> Response:
    return json_response(renewals.get_renewal(session, principal, renewal_id))
