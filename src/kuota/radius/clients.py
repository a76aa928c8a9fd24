"""Which access servers may talk RADIUS to kuota, and each one's shared secret.

The radius_clients table is read whole and kept for a short time: it holds a handful
of rows, and a lookup per packet would put a query in front of every request.
Addresses are compared in canonical form, so `::ffff:10.0.0.1` (an IPv4 client on a
dual-stack socket) is the client `10.0.0.1`, and `0:0::1` is `::1`.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from functools import lru_cache

from sqlalchemy import select

from kuota.core.db import Database
from kuota.usage.models import RadiusClient

log = logging.getLogger("kuota.radius")


@lru_cache(maxsize=4096)
def canonical_address(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class ClientSecrets:
    """Shared secrets by client address, re-read from the database every `ttl` seconds."""

    def __init__(self, db: Database, *, ttl: float = 10.0) -> None:
        self._db = db
        self.ttl = ttl
        self._secrets: dict[str, bytes] = {}
        self._loaded_at = float("-inf")

    @property
    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at >= self.ttl

    def reload(self) -> None:
        """Read the table (blocking: call it from a worker thread)."""
        with self._db.unit_of_work(write=False) as session:
            rows = session.execute(select(RadiusClient.address, RadiusClient.secret)).all()
        self._secrets = {canonical_address(address): secret.encode() for address, secret in rows}
        self._loaded_at = time.monotonic()

    def secret_for(self, address: str) -> bytes | None:
        return self._secrets.get(canonical_address(address))
