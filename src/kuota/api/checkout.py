"""Finishing a sale that pays through a gateway: after the sale commits, open the order
at the gateway (no transaction open), then record its answer and keep it as the answer
to the request's Idempotency-Key."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kuota.api.deps import Credentials, Transaction
from kuota.cards.rules import normalize_msisdn
from kuota.core import idempotency
from kuota.core.context import Context
from kuota.core.errors import KuotaError
from kuota.core.money import Money
from kuota.core.principal import Principal
from kuota.payments import checkout
from kuota.payments.gateway import CheckoutRequest
from kuota.payments.models import PaymentStatus
from kuota.payments.providers import Gateways
from kuota.renewals.schemas import GatewayOptionsIn, RenewalIn
from kuota.retail import service as retail


async def sell(
    tx: Transaction,
    ctx: Context,
    gateways: Gateways,
    caller: Credentials,
    *,
    idempotency_key: str | None,
    fingerprint: str,
    operation: Callable[[Session, Principal], Any],
    description: Callable[[dict[str, Any]], str],
    view_for_payment: Callable[[Session, str], dict[str, Any]],
    options: GatewayOptionsIn | None,
) -> idempotency.StoredAnswer:
    """A sale, exactly once per Idempotency-Key; when it waits for a gateway payment, the
    order is then opened at the gateway and the answer carries the payer's next step."""
    answer = await tx.exactly_once(
        caller, ctx, idempotency_key=idempotency_key, fingerprint=fingerprint, operation=operation
    )
    return await _open_at_gateway(
        answer,
        tx=tx,
        ctx=ctx,
        gateways=gateways,
        caller=caller,
        idempotency_key=idempotency_key,
        description=description,
        view_for_payment=view_for_payment,
        options=options,
    )


async def _open_at_gateway(
    answer: idempotency.StoredAnswer,
    *,
    tx: Transaction,
    ctx: Context,
    gateways: Gateways,
    caller: Credentials,
    idempotency_key: str | None,
    description: Callable[[dict[str, Any]], str],
    view_for_payment: Callable[[Session, str], dict[str, Any]],
    options: GatewayOptionsIn | None = None,
) -> idempotency.StoredAnswer:
    """Returns the answer to send: the first one, or a fuller one with the payer's next step."""
    if answer.replayed or answer.status_code != 201:
        return answer
    view = orjson.loads(answer.body)
    payment = view["payment"]
    gateway = gateways.named(payment.get("provider", ""))
    if payment["status"] != PaymentStatus.PENDING or gateway is None:
        return answer
    terminal_label = None
    if caller.kiosk_key is not None:
        # A kiosk's QRIS names the kiosk in its terminal label (EMVCo tag 62.07).
        terminal_label = await tx.run(lambda session: caller.principal(session).name)
    request = CheckoutRequest(
        order_id=payment["id"],
        terminal_label=terminal_label,
        method=payment["method"],
        amount=_money(payment["amount"]),
        description=description(view),
        return_url=f"{ctx.settings.public_url}/payments/{payment['id']}/return",
        customer_msisdn=view.get("msisdn"),
        expires_in_seconds=ctx.settings.payment_ttl_seconds,
        ewallet=options.ewallet if options else None,
        card_token=options.card_token if options else None,
    )
    outcome = await run_in_threadpool(checkout.call_gateway, gateway, request)
    key = idempotency.check_key(idempotency_key)

    def record(session: Session) -> idempotency.StoredAnswer:
        checkout.record_outcome(session, ctx, payment["id"], outcome)
        body = orjson.dumps(
            view_for_payment(session, payment["id"]), option=idempotency.JSON_OPTIONS
        )
        scope = caller.principal(session).scope
        idempotency.replace_answer(session, scope=scope, key=key, status=201, body=body)
        return idempotency.StoredAnswer(201, body, replayed=False)

    return await tx.run(record)


def _money(raw: dict[str, Any]) -> Money:
    return Money(int(raw["amount"]), str(raw["currency"]))


def without_nik(body: RenewalIn, ctx: Context) -> dict[str, object]:
    """The request as fingerprinted for its Idempotency-Key: a NIK only as a keyed hash,
    never in a form that could be reversed from the stored fingerprint."""
    payload = body.model_dump()
    if body.identity is not None:
        keyed = hmac.new(ctx.secret_key.encode(), body.identity.nik.encode(), hashlib.sha256)
        payload["identity"] = {"nik": keyed.hexdigest()}
    return payload


async def count_identity_check(
    tx: Transaction,
    ctx: Context,
    caller: Credentials,
    msisdn: str,
    answer: idempotency.StoredAnswer,
) -> None:
    """Every NIK check at a store counts, the refused ones too: they are committed apart
    from the refused sale, and enough of them at one store raise a fraud flag."""
    slug = (
        KuotaError.from_problem(answer.status_code, orjson.loads(answer.body)).slug
        if answer.status_code != 201
        else ""
    )
    # Refused for the float or a promotion, the NIK had matched already (it is checked
    # first); refused otherwise (unknown card, bad input, …) it was never compared.
    matched = answer.status_code == 201 or slug in ("insufficient-funds", "promotion-rejected")
    if not matched and slug != "identity-mismatch":
        return

    def count(session: Session) -> None:
        principal = caller.principal(session)
        if principal.is_retail:
            retail.record_identity_check(
                session,
                principal,
                normalize_msisdn(msisdn),
                matched=matched,
                now=ctx.clock.now(),
            )

    await tx.run(count)
