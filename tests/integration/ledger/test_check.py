"""`check_ledger` finds every kind of damage, and the CLI reports it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import insert, select, update

from kuota.core.context import Context
from kuota.core.db import Database
from kuota.ledger.models import Account, JournalEntry, JournalLine
from kuota.ledger.service import check_ledger

from factories import make_card, make_subscriber


def kuota_cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUOTA_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "kuota", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def funded(db: Database, ctx: Context) -> str:
    with db.unit_of_work() as s:
        return make_card(s, ctx, make_subscriber(s, ctx), balance=20_000)


def test_clean_ledger_exits_zero(db: Database, funded: str, database_url: str) -> None:
    result = kuota_cli("ledger", "check", url=database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ledger clean" in result.stdout


def test_tampered_balance_and_unbalanced_entry_are_reported(
    db: Database, ctx: Context, funded: str, database_url: str
) -> None:
    with db.unit_of_work() as s:
        card_account = (
            s.execute(select(Account.id).where(Account.balance.is_not(None))).scalars().first()
        )
        s.execute(update(Account).where(Account.id == card_account).values(balance=999))
        entry = s.execute(
            insert(JournalEntry)
            .values(kind="bogus", reference="x", memo="x", created_at=ctx.clock.now())
            .returning(JournalEntry.id)
        ).scalar_one()
        s.execute(
            insert(JournalLine).values(
                entry_id=entry, account_id=card_account, amount=5, currency="IDR"
            )
        )
    with db.unit_of_work(write=False) as s:
        report = check_ledger(s)
    assert not report.clean
    assert [e for e, _, _ in report.unbalanced_entries] == [entry, entry]
    assert len(report.balance_mismatches) == 1
    result = kuota_cli("ledger", "check", url=database_url)
    assert result.returncode == 1
    assert "does not balance" in result.stdout and "stored 999" in result.stdout
    # Repair, so the fixture's own clean-ledger check passes.
    with db.unit_of_work() as s:
        s.execute(JournalLine.__table__.delete().where(JournalLine.entry_id == entry))
        s.execute(JournalEntry.__table__.delete().where(JournalEntry.id == entry))
        s.execute(update(Account).where(Account.id == card_account).values(balance=2_000_000))
