"""Message templates per language: Bahasa Indonesia (default), English, Chinese."""

from __future__ import annotations

from typing import Any

from kuota.notify.lifecycle_templates import LIFECYCLE_TEMPLATES

SUPPORTED_LOCALES = ("id", "en", "zh")

_TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "renewal_fulfilled": {
        "id": (
            "Paket {plan_name} aktif",
            "Pembelian {plan_name} untuk {msisdn} berhasil. Total {total}. Berlaku hingga "
            "{expires_at}. No. struk {receipt_no}, cek keaslian: {verify_url}",
        ),
        "en": (
            "{plan_name} is active",
            "Your purchase of {plan_name} for {msisdn} succeeded. Total {total}. Valid until "
            "{expires_at}. Receipt {receipt_no}, verify at {verify_url}",
        ),
        "zh": (
            "{plan_name} 已生效",
            "{msisdn} 购买 {plan_name} 成功。合计 {total}。有效期至 {expires_at}。"
            "收据号 {receipt_no}，验证：{verify_url}",
        ),
    },
    "payment_refunded": {
        "id": (
            "Dana dikembalikan",
            "Pembayaran {amount} ({payment_id}) tidak dapat diproses dan telah dikembalikan "
            "ke metode pembayaran Anda. Ref {reference}.",
        ),
        "en": (
            "Payment refunded",
            "Your payment of {amount} ({payment_id}) could not be processed and has been "
            "refunded to your payment method. Ref {reference}.",
        ),
        "zh": (
            "款项已退还",
            "您的付款 {amount}（{payment_id}）无法处理，已退还至您的付款方式。参考号 {reference}。",
        ),
    },
    "top_up_credited": {
        "id": (
            "Isi saldo berhasil",
            "Saldo utama {msisdn} bertambah {amount}. Saldo kini {balance}.",
        ),
        "en": (
            "Top-up received",
            "The main balance of {msisdn} grew by {amount}. It is now {balance}.",
        ),
        "zh": ("充值成功", "{msisdn} 的主余额增加 {amount}，当前余额 {balance}。"),
    },
    "one_time_code": {
        "id": (
            "Kode verifikasi kuota",
            "{code} adalah kode verifikasi kuota Anda, berlaku {minutes} menit. "
            "Jangan berikan kode ini kepada siapa pun.",
        ),
        "en": (
            "Your kuota code",
            "{code} is your kuota verification code, valid for {minutes} minutes. "
            "Never share it with anyone.",
        ),
        "zh": (
            "kuota 验证码",
            "{code} 是您的 kuota 验证码，{minutes} 分钟内有效。请勿告诉任何人。",
        ),
    },
    "balance_adjusted": {
        "id": ("Saldo diperbarui", "Saldo utama {msisdn} berubah {amount}. Saldo kini {balance}."),
        "en": (
            "Balance updated",
            "The main balance of {msisdn} changed by {amount}. It is now {balance}.",
        ),
        "zh": ("余额已更新", "{msisdn} 的主余额变动 {amount}，当前余额 {balance}。"),
    },
}


# The lifecycle worker's reminders live in their own module; one renderer serves both.
_TEMPLATES.update(LIFECYCLE_TEMPLATES)


def render(name: str, locale: str, **values: Any) -> tuple[str, str]:
    """Subject and body of a message in the given language (Indonesian when unknown)."""
    per_locale = _TEMPLATES[name]
    subject, body = per_locale.get(locale, per_locale["id"])
    return subject.format(**values), body.format(**values)


def locales_of(name: str) -> tuple[str, ...]:
    return tuple(_TEMPLATES[name])
