"""Minutes as PDF: the HTML export laid out by WeasyPrint (A4, page numbers, SVG charts)."""

from __future__ import annotations

import logging
from typing import Any

from . import html


def render(model: dict[str, Any], lang: str = "de") -> bytes:
    from weasyprint import HTML  # heavy import, only when a PDF is asked for

    # WeasyPrint logs every CSS property it ignores; they are not errors of ours.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    document = HTML(string=html.render(model, lang), base_url=None)
    return document.write_pdf()  # type: ignore[no-any-return]
