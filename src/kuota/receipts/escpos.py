"""The receipt on a thermal printer (ESC/POS) and the same lines as text for a preview.

One layout, `receipt_layout`, decides every line for a paper `width` in characters
(42 for 80 mm paper in font A, 32 for 58 mm); `render_escpos` turns it into printer
commands and `render_text` into plain text, so the preview is what the paper shows.

Chinese is not printed: the printers in stores and kiosks cannot be relied on to have
a Chinese code page (GB18030/Big5) or font, so a `zh` receipt prints in English, and its
preview shows English too.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from enum import StrEnum

from escpos.constants import QR_ECLEVEL_M
from escpos.printer import Dummy

from kuota.receipts.document import ReceiptDocument
from kuota.receipts.labels import Row, labels_for, receipt_content

MIN_WIDTH = 24
# Dots per QR module: 6 keeps a verify address (version 4, 33 modules) about 25 mm wide.
QR_MODULE_DOTS = 6


class Style(StrEnum):
    PLAIN = "plain"
    HEADING = "heading"  # centred, bold
    CENTRED = "centred"
    TOTAL = "total"  # bold, double height


@dataclass(frozen=True, slots=True)
class TextLine:
    text: str
    style: Style = Style.PLAIN


@dataclass(frozen=True, slots=True)
class QrBlock:
    content: str


Block = TextLine | QrBlock


def printed_locale(locale: str) -> str:
    """The language a receipt printer prints `locale` in: English for Chinese."""
    language = labels_for(locale).locale
    return "en" if language == "zh" else language


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


def _pair(row: Row, width: int, style: Style = Style.PLAIN) -> list[TextLine]:
    """`Label ....... value` on one line; label above a right-aligned value when too long."""
    gap = width - len(row.label) - len(row.value)
    if gap >= 1:
        return [TextLine(row.label + " " * gap + row.value, style)]
    lines = _wrap(row.label, width) + [part.rjust(width) for part in _wrap(row.value, width)]
    return [TextLine(line, style) for line in lines]


def _centred(text: str, width: int, style: Style = Style.CENTRED) -> list[TextLine]:
    return [TextLine(line, style) for line in _wrap(text, width)]


def receipt_layout(doc: ReceiptDocument, locale: str, width: int = 42) -> list[Block]:
    """Every line of the paper receipt, none longer than `width` characters."""
    if width < MIN_WIDTH:
        raise ValueError(f"a receipt needs at least {MIN_WIDTH} characters a line")
    content = receipt_content(doc, printed_locale(locale))
    rule = TextLine("-" * width)
    blocks: list[Block] = [
        *_centred(content.operator_name, width, Style.HEADING),
        *_centred(content.operator_line, width),
        *_centred(content.title, width, Style.HEADING),
        rule,
    ]
    for row in content.details:
        blocks += _pair(row, width)
    blocks.append(rule)
    blocks += _pair(content.total, width, Style.TOTAL)
    for row in content.payment:
        blocks += _pair(row, width)
    blocks += [
        rule,
        QrBlock(doc.verify_url),
        *_centred(content.code_line, width, Style.HEADING),
        *_centred(content.verify_label, width),
        # A URL has no spaces: it is cut at the paper's edge, not wrapped at words.
        *[
            TextLine(doc.verify_url[i : i + width], Style.CENTRED)
            for i in range(0, len(doc.verify_url), width)
        ],
        *_centred(content.thanks, width),
    ]
    return blocks


def render_escpos(doc: ReceiptDocument, locale: str, width: int = 42) -> bytes:
    """The bytes to send to an ESC/POS receipt printer: initialise, the receipt, the QR
    code drawn by the printer itself (GS ( k, level M), then a full cut."""
    printer = Dummy()
    printer.hw("INIT")
    for block in receipt_layout(doc, locale, width):
        if isinstance(block, QrBlock):
            printer.set(align="center")
            printer.qr(block.content, ec=QR_ECLEVEL_M, size=QR_MODULE_DOTS, native=True)
            printer.ln()
            printer.set(align="left")
        elif block.style is Style.HEADING:
            printer.set(align="center", bold=True)
            printer.textln(block.text)
            printer.set(align="left", bold=False)
        elif block.style is Style.CENTRED:
            printer.set(align="center")
            printer.textln(block.text)
            printer.set(align="left")
        elif block.style is Style.TOTAL:
            printer.set(bold=True, double_height=True)
            printer.textln(block.text)
            printer.set(bold=False, normal_textsize=True)
        else:
            printer.textln(block.text)
    printer.cut()
    return bytes(printer.output)


def render_text(doc: ReceiptDocument, locale: str, width: int = 42) -> str:
    """The paper receipt as plain text, line for line, for a preview on screen; the QR
    code is a placeholder (the page shows the real one beside it)."""
    lines: list[str] = []
    for block in receipt_layout(doc, locale, width):
        if isinstance(block, QrBlock):
            lines.append("[QR]".center(width).rstrip())
        elif block.style in (Style.HEADING, Style.CENTRED):
            lines.append(block.text.center(width).rstrip())
        else:
            lines.append(block.text)
    return "\n".join(lines) + "\n"
