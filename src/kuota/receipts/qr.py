"""The receipt's QR code (its verify address) as a PNG for PDFs and inline SVG for pages."""

from __future__ import annotations

import io

import segno

# Level M, as the receipt printer's native QR command uses; never boosted, so the
# screen, the PDF and the paper show the same symbol.
_ERROR_LEVEL = "m"


def _symbol(text: str) -> segno.QRCode:
    return segno.make_qr(text, error=_ERROR_LEVEL, boost_error=False)


def qr_png(text: str, scale: int = 6) -> bytes:
    """A PNG of the QR code with its quiet zone, `scale` pixels per module."""
    buffer = io.BytesIO()
    _symbol(text).save(buffer, kind="png", scale=scale)
    return buffer.getvalue()


def qr_svg(text: str) -> str:
    """An `<svg>` element to put straight into HTML: no XML declaration, no namespace."""
    return _symbol(text).svg_inline(scale=4)
