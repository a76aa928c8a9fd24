"""Reconciliation: a payment gateway's settlement report against kuota's payments.

Pure logic; the `kuota reconcile FILE` command loads the payments and writes the
differences. Matching is by order id, which is kuota's payment id.

Settlement report format (the sandbox gateway's daily report; UTF-8 CSV, RFC 4180
quoting, a byte-order mark tolerated, blank lines ignored)::

    order_id,transaction_id,gross_amount,currency,status,settled_at
    pay_01JD4Z8Q2M,sbx-7f3a9c,15000,IDR,settlement,2026-11-25T03:00:00Z

- the header is exactly these six columns, in this order;
- ``order_id``: kuota's payment id, required;
- ``transaction_id``: the gateway's reference, may be empty;
- ``gross_amount``: the whole amount in major units (whole rupiah for IDR) as ASCII
  digits, positive, no sign, separators or decimals (``15000`` is Rp 15.000);
- ``currency``: ISO 4217, one kuota supports;
- ``status``: the gateway's word, mapped to `GatewayStatus`: ``settlement`` (succeeded),
  ``refund`` (refunded), ``deny``, ``cancel`` and ``failure`` (failed), ``expire`` (expired),
  ``pending`` (pending);
- ``settled_at``: RFC 3339 with an offset, normally ``Z``; read as UTC.

A bad row stops the parse with an `InvalidSettlementReport` naming the line number
(the header is line 1) and the column.

Which differences count: a different amount (or currency), or money that moved
on one side and not the other. Each side's status is read as "collected"
(succeeded / settlement), "returned" (refunded / refund) or "none" (everything
else); when those disagree it is a `status_mismatch` - so a kuota refund that the
report still shows as a settlement is one, while kuota "expired" against the
gateway's "deny" is not. A payment kuota never collected that is missing from the
report is not a difference; a report line for an order kuota does not know is one
only when money moved (settled or refunded).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TextIO

from kuota.core.errors import InvalidInput
from kuota.core.money import CURRENCY_EXPONENTS, Money
from kuota.payments.gateway import GatewayStatus, SettlementLine

SETTLEMENT_COLUMNS = (
    "order_id",
    "transaction_id",
    "gross_amount",
    "currency",
    "status",
    "settled_at",
)

# The report's status vocabulary (Midtrans' transaction_status words).
REPORT_STATUSES: dict[str, GatewayStatus] = {
    "settlement": GatewayStatus.SUCCEEDED,
    "refund": GatewayStatus.REFUNDED,
    "deny": GatewayStatus.FAILED,
    "cancel": GatewayStatus.FAILED,
    "failure": GatewayStatus.FAILED,
    "expire": GatewayStatus.EXPIRED,
    "pending": GatewayStatus.PENDING,
}
_REPORT_WORD: dict[GatewayStatus, str] = {
    GatewayStatus.SUCCEEDED: "settlement",
    GatewayStatus.REFUNDED: "refund",
    GatewayStatus.FAILED: "deny",
    GatewayStatus.EXPIRED: "expire",
    GatewayStatus.PENDING: "pending",
}

KUOTA_STATUSES = frozenset({"pending", "succeeded", "failed", "expired", "refunded", "unknown"})

DIFFERENCE_COLUMNS = (
    "kind",
    "order_id",
    "provider_reference",
    "gateway_amount",
    "gateway_currency",
    "kuota_amount",
    "kuota_currency",
    "gateway_status",
    "kuota_status",
    "detail",
)

_DIGITS = re.compile(r"[0-9]+")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class InvalidSettlementReport(InvalidInput):
    """A settlement report that cannot be read; says which line and column."""


@dataclass(frozen=True, slots=True)
class KuotaPayment:
    """What reconciliation needs of one of kuota's payments."""

    payment_id: str
    provider_reference: str | None
    amount: Money
    status: str  # kuota's PaymentStatus value


class DifferenceKind(StrEnum):
    MISSING_IN_KUOTA = "missing_in_kuota"  # money moved at the gateway; kuota has no payment
    MISSING_AT_GATEWAY = "missing_at_gateway"  # kuota says succeeded; not in the report
    AMOUNT_MISMATCH = "amount_mismatch"
    STATUS_MISMATCH = "status_mismatch"  # money moved on one side only
    DUPLICATE_IN_REPORT = "duplicate_in_report"  # one order id on several lines


_KIND_ORDER = {kind: index for index, kind in enumerate(DifferenceKind)}


@dataclass(frozen=True, slots=True)
class Difference:
    kind: DifferenceKind
    order_id: str
    provider_reference: str | None
    gateway_amount: Money | None
    kuota_amount: Money | None
    gateway_status: str | None
    kuota_status: str | None
    detail: str


def _bad(line: int, column: str, problem: str) -> InvalidSettlementReport:
    return InvalidSettlementReport(
        f"settlement report line {line}, {column}: {problem}", line=line, field=column
    )


def _parse_row(line: int, row: list[str]) -> SettlementLine:
    if len(row) != len(SETTLEMENT_COLUMNS):
        raise _bad(line, "row", f"has {len(row)} columns, expected {len(SETTLEMENT_COLUMNS)}")
    order_id, transaction_id, gross_amount, currency, status, settled_at = (
        cell.strip() for cell in row
    )
    if not order_id:
        raise _bad(line, "order_id", "is empty")
    if currency not in CURRENCY_EXPONENTS:
        raise _bad(
            line,
            "currency",
            f"{currency!r} is not one of " + ", ".join(sorted(CURRENCY_EXPONENTS)),
        )
    if not _DIGITS.fullmatch(gross_amount):
        raise _bad(
            line,
            "gross_amount",
            f"{gross_amount!r} is not a whole number of {currency} (digits only)",
        )
    major_units = int(gross_amount)
    if major_units == 0:
        raise _bad(line, "gross_amount", "is zero")
    if status not in REPORT_STATUSES:
        raise _bad(
            line, "status", f"{status!r} is not one of " + ", ".join(sorted(REPORT_STATUSES))
        )
    if not _RFC3339.fullmatch(settled_at):
        raise _bad(
            line,
            "settled_at",
            f"{settled_at!r} is not an RFC 3339 time such as 2026-11-25T03:00:00Z",
        )
    try:
        moment = datetime.fromisoformat(settled_at.upper().replace(" ", "T"))
    except ValueError as exc:
        raise _bad(line, "settled_at", f"{settled_at!r} is not a valid time ({exc})") from exc
    return SettlementLine(
        order_id=order_id,
        provider_reference=transaction_id or None,
        amount=Money(major_units * 10 ** CURRENCY_EXPONENTS[currency], currency),
        status=REPORT_STATUSES[status],
        settled_at=moment.astimezone(UTC),
    )


def parse_settlement_csv(text: str) -> list[SettlementLine]:
    """The report's lines in file order; refuses the whole report at its first bad row."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or [cell.strip() for cell in header] != list(SETTLEMENT_COLUMNS):
            raise _bad(1, "header", "expected " + ",".join(SETTLEMENT_COLUMNS))
        lines: list[SettlementLine] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            lines.append(_parse_row(reader.line_num, row))
    except csv.Error as exc:
        raise _bad(reader.line_num, "row", f"is not valid CSV ({exc})") from exc
    return lines


def write_settlement_csv(lines: Iterable[SettlementLine], out: TextIO) -> None:
    """Write a report in the format `parse_settlement_csv` reads (the sandbox gateway's)."""
    writer = csv.writer(out)
    writer.writerow(SETTLEMENT_COLUMNS)
    for line in lines:
        unit = 10 ** CURRENCY_EXPONENTS[line.amount.currency]
        if line.amount.amount <= 0 or line.amount.amount % unit:
            raise ValueError(f"order {line.order_id}: {line.amount.format()} is not whole units")
        settled_at = line.settled_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        writer.writerow(
            [
                line.order_id,
                line.provider_reference or "",
                line.amount.amount // unit,
                line.amount.currency,
                _REPORT_WORD[line.status],
                settled_at,
            ]
        )


def _money_moved(status: str) -> str:
    """What happened to the payer's money: "collected", "returned" or "none"."""
    if status == "succeeded":
        return "collected"
    if status == "refunded":
        return "returned"
    return "none"


def reconcile(
    settlement: Sequence[SettlementLine], payments: Sequence[KuotaPayment]
) -> list[Difference]:
    """Every way the report and kuota disagree about money, sorted by order id then kind.

    A duplicated order id is reported once as `duplicate_in_report` and not compared
    further: which of its lines is right needs a person.
    """
    by_id: dict[str, KuotaPayment] = {}
    for payment in payments:
        if payment.payment_id in by_id:
            raise ValueError(f"payment {payment.payment_id} given twice")
        if payment.status not in KUOTA_STATUSES:
            raise ValueError(f"payment {payment.payment_id} has unknown status {payment.status!r}")
        by_id[payment.payment_id] = payment

    lines_by_order: dict[str, list[SettlementLine]] = {}
    for line in settlement:
        lines_by_order.setdefault(line.order_id, []).append(line)

    differences: list[Difference] = []
    for order_id, lines in lines_by_order.items():
        known = by_id.get(order_id)
        if len(lines) > 1:
            differences.append(_duplicate(order_id, lines, known))
        elif known is None:
            differences.extend(_unknown_to_kuota(lines[0]))
        else:
            differences.extend(_compare(lines[0], known))

    for payment in payments:
        if payment.payment_id not in lines_by_order and payment.status == "succeeded":
            differences.append(
                Difference(
                    kind=DifferenceKind.MISSING_AT_GATEWAY,
                    order_id=payment.payment_id,
                    provider_reference=payment.provider_reference,
                    gateway_amount=None,
                    kuota_amount=payment.amount,
                    gateway_status=None,
                    kuota_status=payment.status,
                    detail="kuota says succeeded but the payment is not in the report",
                )
            )
    differences.sort(key=lambda d: (d.order_id, _KIND_ORDER[d.kind], d.detail))
    return differences


def _duplicate(
    order_id: str, lines: list[SettlementLine], payment: KuotaPayment | None
) -> Difference:
    described = "; ".join(
        f"{line.status.value} {line.amount.format()} ({line.provider_reference or 'no reference'})"
        for line in lines
    )
    return Difference(
        kind=DifferenceKind.DUPLICATE_IN_REPORT,
        order_id=order_id,
        provider_reference=lines[0].provider_reference,
        gateway_amount=lines[0].amount,
        kuota_amount=payment.amount if payment else None,
        gateway_status=lines[0].status.value,
        kuota_status=payment.status if payment else None,
        detail=f"order appears {len(lines)} times in the report: {described}"
        + ("" if payment else "; kuota has no such payment"),
    )


def _unknown_to_kuota(line: SettlementLine) -> list[Difference]:
    if _money_moved(line.status) == "none":
        return []  # nothing was collected for an order kuota never made
    return [
        Difference(
            kind=DifferenceKind.MISSING_IN_KUOTA,
            order_id=line.order_id,
            provider_reference=line.provider_reference,
            gateway_amount=line.amount,
            kuota_amount=None,
            gateway_status=line.status.value,
            kuota_status=None,
            detail=f"gateway reports {line.status.value} {line.amount.format()} "
            "but kuota has no such payment",
        )
    ]


def _compare(line: SettlementLine, payment: KuotaPayment) -> list[Difference]:
    found: list[tuple[DifferenceKind, str]] = []
    if line.amount != payment.amount:
        found.append(
            (
                DifferenceKind.AMOUNT_MISMATCH,
                f"gateway {line.amount.format()}, kuota {payment.amount.format()}",
            )
        )
    if _money_moved(line.status) != _money_moved(payment.status):
        found.append(
            (
                DifferenceKind.STATUS_MISMATCH,
                f"gateway says {line.status.value}, kuota says {payment.status}",
            )
        )
    return [
        Difference(
            kind=kind,
            order_id=line.order_id,
            provider_reference=line.provider_reference or payment.provider_reference,
            gateway_amount=line.amount,
            kuota_amount=payment.amount,
            gateway_status=line.status.value,
            kuota_status=payment.status,
            detail=detail,
        )
        for kind, detail in found
    ]


def _cell(text: str | None) -> str:
    if text is None:
        return ""
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_differences_csv(differences: Iterable[Difference], out: TextIO) -> None:
    """One header row, then one row per difference; amounts in minor units with their
    currency, empty where a side has none. Text that a spreadsheet would run as a
    formula is prefixed with an apostrophe."""
    writer = csv.writer(out)
    writer.writerow(DIFFERENCE_COLUMNS)
    for d in differences:
        writer.writerow(
            [
                d.kind.value,
                _cell(d.order_id),
                _cell(d.provider_reference),
                "" if d.gateway_amount is None else d.gateway_amount.amount,
                "" if d.gateway_amount is None else d.gateway_amount.currency,
                "" if d.kuota_amount is None else d.kuota_amount.amount,
                "" if d.kuota_amount is None else d.kuota_amount.currency,
                d.gateway_status or "",
                d.kuota_status or "",
                _cell(d.detail),
            ]
        )
