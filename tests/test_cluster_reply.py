"""A command forwarded to its event's owner whose reply does not come back (issue 14):
real nodes, PostgreSQL and Redis (tests/test_cluster.py's cluster). The owner's commit is
held at a row lock the test takes, so "decided but not committed yet" lasts exactly as
long as the test needs; Redis is stopped while the reply would travel."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable

import asyncpg
import httpx
import pytest

from tests.support.live import Client, create_event, join
from tests.support.pg import sql
from tests.support.process import ServerProcess
from tests.support.redis import RedisServer, redis_server  # noqa: F401 - the session's Redis
from tests.test_cluster import Cluster, cluster, journal  # noqa: F401 - the fixture

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

WAIT_S = 120.0  # generous: a loaded CI machine; every wait ends on its condition


async def eventually(check: Callable[[], Awaitable[bool]], what: str,
                     timeout: float = WAIT_S) -> None:
    loop = asyncio.get_running_loop()
    until = loop.time() + timeout
    while not await check():
        if loop.time() > until:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.2)


async def hold_commits(db: str, event_id: str) -> tuple[Any, Any]:
    """The event's owner row locked FOR UPDATE: the owner's next commit of the event waits
    at its fencing read (`... FOR SHARE`), after the command was decided."""
    con = await asyncpg.connect(db)
    tr = con.transaction()
    await tr.start()
    await con.execute("SELECT 1 FROM event_owners WHERE event_id = $1 FOR UPDATE", event_id)
    return con, tr


async def release(held: tuple[Any, Any]) -> None:
    con, tr = held
    try:
        await tr.rollback()
    finally:
        await con.close()


async def commit_waiting(db: str) -> bool:
    rows = await sql(db, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                         "AND query LIKE '%FROM event_owners WHERE event_id = $1 FOR SHARE%'")
    return int(rows[0][0]) > 0


async def reply_to(c: Client, ref: str, timeout: float = WAIT_S) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    until = loop.time() + timeout
    while ref not in c.replies:
        await c.recv(max(0.01, until - loop.time()))
    return c.replies.pop(ref)


async def healthz(node: ServerProcess) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=node.base, timeout=30) as http:
        r = await http.get("/healthz")
        return r.status_code, r.json()


def said(rows: list[Any], text: str) -> list[int]:
    return [r[0] for r in rows
            if r[1] == "chat.message" and json.loads(r[2])["message"]["text"] == text]


async def test_a_reply_lost_with_redis_is_ok_once_and_healthz_reports_redis(
        cluster: Cluster, redis_server: RedisServer) -> None:  # noqa: F811
    # a long lease (the test holds the owner row) and a long forwarding timeout: the ok
    # must come from the owner's receipt in PostgreSQL, not from giving up
    nodes, db = await cluster.start(lease_s=30.0, FORUM_LIMIT_FORWARD_TIMEOUT_S="600")
    n1, n2 = nodes
    try:
        async with n1.http() as h1:
            ev = await create_event(h1)
            anna = await join(h1, ev, "Anna")
        a = await Client.connect(n2, ev["id"], anna["token"])  # n1 owns, n2 forwards
        for node in nodes:
            assert await healthz(node) == (200, {"status": "ok", "redis": "ok"})
        held = await hold_commits(db, ev["id"])
        try:
            await a.ws.send(json.dumps({"type": "chat.send", "ref": "lost",
                                        "room": ev["plenary_room"], "text": "nur einmal"}))
            await eventually(lambda: commit_waiting(db), "the owner's commit waits")
            redis_server.stop()  # the reply has no way back from here on
        finally:
            await release(held)
        try:
            reply = await reply_to(a, "lost")
            assert reply["type"] == "ok", reply
            rows = await journal(db, ev["id"])
            assert said(rows, "nur einmal") == [reply["seq"]]
            # (the owner did try to answer, into the stopped Redis)
            async def reply_lost() -> bool:
                return "reply to n2 lost" in n1.output()
            await eventually(reply_lost, "the owner's reply was lost")
            for node in nodes:  # Redis down is reported, and no node leaves the proxy
                async def down(node: ServerProcess = node) -> bool:
                    return await healthz(node) == (200, {"status": "ok", "redis": "down"})
                await eventually(down, f"{node.port} reports Redis down")
        finally:
            redis_server.start()
        for node in nodes:
            async def up(node: ServerProcess = node) -> bool:
                return await healthz(node) == (200, {"status": "ok", "redis": "ok"})
            await eventually(up, f"{node.port} reports Redis ok")
        await a.request("ping", timeout=WAIT_S)
        assert "lost" not in a.replies  # one answer, not a second one later
        assert [e["seq"] for e in a.of("chat.message")
                if e["message"]["text"] == "nur einmal"] == [reply["seq"]]
        assert said(await journal(db, ev["id"]), "nur einmal") == [reply["seq"]]
        await a.close()
    finally:
        if redis_server.proc is None or redis_server.proc.poll() is not None:
            redis_server.start()


async def test_a_command_given_up_on_is_unavailable_and_never_applied_later(
        cluster: Cluster) -> None:  # noqa: F811
    nodes, db = await cluster.start(lease_s=30.0)
    n1, n2 = nodes
    async with n1.http() as h1:
        ev = await create_event(h1)
        anna = await join(h1, ev, "Anna")
    a = await Client.connect(n2, ev["id"], anna["token"])
    room = ev["plenary_room"]
    held = await hold_commits(db, ev["id"])
    try:
        await a.ws.send(json.dumps({"type": "chat.send", "ref": "late", "room": room,
                                    "text": "zu spät"}))
        await eventually(lambda: commit_waiting(db), "the owner's commit waits")
        # the owner decided it, its commit waits; the follower's wait runs out (8 s)
        reply = await reply_to(a, "late")
        assert reply["type"] == "error" and reply["code"] == "unavailable", reply
    finally:
        await release(held)  # now the owner's commit of it goes on, and is refused
    # the person tries again, as told: applied once, the first attempt never
    loop = asyncio.get_running_loop()
    until = loop.time() + WAIT_S
    while True:
        again = await a.request("chat.send", timeout=WAIT_S, room=room, text="zu spät")
        if again["type"] == "ok" or loop.time() > until:
            break
        assert again["code"] == "unavailable", again  # (the owner re-reads its journal)
        await asyncio.sleep(0.5)
    assert again["type"] == "ok", again
    await a.request("ping", timeout=WAIT_S)
    assert "late" not in a.replies
    rows = await journal(db, ev["id"])
    assert said(rows, "zu spät") == [again["seq"]]
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert [e["seq"] for e in a.of("chat.message")] == [again["seq"]]
    await a.close()
