"""The `kuota` command."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from kuota.cli_network import network_elements_app, radius_clients_app
from kuota.core.config import Mode, Settings, ensure_secret_key
from kuota.core.context import Context
from kuota.core.db import Database

app = typer.Typer(help="kuota: prepaid data-plan renewal platform", no_args_is_help=True)
db_app = typer.Typer(help="Database administration", no_args_is_help=True)
ledger_app = typer.Typer(help="Ledger integrity", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(radius_clients_app, name="radius-clients")
app.add_typer(network_elements_app, name="network-elements")
console = Console()


def _upgrade(settings: Settings) -> None:
    from kuota.core.migrate import upgrade

    upgrade(settings.database_url)


def _start_worker(
    settings: Settings, db: Database, stop: threading.Event
) -> list[threading.Thread]:
    """The outbox, payments, lifecycle and housekeeping loops, each in a thread of its own."""
    from kuota.core import housekeeping
    from kuota.core.clock import SystemClock
    from kuota.core.clock_store import SharedBusinessClock
    from kuota.notify.delivery import senders_for
    from kuota.notify.worker import run_forever
    from kuota.payments import jobs, providers
    from kuota.usage import lifecycle

    senders = senders_for(settings, db)
    clock = SharedBusinessClock(db) if settings.is_demo else SystemClock()
    ctx = Context(settings=settings, clock=clock)
    gateways = providers.configure(settings, db)
    payments_thread = threading.Thread(
        target=jobs.run_forever,
        name="kuota-payments",
        daemon=True,
        args=(db, ctx, gateways),
        kwargs={"stop": stop},
    )
    payments_thread.start()
    lifecycle_thread = threading.Thread(
        target=lifecycle.run_forever,
        name="kuota-lifecycle",
        daemon=True,
        args=(db, ctx),
        kwargs={"stop": stop},
    )
    lifecycle_thread.start()
    housekeeping_thread = threading.Thread(
        target=housekeeping.run_forever,
        name="kuota-housekeeping",
        daemon=True,
        args=(db,),
        kwargs={"stop": stop},
    )
    housekeeping_thread.start()
    thread = threading.Thread(
        target=run_forever,
        name="kuota-worker",
        daemon=True,
        kwargs={
            "db": db,
            "senders": senders,
            "max_attempts": settings.outbox_max_attempts,
            "stop": stop,
        },
    )
    thread.start()
    return [thread, payments_thread, lifecycle_thread, housekeeping_thread]


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    db: Annotated[Path, typer.Option("--db", help="SQLite file")] = Path("kuota.db"),
    radius_auth_port: Annotated[int, typer.Option(help="RADIUS authentication port")] = 1812,
    radius_acct_port: Annotated[int, typer.Option(help="RADIUS accounting port")] = 1813,
) -> None:
    """Create or upgrade the database, load the demo data, and run the web server, the
    background worker and the RADIUS server until Ctrl-C."""
    from kuota import demo as demo_data
    from kuota.api.app import create_app, served
    from kuota.core.clock_store import SharedBusinessClock

    db_path = db.resolve()
    settings = ensure_secret_key(
        Settings(
            mode=Mode.DEMO,
            database_url=f"sqlite:///{db_path}",
            public_url=os.environ.get("KUOTA_PUBLIC_URL", f"http://{host}:{port}"),
        )
    )
    _upgrade(settings)
    database = Database(settings.database_url, pool_size=settings.db_pool_size)
    clock = SharedBusinessClock(database)
    with database.unit_of_work() as session:
        if demo_data.is_empty(session):
            demo_data.load(session, Context(settings=settings, clock=clock))
            console.print("[green]Demo data loaded.[/green]")
    web = create_app(settings, db=database, clock=clock)
    stop = threading.Event()
    _start_worker(settings, database, stop)
    from kuota.radius import start_in_thread

    radius = start_in_thread(
        database,
        Context(settings=settings, clock=clock),
        host=host,
        auth_port=radius_auth_port,
        acct_port=radius_acct_port,
        stop_event=stop,
    )
    table = Table(title="kuota demo", show_header=True)
    table.add_column("who")
    table.add_column("login")
    table.add_column("password")
    for who, user, password in demo_data.DEMO_LOGINS:
        table.add_row(who, user, password)
    table.add_row("kiosk", demo_data.DEMO_KIOSK[0], f"X-Kiosk-Key: {demo_data.DEMO_KIOSK[1]}")
    console.print(table)
    base = f"http://{host}:{port}"
    console.print(f"API      {base}/api/v1  (OpenAPI: {base}/api/v1/openapi.json)")
    console.print(f"Mailbox  {base}/api/v1/test/messages?to=%2B6281100000001")
    console.print(
        f"RADIUS   {host}:{radius.auth_port} (auth), {host}:{radius.acct_port} (accounting), "
        "secret testing123"
    )
    console.print(f"Database {db_path}")
    try:
        uvicorn.run(served(web), host=host, port=port, log_level="warning")
    finally:
        stop.set()
        database.dispose()


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="web processes")] = 1,
) -> None:
    """Run the web server (stateless: run as many as you like against one database)."""
    uvicorn.run(
        "kuota.api.asgi:create_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


@app.command()
def worker() -> None:
    """Deliver the outbox (SMS, e-mail) with retries and dead letters, until Ctrl-C or
    SIGTERM; a message being sent when asked to stop is finished first."""
    from kuota.core.logging import configure_logging

    configure_logging()
    settings = ensure_secret_key(Settings())
    database = Database(settings.database_url, pool_size=4)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = _start_worker(settings, database, stop)
    try:
        while any(thread.is_alive() for thread in threads):
            threads[0].join(0.5)
    except KeyboardInterrupt:
        stop.set()
    finally:
        for thread in threads:  # each finishes the step it is in, then stops
            thread.join()
        database.dispose()


@app.command()
def radius(
    host: Annotated[str, typer.Option(help="address to listen on")] = "0.0.0.0",  # noqa: S104
    auth_port: Annotated[int, typer.Option(help="RADIUS authentication port")] = 1812,
    acct_port: Annotated[int, typer.Option(help="RADIUS accounting port")] = 1813,
    reuse_port: Annotated[
        bool, typer.Option(help="let several `kuota radius` processes share the ports")
    ] = False,
) -> None:
    """Run the RADIUS server (access and accounting) until Ctrl-C or SIGTERM."""
    import asyncio

    from kuota.core.clock import SystemClock
    from kuota.core.clock_store import SharedBusinessClock
    from kuota.core.logging import configure_logging
    from kuota.radius import serve as serve_radius

    configure_logging()
    settings = ensure_secret_key(Settings())
    database = Database(settings.database_url, pool_size=8)
    clock = SharedBusinessClock(database) if settings.is_demo else SystemClock()
    ctx = Context(settings=settings, clock=clock)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_radius(
            database,
            ctx,
            host=host,
            auth_port=auth_port,
            acct_port=acct_port,
            stop_event=stop,
            reuse_port=reuse_port,
        )

    try:
        asyncio.run(main())
    finally:
        database.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations to the database in KUOTA_DATABASE_URL."""
    settings = Settings()
    _upgrade(settings)
    console.print(f"database at head: {settings.database_url.split('@')[-1]}")


@ledger_app.command("check")
def ledger_check() -> None:
    """Every entry balances and every stored balance equals the sum of its entries."""
    from kuota.ledger.service import check_ledger

    settings = Settings()
    database = Database(settings.database_url, pool_size=1)
    with database.unit_of_work(write=False) as session:
        report = check_ledger(session)
    database.dispose()
    console.print(f"checked {report.entries_checked} entries, {report.accounts_checked} accounts")
    for entry_id, currency, total in report.unbalanced_entries:
        console.print(f"[red]entry {entry_id} does not balance in {currency}: {total}[/red]")
    for code, stored, derived in report.balance_mismatches:
        console.print(f"[red]account {code}: stored {stored} != sum of lines {derived}[/red]")
    for code, balance in report.negative_balances:
        console.print(f"[red]account {code} is negative: {balance}[/red]")
    if not report.clean:
        raise typer.Exit(1)
    console.print("[green]ledger clean[/green]")


@app.command("import-usage")
def import_usage(
    file: Annotated[Path, typer.Argument(help="usage records, CSV or JSON lines")],
    rejects: Annotated[
        Path | None, typer.Option(help="where bad rows go (default: FILE.rejects.csv)")
    ] = None,
) -> None:
    """Import usage records in bulk, charging each record once however often the file is
    imported. Exit 0 when every row was imported, 1 when some were rejected (see the
    rejects file), 2 when the file cannot be read, 3 when another import took over
    (run the file again)."""
    from kuota.core.clock import SystemClock
    from kuota.core.errors import InvalidInput
    from kuota.usage import importer
    from kuota.usage.import_claims import WindowGivenBack

    settings = Settings()  # no secret is needed to import usage
    database = Database(settings.database_url, pool_size=4)
    ctx = Context(settings=settings, clock=SystemClock())
    rejects_path = rejects or file.with_name(file.name + ".rejects.csv")
    try:
        size = file.stat().st_size
        with importer.rich_progress(size, description=file.name) as progress:
            summary = importer.import_usage(
                database, ctx, file, rejects_path=rejects_path, progress=progress
            )
    except OSError as exc:
        console.print(f"[red]cannot read {file}: {exc}[/red]")
        raise typer.Exit(2) from exc
    except InvalidInput as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from exc
    except WindowGivenBack as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(3) from exc
    finally:
        database.dispose()
    console.print(
        f"read {summary.read} records in {summary.seconds:.1f} s "
        f"({summary.records_per_s:,.0f}/s): {summary.imported} imported, "
        f"{summary.duplicates} already imported, {summary.rejected} rejected"
    )
    console.print(
        f"charged {summary.charged_bytes:,} bytes; {summary.uncharged_bytes:,} bytes beyond "
        "what the cards had left (recorded, not charged)"
    )
    if summary.rejected:
        console.print(f"[yellow]bad rows and why: {rejects_path}[/yellow]")
        raise typer.Exit(1)


@app.command()
def reconcile(
    report: Annotated[Path, typer.Argument(help="the gateway's settlement report (CSV)")],
    out: Annotated[Path, typer.Option(help="where to write the differences")] = Path(
        "reconciliation.csv"
    ),
    provider: Annotated[str, typer.Option(help="the gateway the report is from")] = "sandbox",
) -> None:
    """Match a gateway's settlement report against kuota's payments; write every difference
    (missing on either side, amount or status mismatch) as CSV. Exit 1 when any."""
    from collections import Counter
    from datetime import UTC, datetime, time, timedelta

    from kuota.core.errors import InvalidInput
    from kuota.payments import reconcile as matching
    from kuota.payments import service as payments

    try:
        lines = matching.parse_settlement_csv(report.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        console.print(f"[red]cannot read {report}: {exc}[/red]")
        raise typer.Exit(2) from exc
    except InvalidInput as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from exc
    if not lines:
        console.print("the report has no lines: nothing to match")
    days = sorted({line.settled_at.date() for line in lines})
    since = datetime.combine(days[0], time(0), tzinfo=UTC) if days else datetime.now(UTC)
    until = (datetime.combine(days[-1], time(0), tzinfo=UTC) if days else since) + timedelta(days=1)
    settings = Settings()
    database = Database(settings.database_url, pool_size=1)
    with database.unit_of_work(write=False) as session:
        known = payments.for_reconciliation(
            session,
            provider=provider,
            order_ids={line.order_id for line in lines},
            since=since,
            until=until,
        )
    database.dispose()
    differences = matching.reconcile(lines, known)
    with out.open("w", encoding="utf-8", newline="") as handle:
        matching.write_differences_csv(differences, handle)
    counts = Counter(d.kind.value for d in differences)
    console.print(
        f"matched {len(lines)} report lines against {len(known)} payments "
        f"({since:%Y-%m-%d} to {until - timedelta(days=1):%Y-%m-%d}); "
        f"{len(differences)} differences written to {out}"
    )
    for kind, count in sorted(counts.items()):
        console.print(f"  {kind}: {count}")
    if differences:
        raise typer.Exit(1)


def main() -> None:
    app()
