"""Entry point for `uvicorn --factory kuota.api.asgi:create_from_env` (several workers)."""

from __future__ import annotations

from starlette.types import ASGIApp

from kuota.api.app import create_app, served
from kuota.core.config import Settings


def create_from_env() -> ASGIApp:
    return served(create_app(Settings()))
