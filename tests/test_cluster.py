"""Several run.py processes on one PostgreSQL and one Redis (issue 14, contract §6): real
servers as subprocesses, clients on different nodes of the same event."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.support.live import Client, create_event, join
from tests.support.pg import PgServer
from tests.support.process import ServerProcess, spawn
from tests.support.redis import RedisServer, redis_server  # noqa: F401 - the session's Redis

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


async def start_cluster(tmp_path: Path, postgres: PgServer, redis: RedisServer, n: int = 2,
                        lease_s: float = 4.0) -> tuple[list[ServerProcess], str]:
    """n nodes with the same database and Redis (and the same token-signing key); node 1
    starts first, so it owns the events created through it."""
    db, rurl = postgres.new_database(), redis.new_url()
    key = secrets.token_urlsafe(48)
    nodes = []
    for i in range(1, n + 1):
        data = tmp_path / f"n{i}"
        data.mkdir(parents=True)
        (data / "secret_key").write_text(key + "\n")
        nodes.append(await spawn(data, "--database-url", db, "--redis-url", rurl,
                                 "--node-id", f"n{i}", "--log-level", os.environ.get("CLUSTER_LOG", "warning"), env={
                                     "FORUM_MEDIA_ENABLED": "0",
                                     "FORUM_LIMIT_OWNER_LEASE_S": str(lease_s)}))
    return nodes, db


def stop(nodes: list[ServerProcess]) -> None:
    for node in nodes:
        if node.proc.poll() is None:
            os.kill(node.proc.pid, signal.SIGCONT)
            node.proc.kill()
            node.proc.wait(10)


async def sql(url: str, query: str, *args: Any) -> list[Any]:
    con = await asyncpg.connect(url)
    try:
        return list(await con.fetch(query, *args))
    finally:
        await con.close()


async def journal(url: str, event_id: str) -> list[Any]:
    return await sql(url, "SELECT seq, kind, data FROM journal WHERE event_id = $1 ORDER BY seq",
                     event_id)


async def owner(url: str, event_id: str) -> tuple[str, int] | None:
    rows = await sql(url, "SELECT node, epoch FROM event_owners WHERE event_id = $1", event_id)
    return (rows[0][0], int(rows[0][1])) if rows else None


def chats(c: Client, after: int = 0) -> list[tuple[int, str]]:
    return [(e["seq"], e["message"]["text"]) for e in c.of("chat.message") if e["seq"] > after]


async def test_chat_crosses_nodes_in_one_seq_order_and_resume_works_on_the_other_node(
        tmp_path: Path, postgres: PgServer, redis_server: RedisServer) -> None:  # noqa: F811
    nodes, db = await start_cluster(tmp_path, postgres, redis_server)
    n1, n2 = nodes
    try:
        async with n1.http() as h1, n2.http() as h2:
            ev = await create_event(h1)
            mod = await join(h1, ev, "Mia", moderator=True)
            anna = await join(h2, ev, "Anna")  # joined through the follower: the owner registers
            bernd = await join(h1, ev, "Bernd")
        assert await owner(db, ev["id"]) == ("n1", 1)
        room = ev["plenary_room"]
        m = await Client.connect(n1, ev["id"], mod["token"])
        a = await Client.connect(n2, ev["id"], anna["token"])
        b = await Client.connect(n1, ev["id"], bernd["token"])
        said = await a.request("chat.send", room=room, text="von Knoten 2")
        assert said["type"] == "ok", said
        # the entry's frame reached its sender before the ok, with the owner's seq
        assert (said["seq"], "von Knoten 2") in chats(a)
        heard = await b.wait_for(lambda e: e["type"] == "chat.message")
        assert heard["seq"] == said["seq"]
        for i in range(8):  # both nodes talk at once (within the chat rate's burst)
            oks = await asyncio.gather(a.request("chat.send", room=room, text=f"a{i}"),
                                       b.request("chat.send", room=room, text=f"b{i}"))
            assert [r["type"] for r in oks] == ["ok", "ok"], oks
        for c in (a, b, m):
            await c.wait_for(lambda e: e["type"] == "chat.message" and e["message"]["text"] == "b7")
            await c.wait_for(lambda e: e["type"] == "chat.message" and e["message"]["text"] == "a7")
        assert chats(a) == chats(b) == chats(m) and len(chats(a)) == 17
        rows = await journal(db, ev["id"])
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1))  # dense, one writer
        assert [s for s, _ in chats(a)] == [r[0] for r in rows if r[1] == "chat.message"]
        await b.request("hand.raise")  # not a chat line: every kind crosses the same way
        await a.wait_for(lambda e: e["type"] == "hand.raised")
        # Bernd drops from node 1 and resumes on node 2: exactly what he missed
        mark = b.last_seq
        await b.close()
        await asyncio.sleep(1.0)  # the chat bucket refills
        for i in range(5):
            assert (await a.request("chat.send", room=room, text=f"weg {i}"))["type"] == "ok"
        await m.wait_for(lambda e: e["type"] == "chat.message" and e["message"]["text"] == "weg 4")
        b2 = await Client.connect(n2, ev["id"], bernd["token"], resume_from=mark)
        assert b2.ready is not None and b2.ready["resumed"] is True
        await b2.request("ping")
        assert chats(b2) == chats(m, after=mark)
        assert [e["seq"] for e in b2.events] == sorted({e["seq"] for e in b2.events})
        for c in (a, b2, m):
            await c.close()
    finally:
        stop(nodes)
