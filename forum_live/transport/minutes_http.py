"""The minutes after (and during) the event: downloads in every format, the CSV tables,
the read-only review page, and ending an event.

Who may read: the organizer (bearer header, or `?token=` for links opened in a browser),
and anyone who took part, with their own participant or moderator token of this event
(`Authorization: Bearer <token>` or `?token=`). The CSV tables (who was there, how people
voted) are for the organizer and moderators only.
"""

from __future__ import annotations

import copy
import hmac
from enum import Enum
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain import setup
from ..domain.context import Context
from ..domain.errors import NotFound, Unauthorized
from ..domain.views import event_summary
from ..export import model, tables
from ..export.formats import FORMATS, filename
from ..export.html import render_body
from ..export.view import prepare
from .i18n import choose_language, page

if TYPE_CHECKING:
    from ..forum import Forum
    from ..live import EventRuntime


class Access(Enum):
    ORGANIZER = "organizer"
    MODERATOR = "moderator"
    PARTICIPANT = "participant"


NO_STORE = {"Cache-Control": "no-store"}


def _forum(request: Request) -> "Forum":
    return request.app.state.forum  # type: ignore[no-any-return]


def _tokens(request: Request) -> list[str]:
    out = []
    header = request.headers.get("authorization") or ""
    if header.startswith("Bearer "):
        out.append(header[7:].strip())
    query = request.query_params.get("token")
    if query:
        out.append(query.strip())
    return [t for t in out if t and len(t) < 1024]


async def access(request: Request, event_id: str) -> tuple[Access, "EventRuntime"]:
    """Who is asking, for this event; 401 for no or a wrong token, 404 for no event."""
    forum = _forum(request)
    organizer = forum.auth.organizer_token.encode()
    tokens = _tokens(request)
    if any(hmac.compare_digest(t.encode(), organizer) for t in tokens):
        return Access.ORGANIZER, await forum.runtime(event_id)
    for token in tokens:
        claims = forum.auth.verify(token, event_id)
        if claims is None:
            continue
        rt = await forum.runtime(event_id)
        p = rt.state.participants.get(claims.participant)
        if p is not None and p.admitted:  # not a waiting guest, nor a removed/declined one
            return (Access.MODERATOR if p.is_moderator else Access.PARTICIPANT), rt
    raise Unauthorized("a token of this event is needed")


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "de"


def _attachment(body: str | bytes, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', **NO_STORE})


async def minutes_download(request: Request) -> Response:
    fmt = FORMATS.get(request.path_params["fmt"])
    if fmt is None:
        raise NotFound(f"no minutes format {request.path_params['fmt']!r}; one of "
                       + ", ".join(FORMATS))
    _, rt = await access(request, request.path_params["event_id"])
    data = model.build(rt.state)  # on the loop: the state only changes there
    lang = _lang(request)
    if fmt.heavy:  # seconds of layout must not stall every socket of the server
        body = await run_in_threadpool(fmt.render, copy.deepcopy(data), lang)
    else:
        body = fmt.render(data, lang)
    return _attachment(body, fmt.media_type, filename(rt.state.title, rt.id, fmt.name))


async def _table_access(request: Request) -> "EventRuntime":
    who, rt = await access(request, request.path_params["event_id"])
    if who is Access.PARTICIPANT:
        raise Unauthorized("the tables are for the organizer and moderators")
    return rt


def _excel(request: Request) -> bool:
    return request.query_params.get("excel") in ("1", "true", "yes")


async def attendance_csv(request: Request) -> Response:
    rt = await _table_access(request)
    return _attachment(tables.attendance_csv(rt.state, _excel(request)),
                       "text/csv; charset=utf-8", f"anwesenheit-{rt.id}.csv")


async def polls_csv(request: Request) -> Response:
    rt = await _table_access(request)
    return _attachment(tables.polls_csv(rt.state, _excel(request)),
                       "text/csv; charset=utf-8", f"polls-{rt.id}.csv")


async def end_event(request: Request) -> Response:
    forum = _forum(request)
    if not forum.auth.is_organizer(request.headers.get("authorization")):
        raise Unauthorized("organizer token missing or wrong")
    rt = await forum.runtime(request.path_params["event_id"])
    await rt.commit(setup.end_event(rt.state, Context.current(forum.settings.limits), None))
    return JSONResponse(event_summary(rt.state))


async def review_page(request: Request) -> Response:
    forum = _forum(request)
    event_id = request.path_params["event_id"]
    if len(event_id) > 64 or await forum.store.event_row(event_id) is None:
        return page(request, "index.html", status_code=404, extra={"not_found": True})
    try:
        who, rt = await access(request, event_id)
    except Unauthorized:
        response = page(request, "review.html", status_code=401,
                        extra={"denied": True, "event_id": event_id})
        response.headers.update(NO_STORE)
        return response
    lang = choose_language(request)
    view = prepare(model.build(rt.state), lang)
    token = request.query_params.get("token") or ""
    formats = [{"name": n, "href": _href(event_id, f"minutes.{n}", token, lang)}
               for n in FORMATS]
    if who is not Access.PARTICIPANT:
        formats += [{"name": n, "href": _href(event_id, n, token, lang)}
                    for n in ("polls.csv", "attendance.csv")]
    response = page(request, "review.html", extra={
        "denied": False, "event_id": event_id, "event_title": view["event_title"],
        "minutes_body": render_body(view), "downloads": formats, "L": view["L"]})
    response.headers.update(NO_STORE)
    return response


def _href(event_id: str, name: str, token: str, lang: str) -> str:
    from urllib.parse import urlencode
    query = {"lang": lang, **({"token": token} if token else {})}
    return f"/api/events/{event_id}/{name}?{urlencode(query)}"
