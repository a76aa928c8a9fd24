"""Which payment gateways this installation talks to, chosen by configuration."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from kuota.core.config import Settings
from kuota.core.db import Database
from kuota.core.errors import ConfigurationError
from kuota.payments.gateway import PaymentGateway
from kuota.payments.midtrans import MidtransGateway, MidtransSettings
from kuota.payments.sandbox import SandboxGateway, SandboxSettings


@dataclass
class Gateways:
    by_name: dict[str, PaymentGateway] = field(default_factory=dict)
    default: str | None = None  # the gateway new payments go through

    @property
    def current(self) -> PaymentGateway | None:
        return self.by_name.get(self.default) if self.default else None

    @property
    def methods(self) -> frozenset[str]:
        gateway = self.current
        return gateway.methods if gateway is not None else frozenset()

    def named(self, name: str) -> PaymentGateway | None:
        return self.by_name.get(name)


def sandbox_webhook_secret(settings: Settings) -> str:
    """The configured secret, or one derived from the secret key (stable across restarts)."""
    if settings.sandbox_webhook_secret:
        return settings.sandbox_webhook_secret
    key = hmac.new(settings.secret_key.encode(), b"sandbox-webhooks", hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(key).decode()


def configure(settings: Settings, db: Database) -> Gateways:
    choice = settings.payment_gateway or ("sandbox" if settings.is_demo else "")
    gateways = Gateways()
    if choice == "sandbox" or settings.is_demo:
        gateways.by_name["sandbox"] = SandboxGateway(
            db,
            SandboxSettings(
                public_url=settings.public_url, webhook_secret=sandbox_webhook_secret(settings)
            ),
        )
    if settings.midtrans_server_key:
        gateways.by_name["midtrans"] = MidtransGateway(
            MidtransSettings(
                server_key=settings.midtrans_server_key, base_url=settings.midtrans_base_url
            )
        )
    if choice and choice not in gateways.by_name:
        raise ConfigurationError(
            f"KUOTA_PAYMENT_GATEWAY={choice!r} is not configured"
            + ("; set KUOTA_MIDTRANS_SERVER_KEY" if choice == "midtrans" else "")
        )
    gateways.default = choice or None
    return gateways
