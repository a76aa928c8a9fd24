import dataclasses

import pytest

from kuota.core.money import Money
from kuota.receipts.document import ReceiptDocument
from kuota.receipts.escpos import render_escpos, render_text

ESC_INIT = b"\x1b@"
DOUBLE_HEIGHT_BOLD = b"\x1b!\x10\x1bE\x01"
QR_LEVEL_M = b"\x1d(k\x03\x001E1"
QR_PRINT = b"\x1d(k\x03\x001Q0"
FULL_CUT = b"\x1dV\x00"


def qr_store(data: bytes) -> bytes:
    """GS ( k pL pH cn=49 fn=80 m=48 data: store the QR symbol's data."""
    return b"\x1d(k" + (len(data) + 3).to_bytes(2, "little") + b"1P0" + data


def test_the_printer_gets_init_receipt_total_native_qr_and_cut(receipt: ReceiptDocument) -> None:
    out = render_escpos(receipt, "id")
    assert out.startswith(ESC_INIT)
    assert b"No. struk               KU-2611-7F3K9QXD2M\n" in out
    assert b"Nomor                       +62812****0001\n" in out
    total = b"Total" + b" " * (42 - len("Total") - len("Rp 13.500")) + b"Rp 13.500\n"
    assert DOUBLE_HEIGHT_BOLD + total in out
    store = qr_store(receipt.verify_url.encode())
    assert QR_LEVEL_M + store + QR_PRINT in out
    assert b"Kode: ABCD2345\n" in out
    assert out.endswith(FULL_CUT)
    # The verify address is printed too, cut at the paper's edge.
    url = receipt.verify_url.encode()
    assert url[:42] + b"\n" in out and url[42:] + b"\n" in out


def test_the_qr_precedes_the_code_and_the_cut_ends_the_job(receipt: ReceiptDocument) -> None:
    out = render_escpos(receipt, "en")
    qr_at = out.index(qr_store(receipt.verify_url.encode()))
    assert out.index(b"Total") < qr_at < out.index(b"Code: ABCD2345") < out.rindex(FULL_CUT)
    assert out.count(FULL_CUT) == 1


def test_chinese_receipts_print_in_english_and_stay_ascii(receipt: ReceiptDocument) -> None:
    out = render_escpos(receipt, "zh")
    assert b"Receipt no." in out
    assert b"Rp 13,500" in out
    assert out == render_escpos(receipt, "en")
    text_bytes = b"".join(line for line in out.split(b"\n") if b"\x1d(k" not in line)
    assert all(byte < 0x80 for byte in text_bytes)


@pytest.mark.parametrize("locale", ["id", "en", "zh"])
@pytest.mark.parametrize("width", [42, 32, 24])
def test_preview_lines_fit_the_paper(receipt: ReceiptDocument, locale: str, width: int) -> None:
    long_name = dataclasses.replace(
        receipt,
        plan_name="Data Unlimited Malam Hari Plus Bonus Streaming 30 hari",
        operator_name="PT Kuota Nusantara Telekomunikasi Indonesia Tbk",
    )
    text = render_text(long_name, locale, width)
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), [ln for ln in lines if len(ln) > width]
    assert "Data Unlimited" in text


def test_preview_is_the_printed_receipt_line_for_line(receipt: ReceiptDocument) -> None:
    out = render_escpos(receipt, "id")
    preview = render_text(receipt, "id")
    for line in preview.splitlines():
        if line.strip() and line.strip() != "[QR]":
            assert line.strip().encode() in out, line
    assert "Total                            Rp 13.500" in preview
    assert "Diskon (HEMAT10)                 -Rp 1.500" in preview
    assert "Termasuk PPN                      Rp 1.338" in preview
    assert "Waktu                 25-11-2026 10:00 WIB" in preview
    assert "Berlaku hingga        02-12-2026 10:00 WIB" in preview


def test_no_discount_row_without_a_discount(receipt: ReceiptDocument) -> None:
    plain = dataclasses.replace(receipt, discount=Money(0, "IDR"), promo_code=None)
    assert "Diskon" not in render_text(plain, "id")


def test_paper_narrower_than_a_receipt_line_is_refused(receipt: ReceiptDocument) -> None:
    with pytest.raises(ValueError, match="at least"):
        render_text(receipt, "id", width=12)
