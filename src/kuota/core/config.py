"""Configuration from `KUOTA_` environment variables and a `.env` file."""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    DEMO = "demo"
    PRODUCTION = "production"


DEFAULT_SQLITE_PATH = "kuota.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KUOTA_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    secret_key: str = ""
    mode: Mode = Mode.PRODUCTION
    public_url: str = "http://127.0.0.1:8000"
    rate_limits: bool = True

    currency: str = "IDR"
    operator_name: str = "kuota demo operator"
    operator_npwp: str = "00.000.000.0-000.000"
    operator_timezone: str = "Asia/Jakarta"
    vat_rate_basis_points: int = Field(default=1100, ge=0, le=10000)

    token_ttl_seconds: int = Field(default=12 * 3600, gt=0)
    outbox_max_attempts: int = Field(default=8, gt=0)
    db_pool_size: int = Field(default=20, gt=0)

    # Messages in production mode (demo mode uses the local mailbox).
    smtp_host: str = ""
    smtp_port: int = Field(default=587, gt=0, lt=65536)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "kuota <no-reply@localhost>"
    sms_gateway_url: str = ""
    sms_gateway_username: str = ""
    sms_gateway_password: str = ""
    sms_sender: str = "kuota"

    # Payments through a gateway: "sandbox" (the default in demo mode), "midtrans", or
    # empty for none (only the main balance then).
    payment_gateway: Literal["", "sandbox", "midtrans"] = ""
    payment_ttl_seconds: int = Field(default=900, ge=60, le=7 * 24 * 3600)
    sandbox_webhook_secret: str = ""
    midtrans_server_key: str = ""
    midtrans_base_url: str = "https://api.sandbox.midtrans.com"

    # The network side.
    credit_control_slice_bytes: int = Field(default=100 * 10**6, gt=0)
    radius_interim_interval: int = Field(default=300, ge=60)

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _on_off(cls, value: object) -> object:
        if isinstance(value, str) and value.lower() in {"on", "off"}:
            return value.lower() == "on"
        return value

    @property
    def is_demo(self) -> bool:
        return self.mode is Mode.DEMO

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        raw = self.database_url.split("///", 1)[1] if "///" in self.database_url else ""
        return Path(raw) if raw and raw != ":memory:" else None


def ensure_secret_key(settings: Settings) -> Settings:
    """Give demo mode a stable secret kept beside the database; production must configure one."""
    if settings.secret_key:
        return settings
    if not settings.is_demo:
        from kuota.core.errors import ConfigurationError

        raise ConfigurationError("KUOTA_SECRET_KEY must be set in production mode")
    db_path = settings.sqlite_path()
    key_file = (db_path.parent if db_path else Path.cwd()) / (
        (db_path.name if db_path else "kuota") + ".secret"
    )
    if key_file.exists():
        key = key_file.read_text().strip()
    else:
        key = secrets.token_urlsafe(48)
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
    return settings.model_copy(update={"secret_key": key})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
