"""Validated input and the shape of answers for renewals."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PaymentMethod = Literal["balance", "card", "qris", "ewallet", "retail_float", "kiosk_card"]


class MoneyOut(BaseModel):
    amount: int = Field(description="minor units (IDR: 1/100 rupiah)")
    currency: str


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nik: str = Field(min_length=1, max_length=32)


class GatewayOptionsIn(BaseModel):
    """What some gateways need beyond the method: the e-wallet, or a card token from
    the gateway's own card form (card numbers never pass through kuota)."""

    model_config = ConfigDict(extra="forbid")
    ewallet: Literal["gopay", "shopeepay"] | None = None
    card_token: str | None = Field(default=None, min_length=1, max_length=200)


class RenewalIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    msisdn: str = Field(min_length=1, max_length=32, examples=["+6281100000001"])
    plan_code: str = Field(min_length=1, max_length=40, examples=["DATA-5GB-30D"])
    payment_method: PaymentMethod
    promo_code: str | None = Field(default=None, min_length=1, max_length=40)
    identity: IdentityIn | None = None
    gateway_options: GatewayOptionsIn | None = None


class PackageOut(BaseModel):
    id: int
    plan_code: str
    quota_total_bytes: int
    quota_remaining_bytes: int
    quota_reserved_bytes: int
    starts_at: datetime
    expires_at: datetime


class PaymentOut(BaseModel):
    id: str
    method: str
    provider: str = Field(description="balance, retail_float, or the gateway's name")
    status: str
    amount: MoneyOut
    next_action: dict[str, str | None] | None = Field(
        default=None,
        description="while open: {kind: redirect, url} for a checkout page, {kind: qr, "
        "qr_payload} for QRIS, {kind: terminal} for a kiosk's card terminal",
    )
    expires_at: datetime | None = Field(
        default=None, description="when an open payment lapses; null once decided"
    )


class RenewalOut(BaseModel):
    id: str
    status: Literal["pending_payment", "fulfilled", "failed"]
    msisdn: str
    plan_code: str
    plan_version: int
    channel: str
    list_price: MoneyOut
    discount: MoneyOut
    total: MoneyOut
    bonus_bytes: int
    promo_code: str | None
    receipt_no: str | None
    payment: PaymentOut
    package: PackageOut | None
    created_at: datetime
    fulfilled_at: datetime | None
