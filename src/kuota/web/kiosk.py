"""The self-service kiosk's full-screen page.

One page, no login: its script sells through the JSON API and authenticates every call
with the device's `X-Kiosk-Key`, which the operator types once on the setup screen and
the browser keeps. Every string the script shows is rendered into the page in all three
languages, so a customer switches language without a reload and the kiosk keeps working
on its last page when the network drops for a moment.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from kuota.core.context import Context
from kuota.web import i18n
from kuota.web.i18n import N_
from kuota.web.pages import render
from kuota.web.visitor import VisitorDep

router = APIRouter(include_in_schema=False)

APP_VERSION = "web-1"  # what the kiosk reports in its heartbeat
IDLE_SECONDS = 60  # untouched this long, a screen that is not waiting for a payment resets
# `?idle=` shortens the idle reset for tests and demonstrations, within these bounds.
IDLE_MIN_SECONDS, IDLE_MAX_SECONDS = 3, 600
DONE_SECONDS = 10  # the done screen returns to the start by itself
POLL_SECONDS = 2  # how often a sale waiting for its payment is asked about

# Everything the kiosk says, by the key its template and script use.
MESSAGES: dict[str, str] = {
    "page_title": N_("Kiosk"),
    "needs_script": N_("This kiosk needs JavaScript. Ask the operator to turn it on."),
    "loading": N_("One moment…"),
    # The operator's screens.
    "setup_title": N_("Set up this kiosk"),
    "setup_hint": N_(
        "Type the kiosk key the operator issued for this device. It is kept on this "
        "device; customers never see it."
    ),
    "setup_label": N_("Kiosk key"),
    "setup_save": N_("Save the key"),
    "setup_rejected": N_("That key was not accepted. Check it and type it again."),
    "operator_title": N_("Operator"),
    "operator_key": N_("Kiosk key ending in %(tail)s"),
    "operator_forget": N_("Forget the kiosk key"),
    "operator_reload": N_("Reload the kiosk"),
    "operator_close": N_("Close"),
    # The customer's screens.
    "start_title": N_("Renew your data"),
    "start_hint": N_("Pay with QRIS or a bank card. Your receipt is printed here."),
    "start_button": N_("Touch to start"),
    "plans_title": N_("Data plans"),
    "language": N_("Language"),
    "number_title": N_("Type your card number"),
    "number_hint": N_("It starts with 08 or +62."),
    "number_label": N_("Card number"),
    "key_delete": N_("Delete"),
    "continue": N_("Continue"),
    "cancel": N_("Cancel"),
    "back": N_("Go back"),
    "number_invalid": N_("That is not a mobile number. Check it and type it again."),
    "number_unknown": N_("We could not find that. Check the number and try again."),
    "looking_up": N_("Looking up your card…"),
    "owner": N_("Card owner"),
    "packages_title": N_("Active packages"),
    "no_packages": N_("No active package: the line has no data until you renew."),
    "left_of": N_("%(left)s left of %(total)s"),
    "until": N_("until %(when)s"),
    "choose_plan": N_("Choose a plan"),
    "valid_day": N_("Valid for 1 day"),
    "valid_days": N_("Valid for %(num)s days"),
    "pay_title": N_("Pay with"),
    "plan": N_("Plan"),
    "card": N_("Card"),
    "total": N_("Total"),
    "method_qris": N_("QRIS"),
    "method_qris_hint": N_("Scan a code with any banking or e-wallet app"),
    "method_card": N_("Bank card"),
    "method_card_hint": N_("Debit or credit card, on the terminal"),
    "starting": N_("Preparing your payment…"),
    "wait_title": N_("Waiting for your payment"),
    "qr_hint": N_(
        "Scan this QRIS code with any banking or e-wallet app. This screen moves on by "
        "itself once you have paid."
    ),
    "qr_alt": N_("QRIS code to pay %(total)s"),
    "card_title": N_("Insert or tap your card on the terminal"),
    "card_hint": N_("Follow the terminal's instructions. This screen moves on by itself."),
    "confirming": N_("We are confirming your payment with the bank. Please wait."),
    "time_left": N_("Time left: %(time)s"),
    "printing": N_("Payment received. Printing your receipt…"),
    "done_title": N_("Your package is active"),
    "done_sms": N_("We sent a confirmation by SMS."),
    "done_receipt": N_("Take your receipt from the printer."),
    "done_no_receipt": N_(
        "The receipt could not be printed. Keep the SMS: it is your proof of purchase."
    ),
    "receipt_no": N_("Receipt number"),
    "valid_until": N_("Valid until"),
    "done_button": N_("Done"),
    "done_soon": N_("Back to the start in %(num)s seconds."),
    "failed_title": N_("The payment did not go through"),
    "expired_title": N_("The payment expired"),
    "failed_hint": N_("Nothing was charged and nothing changed. You can try again."),
    "try_again": N_("Try again"),
    "problem_title": N_("Sorry"),
    "problem_gateway": N_(
        "The payment service did not answer. Nothing was charged; try again in a minute."
    ),
    "problem_method": N_("That way of paying is not available now."),
    "problem_other": N_("Something went wrong. Nothing was changed."),
    "offline": N_("The kiosk cannot reach the server. Try again in a minute."),
    "resuming": N_("Finishing the last sale…"),
}


def kiosk_strings() -> dict[str, dict[str, str]]:
    """{locale: {key: text}} for every language, with `%(name)s` left for the script."""
    return {
        locale: {key: i18n.Translator(locale).gettext(text) for key, text in MESSAGES.items()}
        for locale in i18n.LOCALES
    }


@router.get("/kiosk")
async def kiosk_page(
    request: Request,
    visitor: VisitorDep,
    idle: Annotated[int | None, Query(description="idle reset, seconds")] = None,
) -> Response:
    """The kiosk opens in Indonesian (or in `?lang=`, the device's own default), whatever
    language a previous visitor of this browser chose on the portal."""
    ctx: Context = request.app.state.context
    visitor.locale = i18n.pick(request.query_params.get("lang")) or i18n.DEFAULT_LOCALE
    idle_seconds = IDLE_SECONDS if idle is None else idle
    strings = kiosk_strings()
    config = {
        "strings": strings,
        "locales": i18n.LOCALE_NAMES,
        "defaultLocale": visitor.locale,
        "idleSeconds": min(max(idle_seconds, IDLE_MIN_SECONDS), IDLE_MAX_SECONDS),
        "doneSeconds": DONE_SECONDS,
        "pollSeconds": POLL_SECONDS,
        "timeZone": ctx.settings.operator_timezone,
        "appVersion": APP_VERSION,
    }
    return render(request, visitor, "kiosk.html", config=config, s=strings[visitor.locale])
