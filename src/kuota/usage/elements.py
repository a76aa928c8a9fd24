"""The network's own parties: RADIUS access servers (by address, with a shared secret)
and the packet gateways that call credit control (by name, with a key kept as its
SHA-256). Registered, listed and removed by the operator (`kuota radius-clients …`,
`kuota network-elements …`); every change is audited.

Secrets and keys are made here, from the operating system's random source, and shown
once: a network element's key is never stored, and a RADIUS secret must be, since
RADIUS needs it to compute authenticators.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuota.core import audit
from kuota.core.errors import Conflict, InvalidInput, NotFound
from kuota.core.security import hash_token
from kuota.radius.clients import canonical_address
from kuota.usage.models import NetworkElement, RadiusClient

# RFC 2865 3 asks for at least 16 octets; BlastRADIUS (CVE-2024-3596) is one more
# reason for long random secrets.
MIN_SECRET = 16
MAX_SECRET = 128  # radius_clients.secret
MAX_NAME = 80


@dataclass(frozen=True, slots=True)
class Registered:
    name: str
    secret: str  # the RADIUS secret or the network element's key: shown once


def _name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME:
        raise InvalidInput(f"the name must be 1 to {MAX_NAME} characters", field="name")
    return cleaned


def _address(address: str) -> str:
    try:
        ipaddress.ip_address(address.strip())
    except ValueError:
        raise InvalidInput(
            f"{address!r} is not an IP address: give the address the access server's "
            "packets come from, such as 10.20.0.5 or 2001:db8::5",
            field="address",
        ) from None
    return canonical_address(address.strip())


def add_radius_client(
    session: Session,
    *,
    address: str,
    name: str,
    secret: str | None,
    actor: str,
    now: datetime,
) -> Registered:
    """Allow an access server to talk RADIUS to kuota; `secret` None makes one."""
    canonical = _address(address)
    label = _name(name)
    if secret is None:
        secret = secrets.token_urlsafe(32)
    if not MIN_SECRET <= len(secret) <= MAX_SECRET or secret != secret.strip():
        raise InvalidInput(
            f"the shared secret must be {MIN_SECRET} to {MAX_SECRET} characters without "
            "leading or trailing spaces; leave it out and kuota makes one",
            field="secret",
        )
    if session.get(RadiusClient, canonical) is not None:
        raise Conflict(
            f"{canonical} is already a RADIUS client: remove it first to change its secret",
            field="address",
        )
    session.add(RadiusClient(address=canonical, name=label, secret=secret, created_at=now))
    audit.record(
        session,
        actor=actor,
        action="radius_client.added",
        target=canonical,
        detail={"name": label},
        now=now,
    )
    return Registered(canonical, secret)


def remove_radius_client(session: Session, *, address: str, actor: str, now: datetime) -> None:
    canonical = _address(address)
    client = session.get(RadiusClient, canonical)
    if client is None:
        raise NotFound(f"{canonical} is not a RADIUS client", field="address")
    session.delete(client)
    audit.record(
        session, actor=actor, action="radius_client.removed", target=canonical, detail={}, now=now
    )


def radius_clients(session: Session) -> list[RadiusClient]:
    return list(session.execute(select(RadiusClient).order_by(RadiusClient.address)).scalars())


def add_network_element(session: Session, *, name: str, actor: str, now: datetime) -> Registered:
    """Allow a packet gateway to call credit control; returns its key, shown only now."""
    label = _name(name)
    if session.execute(select(NetworkElement.id).where(NetworkElement.name == label)).first():
        raise Conflict(f"a network element named {label!r} exists already", field="name")
    key = secrets.token_urlsafe(32)
    session.add(NetworkElement(name=label, key_hash=hash_token(key), created_at=now))
    audit.record(
        session, actor=actor, action="network_element.added", target=label, detail={}, now=now
    )
    return Registered(label, key)


def rekey_network_element(session: Session, *, name: str, actor: str, now: datetime) -> Registered:
    """A new key for the gateway; the old one stops working (within 10 seconds, for web
    processes that proved it just before)."""
    element = _element(session, name)
    key = secrets.token_urlsafe(32)
    element.key_hash = hash_token(key)
    audit.record(
        session,
        actor=actor,
        action="network_element.rekeyed",
        target=element.name,
        detail={},
        now=now,
    )
    return Registered(element.name, key)


def remove_network_element(session: Session, *, name: str, actor: str, now: datetime) -> None:
    element = _element(session, name)
    session.delete(element)
    audit.record(
        session,
        actor=actor,
        action="network_element.removed",
        target=element.name,
        detail={},
        now=now,
    )


def network_elements(session: Session) -> list[NetworkElement]:
    return list(session.execute(select(NetworkElement).order_by(NetworkElement.name)).scalars())


def _element(session: Session, name: str) -> NetworkElement:
    label = _name(name)
    element = session.execute(
        select(NetworkElement).where(NetworkElement.name == label)
    ).scalar_one_or_none()
    if element is None:
        raise NotFound(f"no network element is named {label!r}", field="name")
    return element
