"""Choosing message senders by configuration: the local mailbox in demo mode."""

from __future__ import annotations

from kuota.core.config import Settings
from kuota.core.db import Database
from kuota.core.errors import ConfigurationError
from kuota.notify.senders import LocalMailbox, MessageSender


def senders_for(settings: Settings, db: Database) -> dict[str, MessageSender]:
    if settings.is_demo:
        mailbox = LocalMailbox(db)
        return {"sms": mailbox, "email": mailbox}
    raise ConfigurationError(
        "no SMS or e-mail provider is configured for production mode yet; "
        "run the worker in demo mode or configure the providers (see docs/operations.md)"
    )
