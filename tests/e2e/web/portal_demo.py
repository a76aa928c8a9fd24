"""A real `kuota demo` process for the browser tests and the screenshot script.

`kuota demo` is the one command that runs the web server, the outbox worker (SMS and
e-mail into the demo mailbox) and the payments worker (the sandbox gateway's webhooks)
together, so a sandbox approval fulfils a sale within a second or two, as a visitor
of the demo sees it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DEMO_USER = ("demo@kuota.example", "demo-user-1")
DEMO_USER_2 = ("demo2@kuota.example", "demo-user-2")
ADMIN = ("admin", "demo-admin-1")
CARD_1, CARD_2, CARD_3 = "+6281100000001", "+6281100000002", "+6281100000003"
# A SIM sold but on nobody's account yet: the demo data has none (its three cards are
# all owned), so the tests add one to attach it as a new subscriber would.
FREE_CARD = "+6281100000009"
# Every language's one-time-code message starts with the code.
_CODE = re.compile(r"^\s*(\d{6})\b")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_database(path: Path, migrated: Path | None = None) -> None:
    """The demo data of CONTRACT.md plus FREE_CARD in a new SQLite file at `path`, with
    the secret key beside it where `kuota demo` looks for it. `migrated`, an empty
    database already at head, saves running the migrations again."""
    from kuota import demo
    from kuota.cards import service as cards
    from kuota.core.clock import SystemClock
    from kuota.core.config import Mode, Settings, ensure_secret_key
    from kuota.core.context import Context
    from kuota.core.db import Database
    from kuota.core.migrate import upgrade

    url = f"sqlite:///{path}"
    if migrated is not None:
        shutil.copyfile(migrated, path)
    else:
        upgrade(url)
    settings = ensure_secret_key(
        # secret_key="" (not whatever KUOTA_SECRET_KEY says): the key is written beside
        # the database, where `kuota demo` will read it.
        Settings(mode=Mode.DEMO, database_url=url, secret_key="", _env_file=None)
    )
    ctx = Context(settings=settings, clock=SystemClock())
    database = Database(url)
    try:
        with database.unit_of_work() as session:
            demo.load(session, ctx)
            cards.register_card(
                session,
                msisdn=FREE_CARD,
                currency=settings.currency,
                now=ctx.clock.now(),
                secret_key=ctx.secret_key,
            )
    finally:
        database.dispose()


@dataclass
class DemoServer:
    url: str
    db_path: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    _tokens: dict[str, str] = field(default_factory=dict)

    # -- the demo API, for what a test reads rather than clicks --------------------------

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def headers(self, who: tuple[str, str]) -> dict[str, str]:
        if who[0] not in self._tokens:
            with self.api() as client:
                answer = client.post(
                    "/api/v1/auth/token", json={"username": who[0], "password": who[1]}
                )
            assert answer.status_code == 200, answer.text
            self._tokens[who[0]] = answer.json()["access_token"]
        return {"Authorization": f"Bearer {self._tokens[who[0]]}"}

    def card(self, msisdn: str, who: tuple[str, str] = DEMO_USER) -> dict[str, Any]:
        with self.api() as client:
            answer = client.get(f"/api/v1/cards/{msisdn}", headers=self.headers(who))
        assert answer.status_code == 200, answer.text
        card: dict[str, Any] = answer.json()
        return card

    def balance(self, msisdn: str, who: tuple[str, str] = DEMO_USER) -> int:
        """The card's main balance in minor units (Rp 1 = 100)."""
        return int(self.card(msisdn, who)["balance"]["amount"])

    def messages(self, to: str) -> list[dict[str, Any]]:
        with self.api() as client:
            answer = client.get("/api/v1/test/messages", params={"to": to})
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()
        return found

    def next_code(self, to: str, seen: int, timeout: float = 15) -> str:
        """The newest one-time code sent to `to` after the `seen` messages already there
        (the outbox worker delivers within a second or so; other messages, such as a
        purchase confirmation, may arrive meanwhile and are passed over)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(to)
            for message in found[: max(0, len(found) - seen)]:  # newest first
                code = _CODE.search(message["body"])
                if code:
                    return code.group(1)
            time.sleep(0.2)
        raise AssertionError(f"no new message to {to} within {timeout} s")

    # -- the process -------------------------------------------------------------------

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_demo(db_path: Path, *, python: str = sys.executable, timeout: float = 60) -> DemoServer:
    """`kuota demo` on a free port (RADIUS on free ports too) with the database at
    `db_path`; returns once /healthz answers."""
    port = free_port()
    log_path = db_path.with_suffix(".log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUOTA_")}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                python,
                "-m",
                "kuota",
                "demo",
                "--port",
                str(port),
                "--db",
                str(db_path),
                "--radius-auth-port",
                "0",
                "--radius-acct-port",
                "0",
            ],
            env=env,
            cwd=db_path.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = DemoServer(f"http://127.0.0.1:{port}", db_path, log_path, proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"kuota demo did not come up:\n{log_path.read_text()}")
