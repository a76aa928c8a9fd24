"""The receipt as a PDF: an 80 mm wide page, text a reader can copy, and the verify QR.

PDF core fonts cover Latin-1 only. Indonesian and English use DejaVu Sans when the
system has it; Chinese needs a CJK font (WenQuanYi, Noto CJK or Droid Sans Fallback),
and without one a `zh` receipt is printed in English rather than as empty boxes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, WrapMode, XPos, YPos

from kuota.receipts.document import ReceiptDocument
from kuota.receipts.labels import Row, labels_for, receipt_content
from kuota.receipts.qr import qr_png

PAGE_SIZE_MM = (80.0, 180.0)
MARGIN_MM = 5.0
LINE_MM = 4.6
QR_SIZE_MM = 32.0

# (regular, bold) font files; the first pair whose regular file exists is used.
UNICODE_FONTS: tuple[tuple[Path, Path | None], ...] = (
    (
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ),
)
CJK_FONTS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)


@dataclass(frozen=True, slots=True)
class _Font:
    family: str
    # Core fonts encode Latin-1 only; anything else is replaced rather than raising.
    latin1_only: bool = False
    has_bold: bool = True

    def style(self, bold: bool) -> str:
        return "B" if bold and self.has_bold else ""

    def text(self, value: str) -> str:
        if self.latin1_only:
            return value.encode("latin-1", "replace").decode("latin-1")
        return value


def cjk_font() -> Path | None:
    """The first CJK-capable font file on this system, if any."""
    return next((path for path in CJK_FONTS if path.is_file()), None)


def _unicode_font() -> tuple[Path, Path | None] | None:
    return next((pair for pair in UNICODE_FONTS if pair[0].is_file()), None)


def _choose_font(pdf: FPDF, locale: str) -> tuple[_Font, str]:
    """Register the font for `locale` and say which language the labels can be in."""
    language = labels_for(locale).locale
    if language == "zh":
        cjk = cjk_font()
        if cjk is not None:
            # One weight only (parsing a CJK font is slow): bold text uses the regular face.
            pdf.add_font("cjk", "", cjk)
            return _Font("cjk", has_bold=False), "zh"
        language = "en"
    unicode_font = _unicode_font()
    if unicode_font is not None:
        regular, bold = unicode_font
        pdf.add_font("receipt", "", regular)
        if bold is None or not bold.is_file():
            return _Font("receipt", has_bold=False), language
        pdf.add_font("receipt", "B", bold)
        return _Font("receipt"), language
    return _Font("helvetica", latin1_only=True), language


def render_pdf(doc: ReceiptDocument, locale: str) -> bytes:
    """The receipt in `locale` as PDF bytes (Chinese falls back to English without a CJK
    font). Same content as the paper receipt; the QR code encodes the verify address."""
    pdf = FPDF(unit="mm", format=PAGE_SIZE_MM)
    font, language = _choose_font(pdf, locale)
    content = receipt_content(doc, language)
    t = font.text

    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_auto_page_break(auto=True, margin=MARGIN_MM)
    pdf.set_title(t(f"{content.title} {doc.receipt_no}"))
    pdf.set_author(t(doc.operator_name))
    pdf.set_creator("kuota")
    pdf.set_lang(language)
    # The document's date is the sale's, so the same receipt renders to the same bytes.
    pdf.set_creation_date(doc.paid_at)
    pdf.add_page()
    width = pdf.epw

    def centred(text: str, size: float, bold: bool = False) -> None:
        pdf.set_font(font.family, font.style(bold), size)
        pdf.multi_cell(width, LINE_MM, t(text), align=Align.C, new_x=XPos.LMARGIN)

    def rule() -> None:
        y = pdf.get_y() + 1
        pdf.set_draw_color(120)
        pdf.set_dash_pattern(dash=0.6, gap=0.6)
        pdf.line(MARGIN_MM, y, MARGIN_MM + width, y)
        pdf.set_dash_pattern()
        pdf.set_y(y + 1.5)

    def row(item: Row, size: float = 8, bold: bool = False) -> None:
        pdf.set_font(font.family, font.style(bold), size)
        label, value = t(item.label), t(item.value)
        height = LINE_MM * size / 8
        if pdf.get_string_width(label) + pdf.get_string_width(value) + 2 <= width:
            pdf.cell(width, height, label)
            pdf.set_x(MARGIN_MM)
            pdf.cell(width, height, value, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            return
        pdf.multi_cell(width, height, label, align=Align.L, new_x=XPos.LMARGIN)
        pdf.multi_cell(width, height, value, align=Align.R, new_x=XPos.LMARGIN)

    centred(content.operator_name, 10, bold=True)
    centred(content.operator_line, 7)
    pdf.ln(1)
    centred(content.title, 11, bold=True)
    rule()
    for item in content.details:
        row(item)
    rule()
    row(content.total, size=11, bold=True)
    for item in content.payment:
        row(item)
    rule()

    qr_top = pdf.get_y() + 1
    pdf.image(
        io.BytesIO(qr_png(doc.verify_url, scale=8)),
        x=MARGIN_MM + (width - QR_SIZE_MM) / 2,
        y=qr_top,
        w=QR_SIZE_MM,
        h=QR_SIZE_MM,
        alt_text=t(f"QR {doc.verify_url}"),
    )
    pdf.set_y(qr_top + QR_SIZE_MM + 1)
    centred(content.code_line, 10, bold=True)
    centred(content.verify_label, 7)
    # The address on one line when a smaller size allows, so it can be copied whole;
    # a URL has no spaces, so a longer one breaks anywhere rather than run off the page.
    pdf.set_font(font.family, "", 7)
    url = t(doc.verify_url)
    room = width - 2 * pdf.c_margin - 0.5
    pdf.set_font_size(max(5.0, min(7.0, 7 * room / pdf.get_string_width(url))))
    pdf.multi_cell(
        width, LINE_MM * 0.8, url, align=Align.C, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN
    )
    pdf.ln(2)
    centred(content.thanks, 8)
    return bytes(pdf.output())
