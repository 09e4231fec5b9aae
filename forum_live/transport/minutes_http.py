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
import logging
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import StringConstraints
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..domain import review, setup
from ..domain.commands import Body
from ..domain.context import Context
from ..domain.errors import Conflict, Invalid, NotFound, Unauthorized
from ..domain.model import Participant
from ..domain.views import event_summary
from ..export import model, tables, versions
from ..export.formats import FORMATS, filename
from ..export.html import render_body
from ..export.view import labels, prepare
from .i18n import choose_language, page

if TYPE_CHECKING:
    from ..forum import Forum
    from ..live import EventRuntime


log = logging.getLogger(__name__)


class Access(Enum):
    ORGANIZER = "organizer"
    MODERATOR = "moderator"
    PARTICIPANT = "participant"


NO_STORE = {"Cache-Control": "no-store"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _forum(request: Request) -> "Forum":
    return request.app.state.forum  # type: ignore[no-any-return]


def _tokens(request: Request) -> list[str]:
    out = []
    header = request.headers.get("authorization") or ""
    if header.startswith("Bearer "):
        out.append(header[7:].strip())
    query = request.query_params.get("token")  # old links; redacted from the access log
    if query:
        out.append(query.strip())
    cookie = request.cookies.get("forum_token")  # POST /api/events/{id}/session (§9)
    if cookie:
        out.append(cookie.strip())
    return [t for t in out if t and len(t) < 1024]


async def access(request: Request, event_id: str) -> tuple[Access, "EventRuntime"]:
    """Who is asking, for this event; 401 for no or a wrong token, 404 for no event."""
    forum = _forum(request)
    organizer = forum.auth.organizer_token.encode()
    tokens = _tokens(request)
    if any(hmac.compare_digest(t.encode(), organizer) for t in tokens):
        return Access.ORGANIZER, await forum.runtime(event_id)
    for token in tokens:
        claims = await forum.verify_token(token, event_id)
        if claims is None:
            continue
        rt = await forum.runtime(event_id)
        p = rt.state.participants.get(claims.participant)
        if p is not None and p.admitted:  # not a waiting guest, nor a removed/declined one
            request.state.reviewer = p  # for `person`
            return (Access.MODERATOR if p.is_moderator else Access.PARTICIPANT), rt
    raise Unauthorized("a token of this event is needed")


async def person(request: Request, event_id: str
                 ) -> tuple[Access, "EventRuntime", Participant | None]:
    """As `access`, with the participant record (None for the organizer)."""
    who, rt = await access(request, event_id)
    if who is Access.ORGANIZER:
        return who, rt, None
    return who, rt, request.state.reviewer


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
    data = _model(request, rt)  # on the loop: the state only changes there
    lang = _lang(request)
    name = filename(rt.state.title, rt.id, fmt.name)
    number = data["approval"]["version"] if data["approval"]["status"] == "approved" \
        else None
    if number is not None:  # an approved version: the bytes kept at its approval
        v = versions.version(rt.state, number)
        kept = v.files.get(lang, {}).get(fmt.name)
        if kept is not None:
            body, exact = await _frozen_bytes(request, rt, fmt.name, lang, kept, data)
            response = _attachment(body, fmt.media_type, name)
            response.headers["ETag"] = f'"{kept}"'
            if not exact:
                response.headers["X-Minutes-Rerendered"] = "1"
            return response
    return _attachment(await _render(fmt.name, data, lang), fmt.media_type, name)


async def _render(fmt_name: str, data: dict[str, Any], lang: str) -> str | bytes:
    fmt = FORMATS[fmt_name]
    if fmt.heavy:  # seconds of layout must not stall every socket of the server
        return await run_in_threadpool(fmt.render, copy.deepcopy(data), lang)
    return fmt.render(data, lang)


async def _frozen_bytes(request: Request, rt: "EventRuntime", fmt_name: str, lang: str,
                        kept: str, data: dict[str, Any]) -> tuple[bytes, bool]:
    """The bytes named by the approval entry's digest, from the store. Should the store
    have lost them (a restore of the journal alone), the frozen model is rendered again:
    the same bytes are kept back; other bytes (a renderer changed since) are served as
    (bytes, False), so the response says it is not the approved file."""
    store = _forum(request).store
    body = await store.load_minutes_file(rt.id, kept)
    if body is not None and versions.digest(body) == kept:
        return body, True
    again = versions.as_bytes(await _render(fmt_name, data, lang))
    if versions.digest(again) == kept:
        await store.save_minutes_files(rt.id, [again])
        return again, True
    log.warning("event %s: the approved %s (%s) is not in the store and renders "
                "differently now; serving a new rendering", rt.id, fmt_name, lang)
    return again, False


def _model(request: Request, rt: "EventRuntime") -> dict[str, Any]:
    """The current minutes, or with `?version=N` that frozen approved version."""
    raw = request.query_params.get("version")
    if raw is None:
        return versions.current(rt.state)
    if not raw.isdigit() or len(raw) > 6:
        raise Invalid("version: a whole number from 1")
    return versions.frozen(rt.state, int(raw))


async def _table_access(request: Request) -> "EventRuntime":
    who, rt = await access(request, request.path_params["event_id"])
    if who is Access.PARTICIPANT:
        raise Unauthorized("the tables are for the organizer and moderators")
    return rt


def _table_lang(request: Request) -> str:
    """German tables (`;`, German headers) unless `lang=en`; `excel=1` is kept as a no-op."""
    return _lang(request)


async def attendance_csv(request: Request) -> Response:
    rt = await _table_access(request)
    return _attachment(tables.attendance_csv(rt.state, _table_lang(request)),
                       "text/csv; charset=utf-8", f"anwesenheit-{rt.id}.csv")


async def polls_csv(request: Request) -> Response:
    rt = await _table_access(request)
    return _attachment(tables.polls_csv(rt.state, _table_lang(request)),
                       "text/csv; charset=utf-8", f"polls-{rt.id}.csv")


async def tables_xlsx(request: Request) -> Response:
    rt = await _table_access(request)
    body = await run_in_threadpool(tables.workbook, rt.state, _table_lang(request))
    return _attachment(body, XLSX, f"tabellen-{rt.id}.xlsx")


async def end_event(request: Request) -> Response:
    forum = _forum(request)
    if not forum.auth.is_organizer(request.headers.get("authorization")):
        raise Unauthorized("organizer token missing or wrong")
    rt = await forum.runtime(request.path_params["event_id"])
    await rt.write(lambda s, ctx: setup.end_event(s, ctx, None))
    return JSONResponse(event_summary(rt.state))


async def review_page(request: Request) -> Response:
    forum = _forum(request)
    event_id = request.path_params["event_id"]
    if len(event_id) > 64 or await forum.store.event_row(event_id) is None:
        return page(request, "index.html", status_code=404, extra={"not_found": True})
    try:
        who, rt, me = await person(request, event_id)
    except Unauthorized:
        response = page(request, "review.html", status_code=401,
                        extra={"denied": True, "event_id": event_id})
        response.headers.update(NO_STORE)
        return response
    lang = choose_language(request)
    view = prepare(versions.current(rt.state), lang)
    # Download links carry no token (contract §9): they go with the event's cookie. Only
    # an old link that came with ?token= hands it on (its access-log lines are redacted).
    token = request.query_params.get("token") or ""
    formats = [{"name": n, "href": _href(event_id, f"minutes.{n}", token, lang)}
               for n in FORMATS]
    if who is not Access.PARTICIPANT:
        formats += [{"name": n, "href": _href(event_id, n, token, lang)}
                    for n in ("polls.csv", "attendance.csv", "tables.xlsx")]
    response = page(request, "review.html", extra={
        "denied": False, "event_id": event_id, "event_title": view["event_title"],
        "minutes_body": render_body(view), "downloads": formats, "L": view["L"],
        "rv": _review_context(rt, who, me, view, lang, token),
        "series_href": _series_href(rt, lang)})
    response.headers.update(NO_STORE)
    return response


def _series_href(rt: "EventRuntime", lang: str) -> str:
    """The page of the forum's series (/series/{id}) for a forum that follows another; the
    event's cookie (`POST …/session`) opens it too."""
    from urllib.parse import quote

    from ..domain.series import series_id, series_state
    if not series_state(rt.state).follows:
        return ""
    return f"/series/{quote(series_id(rt.state), safe='')}?lang={lang}"


def _review_context(rt: "EventRuntime", who: Access, me: Participant | None,
                    view: dict[str, Any], lang: str, token: str) -> dict[str, Any]:
    """What the review part of the page shows: versions, comments, proposals, and the
    forms the asker may use."""
    from ..export.view import fmt_datetime
    s, L = rt.state, view["L"]
    rv = review.review_state(s)

    def name(author: dict[str, Any]) -> str:
        return str(author.get("name") or L["rv_by_organizer"])

    def entry_text(eid: str | None) -> str:
        m = s.minutes.get(eid or "")
        return str(m.text) if m is not None else ""

    listing = versions.listing(s)
    return {
        "may_comment": me is None or me.is_moderator or review.was_there(me),
        "may_decide": who is not Access.PARTICIPANT,
        "may_approve": who is Access.ORGANIZER,
        "versions": [{"version": v["version"], "draft": v["status"] == "draft",
                      "line": (L["draft"] if v["status"] == "draft" else
                               L["approved_line"].replace("{date}", fmt_datetime(
                                   v["approved_at"], lang)).replace("{by}",
                                                                    v["approved_by"] or "")),
                      "links": [] if v["status"] == "draft" else [
                          {"name": f, "href": _href(rt.id, f"minutes.{f}", token, lang)
                           + f"&version={v['version']}"} for f in ("pdf", "docx")]}
                     for v in listing],
        "comments": [{"author": name(c.author), "to": entry_text(c.entry), "text": c.text,
                      "at": fmt_datetime(c.at, lang)} for c in rv.comments.values()],
        "proposals": [{"id": p.id, "author": name(p.author), "before": p.before,
                       "text": p.text, "reason": p.reason or "", "status": p.status,
                       "status_label": L[f"rv_status_{p.status}"],
                       "at": fmt_datetime(p.at, lang)} for p in rv.proposals.values()],
        "answered": view["answered"],
        "header": {k: rv.header.get(k, "") for k in review.HEADER_FIELDS},
        "recordings": [{**r, "audio": _href(rt.id, f"recordings/{r['id']}/audio", token, lang),
                        "video_href": _href(rt.id, f"recordings/{r['id']}/video", token, lang)
                        if r["video"] else ""}
                       for r in view["recordings"] if r["id"]],
    }


def _href(event_id: str, name: str, token: str, lang: str) -> str:
    from urllib.parse import urlencode
    query = {"lang": lang, **({"token": token} if token else {})}
    return f"/api/events/{event_id}/{name}?{urlencode(query)}"


# -- review and approval (contract §7; docs/protocol.md "Minutes review") ------------------
ReviewText = Annotated[str, StringConstraints(max_length=4000)]
ShortField = Annotated[str, StringConstraints(max_length=500)]


class CommentIn(Body):
    entry: Annotated[str, StringConstraints(max_length=64)] | None = None
    text: ReviewText


class ProposalIn(Body):
    entry: Annotated[str, StringConstraints(max_length=64)]
    text: ReviewText
    reason: ReviewText | None = None


class DecisionIn(Body):
    decision: Literal["accept", "reject"]


class AnswerIn(Body):
    question: Annotated[str, StringConstraints(max_length=64)]
    text: ReviewText


class HeaderIn(Body):
    organizer: ShortField | None = None
    distribution: ShortField | None = None
    location: ShortField | None = None


class ApproveIn(Body):
    note: ReviewText | None = None
    by: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


async def _body(request: Request, model_: type[Any]) -> Any:
    from .http import read_body  # http.py imports this module for its routes
    return await read_body(request, model_)


def _ctx(request: Request) -> Context:
    return Context.current(_forum(request).settings.limits)


def _require_organizer(who: Access) -> None:
    if who is not Access.ORGANIZER:
        raise Unauthorized("only the organizer does this")


async def review_state_endpoint(request: Request) -> Response:
    """GET /api/events/{id}/minutes/review: comments, proposals, versions, answers, header
    and what the asker may do."""
    who, rt, me = await person(request, request.path_params["event_id"])
    body = review.review_view(rt.state)
    body["versions"] = versions.listing(rt.state)
    body["me"] = {"role": who.value,
                  "may_comment": me is None or me.is_moderator or review.was_there(me),
                  "may_decide": who is not Access.PARTICIPANT,
                  "may_approve": who is Access.ORGANIZER}
    return JSONResponse(body, headers=NO_STORE)


async def versions_endpoint(request: Request) -> Response:
    _, rt = await access(request, request.path_params["event_id"])
    return JSONResponse(versions.listing(rt.state), headers=NO_STORE)


async def approve_endpoint(request: Request) -> Response:
    who, rt, _ = await person(request, request.path_params["event_id"])
    _require_organizer(who)
    body = await _body(request, ApproveIn)
    s = rt.state
    rv = review.review_state(s)
    now = model.build(s)
    changes = review.diff(rv.versions[-1].model, now) if rv.versions else []
    by = body.by or rv.header.get("organizer") or labels(_lang(request))["organizer"]
    [entry] = review.approve(s, _ctx(request), by, body.note, now, changes)
    # Render every format once, from the very model the entry freezes, and keep the bytes
    # before the entry names them: ?version=N serves these bytes for good.
    files = await run_in_threadpool(versions.render_all, copy.deepcopy(entry.data["model"]))
    await _forum(request).store.save_minutes_files(
        rt.id, [b for per_lang in files.values() for b in per_lang.values()])
    s = rt.state  # a reload (failed write elsewhere) may have replaced it meanwhile
    rv = review.review_state(s)
    if len(rv.versions) + 1 != entry.data["version"] or \
            not review.same_content(model.build(s), now):
        raise Conflict("the minutes changed while this version was being approved; "
                       "please approve again")
    entry.data["files"] = {lang: {f: versions.digest(b) for f, b in per_lang.items()}
                           for lang, per_lang in files.items()}
    [entry] = await rt.write(lambda s, ctx: [entry])  # decided above, checked just now
    return JSONResponse({"version": entry.data["version"], "approved_at": entry.at,
                         "approved_by": by, "files": entry.data["files"]}, status_code=201)


async def comment_endpoint(request: Request) -> Response:
    _, rt, me = await person(request, request.path_params["event_id"])
    body = await _body(request, CommentIn)
    [entry] = await rt.write(lambda s, ctx: review.comment(s, ctx, me, body.entry, body.text))
    return JSONResponse(entry.data, status_code=201)


async def proposal_endpoint(request: Request) -> Response:
    _, rt, me = await person(request, request.path_params["event_id"])
    body = await _body(request, ProposalIn)
    [entry] = await rt.write(lambda s, ctx: review.propose(s, ctx, me, body.entry, body.text,
                                                           body.reason))
    return JSONResponse(entry.data, status_code=201)


async def decide_endpoint(request: Request) -> Response:
    _, rt, me = await person(request, request.path_params["event_id"])
    body = await _body(request, DecisionIn)
    pid = request.path_params["proposal_id"]
    await rt.write(lambda s, ctx: review.decide_proposal(s, ctx, me, pid,
                                                         body.decision == "accept"))
    return JSONResponse({"proposal": review.review_state(rt.state).proposals[pid].public()})


async def answer_endpoint(request: Request) -> Response:
    _, rt, me = await person(request, request.path_params["event_id"])
    body = await _body(request, AnswerIn)
    await rt.write(lambda s, ctx: review.answer(s, ctx, me, body.question, body.text))
    return JSONResponse({"question": body.question, "answer": body.text.strip()})


async def header_endpoint(request: Request) -> Response:
    who, rt, _ = await person(request, request.path_params["event_id"])
    _require_organizer(who)
    body = await _body(request, HeaderIn)
    await rt.write(lambda s, ctx: review.set_header(s, ctx, body.model_dump()))
    return JSONResponse({"header": dict(review.review_state(rt.state).header)})


async def recording_file(request: Request) -> Response:
    """GET /api/events/{id}/recordings/{rec}/audio|video: the file, with HTTP Range (a
    player seeks), for whoever may read the minutes; nobody else."""
    from starlette.responses import FileResponse

    from ..domain.media import media_state

    _, rt = await access(request, request.path_params["event_id"])
    rec = media_state(rt.state).recordings.get(request.path_params["recording_id"])
    kind = request.path_params["kind"]
    if rec is None or kind not in ("audio", "video") or (kind == "video" and not rec.video):
        raise NotFound("no such recording")
    base = _forum(request).settings.recordings_dir.resolve()
    path = (base / (rec.file if kind == "audio" else rec.video_file)).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise NotFound("the recording file is not there")
    return FileResponse(path, media_type="audio/ogg" if kind == "audio" else "video/webm",
                        filename=path.name, content_disposition_type="inline",
                        headers={"Cache-Control": "private, no-cache"})


def routes() -> list[Route]:
    base = "/api/events/{event_id}/minutes"
    return [
        Route(f"{base}/versions", versions_endpoint, methods=["GET"]),
        Route(f"{base}/approve", approve_endpoint, methods=["POST"]),
        Route(f"{base}/review", review_state_endpoint, methods=["GET"]),
        Route(f"{base}/comments", comment_endpoint, methods=["POST"]),
        Route(f"{base}/proposals", proposal_endpoint, methods=["POST"]),
        Route(base + "/proposals/{proposal_id}", decide_endpoint, methods=["POST"]),
        Route(f"{base}/answers", answer_endpoint, methods=["POST"]),
        Route(f"{base}/header", header_endpoint, methods=["POST"]),
        Route("/api/events/{event_id}/tables.xlsx", tables_xlsx, methods=["GET"]),
        Route("/api/events/{event_id}/recordings/{recording_id}/{kind}", recording_file,
              methods=["GET"]),
    ]


def _document() -> None:
    """These routes in /openapi.json (openapi.EXTRA_PATHS)."""
    from . import openapi as o

    def body(model_: type[Body]) -> dict[str, Any]:
        return {"required": True,
                "content": {"application/json": {"schema": model_.model_json_schema()}}}

    obj = o._json({"type": "object"}, "done")
    pid = {"name": "proposal_id", "in": "path", "required": True, "schema": o.STR}
    params = [o.EVENT_ID, o.TOKEN_QUERY]
    posts: dict[str, tuple[str, list[dict[str, list[str]]], type[Body], str]] = {
        "approve": ("approve the current minutes as the next version (organizer)",
                    o.ORGANIZER, ApproveIn, "201"),
        "comments": ("comment on an entry (who took part, moderators, organizer)",
                     o.EVENT_TOKEN, CommentIn, "201"),
        "proposals": ("propose a correction of an entry (who took part, moderators, "
                      "organizer)", o.EVENT_TOKEN, ProposalIn, "201"),
        "answers": ("write down the answer to a Q&A question (moderators, organizer)",
                    o.EVENT_TOKEN, AnswerIn, "200"),
        "header": ("organizer, distribution, location of the Protokoll head (organizer)",
                   o.ORGANIZER, HeaderIn, "200"),
    }
    base = "/api/events/{event_id}/minutes"
    for name, (summary, security, model_, ok) in posts.items():
        op = o._op(summary, security, {ok: obj, **o._errors(401, 403, 404, 409, 413, 422)},
                   parameters=params, op_id=f"minutes_{name}")
        op["requestBody"] = body(model_)
        o.EXTRA_PATHS[f"{base}/{name}"] = {"post": op}
    op = o._op("accept or reject a proposed correction (moderators, organizer)",
               o.EVENT_TOKEN, {"200": obj, **o._errors(401, 403, 404, 409, 413, 422)},
               parameters=[*params, pid], op_id="minutes_decide")
    op["requestBody"] = body(DecisionIn)
    o.EXTRA_PATHS[base + "/proposals/{proposal_id}"] = {"post": op}
    o.EXTRA_PATHS[f"{base}/versions"] = {"get": o._op(
        "approved versions and the draft, newest last (any token of this event)",
        o.EVENT_TOKEN, {"200": o._json({"type": "array", "items": {"type": "object"}},
                                       "versions"), **o._errors(401, 404)},
        parameters=params, op_id="minutes_versions")}
    o.EXTRA_PATHS[f"{base}/review"] = {"get": o._op(
        "comments, proposals, versions, answers, header and what the asker may do",
        o.EVENT_TOKEN, {"200": obj, **o._errors(401, 404)}, parameters=params,
        op_id="minutes_review")}
    kind = {"name": "kind", "in": "path", "required": True,
            "schema": {"type": "string", "enum": ["audio", "video"]}}
    rid = {"name": "recording_id", "in": "path", "required": True, "schema": o.STR}
    o.EXTRA_PATHS["/api/events/{event_id}/recordings/{recording_id}/{kind}"] = {"get": o._op(
        "a recording (audio/ogg or video/webm) with HTTP Range (organizer or any token of "
        "this event)", o.EVENT_TOKEN, {"200": o._binary("audio/ogg", "the recording"),
                                       "206": o._binary("audio/ogg", "a byte range"),
                                       **o._errors(401, 404)},
        parameters=[o.EVENT_ID, rid, kind, o.TOKEN_QUERY], op_id="recordingFile")}
    o.EXTRA_PATHS["/api/events/{event_id}/tables.xlsx"] = {"get": o._op(
        "polls and attendance as one workbook (organizer or a moderator token)",
        o.EVENT_TOKEN, {"200": o._binary(XLSX, "xlsx"), **o._errors(401, 404)},
        parameters=[*params, o.LANG_QUERY], op_id="tablesXlsx")}


_document()
