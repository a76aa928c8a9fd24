import io

import segno
from PIL import Image

from kuota.receipts.qr import qr_png, qr_svg

URL = "http://kuota.test/verify/KU-2611-7F3K9QXD2M?c=ABCD2345"


def test_png_is_a_square_image_at_the_asked_scale() -> None:
    symbol = segno.make_qr(URL, error="m", boost_error=False)
    modules = symbol.symbol_size(scale=1)[0]  # with the quiet zone
    image = Image.open(io.BytesIO(qr_png(URL, scale=5)))
    assert image.format == "PNG"
    assert image.size == (modules * 5, modules * 5)


def png_of(symbol: segno.QRCode) -> bytes:
    buffer = io.BytesIO()
    symbol.save(buffer, kind="png", scale=6)
    return buffer.getvalue()


def test_the_level_is_m_never_boosted() -> None:
    # segno would raise short content to level H; the receipt stays at M, the level the
    # printer's native command uses, so every channel draws the same symbol.
    text = "KU-2611"  # fits version 1 even at level H
    assert qr_png(text) == png_of(segno.make_qr(text, error="m", boost_error=False))
    assert qr_png(text) != png_of(segno.make_qr(text, error="m"))


def test_svg_is_inline_markup() -> None:
    svg = qr_svg(URL)
    assert svg.startswith("<svg")
    assert "<?xml" not in svg
    assert svg.rstrip().endswith("</svg>")
