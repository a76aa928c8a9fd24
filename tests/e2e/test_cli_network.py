"""`kuota radius-clients` and `kuota network-elements` as an operator runs them."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from fastapi.testclient import TestClient

from kuota.api.app import create_app
from kuota.core.config import Settings
from kuota.core.db import Database


def kuota(db: Database, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUOTA_")}
    env |= {"KUOTA_DATABASE_URL": db.url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "kuota", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_gateway_added_on_the_command_line_can_call_credit_control_until_removed(
    demo_db: Database, settings: Settings
) -> None:
    added = kuota(demo_db, "network-elements", "add", "pgw-jkt-01")
    assert added.returncode == 0, added.stdout + added.stderr
    key = re.search(r"X-Network-Key \(shown once\): (\S+)", added.stdout)
    assert key is not None, added.stdout
    listed = kuota(demo_db, "network-elements", "list")
    assert "pgw-jkt-01" in listed.stdout and key.group(1) not in listed.stdout

    body = {
        "session_id": "cli-1",
        "msisdn": "+6281100000001",
        "request_type": "initial",
        "request_number": 0,
    }
    with TestClient(create_app(settings, db=demo_db)) as client:
        answer = client.post(
            "/api/v1/credit-control", json=body, headers={"X-Network-Key": key.group(1)}
        )
    assert answer.status_code == 200, answer.text  # the key is accepted (no package: 4012)
    assert answer.json()["result_code"] in (2001, 4012)

    again = kuota(demo_db, "network-elements", "add", "pgw-jkt-01")
    assert again.returncode == 2 and "exists already" in again.stdout
    assert kuota(demo_db, "network-elements", "remove", "pgw-jkt-01").returncode == 0
    gone = kuota(demo_db, "network-elements", "remove", "pgw-jkt-01")
    assert gone.returncode == 2 and "no network element" in gone.stdout


def test_radius_clients_are_added_listed_refused_and_removed(demo_db: Database) -> None:
    bad = kuota(demo_db, "radius-clients", "add", "hotspot.example", "--name", "x")
    assert bad.returncode == 2 and "not an IP address" in bad.stdout
    short = kuota(demo_db, "radius-clients", "add", "10.20.0.5", "--name", "x", "--secret", "abc")
    assert short.returncode == 2 and "16 to 128 characters" in short.stdout

    added = kuota(demo_db, "radius-clients", "add", "10.20.0.5", "--name", "hotspot-jkt-01")
    assert added.returncode == 0, added.stdout + added.stderr
    secret = re.search(r"Shared secret .*: (\S+)", added.stdout)
    assert secret is not None and len(secret.group(1)) >= 32
    listed = kuota(demo_db, "radius-clients", "list")
    assert "10.20.0.5" in listed.stdout and "hotspot-jkt-01" in listed.stdout
    assert "127.0.0.1" in listed.stdout  # the demo's own
    assert secret.group(1) not in listed.stdout
    assert kuota(demo_db, "radius-clients", "remove", "10.20.0.5").returncode == 0
    assert "10.20.0.5" not in kuota(demo_db, "radius-clients", "list").stdout
