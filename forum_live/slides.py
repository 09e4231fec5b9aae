"""Impulse slides over HTTP (contract §10): a PDF uploaded for a topic is rendered here,
page by page, to PNG images and their text (pypdfium2: PDFium, no external service), kept
under DATA_DIR/slides/EVENT/SLIDES/, and announced with the journal entry `slides.added`.

    POST /api/events/{id}/slides?topic=TOPIC     PDF body; organizer, or a moderator's token
    GET  /api/events/{id}/slides/{sid}/pages/{n}       the page as image/png (anyone admitted)
    GET  /api/events/{id}/slides/{sid}/pages/{n}/text  {"text": ...} (for screen readers)

A body that is not a PDF, or one PDFium cannot open, or with more pages than
`slides_max_pages`, answers 422; more than `slides_max_bytes` answers 413. Rendering runs
in a worker thread, one document at a time (PDFium is not thread-safe), with the page size
capped at `slides_px` pixels on the long side, so a hostile page size cannot eat memory.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from .domain import slides as domain_slides
from .domain.context import new_id
from .domain.errors import Forbidden, Invalid, NotFound, TooLarge
from .transport.minutes_http import Access, access

if TYPE_CHECKING:
    from .forum import Forum

log = logging.getLogger("forum_live")

_RENDER_LOCK = asyncio.Lock()  # PDFium is not thread-safe: one document at a time
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _forum(request: Request) -> "Forum":
    return request.app.state.forum  # type: ignore[no-any-return]


def slides_dir(forum: "Forum", event_id: str, deck_id: str) -> Path:
    return Path(forum.settings.data_dir) / "slides" / event_id / deck_id


def render_pdf(data: bytes, out: Path, max_pages: int, px: int) -> tuple[int, str]:
    """Render every page of `data` to out/N.png and out/N.txt; returns (pages, title).
    Raises Invalid for what PDFium cannot open or for too many pages. Synchronous."""
    import pypdfium2 as pdfium  # a C library: loaded on first use

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise Invalid(f"body: not a readable PDF ({exc})") from None
    try:
        pages = len(pdf)
        if pages < 1:
            raise Invalid("body: the PDF has no pages")
        if pages > max_pages:
            raise Invalid(f"body: at most {max_pages} pages (this PDF has {pages})")
        try:
            title = str(pdf.get_metadata_value("Title") or "").strip()[:200]
        except Exception:  # noqa: BLE001  broken metadata is no reason to refuse the slides
            title = ""
        out.mkdir(parents=True, exist_ok=True)
        for i in range(pages):
            page = pdf[i]
            try:
                w, h = page.get_size()
                if not (w > 0 and h > 0):
                    raise Invalid(f"body: page {i + 1} has no size")
                scale = min(px / max(w, h), 4.0)
                image = page.render(scale=scale).to_pil()
                buf = io.BytesIO()
                image.save(buf, format="PNG", optimize=False)
                (out / f"{i + 1}.png").write_bytes(buf.getvalue())
                textpage = page.get_textpage()
                try:
                    text = textpage.get_text_bounded()
                finally:
                    textpage.close()
                (out / f"{i + 1}.txt").write_text(_clean(text), encoding="utf-8")
            finally:
                page.close()
        return pages, title
    except pdfium.PdfiumError as exc:
        raise Invalid(f"body: the PDF could not be rendered ({exc})") from None
    finally:
        pdf.close()


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()[:20_000]


async def _read_pdf(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body: at most {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body: at most {limit} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data.lstrip()[:5] == b"%PDF-":
        raise Invalid("body: not a PDF (a PDF starts with %PDF-)")
    return data


async def upload(request: Request) -> Response:
    forum = _forum(request)
    event_id = request.path_params["event_id"]
    who, rt = await access(request, event_id)
    if who is Access.PARTICIPANT:
        raise Forbidden("only the organizer and moderators upload slides")
    topic = request.query_params.get("topic") or None
    if topic is not None and topic not in rt.state.topics:
        raise NotFound(f"topic: no topic {topic!r} in this event")
    limits = forum.settings.limits
    data = await _read_pdf(request, limits.slides_max_bytes)
    deck_id = new_id()
    out = slides_dir(forum, event_id, deck_id)
    async with _RENDER_LOCK:
        try:
            pages, title = await asyncio.to_thread(render_pdf, data, out, limits.slides_max_pages,
                                                   limits.slides_px)
        except BaseException:
            shutil.rmtree(out, ignore_errors=True)
            raise
    if not title and topic is not None:
        title = rt.state.topics[topic].title
    actor = request.state.reviewer.id if who is Access.MODERATOR else None
    (out / "deck.json").write_text(json.dumps({"topic": topic, "title": title, "pages": pages}),
                                   encoding="utf-8")
    await rt.write(lambda s, ctx: domain_slides.added(s, ctx, deck_id, topic, title, pages, actor))
    return JSONResponse({"id": deck_id, "topic": topic, "pages": pages, "title": title},
                        status_code=201)


def _page_path(request: Request, rt: Any, suffix: str) -> Path:
    event_id = request.path_params["event_id"]
    deck_id = request.path_params["slides_id"]
    deck = domain_slides.slide_state(rt.state).decks.get(deck_id) if _ID.match(deck_id) else None
    if deck is None:
        raise NotFound("no such slides")
    try:
        n = int(request.path_params["n"])
    except ValueError:
        raise NotFound("no such page") from None
    if not 1 <= n <= deck.pages:
        raise NotFound(f"page: these slides have {deck.pages} pages")
    path = slides_dir(_forum(request), event_id, deck_id) / f"{n}.{suffix}"
    if not path.is_file():
        raise NotFound("no such page")
    return path


async def page_image(request: Request) -> Response:
    _who, rt = await access(request, request.path_params["event_id"])
    path = _page_path(request, rt, "png")
    return FileResponse(path, media_type="image/png",
                        headers={"Cache-Control": "private, max-age=86400"})


async def page_text(request: Request) -> Response:
    _who, rt = await access(request, request.path_params["event_id"])
    path = _page_path(request, rt, "txt")
    return JSONResponse({"text": path.read_text(encoding="utf-8")},
                        headers={"Cache-Control": "private, max-age=86400"})


def _document() -> None:
    """These routes in /openapi.json (openapi.EXTRA_PATHS)."""
    from .transport import openapi as o

    deck = {"type": "object", "required": ["id", "topic", "pages"],
            "properties": {"id": o.STR, "topic": {"type": ["string", "null"]},
                           "pages": {"type": "integer"}, "title": o.STR}}
    topic = {"name": "topic", "in": "query", "required": False,
             "description": "the topic the slides belong to", "schema": o.STR}
    sid = {"name": "slides_id", "in": "path", "required": True, "schema": o.STR}
    n = {"name": "n", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    upload_op = o._op("upload impulse slides as a PDF (organizer, or a moderator's token); "
                      "rendered to pages", o.EVENT_TOKEN,
                      {"201": o._json(deck, "the slides"), **o._errors(401, 403, 404, 413, 422)},
                      parameters=[o.EVENT_ID, topic], op_id="uploadSlides")
    # the body is the PDF's bytes, sent as application/pdf (any content type is read as one)
    upload_op["requestBody"] = {"required": True, "description": "the PDF (application/pdf)",
                                "content": {"application/octet-stream": {
                                    "schema": {"type": "string", "format": "binary"}}}}
    o.EXTRA_PATHS["/api/events/{event_id}/slides"] = {"post": upload_op}
    o.EXTRA_PATHS["/api/events/{event_id}/slides/{slides_id}/pages/{n}"] = {"get": o._op(
        "one page of the slides as PNG (any token of this event)", o.EVENT_TOKEN,
        {"200": {"description": "the page", "content": {"image/png": {"schema": o.STR}}},
         **o._errors(401, 404)}, parameters=[o.EVENT_ID, sid, n], op_id="slidePage")}
    o.EXTRA_PATHS["/api/events/{event_id}/slides/{slides_id}/pages/{n}/text"] = {"get": o._op(
        "the text of one page, for screen readers (any token of this event)", o.EVENT_TOKEN,
        {"200": o._json({"type": "object", "required": ["text"], "properties": {"text": o.STR}},
                        "the text"), **o._errors(401, 404)},
        parameters=[o.EVENT_ID, sid, n], op_id="slideText")}


_document()


def routes() -> list[Route]:
    return [
        Route("/api/events/{event_id}/slides", upload, methods=["POST"]),
        Route("/api/events/{event_id}/slides/{slides_id}/pages/{n}", page_image, methods=["GET"]),
        Route("/api/events/{event_id}/slides/{slides_id}/pages/{n}/text", page_text,
              methods=["GET"]),
    ]
