"""The self-service kiosk's full-screen page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
