"""The `kuota` command as an operator runs it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from http_helpers import free_port, login

pytestmark = pytest.mark.slow


def udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


RADIUS_PORTS = (udp_port(), udp_port())


def start_demo(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUOTA_")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kuota",
            "demo",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "demo.db"),
            "--radius-auth-port",
            str(RADIUS_PORTS[0]),
            "--radius-acct-port",
            str(RADIUS_PORTS[1]),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_healthy(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read() if proc.stdout else "demo exited")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("demo did not come up")


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    return out


def test_demo_boots_with_contract_data_and_survives_a_restart(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_demo(tmp_path, port)
    try:
        wait_healthy(url, proc)
        with httpx.Client(base_url=url) as client:
            headers = login(client, "demo@kuota.example", "demo-user-1")
            answer = client.post(
                "/api/v1/renewals",
                headers={**headers, "Idempotency-Key": "1"},
                json={
                    "msisdn": "+6281100000001",
                    "plan_code": "DATA-1GB-7D",
                    "payment_method": "balance",
                },
            )
            assert answer.status_code == 201, answer.text
            deadline = time.monotonic() + 10
            messages: list[dict[str, str]] = []
            while time.monotonic() < deadline and not messages:
                messages = client.get(
                    "/api/v1/test/messages", params={"to": "+6281100000001"}
                ).json()
                time.sleep(0.2)
            assert messages and messages[0]["channel"] == "sms"
            assert "Rp 15.000" in messages[0]["body"]
            # The demo's RADIUS server answers for the card that now has a package.
            if shutil.which("radclient") or os.environ.get("CI") == "true":
                radius = subprocess.run(
                    [
                        "radclient",
                        "-x",
                        "-t",
                        "3",
                        "-r",
                        "1",
                        f"127.0.0.1:{RADIUS_PORTS[0]}",
                        "auth",
                        "testing123",
                    ],
                    input="User-Name = +6281100000001, Message-Authenticator = 0x00\n",
                    capture_output=True,
                    text=True,
                    timeout=20,
                    check=False,
                )
                assert "Access-Accept" in radius.stdout, radius.stdout + radius.stderr
                assert "1000000000" in radius.stdout
            for user, password in (
                ("admin", "demo-admin-1"),
                ("demo2@kuota.example", "demo-user-2"),
                ("toko-melati", "demo-retail-1"),
            ):
                login(client, user, password)
    finally:
        output = stop(proc)
    assert "demo-admin-1" in output and f"{url}/api/v1" in output
    secret = (tmp_path / "demo.db.secret").read_text()

    proc = start_demo(tmp_path, port)
    try:
        wait_healthy(url, proc)
        with httpx.Client(base_url=url) as client:
            headers = login(client, "demo@kuota.example", "demo-user-1")
            card = client.get("/api/v1/cards/+6281100000001", headers=headers).json()
            assert card["balance"]["amount"] == 20_000_000 - 1_500_000
            assert len(card["packages"]) == 1
    finally:
        output = stop(proc)
    assert "Demo data loaded" not in output, "a restart must not load the demo data twice"
    assert (tmp_path / "demo.db.secret").read_text() == secret


def test_db_upgrade_on_an_empty_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "kuota", "db", "upgrade"],
        env={**os.environ, "KUOTA_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "database at head" in result.stdout
