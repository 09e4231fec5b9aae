"""Minutes as PDF: the HTML export laid out by WeasyPrint (A4, page numbers, SVG charts),
as tagged PDF/UA-1 (structure tree with headings, tables and lists; the document language
from `<html lang>`), so screen readers can read it (BITV)."""

from __future__ import annotations

import logging
from typing import Any

from ..domain.errors import Unavailable
from . import html


PANGO = ("PDF export needs Pango on the server (Debian/Ubuntu: apt install libpango-1.0-0 "
         "libpangoft2-1.0-0); every other format works")


def render(model: dict[str, Any], lang: str = "de") -> bytes:
    try:  # heavy import, only when a PDF is asked for
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # WeasyPrint loads Pango through cffi at import
        logging.getLogger("forum_live").error("PDF export unavailable: %s", exc)
        raise Unavailable(PANGO) from None

    # WeasyPrint logs every CSS property it ignores; they are not errors of ours.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    document = HTML(string=html.render(model, lang), base_url=None)
    # pdf/ua-1 also needs a title: the HTML <title>; no creation date, so the same model
    # gives the same bytes (frozen versions)
    return document.write_pdf(pdf_variant="pdf/ua-1",  # type: ignore[no-any-return]
                              uncompressed_pdf=False)
