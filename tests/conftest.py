"""Real databases for every test: SQLite always; PostgreSQL when reachable (required in CI).

Each test gets a database of its own, copied from a template migrated once per
run, so tests may commit (concurrency needs it) and never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from kuota.core.clock import FixedClock
from kuota.core.config import Mode, Settings
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.migrate import upgrade

PG_ADMIN_URL = os.environ.get("KUOTA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SECRET = "test-secret-key-" + "x" * 32
T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
_counter = itertools.count()


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)


@dataclass
class Backend:
    name: str
    template: str  # a file path (sqlite) or a database name (postgresql)
    # The same, with the demo data of CONTRACT.md loaded (once per run: its password
    # hashes alone take seconds).
    demo_template: str = ""

    def fresh_url(self, tmp_path: Path, *, demo: bool = False) -> str:
        template = self.demo_template if demo else self.template
        if self.name == "sqlite":
            target = tmp_path / f"kuota-{next(_counter)}.db"
            shutil.copyfile(template, target)
            return f"sqlite:///{target}"
        name = f"kuota_t_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return pg_url(name)

    def drop(self, url: str) -> None:
        if self.name != "postgresql":
            return
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_url(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{database}"


def load_demo(url: str) -> None:
    """The demo data, as `kuota demo` loads it, with the tests' clock and secret."""
    from kuota import demo

    database = Database(url, pool_size=1)
    settings = Settings(
        mode=Mode.DEMO,
        database_url=url,
        secret_key=SECRET,
        public_url="http://kuota.test",
        _env_file=None,  # type: ignore[call-arg]
    )
    with database.unit_of_work() as session:
        demo.load(session, Context(settings=settings, clock=FixedClock(T0)))
    database.dispose()


@pytest.fixture(scope="session")
def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    folder = tmp_path_factory.mktemp("template")
    template, with_demo = folder / "template.db", folder / "demo.db"
    upgrade(f"sqlite:///{template}")
    shutil.copyfile(template, with_demo)
    load_demo(f"sqlite:///{with_demo}")
    return Backend("sqlite", str(template), str(with_demo))


@pytest.fixture(scope="session")
def postgres_backend() -> Iterator[Backend]:
    problem = _pg_reachable()
    if problem is not None:
        message = f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {problem}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true requires it)")
        pytest.skip(f"{message}; set KUOTA_TEST_PG or start PostgreSQL to run these")
    name = f"kuota_tpl_{os.getpid()}"
    with_demo = f"kuota_tpl_demo_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for stale in (name, with_demo):
            conn.execute(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    upgrade(pg_url(name))
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{with_demo}" TEMPLATE "{name}"')
    load_demo(pg_url(with_demo))
    yield Backend("postgresql", name, with_demo)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for made in (name, with_demo):
            conn.execute(f'DROP DATABASE IF EXISTS "{made}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Backend:
    fixture = "sqlite_backend" if request.param == "sqlite" else "postgres_backend"
    result: Backend = request.getfixturevalue(fixture)
    return result


@pytest.fixture
def database_url(backend: Backend, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    # A test that asks for the demo data gets a copy of the template that has it.
    url = backend.fresh_url(tmp_path, demo="demo_db" in request.fixturenames)
    yield url
    backend.drop(url)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, pool_size=30)
    yield database
    # Whatever a test did, it must leave a clean ledger behind.
    from kuota.ledger.service import check_ledger

    with database.unit_of_work(write=False) as session:
        report = check_ledger(session)
    database.dispose()
    assert report.clean, report


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        mode=Mode.DEMO,
        database_url=database_url,
        secret_key=SECRET,
        public_url="http://kuota.test",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def ctx(settings: Settings, clock: FixedClock) -> Context:
    return Context(settings=settings, clock=clock)
