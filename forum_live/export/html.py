"""Minutes as one self-contained, print-friendly HTML file (CSS embedded, charts as SVG).

Jinja2 autoescape is on for every template here: whatever people typed comes out as text.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from .view import prepare

TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       trim_blocks=False, lstrip_blocks=False)


def render(model: dict[str, Any], lang: str = "de") -> str:
    return environment().get_template("minutes_doc.html").render(prepare(model, lang))


def render_body(view: dict[str, Any]) -> Markup:
    """Just the minutes article, for embedding in a page that brings its own layout."""
    return Markup(environment().get_template("minutes_body.html").render(view))
