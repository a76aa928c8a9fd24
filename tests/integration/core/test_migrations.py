"""The models and the migrations describe the same schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kuota.core.db import Database
from kuota.core.migrate import upgrade
from kuota.core.registry import metadata


def test_models_and_migrations_do_not_drift(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == [], differences


def test_sqlite_is_durable_wal(db: Database) -> None:
    if not db.is_sqlite:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_0007_gives_sqlite_instants_one_text_form(tmp_path: Path) -> None:
    """Instants stored as `…+00:00` (with or without a fraction) become the form every
    other write uses; other values are left alone."""
    url = f"sqlite:///{tmp_path / 'k.db'}"
    upgrade(url, "0006")
    with sqlite3.connect(tmp_path / "k.db") as conn:
        conn.executemany(
            "INSERT INTO credit_control_answers (session_id, request_number, answer, created_at)"
            " VALUES (?, 1, '{}', ?)",
            [
                ("fraction", "2026-11-25 10:00:00.123456+00:00"),
                ("whole", "2026-11-25 10:00:00+00:00"),
                ("plain", "2026-11-25 10:00:00.500000"),
            ],
        )
    upgrade(url)
    with sqlite3.connect(tmp_path / "k.db") as conn:
        stored = dict(conn.execute("SELECT session_id, created_at FROM credit_control_answers"))
    assert stored == {
        "fraction": "2026-11-25 10:00:00.123456",
        "whole": "2026-11-25 10:00:00.000000",
        "plain": "2026-11-25 10:00:00.500000",
    }
