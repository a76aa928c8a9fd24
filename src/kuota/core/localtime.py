"""Showing UTC instants in the operator's zone (default Asia/Jakarta)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=8)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def format_local(instant: datetime, zone_name: str) -> str:
    local = instant.astimezone(zone(zone_name))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
