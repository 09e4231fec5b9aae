"""HTTP writes of an event on a node that does not own it (issue 14).

The review page, ending an event, slides and the other organizer and moderator actions
decide through the event's runtime; on a follower node that would answer `unavailable`.
This ASGI middleware sends such a request (method, path, headers, body, client address) to
the owner over the cluster's Redis forwarding; the owner runs it through its own app as if
it had arrived there, and the answer comes back as it is. Before answering, the follower
waits until its own fold has what the owner committed, so a read on this node right after
sees the change. Reads (GET, HEAD) are answered from the follower's fold, as are the
WebSocket and the event's erasure (DELETE /api/events/ID: a store operation every node
can do; the others notice within a lease round).
"""

from __future__ import annotations

import asyncio
import base64
import math
import re
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.errors import DomainError, RateLimited
from ..transport.errors import error_body, error_response
from .follower import FollowerRuntime

if TYPE_CHECKING:
    from .node import Cluster

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EVENT_PATH = re.compile(r"^/api/events/([^/]+)/(.+)$")
HTTP_TIMEOUT_S = 60.0  # a forwarded slides upload renders its pages before it answers
LOCAL = frozenset({"join"})  # Forum.join asks the owner itself (FollowerRuntime.register)


class ForwardWrites:
    def __init__(self, app: ASGIApp, cluster: "Cluster") -> None:
        self.app = app
        self.cluster = cluster

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        m = EVENT_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if m is not None and m.group(2) == "join" and scope["method"] == "POST":
            client = scope.get("client")
            wait = await self.cluster.join_wait(client[0] if client else "?")
            if wait > 0:  # the limit per address holds across nodes
                response = error_response(429, RateLimited.code, (
                    "too many joins from this address; try again shortly"))
                response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                await response(scope, receive, send)
                return
        if m is None or scope["method"] not in WRITES or m.group(2) in LOCAL:
            await self.app(scope, receive, send)
            return
        forum = self.cluster.forum
        try:
            rt = await forum.runtime(m.group(1))
        except Exception:  # no such event (404) and the like: the app answers as usual
            rt = None
        if not isinstance(rt, FollowerRuntime):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        request = {
            "op": "http", "method": scope["method"], "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")]
                        for k, v in scope.get("headers", [])],
            "client": list(scope["client"]) if scope.get("client") else None,
            "body": base64.b64encode(body).decode("ascii"),
        }
        try:
            reply = await self.cluster.call(rt.id, request, timeout=HTTP_TIMEOUT_S)
            await rt.caught_up(int(reply.get("seq") or 0))
        except DomainError as e:
            await error_body(e)(scope, receive, send)
            return
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply["headers"]]
        await send({"type": "http.response.start", "status": int(reply["status"]),
                    "headers": headers})
        await send({"type": "http.response.body", "body": base64.b64decode(reply["body"])})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def run_here(app: ASGIApp, req: dict[str, Any]) -> dict[str, Any]:
    """The owner's side: a forwarded request through this node's app; its answer."""
    body = base64.b64decode(req["body"])
    scope: Scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": req["method"], "scheme": "http", "path": req["path"],
        "raw_path": req["path"].encode(), "query_string": req["query"].encode("latin-1"),
        "root_path": "", "headers": [(k.encode("latin-1"), v.encode("latin-1"))
                                     for k, v in req["headers"]],
        "client": tuple(req["client"]) if req.get("client") else None,
        "server": None, "extensions": {},
    }
    sent = False
    done = asyncio.Event()

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    status, headers, parts = 500, [], []

    async def send(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = [[k.decode("latin-1"), v.decode("latin-1")]
                       for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    try:
        await app(scope, receive, send)
    finally:
        done.set()
    return {"status": status, "headers": headers,
            "body": base64.b64encode(b"".join(parts)).decode("ascii")}
