"""The socket loop of /ws/events/{id}: hello, catch-up, then one command at a time."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable
from urllib.parse import urlsplit


from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..domain.commands import Command, Hello, Ping, StateSync
from ..domain.reactions import ReactionSend
from ..domain.errors import Forbidden, Invalid, NotFound, RateLimited, Unauthorized

from .. import closecodes
from ..closecodes import UNAUTHORIZED as CLOSE_UNAUTHORIZED
from ..hub import Connection
from ..domain.features import handler
from ..protocol import error_frame, ok_frame, parse_frame
from .errors import as_domain_error

if TYPE_CHECKING:
    from ..forum import Forum

log = logging.getLogger(__name__)

CLOSE_TOO_MANY = closecodes.TOO_MANY


CLOSE_NOT_FOUND = closecodes.NOT_FOUND
CLOSE_HELLO_TIMEOUT = closecodes.NO_HELLO


def _origin_tuple(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin or base URL, the port made explicit."""
    try:
        u = urlsplit(url.strip())
        port = u.port
    except ValueError:
        return None
    scheme = u.scheme.lower()
    if scheme not in ("http", "https") or not u.hostname:
        return None
    return scheme, u.hostname.lower(), port or (443 if scheme == "https" else 80)


def origin_allowed(ws: WebSocket) -> bool:
    """Browsers send Origin; it must be this server, compared by scheme, host and port:
    the address the socket was opened on, or FORUM_PUBLIC_URL. Non-browser clients send
    none."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    theirs = _origin_tuple(origin)
    if theirs is None:  # "null", garbage, a path or a user part: refused
        return False
    scheme = "https" if ws.url.scheme in ("wss", "https") else "http"
    allowed = {_origin_tuple(f"{scheme}://{ws.headers.get('host', '')}")}
    public = ws.app.state.settings.public_url
    if public:
        allowed.add(_origin_tuple(public))
    return theirs in allowed and origin.strip().rstrip("/").count("/") == 2



async def _receive_text(ws: WebSocket) -> str | bytes | None:
    msg = await ws.receive()
    if msg["type"] == "websocket.disconnect":
        return None
    return msg.get("text") if msg.get("text") is not None else msg.get("bytes") or b""


SERVER_SEND = "forum_live.server_send"  # scope key: the ASGI server's own `send`


def keep_server_send(app: ASGIApp) -> ASGIApp:
    """The outermost ASGI layer (run.py, tests/support/live.py): a WebSocket's scope
    carries the server's own `send`, before any middleware wrapped it, for
    `frame_writer`. Everything else passes through untouched."""
    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[SERVER_SEND] = send
        await app(scope, receive, send)
    return wrapper


def frame_writer(server_send: Any) -> Callable[[list[str]], bool] | None:
    """Several text frames in one write to the socket, when the server is uvicorn's
    websockets-sansio protocol (run.py's choice): `server_send` is its bound `send`.
    The frames are framed by that protocol's own websockets connection exactly as its
    `send` does, one after another, and leave in one `transport.write` (one syscall per
    socket for all entries of a group commit, where each `send` is one syscall). Returns
    False, writing nothing, whenever `send` itself would wait or fail (the transport's
    buffer above its high-water mark, closing, closed): then the frames go through the
    connection's bounded queue and writer task as before. None for any other server."""
    proto: Any = getattr(server_send, "__self__", None)
    if type(proto).__name__ != "WebSocketsSansIOProtocol" or not all(
            hasattr(proto, a) for a in ("conn", "transport", "writable", "disconnected",
                                        "close_sent", "initial_response")):
        return None
    conn, transport, writable = proto.conn, proto.transport, proto.writable

    def write(frames: list[str]) -> bool:
        if (not writable.is_set() or proto.disconnected or proto.close_sent
                or proto.initial_response is not None or transport.is_closing()):
            return False
        for frame in frames:
            conn.send_text(frame.encode())
        transport.write(b"".join(conn.data_to_send()))
        return True
    return write


class SocketEndpoint:
    """The ASGI app of /ws/events/{id}: Starlette's WebSocket for the handshake and the
    reads, the plain ASGI `send` for the fan-out hot path (a frame is one call, without
    the wrappers, which showed up in the fan-out profile) and, with uvicorn's
    websockets-sansio protocol, `frame_writer` (the frames of one group commit in one
    write per socket)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await websocket_endpoint(WebSocket(scope, receive, send), send,
                                 frame_writer(scope.get(SERVER_SEND)))


async def websocket_endpoint(ws: WebSocket, raw_send: Send | None = None,
                             write_frames: Callable[[list[str]], bool] | None = None) -> None:
    forum: Forum = ws.app.state.forum
    limits = forum.settings.limits
    event_id = ws.path_params["event_id"]
    if not origin_allowed(ws):
        await ws.close(code=CLOSE_UNAUTHORIZED, reason="origin not allowed")
        return
    if forum.closing:
        await ws.close(code=1001, reason="server shutting down")
        return
    await ws.accept()
    try:
        try:
            raw = await asyncio.wait_for(_receive_text(ws), limits.hello_timeout_s)
        except asyncio.TimeoutError:
            await ws.send_text(error_frame(None, Unauthorized("say hello first")))
            await ws.close(code=CLOSE_HELLO_TIMEOUT, reason="no hello")
            return
        if raw is None:
            return
        cmd, ref, err = parse_frame(raw, limits.frame_max, forum.features.commands)
        if err is None and not isinstance(cmd, Hello):
            err = Unauthorized("the first frame must be hello with a token")
        elif err is not None:  # a hello without a usable token is a bad token (contract §4)
            err = Unauthorized(err.message)
        claims = (await forum.verify_token(cmd.token, event_id)
                  if isinstance(cmd, Hello) else None)

        try:
            rt = await forum.runtime(event_id)
        except NotFound as e:
            await ws.send_text(error_frame(ref, e))
            await ws.close(code=CLOSE_NOT_FOUND, reason="no such event")
            return
        if err is None and (claims is None or claims.participant not in rt.state.participants):
            err = Unauthorized("invalid or expired token")
        if err is None and claims is not None:
            standing = rt.state.participants[claims.participant].standing.value
            if standing in ("declined", "removed"):
                err = Unauthorized(f"you were {standing}: this link no longer lets you in")
        if err is not None or not isinstance(cmd, Hello) or claims is None:
            await ws.send_text(error_frame(ref, err or Unauthorized("unauthorized")))
            await ws.close(code=CLOSE_UNAUTHORIZED, reason="unauthorized")
            return
        if rt.hub.count(claims.participant) >= limits.sockets_per_participant:
            await ws.send_text(error_frame(ref, RateLimited(
                f"at most {limits.sockets_per_participant} open sockets (tabs) per person: "
                "close another tab of this event")))
            await ws.close(code=CLOSE_TOO_MANY, reason="too many sockets")
            return
        await _serve(ws, forum, rt, claims.participant, cmd.resume_from, raw_send,
                     write_frames)

    except WebSocketDisconnect:
        return


async def _serve(ws: WebSocket, forum: "Forum", rt, pid: str, resume_from: int | None,  # type: ignore[no-untyped-def]
                 raw_send: Send | None = None,
                 write_frames: Callable[[list[str]], bool] | None = None) -> None:
    limits = forum.settings.limits

    send_text: Callable[[str], Awaitable[None]] = ws.send_text
    if raw_send is not None:
        async def raw_text(text: str) -> None:
            await raw_send({"type": "websocket.send", "text": text})
        send_text = raw_text

    async def close(code: int, reason: str) -> None:
        await ws.close(code=code, reason=reason)

    conn = Connection(pid, send_text, close, limits.outbound_queue, limits.send_timeout_s)
    conn.write_frames = write_frames
    conn.reader = asyncio.current_task()
    conn.start()
    try:
        await rt.attach(conn, resume_from)
        while not conn.closed.is_set():
            raw = await _receive_text(ws)
            if raw is None:
                break
            conn.push(await handle_frame(rt, conn, raw, limits.frame_max))
    except asyncio.CancelledError:
        # The hub cut this connection off (too slow, removed, shutting down): it may never
        # send again, so kill() stopped this read. Any other cancellation goes on.
        task = asyncio.current_task()
        if conn.close_code is None or task is None or task.cancelling() > 1:
            raise
        task.uncancel()
    except WebSocketDisconnect:
        pass
    finally:
        await rt.detach(conn)


# Commands that are not journal decisions (queries, media signaling) are answered by a
# handler: (runtime, connection, command) -> the fields of the ok reply. DomainErrors
# raised there become error frames like any other.
Handler = Callable[[Any, Connection, Command], Awaitable[dict[str, Any]]]
QUERIES: tuple[type[Command], ...] = (Ping, StateSync)  # the only frames a waiting guest may send
register_handler = handler  # declared here, collected per app (domain/features.py)


@register_handler(Ping)
async def _ping(rt: Any, conn: Connection, cmd: Command) -> dict[str, Any]:
    return {"seq": rt.committed_seq}


@register_handler(StateSync)
async def _sync(rt: Any, conn: Connection, cmd: Command) -> dict[str, Any]:
    seq, state = await rt.snapshot(conn.pid)
    return {"seq": seq, "state": state}


@register_handler(ReactionSend)
async def _react(rt: Any, conn: Connection, cmd: Command) -> dict[str, Any]:
    assert isinstance(cmd, ReactionSend)
    return {"seq": await rt.react(conn.pid, cmd.kind)}


async def handle_frame(rt, conn: Connection, raw: str | bytes, frame_max: int) -> str:  # type: ignore[no-untyped-def]
    """One client frame in, the reply frame out (events go out through the hub)."""
    cmd, ref, err = parse_frame(raw, frame_max, rt.state.features.commands)
    if err is not None or cmd is None:
        return error_frame(ref, err or Invalid("invalid frame"))
    if isinstance(cmd, Hello):
        return error_frame(ref, Invalid("type: already said hello"))
    try:
        answer = rt.state.features.handlers.get(type(cmd))
        if answer is not None:
            if type(cmd) not in QUERIES and not rt.state.participants[conn.pid].admitted:
                # handlers bypass decide(): the waiting room's rule holds here too
                raise Forbidden("you are waiting for a moderator to let you in")
            return ok_frame(ref, **await answer(rt, conn, cmd))
        entries = await rt.submit(conn.pid, cmd)
    except Exception as e:  # the one mapping: domain errors, unavailable, internal
        return error_frame(ref, as_domain_error(e, f"command {cmd.type}"))
    result: dict[str, object] = {"seq": entries[-1].seq if entries else rt.committed_seq}
    if entries and entries[0].kind == "chat.message":
        result["message"] = entries[0].data["message"]["id"]
    return ok_frame(ref, **result)
