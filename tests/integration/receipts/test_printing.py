"""Printing once: the claim is kept only when the printer took the bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kuota.core.clock import FixedClock
from kuota.core.db import Database
from kuota.core.errors import ConfigurationError
from kuota.receipts.printing import PrinterSpec, PrinterUnavailable, already_printed, print_once


def test_a_usb_printer_that_is_not_there_is_unavailable_and_the_receipt_can_print_later(
    db: Database, clock: FixedClock, tmp_path: Path
) -> None:
    with pytest.raises(PrinterUnavailable, match="did not take the receipt"):
        print_once(db, receipt_no="KU-1", printer="usb:dead:beef", data=b"\x1b@x", now=clock.now())
    with db.unit_of_work(write=False) as session:
        assert already_printed(session, "KU-1") is None
    spool = tmp_path / "till.escpos"
    assert print_once(
        db, receipt_no="KU-1", printer=f"file:{spool}", data=b"\x1b@x", now=clock.now()
    )
    assert not print_once(
        db, receipt_no="KU-1", printer=f"file:{spool}", data=b"\x1b@x", now=clock.now()
    )
    assert spool.read_bytes() == b"\x1b@x"


@pytest.mark.parametrize(
    "spec", ["lpt1", "network:host", "network:host:99999", "usb:zz:01", "file:"]
)
def test_printer_specs_that_cannot_be_used_are_named(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="printer"):
        PrinterSpec.parse(spec)
