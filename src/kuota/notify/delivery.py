"""Choosing message senders by configuration: the local mailbox in demo mode, the SMTP
server and the SMS gateway of the configuration otherwise."""

from __future__ import annotations

from kuota.core.config import Settings
from kuota.core.db import Database
from kuota.core.errors import ConfigurationError
from kuota.notify.senders import LocalMailbox, MessageSender
from kuota.notify.sms import KannelSmsSender, SmsGatewaySettings
from kuota.notify.smtp import SmtpSender, SmtpSettings


def senders_for(settings: Settings, db: Database) -> dict[str, MessageSender]:
    if settings.is_demo:
        mailbox = LocalMailbox(db)
        return {"sms": mailbox, "email": mailbox}
    missing = [
        name
        for name, value in (
            ("KUOTA_SMTP_HOST", settings.smtp_host),
            ("KUOTA_SMS_GATEWAY_URL", settings.sms_gateway_url),
        )
        if not value
    ]
    if missing:
        raise ConfigurationError(
            f"set {' and '.join(missing)} to deliver messages in production mode "
            "(see docs/operations.md, 'Messages')"
        )
    return {
        "email": SmtpSender(
            SmtpSettings(
                host=settings.smtp_host,
                port=settings.smtp_port,
                security=settings.smtp_security,
                username=settings.smtp_username or None,
                password=settings.smtp_password or None,
                sender=settings.smtp_from,
            )
        ),
        "sms": KannelSmsSender(
            SmsGatewaySettings(
                url=settings.sms_gateway_url,
                username=settings.sms_gateway_username,
                password=settings.sms_gateway_password,
                sender=settings.sms_sender,
            )
        ),
    }
