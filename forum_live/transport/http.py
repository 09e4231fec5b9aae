"""The organizer API (contract §2), joining (§3) and the browser pages."""

from __future__ import annotations

import asyncio
import json
import math
import time
from urllib.parse import quote, urlencode
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..domain.commands import EventIn, JoinIn
from ..domain.errors import Invalid, NotFound, RateLimited, TooLarge, Unauthorized
from ..domain.limits import TokenBucket
from ..domain.views import event_summary
from ..protocol import describe, unstorable
from ..domain.series import series_id
from . import minutes_http, openapi, organizer_http, privacy
from .errors import error_response
from .i18n import catalog, choose_language, page

if TYPE_CHECKING:
    from ..forum import Forum

M = TypeVar("M", bound=BaseModel)


def forum_of(request: Request) -> "Forum":
    return request.app.state.forum  # type: ignore[no-any-return]


async def read_body(request: Request, model: type[M]) -> M:
    """Parse a JSON body into `model`: 413 when too big, 422 naming the field when malformed."""
    limit = forum_of(request).settings.limits.body_max
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body: at most {limit} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"body: at most {limit} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: deep nesting
        raise Invalid("body: not valid JSON") from None
    if not isinstance(data, dict):
        raise Invalid("body: must be a JSON object")
    problem = unstorable(data)
    if problem:
        raise Invalid(problem)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise Invalid(describe(e)) from None


def require_organizer(request: Request) -> None:
    if not forum_of(request).auth.is_organizer(request.headers.get("authorization")):
        raise Unauthorized("organizer token missing or wrong")


async def create_event(request: Request) -> Response:
    require_organizer(request)
    body = await read_body(request, EventIn)
    forum = forum_of(request)
    prev = None
    if body.follows:  # the next forum of a series (§8): organizer_http does the series
        prev = (await organizer_http.previous(forum, body.follows)).state
        body = organizer_http.inherit(body, prev)
    rt = await forum.create_event(body)
    carried = await organizer_http.carry(rt, prev) if prev is not None else None
    row = await forum.store.event_row(rt.id)
    assert row is not None
    s = rt.state
    return JSONResponse({
        "id": rt.id, **forum.links(row),
        "participant_key": row["participant_key"], "moderator_key": row["moderator_key"],
        "plenary_room": s.plenary_room, "title": s.title,
        "topics": [t.public() for t in s.topics.values()],
        "series_id": series_id(s), "carried": carried or {"actions": 0, "questions": 0},
    }, status_code=201)


async def list_events(request: Request) -> Response:
    require_organizer(request)
    forum = forum_of(request)
    rows = await forum.store.list_events()
    return JSONResponse([{"id": r["id"], "title": r["title"], "created_at": r["created_at"],
                          "status": r["status"], **forum.links(r)} for r in rows])


async def get_event(request: Request) -> Response:
    require_organizer(request)
    forum = forum_of(request)
    event_id = request.path_params["event_id"]
    rt = await forum.runtime(event_id)
    row = await forum.store.event_row(event_id)
    assert row is not None
    return JSONResponse({**event_summary(rt.state), **forum.links(row)})


def download(body: str | bytes, media_type: str, filename: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


JOIN_BUCKETS_MAX = 10000  # client addresses remembered; the full (idle) ones go first


def client_ip(request: Request) -> str:
    """The client's address. Behind a reverse proxy the server (run.py: uvicorn's proxy
    headers) takes it from X-Forwarded-For only when the peer is in FORUM_TRUSTED_PROXIES."""
    return request.client.host if request.client else "?"


def _join_wait(request: Request) -> float:
    """Joins per client IP: a token bucket (`join_rate`/`join_burst`). 0 when this join
    may go ahead, else the seconds until the bucket holds a token again."""
    limits = forum_of(request).settings.limits
    buckets: dict[str, TokenBucket] | None = getattr(request.app.state, "join_buckets", None)
    if buckets is None:
        buckets = request.app.state.join_buckets = {}
    ip = client_ip(request)
    now = time.monotonic()
    bucket = buckets.get(ip)
    if bucket is None:
        if len(buckets) >= JOIN_BUCKETS_MAX:  # forget addresses whose bucket refilled
            for key in [k for k, b in buckets.items()
                        if b.tokens + (now - b.stamp) * b.rate >= b.burst]:
                del buckets[key]
        bucket = buckets[ip] = TokenBucket(limits.join_rate, limits.join_burst)
    if bucket.take(now):
        return 0.0
    return max(0.0, (1.0 - bucket.tokens) / bucket.rate) if bucket.rate > 0 else 60.0


async def join_event(request: Request) -> Response:
    forum = forum_of(request)
    event_id = request.path_params["event_id"]
    wait = _join_wait(request)
    if wait:
        # Many people behind one address (an office) are told when to come back; the
        # join page waits that long (plus a little jitter) and tries again by itself.
        limits = forum.settings.limits
        response = error_response(429, RateLimited.code, (
            f"too many joins from this address: at most {limits.join_rate:g} a second; "
            "try again shortly"))
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    body = await read_body(request, JoinIn)
    token, participant = await forum.join(event_id, body)  # 403 for a wrong key or event
    return JSONResponse({"token": token, "participant": participant},
                        headers=minutes_http.NO_STORE)


TOKEN_COOKIE = "forum_token"


async def _cookie_paths(forum: "Forum", event_id: str, series: bool = True) -> list[str]:
    """Where the event's cookie goes: its review page and downloads, and the page and
    downloads of its series (`/series/{id}`), which any admitted participant of one of
    the series' forums may read."""
    paths = [f"/events/{quote(event_id, safe='')}", f"/api/events/{quote(event_id, safe='')}"]
    sid = None
    if series and len(event_id) <= 64:
        try:
            sid = series_id((await forum.runtime(event_id)).state)
        except NotFound:
            pass
    if sid:
        paths += [f"/series/{quote(sid, safe='')}", f"/api/series/{quote(sid, safe='')}"]
    return paths


async def open_session(request: Request) -> Response:
    """Exchange a bearer token (header) for an HttpOnly, SameSite=Strict cookie scoped to
    this event's pages and downloads and those of its series, so review, series and
    download links carry no token in their URL (contract §9)."""
    event_id = request.path_params["event_id"]
    forum = forum_of(request)
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    # any valid token of this event (a guest in the waiting room too: what the cookie
    # opens is decided when it is used)
    if not forum.auth.is_organizer(header) and await forum.verify_token(token,
                                                                        event_id) is None:
        raise Unauthorized("send a token of this event as Authorization: Bearer <token>")
    response = Response(status_code=204, headers=minutes_http.NO_STORE)
    for path in await _cookie_paths(forum, event_id):
        response.set_cookie(TOKEN_COOKIE, token, path=path, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
    return response


async def close_session(request: Request) -> Response:
    """Forget the cookies of `open_session` (the "not me" button)."""
    response = Response(status_code=204, headers=minutes_http.NO_STORE)
    # the forum's series is looked up only for someone who holds its cookie
    held = bool(request.cookies.get(TOKEN_COOKIE))
    for path in await _cookie_paths(forum_of(request), request.path_params["event_id"], held):
        response.delete_cookie(TOKEN_COOKIE, path=path, httponly=True, samesite="strict",
                               secure=request.url.scheme == "https")
    return response


async def revoke_tokens(request: Request) -> Response:
    """Organizer: new invite keys, every token of the event ends, its sockets close."""
    require_organizer(request)
    forum = forum_of(request)
    out = await forum.revoke_tokens(request.path_params["event_id"])
    return JSONResponse(out, headers=minutes_http.NO_STORE)


async def healthz(request: Request) -> Response:
    """200 ok while writes are durable; 503 degraded from a failed commit until a write
    succeeds again (a probe write here finds out, so recovery needs no traffic).

    A cluster node also says whether Redis answers (`"redis": "ok"` or `"down"`, from a
    probe of its own every second, so this never waits for Redis). Redis down does not
    make it 503: Redis is one for all nodes, so a 503 would take every node out of the
    proxy at once, while each node still serves the events it owns (their commits go to
    PostgreSQL; behind the hashing proxy their clients are on that node) and followers
    read the journal instead of the streams. Only forwarding between nodes stops
    (`unavailable`), so `"redis": "down"` is for the operator's alerting, not for the
    proxy's health check."""
    store = forum_of(request).store
    cluster = getattr(request.app.state, "cluster", None)
    extra = {} if cluster is None else {"redis": "down" if cluster.redis_error else "ok"}
    if not store.healthy:
        try:
            await asyncio.wait_for(store.probe(), 5)
        except Exception:  # noqa: BLE001 - any failure of the probe is "still degraded"
            pass
    if store.healthy:
        return JSONResponse({"status": "ok", **extra})
    return JSONResponse({"status": "degraded", "writes": "failing",
                         "reason": getattr(store, "last_error", None) or "writes fail",
                         **extra}, status_code=503, headers={"Retry-After": "5"})


# -- pages ------------------------------------------------------------------------------
async def index_page(request: Request) -> Response:
    return page(request, "index.html")


async def organizer_page(request: Request) -> Response:
    return page(request, "organizer.html")


async def event_page(request: Request) -> Response:
    """The same page for every id: the key travels in the fragment, so the server cannot
    tell a wrong key, and an unknown event must not look different (no probing of ids).
    An old link `/e/{id}?key=...` is sent on to the fragment form."""
    event_id = request.path_params["event_id"]
    key = request.query_params.get("key")
    if key is not None:
        rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "key"])
        target = (f"/e/{quote(event_id, safe='')}{'?' + rest if rest else ''}"
                  f"#key={quote(key, safe='')}")
        return RedirectResponse(target, status_code=303, headers=minutes_http.NO_STORE)
    # no title from the event row: it would tell a real id from an unknown one; the page
    # shows the forum's title once the person is in
    title = catalog(request.app.state.web_dir, choose_language(request)).get("join_title", "")
    return page(request, "event.html", extra={"event_id": event_id, "event_title": title})


def routes() -> list[Any]:
    from .. import slides  # impulse slides (§10); imported here: it uses minutes_http
    return [
        Route("/healthz", healthz),
        Route("/openapi.json", openapi.openapi_endpoint),
        Route("/api/events", create_event, methods=["POST"]),
        Route("/api/events", list_events, methods=["GET"]),
        Route("/api/events/{event_id}", get_event, methods=["GET"]),
        *organizer_http.routes(),  # desk, series, edit before start, run of show (issue 17)
        Route("/api/events/{event_id}/join", join_event, methods=["POST"]),
        Route("/api/events/{event_id}/session", open_session, methods=["POST"]),
        Route("/api/events/{event_id}/session", close_session, methods=["DELETE"]),
        Route("/api/events/{event_id}/revoke", revoke_tokens, methods=["POST"]),
        Route("/api/events/{event_id}/end", minutes_http.end_event, methods=["POST"]),
        # GDPR: erase an event, export one participant's data (organizer)
        Route("/api/events/{event_id}", privacy.delete_event, methods=["DELETE"]),
        Route("/api/events/{event_id}/participants/{participant_id}/export",
              privacy.export_participant),
        # polls.csv, attendance.csv: organizer or moderator; the minutes: anyone who took part
        Route("/api/events/{event_id}/polls.csv", minutes_http.polls_csv),
        Route("/api/events/{event_id}/attendance.csv", minutes_http.attendance_csv),
        Route("/api/events/{event_id}/minutes.{fmt}", minutes_http.minutes_download),
        *minutes_http.routes(),  # review and approval (§7), tables.xlsx
        *slides.routes(),
        Route("/events/{event_id}/review", minutes_http.review_page),
        Route("/", index_page),
        Route("/organizer", organizer_page),
        Route("/e/{event_id}", event_page),
    ]
