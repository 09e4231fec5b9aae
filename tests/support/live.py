"""A real uvicorn server on a free loopback port, in the test's own event loop, plus a
small socket client. Shared by the socket, API and browser tests and the benchmarks."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import websockets

from forum_live.app import create_app
from forum_live.config import Settings
from forum_live.transport.ws import keep_server_send

ORGANIZER = "test-organizer-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OnLoopback:
    """The addresses of a server on 127.0.0.1 at `self.port`, and an HTTP client for it."""

    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def http(self) -> httpx.AsyncClient:
        # a deadline, not a speed: 500 joins at once wait for the pool on a loaded CI
        return httpx.AsyncClient(base_url=self.base, timeout=60)


@dataclass
class LiveServer(OnLoopback):
    settings: Settings
    server: uvicorn.Server
    task: asyncio.Task[None]
    app: Any

    @property
    def port(self) -> int:  # type: ignore[override]
        return self.settings.port

    @property
    def forum(self):  # type: ignore[no-untyped-def]
        return self.app.state.forum

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 15)


async def start_server(data_dir: Path, *, database_url: str | None = None,
                       **limits: Any) -> LiveServer:
    """With `database_url` (postgresql://...) the journal is in PostgreSQL (issue 14)."""
    settings = Settings(port=free_port(), data_dir=data_dir, recordings_dir=data_dir / "rec",
                        organizer_token=ORGANIZER, synchronous="NORMAL",
                        database_url=database_url)
    # tests join hundreds of people from 127.0.0.1: the per-IP join limit is raised here
    settings = settings.with_limits(**{"presence_grace_s": 0, "join_rate": 1e6,
                                       "join_burst": 1_000_000, **limits})
    app = create_app(settings)
    # as run.py: uvicorn's websockets-sansio protocol, its own send kept for the fast path
    config = uvicorn.Config(keep_server_send(app), host="127.0.0.1", port=settings.port,
                            log_level="warning", ws="websockets-sansio",
                            ws_max_size=max(4 * settings.limits.frame_max, 1 << 20),
                            ws_per_message_deflate=False, lifespan="on",
                            ws_ping_interval=settings.limits.ws_ping_interval_s,
                            ws_ping_timeout=settings.limits.ws_ping_timeout_s)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    return LiveServer(settings, server, task, app)


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {ORGANIZER}"}


DEMO_TOPICS = [{"title": "Arbeiten 4.0: Wie wollen wir morgen arbeiten?"},
               {"title": "Geodaten im ländlichen Raum"},
               {"title": "Smart Mobility im ländlichen Raum"}]


async def create_event(http: httpx.AsyncClient, title: str = "Diskussionsforum",
                       topics: list[dict[str, str]] | None = None) -> dict[str, Any]:
    r = await http.post("/api/events", headers=auth(),
                        json={"title": title, "topics": DEMO_TOPICS if topics is None else topics})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def new_event(server: LiveServer, title: str = "Diskussionsforum",
                    topics: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """create_event() on an HTTP client of its own."""
    async with server.http() as http:
        return await create_event(http, title, topics)


async def join(http: httpx.AsyncClient, event: dict[str, Any], name: str,
               moderator: bool = False, organization: str | None = None) -> dict[str, Any]:
    key = event["moderator_key"] if moderator else event["participant_key"]
    r = await http.post(f"/api/events/{event['id']}/join",
                        json={"name": name, "key": key, "organization": organization})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


_refs = itertools.count(1)


@dataclass
class Client:
    """A websockets client that keeps every event it saw, in order."""

    ws: Any
    events: list[dict[str, Any]] = field(default_factory=list)
    replies: dict[Any, dict[str, Any]] = field(default_factory=dict)
    ready: dict[str, Any] | None = None
    last_seq: int = 0

    @classmethod
    async def connect(cls, server: LiveServer, event_id: str, token: str,
                      resume_from: int | None = None, **kw: Any) -> "Client":
        ws = await websockets.connect(f"{server.ws_base}/ws/events/{event_id}",
                                      max_size=None, **kw)
        c = cls(ws)
        hello: dict[str, Any] = {"type": "hello", "token": token}
        if resume_from is not None:
            hello["resume_from"] = resume_from
        await ws.send(json.dumps(hello))
        while c.ready is None:
            frame = await c.recv()
            if frame["type"] == "error":
                raise PermissionError(frame)
        return c

    async def recv(self, timeout: float = 30.0) -> dict[str, Any]:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        t = frame["type"]
        if t == "ready":
            self.ready = frame
            self.last_seq = frame["seq"]
        elif t in ("ok", "error") and "seq" not in frame or t in ("ok", "error") and frame.get("ref") is not None:
            self.replies[frame.get("ref")] = frame
        else:
            assert frame["seq"] > self.last_seq, f"seq went back: {frame} after {self.last_seq}"
            self.last_seq = frame["seq"]
            self.events.append(frame)
        return frame

    async def request(self, type_: str, timeout: float = 30.0, **body: Any) -> dict[str, Any]:
        """Send a frame with a fresh ref and wait for its reply (collecting events meanwhile)."""
        ref = next(_refs)
        await self.ws.send(json.dumps({"type": type_, "ref": ref, **body}))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while ref not in self.replies:
            await self.recv(max(0.01, deadline - loop.time()))
        return self.replies.pop(ref)

    async def requests(self, *frames: dict[str, Any], timeout: float = 30.0
                       ) -> list[dict[str, Any]]:
        """Send several frames at once, then wait for all their replies (in send order)."""
        refs = []
        for frame in frames:
            ref = next(_refs)
            refs.append(ref)
            await self.ws.send(json.dumps({**frame, "ref": ref}))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not all(r in self.replies for r in refs):
            await self.recv(max(0.01, deadline - loop.time()))
        return [self.replies.pop(r) for r in refs]

    async def wait_for(self, pred: Any, timeout: float = 30.0) -> dict[str, Any]:
        """The first event (already seen or coming) for which pred(event) is true."""
        for e in self.events:
            if pred(e):
                return e
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - loop.time()))
            if frame.get("seq") and frame["type"] not in ("ready",) and pred(frame):
                return frame

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    async def close(self) -> None:
        await self.ws.close()


async def connected(server: LiveServer, event: dict[str, Any],
                    *people: dict[str, Any]) -> list[Client]:
    """A socket of each of `people` (join answers) in the event, in that order."""
    return [await Client.connect(server, event["id"], p["token"]) for p in people]


async def moderator_in(server: LiveServer, http: httpx.AsyncClient, event: dict[str, Any],
                       name: str = "M") -> Client:
    """A moderator joined to `event` as `name`, with a socket open."""
    return (await connected(server, event, await join(http, event, name, moderator=True)))[0]


async def crowd(server: LiveServer, names: list[str], moderators: set[str],
                topics: list[dict[str, str]] | None = None
                ) -> tuple[dict[str, Any], list[dict[str, Any]], list[Client]]:
    """A new event with `names` joined (those in `moderators` as moderators) and a socket
    of each, in that order: the event, the join answers, the clients."""
    async with server.http() as http:
        event = await create_event(http, topics=topics)
        people = [await join(http, event, n, moderator=n in moderators) for n in names]
    return event, people, await connected(server, event, *people)
