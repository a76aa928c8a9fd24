"""Small helpers for HTTP tests."""

from __future__ import annotations

import socket

import httpx
from fastapi.testclient import TestClient


def login(client: TestClient | httpx.Client, username: str, password: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
