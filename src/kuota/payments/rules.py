"""The payment state machine, as pure rules.

    pending ──► succeeded ──► refunded
       │  ▲         ▲
       │  └─ unknown┤ (a timeout or lost answer: asked again until known)
       ├──► failed ─┤ (a later status query that says paid wins: the money was taken)
       └──► expired ┘ (success after expiry: fulfilled if still possible, else refunded)

The gateway's status query is the truth; a notification only says "ask now".
A failure that arrives after a success is stale and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from kuota.payments.gateway import GatewayStatus
from kuota.payments.models import PaymentStatus

ALLOWED: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PENDING: frozenset(
        {
            PaymentStatus.SUCCEEDED,
            PaymentStatus.FAILED,
            PaymentStatus.EXPIRED,
            PaymentStatus.UNKNOWN,
        }
    ),
    PaymentStatus.UNKNOWN: frozenset(
        {
            PaymentStatus.PENDING,
            PaymentStatus.SUCCEEDED,
            PaymentStatus.FAILED,
            PaymentStatus.EXPIRED,
        }
    ),
    PaymentStatus.FAILED: frozenset({PaymentStatus.SUCCEEDED}),
    PaymentStatus.EXPIRED: frozenset({PaymentStatus.SUCCEEDED}),
    PaymentStatus.SUCCEEDED: frozenset({PaymentStatus.REFUNDED}),
    PaymentStatus.REFUNDED: frozenset(),
}

OPEN = frozenset({PaymentStatus.PENDING, PaymentStatus.UNKNOWN})


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with the gateway's word: move to `to`, or nothing (`to` is None)."""

    to: PaymentStatus | None
    reason: str


def decide(current: PaymentStatus, said: GatewayStatus) -> Decision:
    target = PaymentStatus(said.value)
    if target is current:
        return Decision(None, "already so")
    if target not in ALLOWED[current]:
        return Decision(None, f"stale: {said} cannot follow {current}")
    return Decision(target, f"gateway says {said}")


def can_move(current: PaymentStatus, target: PaymentStatus) -> bool:
    return target in ALLOWED[current]
