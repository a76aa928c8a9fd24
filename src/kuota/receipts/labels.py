"""The words printed on a receipt, in Bahasa Indonesia (default), English and Chinese.

`receipt_content` pairs each label with its formatted value once; the PDF, the
receipt printer and the screen preview only lay that content out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from kuota.core.money import Money
from kuota.notify.lifecycle_templates import format_bytes
from kuota.receipts.document import ReceiptDocument
from kuota.receipts.formatting import format_local_time, format_rupiah

DEFAULT_LOCALE = "id"


@dataclass(frozen=True, slots=True)
class ReceiptLabels:
    locale: str
    receipt: str
    receipt_no: str
    npwp: str
    card: str
    plan: str
    data_quota: str
    bonus: str
    validity: str
    days: str  # a format string with `{n}`
    price: str
    discount: str
    total: str
    vat_included: str
    payment_method: str
    channel: str
    place: str
    time: str
    valid_until: str
    verify_at: str
    code: str
    thanks: str
    payment_methods: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)

    def payment_method_name(self, method: str) -> str:
        return self.payment_methods.get(method, method)

    def channel_name(self, channel: str) -> str:
        return self.channels.get(channel, channel)

    def validity_days(self, n: int) -> str:
        return self.days.format(n=n)


_LABELS: dict[str, ReceiptLabels] = {
    "id": ReceiptLabels(
        locale="id",
        receipt="Struk",
        receipt_no="No. struk",
        npwp="NPWP",
        card="Nomor",
        plan="Paket",
        data_quota="Kuota data",
        bonus="Bonus kuota",
        validity="Masa aktif",
        days="{n} hari",
        price="Harga",
        discount="Diskon",
        total="Total",
        vat_included="Termasuk PPN",
        payment_method="Pembayaran",
        channel="Saluran",
        place="Tempat",
        time="Waktu",
        valid_until="Berlaku hingga",
        verify_at="Cek keaslian di",
        code="Kode",
        thanks="Terima kasih",
        payment_methods={
            "balance": "Saldo utama",
            "card": "Kartu debit/kredit",
            "qris": "QRIS",
            "ewallet": "Dompet digital",
            "retail_float": "Bayar di toko",
            "kiosk_card": "Kartu di kios",
        },
        channels={
            "online": "Online",
            "retail": "Toko",
            "kiosk": "Kios",
            "auto_renewal": "Perpanjangan otomatis",
        },
    ),
    "en": ReceiptLabels(
        locale="en",
        receipt="Receipt",
        receipt_no="Receipt no.",
        npwp="Tax ID (NPWP)",
        card="Number",
        plan="Plan",
        data_quota="Data quota",
        bonus="Bonus data",
        validity="Validity",
        days="{n} days",
        price="Price",
        discount="Discount",
        total="Total",
        vat_included="VAT included",
        payment_method="Payment method",
        channel="Channel",
        place="Place",
        time="Time",
        valid_until="Valid until",
        verify_at="Verify at",
        code="Code",
        thanks="Thank you",
        payment_methods={
            "balance": "Main balance",
            "card": "Debit/credit card",
            "qris": "QRIS",
            "ewallet": "E-wallet",
            "retail_float": "Paid at store",
            "kiosk_card": "Card at kiosk",
        },
        channels={
            "online": "Online",
            "retail": "Retail store",
            "kiosk": "Kiosk",
            "auto_renewal": "Auto-renewal",
        },
    ),
    "zh": ReceiptLabels(
        locale="zh",
        receipt="收据",
        receipt_no="收据号",
        npwp="税号 (NPWP)",
        card="号码",
        plan="套餐",
        data_quota="数据流量",
        bonus="赠送流量",
        validity="有效天数",
        days="{n} 天",
        price="价格",
        discount="折扣",
        total="合计",
        vat_included="含增值税",
        payment_method="付款方式",
        channel="渠道",
        place="地点",
        time="时间",
        valid_until="有效期至",
        verify_at="验证网址",
        code="验证码",
        thanks="谢谢惠顾",
        payment_methods={
            "balance": "主余额",
            "card": "银行卡",
            "qris": "QRIS",
            "ewallet": "电子钱包",
            "retail_float": "门店付款",
            "kiosk_card": "自助终端刷卡",
        },
        channels={
            "online": "线上",
            "retail": "零售门店",
            "kiosk": "自助终端",
            "auto_renewal": "自动续订",
        },
    ),
}

SUPPORTED_LOCALES = tuple(_LABELS)


def labels_for(locale: str) -> ReceiptLabels:
    """The labels in `locale` (`en-US` counts as `en`); Indonesian for a language receipts
    are not printed in."""
    language = locale.replace("_", "-").split("-", 1)[0].lower()
    return _LABELS.get(language, _LABELS[DEFAULT_LOCALE])


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class ReceiptContent:
    """A receipt's text in one language, in printing order."""

    labels: ReceiptLabels
    operator_name: str
    operator_line: str  # the operator's tax id
    title: str
    details: tuple[Row, ...]  # what was bought and its price
    total: Row
    payment: tuple[Row, ...]  # VAT, how and when it was paid, how long it lasts
    code_line: str
    verify_label: str
    verify_url: str
    thanks: str


def receipt_content(doc: ReceiptDocument, locale: str) -> ReceiptContent:
    """The receipt's rows in `locale`: amounts as `Rp 50.000`, times in the operator's zone,
    quota in decimal units (1 GB = 10^9 bytes)."""
    labels = labels_for(locale)
    lang = labels.locale

    def money(value: Money) -> str:
        return format_rupiah(value, lang)

    def when(instant: datetime) -> str:
        return format_local_time(instant, doc.timezone, lang)

    details = [
        Row(labels.receipt_no, doc.receipt_no),
        Row(labels.card, doc.msisdn_masked),
        Row(labels.plan, doc.plan_name),
        Row(labels.data_quota, format_bytes(doc.data_bytes, lang)),
    ]
    if doc.bonus_bytes:
        details.append(Row(labels.bonus, format_bytes(doc.bonus_bytes, lang)))
    details += [
        Row(labels.validity, labels.validity_days(doc.validity_days)),
        Row(labels.price, money(doc.list_price)),
    ]
    if doc.discount.amount or doc.promo_code:
        label = f"{labels.discount} ({doc.promo_code})" if doc.promo_code else labels.discount
        details.append(Row(label, money(-doc.discount)))
    payment = [
        Row(labels.vat_included, money(doc.vat_included)),
        Row(labels.payment_method, labels.payment_method_name(doc.payment_method)),
        Row(labels.channel, labels.channel_name(doc.channel)),
    ]
    if doc.place:
        payment.append(Row(labels.place, doc.place))
    payment += [
        Row(labels.time, when(doc.paid_at)),
        Row(labels.valid_until, when(doc.expires_at)),
    ]
    return ReceiptContent(
        labels=labels,
        operator_name=doc.operator_name,
        operator_line=f"{labels.npwp} {doc.operator_npwp}",
        title=labels.receipt,
        details=tuple(details),
        total=Row(labels.total, money(doc.total)),
        payment=tuple(payment),
        code_line=f"{labels.code}: {doc.code}",
        verify_label=labels.verify_at,
        verify_url=doc.verify_url,
        thanks=labels.thanks,
    )
