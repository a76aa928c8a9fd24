"""RADIUS for access servers: Access-Request answered with the card's remaining quota as
the session's limit, accounting charged by the running totals, Disconnect-Request when
a card runs out mid-session. The rules live in `kuota.usage.network`."""

from kuota.radius.runner import RadiusThread, serve, start_in_thread
from kuota.radius.server import RadiusServer

__all__ = ["RadiusServer", "RadiusThread", "serve", "start_in_thread"]
