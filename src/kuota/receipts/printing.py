"""Sending a receipt's ESC/POS bytes to a thermal printer, and printing each receipt once.

A printer is named by a spec: `network:HOST:PORT` (raw TCP, usually port 9100),
`usb:VENDOR:PRODUCT` (hex ids, through python-escpos) or `file:PATH` (appended, e.g. a
device node such as /dev/usb/lp0 or a spool file). The claim that a receipt was printed
is committed before the bytes go out and withdrawn if they could not, so a till or kiosk
that retries after a crash prints the receipt once, and a failed print can be retried.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kuota.core import audit
from kuota.core.db import Database, insert_for
from kuota.core.errors import ConfigurationError, InvalidInput, KuotaError
from kuota.kiosks.models import ReceiptPrint

TIMEOUT_SECONDS = 5.0


class PrinterUnavailable(KuotaError):
    status = 503
    slug = "printer-unavailable"
    title = "Printer unavailable"


@dataclass(frozen=True, slots=True)
class PrinterSpec:
    kind: str  # network | usb | file
    target: str
    port: int = 0

    @classmethod
    def parse(cls, spec: str) -> PrinterSpec:
        kind, _, rest = spec.strip().partition(":")
        if kind == "network":
            host, _, port = rest.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigurationError(f"printer {spec!r}: write network:HOST:PORT")
            return cls("network", host, int(port))
        if kind == "usb":
            vendor, _, product = rest.partition(":")
            try:
                int(vendor, 16), int(product, 16)
            except ValueError as exc:
                raise ConfigurationError(f"printer {spec!r}: write usb:VENDOR:PRODUCT") from exc
            return cls("usb", rest)
        if kind == "file" and rest:
            return cls("file", rest)
        raise ConfigurationError(
            f"printer {spec!r} is not network:HOST:PORT, usb:VENDOR:PRODUCT or file:PATH"
        )


def check_printer(spec: str) -> str:
    """A printer spec as typed by the operator: empty (no printer) or one that parses."""
    if spec:
        try:
            PrinterSpec.parse(spec)
        except ConfigurationError as exc:
            raise InvalidInput(exc.detail, field="printer") from exc
    return spec


def send(spec: str, data: bytes) -> None:
    """Deliver the bytes; raises PrinterUnavailable when the printer cannot take them."""
    printer = PrinterSpec.parse(spec)
    try:
        if printer.kind == "network":
            with socket.create_connection(
                (printer.target, printer.port), timeout=TIMEOUT_SECONDS
            ) as connection:
                connection.sendall(data)
        elif printer.kind == "file":
            with Path(printer.target).open("ab") as handle:
                handle.write(data)
        else:
            _send_usb(printer.target, data)
    except (OSError, _UsbFailure) as exc:
        raise PrinterUnavailable(
            f"the receipt printer ({spec}) did not take the receipt: {exc}"
        ) from exc


class _UsbFailure(Exception):
    """Whatever PyUSB or python-escpos raised: no device, no permission, no libusb."""


def _send_usb(ids: str, data: bytes) -> None:  # pragma: no cover - needs the device
    """Through python-escpos's USB printer (PyUSB and the system's libusb)."""
    vendor, product = (int(part, 16) for part in ids.split(":"))
    try:
        from escpos.printer import Usb

        device: Any = Usb(vendor, product)
        try:
            device._raw(data)
        finally:
            device.close()
    except Exception as exc:  # their errors are many and untyped; none may leak as a 500
        raise _UsbFailure(f"{type(exc).__name__}: {exc}") from exc


def already_printed(session: Session, receipt_no: str) -> datetime | None:
    return session.execute(
        select(ReceiptPrint.printed_at).where(ReceiptPrint.receipt_no == receipt_no)
    ).scalar_one_or_none()


def print_once(db: Database, *, receipt_no: str, printer: str, data: bytes, now: datetime) -> bool:
    """Print unless it was printed before; answers whether this call printed it."""
    PrinterSpec.parse(printer)
    with db.unit_of_work() as session:
        claim = insert_for(session.get_bind().dialect.name)(ReceiptPrint).values(
            receipt_no=receipt_no, printer=printer, printed_at=now
        )
        claimed = session.execute(
            claim.on_conflict_do_nothing(index_elements=["receipt_no"]).returning(
                ReceiptPrint.receipt_no
            )
        ).first()
    if claimed is None:
        return False
    try:
        send(printer, data)
    except PrinterUnavailable:
        with db.unit_of_work() as session:
            session.execute(delete(ReceiptPrint).where(ReceiptPrint.receipt_no == receipt_no))
        raise
    return True


def print_at_store(
    db: Database,
    *,
    receipt_no: str,
    printer: str,
    data: bytes,
    now: datetime,
    again: bool,
    actor: str,
) -> bool:
    """A store prints a receipt once; "print again" (a jammed printer) prints a copy and
    leaves an audit record of who did, so copies never go unseen."""
    if not again:
        return print_once(db, receipt_no=receipt_no, printer=printer, data=data, now=now)
    send(printer, data)
    with db.unit_of_work() as session:
        audit.record(
            session,
            actor=actor,
            action="receipt.reprint",
            target=receipt_no,
            detail={"printer": printer},
            now=now,
        )
    return True
