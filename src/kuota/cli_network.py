"""`kuota radius-clients …` and `kuota network-elements …`: who on the network may talk
to kuota. Each command is one transaction on KUOTA_DATABASE_URL, audited as `cli`.
A refused change prints why and exits 2, changing nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from kuota.core.clock import SystemClock
from kuota.core.config import Settings
from kuota.core.db import Database
from kuota.core.errors import KuotaError
from kuota.usage import elements

radius_clients_app = typer.Typer(
    help="Access servers allowed to talk RADIUS to kuota", no_args_is_help=True
)
network_elements_app = typer.Typer(
    help="Packet gateways allowed to call credit control", no_args_is_help=True
)
console = Console()
T = TypeVar("T")
ACTOR = "cli"


@contextmanager
def _database() -> Iterator[Database]:
    database = Database(Settings().database_url, pool_size=1)
    try:
        yield database
    finally:
        database.dispose()


def _change(work: Callable[[Session], T]) -> T:
    """One audited change, or a clear refusal (exit 2) with nothing changed."""
    with _database() as database:
        try:
            with database.unit_of_work() as session:
                return work(session)
        except KuotaError as refusal:
            console.print(f"[red]{refusal.detail}[/red]")
            raise typer.Exit(2) from refusal


@radius_clients_app.command("add")
def radius_client_add(
    address: Annotated[str, typer.Argument(help="the address its packets come from")],
    name: Annotated[str, typer.Option(help="what to call it, e.g. hotspot-jkt-01")],
    secret: Annotated[
        str | None,
        typer.Option(help="the shared secret, 16-128 characters (default: kuota makes one)"),
    ] = None,
) -> None:
    """Allow an access server; running RADIUS servers take it within 10 seconds."""
    now = SystemClock().now()
    added = _change(
        lambda s: elements.add_radius_client(
            s, address=address, name=name, secret=secret, actor=ACTOR, now=now
        )
    )
    console.print(f"RADIUS client {added.name} added.")
    if secret is None:
        console.print(f"Shared secret (set the same on the access server): {added.secret}")


@radius_clients_app.command("remove")
def radius_client_remove(address: str) -> None:
    """Stop answering an access server (within 10 seconds)."""
    now = SystemClock().now()
    _change(lambda s: elements.remove_radius_client(s, address=address, actor=ACTOR, now=now))
    console.print(f"RADIUS client {address} removed.")


@radius_clients_app.command("list")
def radius_client_list() -> None:
    """The access servers kuota answers (secrets are not shown)."""
    with _database() as database, database.unit_of_work(write=False) as session:
        table = Table("address", "name", "added")
        for client in elements.radius_clients(session):
            table.add_row(client.address, client.name, f"{client.created_at:%Y-%m-%d %H:%M}Z")
    console.print(table)


@network_elements_app.command("add")
def network_element_add(name: str) -> None:
    """Allow a packet gateway; prints its X-Network-Key, which is not kept and not shown
    again."""
    now = SystemClock().now()
    added = _change(lambda s: elements.add_network_element(s, name=name, actor=ACTOR, now=now))
    console.print(f"Network element {added.name!r} added.")
    console.print(f"X-Network-Key (shown once): {added.secret}")


@network_elements_app.command("rekey")
def network_element_rekey(name: str) -> None:
    """A new key for a gateway; the old one stops working within 10 seconds."""
    now = SystemClock().now()
    added = _change(lambda s: elements.rekey_network_element(s, name=name, actor=ACTOR, now=now))
    console.print(f"New X-Network-Key for {added.name!r} (shown once): {added.secret}")


@network_elements_app.command("remove")
def network_element_remove(name: str) -> None:
    """Refuse a gateway's key from now on (within 10 seconds for web processes that proved
    it just before)."""
    now = SystemClock().now()
    _change(lambda s: elements.remove_network_element(s, name=name, actor=ACTOR, now=now))
    console.print(f"Network element {name!r} removed.")


@network_elements_app.command("list")
def network_element_list() -> None:
    """The packet gateways allowed to call credit control (keys are not kept)."""
    with _database() as database, database.unit_of_work(write=False) as session:
        table = Table("name", "added")
        for element in elements.network_elements(session):
            table.add_row(element.name, f"{element.created_at:%Y-%m-%d %H:%M}Z")
    console.print(table)
