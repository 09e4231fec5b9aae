"""A poll's bar chart as a small PNG (for the Word document), drawn with Pillow from the
same geometry as the SVG of the html/pdf export (view._chart)."""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

SCALE = 2  # drawn at twice the size, shown at the SVG's size: sharp when printed
FONT_PATHS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf")
BAR = (0x2F, 0x5D, 0x8A)
TRACK = (0xEE, 0xF1, 0xF5)
TEXT = (0x22, 0x22, 0x22)


@lru_cache(maxsize=1)
def _font() -> Any:
    for path in FONT_PATHS:
        try:
            return ImageFont.truetype(path, 11 * SCALE)
        except OSError:
            continue
    return ImageFont.load_default()


def png(chart: dict[str, Any]) -> bytes:
    """PNG bytes of one chart: labels left, bars to scale of the share, "n (pct)" right."""
    w, h = chart["width"] * SCALE, chart["height"] * SCALE
    im = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(im)
    font = _font()
    bh = chart["bar_height"] * SCALE
    for b in chart["bars"]:
        y, x = b["y"] * SCALE, b["x"] * SCALE
        d.rectangle([x, y, x + chart["track_width"] * SCALE, y + bh], fill=TRACK)
        if b["width"]:
            d.rectangle([x, y, x + b["width"] * SCALE, y + bh], fill=BAR)
        mid = y + bh // 2
        d.text((chart["label_x"] * SCALE, mid), b["label"], fill=TEXT, font=font, anchor="rm")
        d.text((b["value_x"] * SCALE, mid), f"{b['count']} ({b['pct']})", fill=TEXT,
               font=font, anchor="lm")
    buf = io.BytesIO()
    # no timestamps or other metadata: the same chart is the same bytes (frozen versions)
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
