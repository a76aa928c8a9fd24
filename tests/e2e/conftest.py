"""HTTP tests: the app in-process (TestClient) or as real server processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from kuota.api.app import create_app
from kuota.core.config import Settings
from kuota.core.db import Database

from http_helpers import free_port


@pytest.fixture
def demo_db(db: Database) -> Database:
    """The test's database, copied from a template that has the demo data (see
    tests/conftest.py: `database_url` picks that template when a test asks for this)."""
    return db


@pytest.fixture
def client(demo_db: Database, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, db=demo_db)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def live_server(
    demo_db: Database, settings: Settings, tmp_path: Path
) -> Iterator[Callable[[int], str]]:
    """Start `kuota serve` with N worker processes on the test database; yields its URL."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(workers: int = 1) -> str:
        port = free_port()
        env = {
            **os.environ,
            "KUOTA_DATABASE_URL": settings.database_url,
            "KUOTA_SECRET_KEY": settings.secret_key,
            "KUOTA_MODE": "demo",
            "KUOTA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        log = (tmp_path / f"serve-{port}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kuota",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return url
            except httpx.HTTPError:
                time.sleep(0.1)
            if proc.poll() is not None:
                break
        raise RuntimeError((tmp_path / f"serve-{port}.log").read_text())

    yield start
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=15)
