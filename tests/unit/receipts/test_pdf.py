import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from kuota.receipts import pdf as receipt_pdf
from kuota.receipts.document import ReceiptDocument
from kuota.receipts.pdf import cjk_font, render_pdf

FULL_MSISDN = "+6281200000001"


def read(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


@pytest.mark.parametrize(
    ("locale", "title", "price", "total"),
    [
        ("id", "Struk", "Rp 15.000", "Rp 13.500"),
        ("en", "Receipt", "Rp 15,000", "Rp 13,500"),
    ],
)
def test_pdf_text_is_extractable(
    receipt: ReceiptDocument, locale: str, title: str, price: str, total: str
) -> None:
    data = render_pdf(receipt, locale)
    assert data.startswith(b"%PDF-")
    reader, text = read(data)
    assert len(reader.pages) == 1
    assert receipt.receipt_no in text
    assert receipt.msisdn_masked in text
    assert price in text and total in text
    assert "HEMAT10" in text
    assert receipt.code in text
    assert receipt.operator_npwp in text
    assert receipt.verify_url in text  # on one line, so it can be copied whole
    assert "25-11-2026 10:00 WIB" in text and "02-12-2026 10:00 WIB" in text
    assert FULL_MSISDN not in text
    assert reader.metadata is not None
    assert reader.metadata.title == f"{title} {receipt.receipt_no}"


@pytest.mark.parametrize("locale", ["id", "en", "zh"])
def test_pdf_carries_the_qr_image(receipt: ReceiptDocument, locale: str) -> None:
    reader, _ = read(render_pdf(receipt, locale))
    [image] = reader.pages[0].images
    assert image.image is not None
    width, height = image.image.size
    assert width == height  # a QR code is square


def test_chinese_uses_chinese_labels_only_with_a_cjk_font(receipt: ReceiptDocument) -> None:
    reader, text = read(render_pdf(receipt, "zh"))
    assert receipt.receipt_no in text and receipt.code in text
    assert "Rp 13,500" in text
    if cjk_font() is None:
        assert "Receipt no." in text
        assert reader.metadata is not None and reader.metadata.title.startswith("Receipt ")
    else:
        assert "收据号" in text and "合计" in text


def test_without_a_cjk_font_chinese_falls_back_to_english(
    receipt: ReceiptDocument, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receipt_pdf, "CJK_FONTS", (Path("/nonexistent/cjk.ttc"),))
    _, text = read(render_pdf(receipt, "zh"))
    assert "Receipt no." in text and "Valid until" in text
    assert "收据" not in text


def test_without_any_unicode_font_core_fonts_still_print(
    receipt: ReceiptDocument, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receipt_pdf, "UNICODE_FONTS", ())
    monkeypatch.setattr(receipt_pdf, "CJK_FONTS", ())
    _, text = read(render_pdf(receipt, "id"))
    assert "Rp 15.000" in text and receipt.msisdn_masked in text and receipt.code in text
    _, text = read(render_pdf(receipt, "zh"))
    assert "Receipt no." in text


def test_the_same_receipt_renders_to_the_same_bytes(receipt: ReceiptDocument) -> None:
    assert render_pdf(receipt, "id") == render_pdf(receipt, "id")


def test_a_unicode_font_without_its_bold_face_is_used_for_headings_too(
    receipt: ReceiptDocument, monkeypatch: pytest.MonkeyPatch
) -> None:
    regular = receipt_pdf.UNICODE_FONTS[0][0]
    if not regular.is_file():
        pytest.skip(f"{regular} is not installed")
    monkeypatch.setattr(receipt_pdf, "UNICODE_FONTS", ((regular, None),))
    _, text = read(render_pdf(receipt, "id"))
    assert "Struk" in text and "Rp 13.500" in text
