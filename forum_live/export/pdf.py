"""Minutes as PDF: the HTML export laid out by WeasyPrint (A4, page numbers, SVG charts),
as tagged PDF/UA-1 (structure tree with headings, tables and lists; the document language
from `<html lang>`), so screen readers can read it (BITV)."""

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
    # pdf/ua-1 also needs a title: the HTML <title>; no creation date, so the same model
    # gives the same bytes (frozen versions)
    return document.write_pdf(pdf_variant="pdf/ua-1",  # type: ignore[no-any-return]
                              uncompressed_pdf=False)
