"""Messages of a package's life, per language: Bahasa Indonesia (default), English, Chinese.

Reminders before expiry, the notice at expiry, low quota, and an auto-renewal the main
balance could not pay for. Same shape as `kuota.notify.templates`; amounts come in
already formatted (`Money.format()`), quota through `format_bytes`.
"""

from __future__ import annotations

GB = 10**9
MB = 10**6

LIFECYCLE_TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "package_expires_in_3_days": {
        "id": (
            "Paket {plan_name} berakhir 3 hari lagi",
            "Paket {plan_name} di {msisdn} berakhir pada {expires_at}. Sisa kuota "
            "{remaining}. Perpanjang agar tetap terhubung: {renew_url}",
        ),
        "en": (
            "{plan_name} ends in 3 days",
            "{plan_name} on {msisdn} ends at {expires_at}. {remaining} left. Renew to stay "
            "connected: {renew_url}",
        ),
        "zh": (
            "{plan_name} 将在 3 天后到期",
            "{msisdn} 的 {plan_name} 将于 {expires_at} 到期，剩余流量 {remaining}。"
            "续订以保持连接：{renew_url}",
        ),
    },
    "package_expires_tomorrow": {
        "id": (
            "Paket {plan_name} berakhir dalam 1 hari",
            "Paket {plan_name} di {msisdn} berakhir pada {expires_at}. Sisa kuota "
            "{remaining}. Perpanjang agar tetap terhubung: {renew_url}",
        ),
        "en": (
            "{plan_name} ends within a day",
            "{plan_name} on {msisdn} ends at {expires_at}. {remaining} left. Renew to stay "
            "connected: {renew_url}",
        ),
        "zh": (
            "{plan_name} 将在 1 天内到期",
            "{msisdn} 的 {plan_name} 将于 {expires_at} 到期，剩余流量 {remaining}。"
            "续订以保持连接：{renew_url}",
        ),
    },
    "package_expired": {
        "id": (
            "Paket {plan_name} telah berakhir",
            "Paket {plan_name} di {msisdn} berakhir pada {expires_at}. Beli paket baru agar "
            "tetap terhubung: {renew_url}",
        ),
        "en": (
            "{plan_name} has ended",
            "{plan_name} on {msisdn} ended at {expires_at}. Buy a new package to stay "
            "connected: {renew_url}",
        ),
        "zh": (
            "{plan_name} 已到期",
            "{msisdn} 的 {plan_name} 已于 {expires_at} 到期。购买新套餐以保持连接：{renew_url}",
        ),
    },
    "package_quota_low": {
        "id": (
            "Kuota {plan_name} tinggal {percent}%",
            "Sisa kuota {plan_name} di {msisdn} tinggal {remaining} ({percent}%), berlaku "
            "hingga {expires_at}. Tambah kuota: {renew_url}",
        ),
        "en": (
            "Only {percent}% of {plan_name} left",
            "{plan_name} on {msisdn} has {remaining} left ({percent}%), valid until "
            "{expires_at}. Add quota: {renew_url}",
        ),
        "zh": (
            "{plan_name} 仅剩 {percent}%",
            "{msisdn} 的 {plan_name} 仅剩 {remaining}（{percent}%），有效期至 {expires_at}。"
            "增加流量：{renew_url}",
        ),
    },
    "auto_renewal_balance_short": {
        "id": (
            "Perpanjangan otomatis gagal: saldo kurang",
            "Paket {plan_name} di {msisdn} berakhir pada {expires_at} dan tidak dapat "
            "diperpanjang otomatis: harganya {price}, saldo utama Anda {balance}. Isi saldo "
            "di {top_up_url} atau di toko resmi, lalu perpanjang: {renew_url}",
        ),
        "en": (
            "Auto-renewal failed: balance too low",
            "{plan_name} on {msisdn} ended at {expires_at} and could not be renewed "
            "automatically: it costs {price} and your main balance is {balance}. Top up at "
            "{top_up_url} or at an authorised store, then renew: {renew_url}",
        ),
        "zh": (
            "自动续订失败：余额不足",
            "{msisdn} 的 {plan_name} 已于 {expires_at} 到期，无法自动续订：价格 {price}，"
            "您的主余额为 {balance}。请在 {top_up_url} 或授权门店充值，然后续订：{renew_url}",
        ),
    },
}


def format_bytes(count: int, locale: str) -> str:
    """Quota as people read it (1 GB = 10^9 bytes), rounded down so it never shows more
    than is left: `1,5 GB` in Indonesian, `1.5 GB` otherwise; `850 MB` under 1 GB."""
    count = max(count, 0)
    if count >= GB:
        whole, tenths = divmod(count * 10 // GB, 10)
        if not tenths:
            return f"{whole} GB"
        separator = "," if locale not in ("en", "zh") else "."
        return f"{whole}{separator}{tenths} GB"
    return f"{count // MB} MB"
