"""The export formats by name: renderer, media type, file extension, and whether the
render is heavy enough to run off the event loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import docx, html, jsonfile, markdown, pdf


@dataclass(frozen=True)
class Format:
    name: str
    render: Callable[[dict[str, Any], str], str | bytes]
    media_type: str
    heavy: bool = False


FORMATS = {
    "md": Format("md", markdown.render, "text/markdown; charset=utf-8"),
    "html": Format("html", html.render, "text/html; charset=utf-8"),
    "pdf": Format("pdf", pdf.render, "application/pdf", heavy=True),
    "docx": Format("docx", docx.render,
                   "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                   heavy=True),
    "json": Format("json", jsonfile.render, "application/json"),
}


def filename(title: str, event_id: str, ext: str) -> str:
    """protokoll-<event>.<ext>: ASCII only, so every browser keeps it."""
    return f"protokoll-{event_id}.{ext}"
