from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import orjson
from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.responses import Response

from kuota.api.answers import json_response, stored_response
from kuota.api.checkout import sell
from kuota.api.deps import (
    Caller,
    ContextDep,
    Credentials,
    CurrentPrincipal,
    GatewaysDep,
    IdempotencyKey,
    SessionDep,
    Transaction,
    WriteTransaction,
)
from kuota.cards.rules import normalize_msisdn
from kuota.core import idempotency
from kuota.core.context import Context
from kuota.renewals import service as renewals
from kuota.renewals.schemas import RenewalIn, RenewalOut
from kuota.retail import service as retail

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
        fingerprint=idempotency.fingerprint("POST", "/renewals", _without_nik(body, ctx)),
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
        await _count_identity_check(tx, ctx, caller, body.msisdn, answer)
    return stored_response(answer)


def _without_nik(body: RenewalIn, ctx: Context) -> dict[str, object]:
    """The request as fingerprinted for its Idempotency-Key: a NIK only as a keyed hash,
    never in a form that could be reversed from the stored fingerprint."""
    payload = body.model_dump()
    if body.identity is not None:
        keyed = hmac.new(ctx.secret_key.encode(), body.identity.nik.encode(), hashlib.sha256)
        payload["identity"] = {"nik": keyed.hexdigest()}
    return payload


async def _count_identity_check(
    tx: Transaction,
    ctx: Context,
    caller: Credentials,
    msisdn: str,
    answer: idempotency.StoredAnswer,
) -> None:
    """Every NIK check at a store counts, the refused ones too: they are committed apart
    from the refused sale, and enough of them at one store raise a fraud flag."""
    problem = orjson.loads(answer.body) if answer.status_code != 201 else {}
    slug = str(problem.get("type", "")).rsplit("/", 1)[-1]
    if answer.status_code != 201 and slug != "identity-mismatch":
        return  # the NIK was never compared (unknown card, bad input, …)

    def count(session: Session) -> None:
        principal = caller.principal(session)
        if principal.is_retail:
            retail.record_identity_check(
                session,
                principal,
                normalize_msisdn(msisdn),
                matched=answer.status_code == 201,
                now=ctx.clock.now(),
            )

    await tx.run(count)


@router.get("/{renewal_id}", response_model=RenewalOut)
def get_renewal(renewal_id: str, session: SessionDep, principal: CurrentPrincipal) -> Response:
    return json_response(renewals.get_renewal(session, principal, renewal_id))
