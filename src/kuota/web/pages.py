"""Rendering the portal's pages: one Jinja2 environment, the visitor's language, the
operator's time zone, and amounts as the visitor's locale writes them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from babel.numbers import format_decimal
from fastapi import Request
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.errors import KuotaError
from kuota.core.money import Money
from kuota.receipts.document import ReceiptDocument
from kuota.receipts.formatting import format_local_time, format_rupiah
from kuota.receipts.pdf import render_pdf
from kuota.web import i18n
from kuota.web.visitor import Visitor

_env = Environment(
    loader=PackageLoader("kuota.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)


T = TypeVar("T")


async def read(request: Request, work: Callable[[Session], T]) -> T:
    """Run `work` in a read-only transaction off the event loop: every page's reads."""
    db: Database = request.app.state.db

    def run() -> T:
        with db.unit_of_work(write=False) as session:
            return work(session)

    return await run_in_threadpool(run)


async def receipt_pdf_response(visitor: Visitor, document: ReceiptDocument) -> Response:
    """The receipt as a PDF download, in the visitor's language."""
    pdf = await run_in_threadpool(render_pdf, document, visitor.locale)
    return visitor.finish(
        Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{document.receipt_no}.pdf"'},
        )
    )


def data_amount(data_bytes: int, locale: str) -> str:
    """`1 GB`, `1,5 GB` / `1.5 GB`, `750 MB` (decimal units: 1 GB = 10^9 bytes)."""
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if abs(data_bytes) >= size:
            value = round(data_bytes / size, 2)
            return f"{format_decimal(value, locale=locale)} {unit}"
    return f"{data_bytes} B"


# Names of payment methods, channels, kinds and states as people read them.
NAMES = {
    "balance": i18n.N_("Main balance"),
    "card": i18n.N_("Bank card"),
    "ewallet": i18n.N_("E-wallet"),
    "qris": i18n.N_("QRIS"),
    "retail_float": i18n.N_("Cash at a store"),
    "kiosk_card": i18n.N_("Bank card at a kiosk"),
    "online": i18n.N_("Online"),
    "retail": i18n.N_("Store"),
    "kiosk": i18n.N_("Kiosk"),
    "auto_renewal": i18n.N_("Auto-renewal"),
    "renewal": i18n.N_("Renewal"),
    "top_up": i18n.N_("Top-up"),
    "fulfilled": i18n.N_("Done"),
    "credited": i18n.N_("Credited"),
    "pending_payment": i18n.N_("Waiting for payment"),
    "failed": i18n.N_("Failed"),
}


def render(
    request: Request,
    visitor: Visitor,
    template: str,
    *,
    status: int = 200,
    **values: Any,
) -> Response:
    ctx: Context = request.app.state.context
    translator = visitor.translator
    locale = visitor.locale
    zone = ctx.settings.operator_timezone

    def money(value: Money | dict[str, Any]) -> str:
        if isinstance(value, dict):
            value = Money(int(value["amount"]), str(value["currency"]))
        return format_rupiah(value, locale)

    def name_of(name: str) -> str:
        return translator.gettext(NAMES[name]) if name in NAMES else name

    def when(instant: datetime | str | None) -> str:
        if instant is None:
            return ""
        if isinstance(instant, str):
            instant = datetime.fromisoformat(instant)
        return format_local_time(instant, zone, locale)

    html = _env.get_template(template).render(
        _=translator.gettext,
        gettext=translator.gettext,
        ngettext=translator.ngettext,
        visitor=visitor,
        lang=locale,
        locales=i18n.LOCALE_NAMES,
        path=request.url.path,
        operator_name=ctx.settings.operator_name,
        is_demo=ctx.settings.is_demo,
        money=money,
        when=when,
        data=lambda n: data_amount(int(n), locale),
        method_name=name_of,
        kind_name=name_of,
        status_name=name_of,
        channel_name=name_of,
        **values,
    )
    return visitor.finish(HTMLResponse(html, status_code=status))


def redirect(visitor: Visitor, target: str) -> Response:
    return visitor.finish(RedirectResponse(target, status_code=303))


def error_page(request: Request, visitor: Visitor, exc: KuotaError) -> Response:
    return render(request, visitor, "error.html", status=exc.status, error=describe(visitor, exc))


# What each kind of refusal says to a person on the portal, in their language; the
# service's own English detail is shown under it for support to quote.
_PLAIN_WORDS = {
    "insufficient-funds": i18n.N_(
        "Your main balance is too low for this. Top up, or pay another way."
    ),
    "not-found": i18n.N_("We could not find that. Check the number and try again."),
    "invalid-input": i18n.N_("Something in the form is not right."),
    "promotion-rejected": i18n.N_("That promotion code cannot be used for this purchase."),
    "conflict": i18n.N_("This cannot be done right now."),
    "forbidden": i18n.N_("You may not do this."),
    "unauthenticated": i18n.N_("Please sign in first."),
    "too-many-attempts": i18n.N_("Too many attempts. Wait a while and try again."),
    "csrf-rejected": i18n.N_("This form has expired. Reload the page and try again."),
    "payment-method-unavailable": i18n.N_("That way of paying is not available now."),
    "gateway-unavailable": i18n.N_(
        "The payment service did not answer. Nothing was charged; try again in a minute."
    ),
}


def describe(visitor: Visitor, exc: KuotaError) -> dict[str, str]:
    words = _PLAIN_WORDS.get(exc.slug, i18n.N_("Something went wrong. Nothing was changed."))
    return {
        "message": visitor.translator.gettext(words),
        "detail": exc.detail,
        "field": str(exc.extra.get("field", "")),
        "slug": exc.slug,
    }
