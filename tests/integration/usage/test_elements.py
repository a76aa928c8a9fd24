"""Registering the network's parties: RADIUS clients and credit-control gateways."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kuota.auth import service as auth
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from kuota.core.models import AuditEvent
from kuota.usage import elements
from kuota.usage.models import NetworkElement, RadiusClient


def _count(db: Database, model: type) -> int:
    with db.unit_of_work(write=False) as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_radius_client_is_kept_by_its_canonical_address_with_a_made_secret(
    db: Database, ctx: Context
) -> None:
    with db.unit_of_work() as s:
        added = elements.add_radius_client(
            s,
            address="::ffff:10.20.0.5",
            name="hotspot-jkt-01",
            secret=None,
            actor="t",
            now=ctx.clock.now(),
        )
    assert added.name == "10.20.0.5" and len(added.secret) >= 32
    with db.unit_of_work(write=False) as s:
        [client] = elements.radius_clients(s)
        assert (client.address, client.name, client.secret) == (
            "10.20.0.5",
            "hotspot-jkt-01",
            added.secret,
        )
        audited = s.execute(select(AuditEvent.action, AuditEvent.target)).all()
    assert [tuple(a) for a in audited] == [("radius_client.added", "10.20.0.5")]


@pytest.mark.parametrize(
    ("address", "name", "secret", "field"),
    [
        ("hotspot.example", "x", None, "address"),
        ("10.0.0.999", "x", None, "address"),
        ("10.0.0.1", "", None, "name"),
        ("10.0.0.1", "x" * 81, None, "name"),
        ("10.0.0.1", "x", "too-short", "secret"),
        ("10.0.0.1", "x", " padded-secret-of-enough-length ", "secret"),
        ("10.0.0.1", "x", "s" * 129, "secret"),
    ],
)
def test_bad_radius_clients_are_named_and_nothing_is_added(
    db: Database, ctx: Context, address: str, name: str, secret: str | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused, db.unit_of_work() as s:
        elements.add_radius_client(
            s, address=address, name=name, secret=secret, actor="t", now=ctx.clock.now()
        )
    assert refused.value.extra["field"] == field
    assert _count(db, RadiusClient) == 0 and _count(db, AuditEvent) == 0


def test_one_secret_per_address_and_removing_an_unknown_client_is_refused(
    db: Database, ctx: Context
) -> None:
    now = ctx.clock.now()
    with db.unit_of_work() as s:
        elements.add_radius_client(
            s, address="10.0.0.1", name="a", secret="a-shared-secret-1", actor="t", now=now
        )
    with pytest.raises(Conflict, match="already"), db.unit_of_work() as s:
        elements.add_radius_client(
            s, address="10.0.0.1", name="b", secret="a-shared-secret-2", actor="t", now=now
        )
    with pytest.raises(NotFound), db.unit_of_work() as s:
        elements.remove_radius_client(s, address="10.0.0.2", actor="t", now=now)
    with db.unit_of_work() as s:
        elements.remove_radius_client(s, address="10.0.0.1", actor="t", now=now)
    assert _count(db, RadiusClient) == 0


def test_a_gateway_key_is_shown_once_kept_as_a_hash_and_replaced_by_rekeying(
    db: Database, ctx: Context
) -> None:
    now = ctx.clock.now()
    with db.unit_of_work() as s:
        first = elements.add_network_element(s, name="pgw-jkt-01", actor="t", now=now)
    with db.unit_of_work(write=False) as s:
        assert auth.network_element_from_key(s, first.secret) == "pgw-jkt-01"
        stored = s.execute(select(NetworkElement.key_hash)).scalar_one()
    assert first.secret not in stored
    with db.unit_of_work() as s:
        second = elements.rekey_network_element(s, name="pgw-jkt-01", actor="t", now=now)
    with db.unit_of_work(write=False) as s:
        assert auth.network_element_from_key(s, second.secret) == "pgw-jkt-01"
        with pytest.raises(Unauthenticated):
            auth.network_element_from_key(s, first.secret)
    with pytest.raises(Conflict), db.unit_of_work() as s:
        elements.add_network_element(s, name="pgw-jkt-01", actor="t", now=now)
    with db.unit_of_work() as s:
        elements.remove_network_element(s, name="pgw-jkt-01", actor="t", now=now)
    with pytest.raises(NotFound), db.unit_of_work() as s:
        elements.remove_network_element(s, name="pgw-jkt-01", actor="t", now=now)
    with db.unit_of_work(write=False) as s:
        actions = list(s.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())
    assert actions == [
        "network_element.added",
        "network_element.rekeyed",
        "network_element.removed",
    ]
