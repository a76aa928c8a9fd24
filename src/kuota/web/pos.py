"""The store's point of sale (retail staff) and the owner's statement pages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
