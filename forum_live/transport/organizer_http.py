"""The organizer's desk and series (contract §8, issue 17): creating the next forum of a
series (`follows`), the series overview, every forum with its status, editing a forum
before it starts and preparing its run of show. Organizer token only."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from typing_extensions import Annotated

from ..domain import agenda, planning, series
from ..domain.commands import Body, EventIn, TopicIn
from ..domain.errors import NotFound, Unauthorized
from ..export import series as series_export
from ..domain.model import EventState
from ..domain.review import review_state
from . import minutes_http

if TYPE_CHECKING:
    from ..forum import Forum
    from ..live import EventRuntime


def _forum(request: Request) -> "Forum":
    return request.app.state.forum  # type: ignore[no-any-return]


def _require_organizer(request: Request) -> None:
    from .http import require_organizer
    require_organizer(request)


# -- creating the next forum of a series -------------------------------------------------
async def previous(forum: "Forum", event_id: str) -> "EventRuntime":
    try:
        return await forum.runtime(event_id)
    except NotFound:
        raise NotFound(f"follows: no event {event_id!r}") from None


def inherit(body: EventIn, prev: EventState) -> EventIn:
    """What the next forum takes from the one before unless the body gives it: topics,
    description and settings (waiting room, its note, the series label)."""
    given = body.model_fields_set
    update: dict[str, Any] = {}
    if "topics" not in given:
        update["topics"] = [TopicIn(title=t.title, speaker=t.speaker, description=t.description)
                            for t in prev.topics.values()]
    if "description" not in given:
        update["description"] = prev.description
    if "lobby" not in given:
        update["lobby"] = prev.lobby
    if "lobby_note" not in given:
        update["lobby_note"] = prev.lobby_note
    if "series" not in given:
        update["series"] = prev.series
    return body.model_copy(update=update)


async def carry(rt: "EventRuntime", prev: EventState) -> dict[str, int]:
    """Journal what the forum before hands on (one `carried.added` in the new event)."""
    [entry] = await rt.write(lambda s, ctx: series.carry(s, ctx, prev))
    return {"actions": len(entry.data["actions"]), "questions": len(entry.data["questions"])}


# -- the desk ----------------------------------------------------------------------------
def status(row: dict[str, Any], s: EventState) -> str:
    """planned (nobody was there yet), live (it has begun), ended."""
    if row.get("status") == "ended" or s.status.value == "ended":
        return "ended"
    return "live" if planning.started(s) else "planned"


def minutes_status(s: EventState) -> dict[str, Any]:
    versions = review_state(s).versions
    if not versions:
        return {"status": "draft", "version": None, "approved_at": None}
    last = versions[-1]
    return {"status": "approved", "version": last.number, "approved_at": last.approved_at}


def desk_item(forum: "Forum", row: dict[str, Any], s: EventState) -> dict[str, Any]:
    part = series.series_state(s)
    steps = agenda.agenda_state(s).steps
    return {"id": row["id"], "title": s.title, "starts_at": s.starts_at,
            "created_at": row["created_at"], "status": status(row, s),
            "online": s.online_count, "participants": len(s.participants),
            "minutes": minutes_status(s), "series_id": series.series_id(s),
            "follows": part.follows, "editable": not planning.started(s),
            "topics": [t.public() for t in s.topics.values()],
            "description": s.description, "agenda_steps": len(steps), **forum.links(row)}


async def desk(request: Request) -> Response:
    """GET /api/desk: every forum, newest first, with its status, online count, the state
    of its minutes and its series."""
    _require_organizer(request)
    forum = _forum(request)
    out = []
    for row in await forum.store.list_events():
        rt = await forum.runtime(row["id"])
        out.append(desk_item(forum, row, rt.state))
    return JSONResponse(out, headers=minutes_http.NO_STORE)


async def edit_event(request: Request) -> Response:
    """PATCH /api/events/{id}: title, date, description, topics, before the forum starts."""
    from .http import read_body
    _require_organizer(request)
    forum = _forum(request)
    event_id = request.path_params["event_id"]
    rt = await forum.runtime(event_id)
    body = await read_body(request, planning.EventEdit)
    await rt.write(lambda s, ctx: planning.edit(s, ctx, body))
    row = await forum.store.event_row(event_id)
    assert row is not None
    return JSONResponse(desk_item(forum, row, rt.state))


class AgendaIn(Body):
    steps: Annotated[list[agenda.StepIn], Field(max_length=agenda.MAX_STEPS)]


async def put_agenda(request: Request) -> Response:
    """PUT /api/events/{id}/agenda: the run of show, prepared before the forum."""
    from .http import read_body
    _require_organizer(request)
    rt = await _forum(request).runtime(request.path_params["event_id"])
    body = await read_body(request, AgendaIn)
    await rt.write(lambda s, ctx: agenda.plan(s, ctx, list(body.steps), None))
    return JSONResponse(agenda.agenda_view(rt.state))


async def get_agenda(request: Request) -> Response:
    _require_organizer(request)
    rt = await _forum(request).runtime(request.path_params["event_id"])
    return JSONResponse(agenda.agenda_view(rt.state), headers=minutes_http.NO_STORE)


# -- the series overview -----------------------------------------------------------------
async def series_states(forum: "Forum", series_id: str
                        ) -> tuple[list[EventState], dict[str, str]]:
    states, statuses = [], {}
    for row in await forum.store.list_events():
        if row["id"] != series_id:
            rt = await forum.runtime(row["id"])
            if series.series_state(rt.state).series_id != series_id:
                continue
        else:
            rt = await forum.runtime(row["id"])
        states.append(rt.state)
        statuses[row["id"]] = status(row, rt.state)
    return states, statuses


def _organizer_among(forum: "Forum", tokens: list[str]) -> bool:
    organizer = forum.auth.organizer_token.encode()
    return any(hmac.compare_digest(t.encode(), organizer) for t in tokens)


async def visible_series(forum: "Forum", series_id: str, tokens: list[str]
                         ) -> tuple[list[EventState], dict[str, str]] | None:
    """The forums of the series (with their desk status) if one of `tokens` opens it: the
    organizer's, or a token of an admitted participant of one of its forums. None for a
    series that does not exist and for one the tokens do not open alike."""
    organizer = _organizer_among(forum, tokens)
    if not organizer and not any(forum.auth.signed_event(t) for t in tokens):
        return None  # no real token: not worth reading every forum for
    states, statuses = (await series_states(forum, series_id) if len(series_id) <= 64
                        else ([], {}))
    if not states:
        return None
    if organizer or await _admitted_to_one(forum, states, tokens):
        return states, statuses
    return None


async def _series(request: Request) -> dict[str, Any]:
    """The series view for the organizer, or (read-only) for anyone admitted to one of its
    forums (a token of that forum as Bearer, the series cookie of `POST …/session`, or
    `?token=`)."""
    forum = _forum(request)
    series_id = request.path_params["series_id"]
    tokens = minutes_http._tokens(request)
    if not tokens:
        raise Unauthorized("organizer token, or a token of a forum of this series")
    found = await visible_series(forum, series_id, tokens)
    if found is None:
        # a participant learns nothing of series they are not in, not even whether they
        # exist; only the organizer is told that there is no such series
        if _organizer_among(forum, tokens):
            raise NotFound("no such series")
        raise Unauthorized("organizer token, or a token of a forum of this series")
    return series.series_view(*found)


async def _admitted_to_one(forum: "Forum", states: list[EventState], tokens: list[str]) -> bool:
    for s in states:
        for token in tokens:
            claims = await forum.verify_token(token, s.id)
            p = s.participants.get(claims.participant) if claims else None
            if p is not None and p.admitted:
                return True
    return False


async def get_series(request: Request) -> Response:
    """GET /api/series/{id} (§8): every forum of the series with its status, every action
    (with its current status and history), decision and question across it."""
    return JSONResponse(await _series(request), headers=minutes_http.NO_STORE)


async def series_download(request: Request) -> Response:
    """GET /api/series/{id}/overview.{md,html,pdf,docx,json}: the overview as a document."""
    fmt = request.url.path.rsplit(".", 1)[-1]
    render, media_type, heavy = series_export.FORMATS[fmt]
    view = await _series(request)
    lang = "en" if request.query_params.get("lang") == "en" else "de"
    body = await run_in_threadpool(render, view, lang) if heavy else render(view, lang)
    name = f"forenreihe-{request.path_params['series_id']}.{fmt}"
    return Response(body, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', **minutes_http.NO_STORE})


async def series_page(request: Request) -> Response:
    """GET /series/{id}: the series overview as a page, read-only. Opened by the series
    cookie that `POST /api/events/{id}/session` sets for the forum's series (the organizer's
    token or an admitted participant's of one of its forums); no token in the URL. Anyone
    else sees exactly what an unknown series shows."""
    from .i18n import choose_language, page
    forum = _forum(request)
    series_id = request.path_params["series_id"]
    tokens = [t for t in (_bearer(request), request.cookies.get("forum_token", "").strip())
              if t and len(t) < 1024]
    found = await visible_series(forum, series_id, tokens) if tokens else None
    if found is None:
        response = page(request, "series.html", status_code=404, extra={"denied": True})
        response.headers.update(minutes_http.NO_STORE)
        return response
    lang = choose_language(request)
    view = series_export.prepare(series.series_view(*found), lang)
    base = f"/api/series/{quote(series_id, safe='')}/overview"
    downloads = [{"name": fmt, "href": f"{base}.{fmt}?{urlencode({'lang': lang})}"}
                 for fmt in ("pdf", "docx", "md", "json")]
    response = page(request, "series.html", extra={
        "denied": False, "series_id": series_id, "s": view, "L": view["L"],
        "downloads": downloads})
    response.headers.update(minutes_http.NO_STORE)
    return response


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization") or ""
    return header[7:].strip() if header.startswith("Bearer ") else ""


def _inline(model: type[Body]) -> dict[str, Any]:
    """The model's JSON schema with its nested models written out (no $refs)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.rsplit("/", 1)[1]])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node
    return resolve(schema)  # type: ignore[no-any-return]


def _document() -> None:
    """These routes in /openapi.json (openapi.EXTRA_PATHS)."""
    from . import openapi as o

    def body(model: type[Body]) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": _inline(model)}}}

    obj = {"type": "object"}
    desk_op = o._op("every forum with its status, people online, minutes (draft/approved) "
                    "and series (organizer)", o.ORGANIZER, {
                        "200": o._json({"type": "array", "items": obj}, "the forums"),
                        **o._errors(401)}, op_id="desk")
    sid = {"name": "series_id", "in": "path", "required": True, "schema": o.STR}
    series_op = o._op("a series: its forums and every action with status and history "
                      "(organizer; read-only with a token of one of its forums, as Bearer "
                      "or the series cookie of POST /api/events/{id}/session)",
                      o.EVENT_TOKEN, {
                          "200": o._json({"type": "object", "required": ["id", "events",
                                                                        "actions"]},
                                         "the series"), **o._errors(401, 404)},
                      parameters=[sid], op_id="getSeries")
    edit_op = o._op("edit title, date, description and topics before the forum starts "
                    "(organizer)", o.ORGANIZER, {
                        "200": o._json(obj, "the forum as the desk lists it"),
                        **o._errors(401, 404, 409, 413, 422)},
                    parameters=[o.EVENT_ID], op_id="editEvent")
    edit_op["requestBody"] = body(planning.EventEdit)
    put_op = o._op("prepare the run of show (before its first step) (organizer)",
                   o.ORGANIZER, {"200": o._json(obj, "the agenda"),
                                 **o._errors(401, 404, 409, 413, 422)},
                   parameters=[o.EVENT_ID], op_id="putAgenda")
    put_op["requestBody"] = body(AgendaIn)
    get_op = o._op("the run of show with each step's status and times (organizer)",
                   o.ORGANIZER, {"200": o._json(obj, "the agenda"), **o._errors(401, 404)},
                   parameters=[o.EVENT_ID], op_id="getAgenda")
    for fmt, (_, media_type, _heavy) in series_export.FORMATS.items():
        o.EXTRA_PATHS[f"/api/series/{{series_id}}/overview.{fmt}"] = {"get": o._op(
            f"the series overview as {fmt} (organizer, or a token of one of its forums)",
            o.EVENT_TOKEN, {"200": o._binary(media_type.split(";")[0], "the overview"),
                            **o._errors(401, 404)}, parameters=[sid], op_id=f"series_{fmt}")}
    o.EXTRA_PATHS["/series/{series_id}"] = {"get": o._op(
        "the series overview as a read-only page (the organizer, or an admitted participant "
        "of one of its forums, by the cookie of POST /api/events/{id}/session); anyone "
        "else gets the same 404 page as for a series that does not exist", o.EVENT_TOKEN, {
            "200": o._html("the series page"), "404": o._html("no such series (or no access)")},
        parameters=[sid, o.LANG_QUERY], op_id="seriesPage")}
    o.EXTRA_PATHS["/api/desk"] = {"get": desk_op}
    o.EXTRA_PATHS["/api/series/{series_id}"] = {"get": series_op}
    o.EXTRA_PATHS.setdefault("/api/events/{event_id}", {})["patch"] = edit_op
    o.EXTRA_PATHS["/api/events/{event_id}/agenda"] = {"put": put_op, "get": get_op}


_document()


def routes() -> list[Route]:
    return [
        Route("/api/desk", desk, methods=["GET"]),
        Route("/api/series/{series_id}", get_series, methods=["GET"]),
        *[Route(f"/api/series/{{series_id}}/overview.{fmt}", series_download, methods=["GET"])
          for fmt in series_export.FORMATS],
        Route("/api/events/{event_id}", edit_event, methods=["PATCH"]),
        Route("/api/events/{event_id}/agenda", put_agenda, methods=["PUT"]),
        Route("/api/events/{event_id}/agenda", get_agenda, methods=["GET"]),
        Route("/series/{series_id}", series_page, methods=["GET"]),
    ]
