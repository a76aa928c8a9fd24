"""The receipt as every channel shows it: one document, rendered to a page, a PDF or paper."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuota.cards.models import Card
from kuota.cards.rules import mask_msisdn
from kuota.catalog.models import PlanVersion, Promotion
from kuota.core.context import Context
from kuota.core.money import Money
from kuota.kiosks.models import Kiosk
from kuota.receipts.rules import receipt_code, vat_included, verify_url
from kuota.renewals.models import Renewal, RenewalStatus
from kuota.retail.models import Store
from kuota.usage.models import Package


@dataclass(frozen=True, slots=True)
class ReceiptDocument:
    """Everything a receipt prints, already decided: renderers only lay it out."""

    receipt_no: str
    code: str
    verify_url: str
    operator_name: str
    operator_npwp: str
    msisdn_masked: str
    plan_code: str
    plan_name: str
    data_bytes: int
    validity_days: int
    bonus_bytes: int
    list_price: Money
    discount: Money
    total: Money
    vat_included: Money
    promo_code: str | None
    payment_method: str
    channel: str
    paid_at: datetime
    expires_at: datetime
    # The store or kiosk that sold it; None online.
    place: str | None = None
    # Times print in the operator's zone, whichever machine renders the receipt.
    timezone: str = "Asia/Jakarta"


def load_receipt(session: Session, ctx: Context, receipt_no: str) -> ReceiptDocument | None:
    """The receipt of the fulfilled renewal numbered `receipt_no`; None when there is no
    such receipt (unknown number, or a renewal that was never paid)."""
    row = session.execute(
        select(
            Renewal,
            PlanVersion,
            Card.msisdn,
            Package.expires_at,
            Promotion.code.label("promo_code"),
            Store.code.label("store_code"),
            Store.name.label("store_name"),
            Kiosk.code.label("kiosk_code"),
            Kiosk.location.label("kiosk_location"),
        )
        .join(Card, Card.id == Renewal.card_id)
        .join(PlanVersion, PlanVersion.id == Renewal.plan_version_id)
        .join(Package, Package.id == Renewal.package_id)
        .outerjoin(Promotion, Promotion.id == Renewal.promotion_id)
        .outerjoin(Store, Store.id == Renewal.store_id)
        .outerjoin(Kiosk, Kiosk.id == Renewal.kiosk_id)
        .where(Renewal.receipt_no == receipt_no, Renewal.status == RenewalStatus.FULFILLED)
    ).one_or_none()
    if row is None:
        return None
    renewal: Renewal = row.Renewal
    plan: PlanVersion = row.PlanVersion
    if renewal.fulfilled_at is None:
        return None
    settings = ctx.settings
    code = receipt_code(receipt_no, ctx.secret_key)
    total = Money(renewal.total, renewal.currency)
    return ReceiptDocument(
        receipt_no=receipt_no,
        code=code,
        verify_url=verify_url(settings.public_url, receipt_no, code),
        operator_name=settings.operator_name,
        operator_npwp=settings.operator_npwp,
        msisdn_masked=mask_msisdn(row.msisdn),
        plan_code=plan.code,
        plan_name=plan.name,
        data_bytes=plan.data_bytes,
        validity_days=plan.validity_days,
        bonus_bytes=renewal.bonus_bytes,
        list_price=Money(renewal.list_price, renewal.currency),
        discount=Money(renewal.discount, renewal.currency),
        total=total,
        vat_included=vat_included(total, settings.vat_rate_basis_points),
        promo_code=row.promo_code,
        payment_method=renewal.payment_method,
        channel=renewal.channel,
        paid_at=renewal.fulfilled_at,
        expires_at=row.expires_at,
        place=(
            f"{row.store_name} ({row.store_code})"
            if row.store_code
            else f"{row.kiosk_location} ({row.kiosk_code})"
            if row.kiosk_code
            else None
        ),
        timezone=settings.operator_timezone,
    )
