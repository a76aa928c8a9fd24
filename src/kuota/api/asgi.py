"""Entry point for `uvicorn --factory kuota.api.asgi:create_from_env` (several workers)."""

from __future__ import annotations

from fastapi import FastAPI

from kuota.api.app import create_app
from kuota.core.config import Settings


def create_from_env() -> FastAPI:
    return create_app(Settings())
