"""What every benchmark needs around its database: the PostgreSQL server at KUOTA_TEST_PG,
whether it answers, and a scratch database (a SQLite file, or a PostgreSQL database
created for the run and dropped after it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

PG_ADMIN_URL = os.environ.get("KUOTA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def pg_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"unreachable at {PG_ADMIN_URL}: {exc}"
    return None


def new_database_name(label: str) -> str:
    return f"kuota_bench_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def create_database(name: str, template: str | None = None) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        suffix = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{suffix}')


def drop_databases(*names: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_database(kind: str, workdir: Path, label: str) -> Iterator[str]:
    """A fresh, empty database's URL for the length of the block."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / (label + '.db')}"
        return
    name = new_database_name(label)
    create_database(name)
    try:
        yield pg_url(name)
    finally:
        drop_databases(name)
