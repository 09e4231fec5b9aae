"""Several run.py processes on one PostgreSQL and one Redis (issue 14, contract §6): real
servers as subprocesses, clients on different nodes of the same event."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import httpx
import pytest
import redis.asyncio as aioredis
import websockets

from tests.support.live import ORGANIZER, Client, create_event, free_port, join
from tests.support.media import Peer, Sig, has_tone
from tests.support.pg import PgServer, sql
from tests.support.process import ROOT, ServerProcess, spawn
from tests.support.redis import RedisServer, redis_server  # noqa: F401 - the session's Redis

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


class Cluster:
    """The nodes (and the HAProxy in front of them) one test starts; all of them are
    stopped when the test ends, the proxy first, whatever the test did to them."""

    def __init__(self, tmp_path: Path, postgres: PgServer, redis: RedisServer) -> None:
        self.tmp_path, self.postgres, self.redis = tmp_path, postgres, redis
        self.nodes: list[ServerProcess] = []
        self.proxies: list[ServerProcess] = []
        self.talkers: list[Talker] = []

    async def start(self, n: int = 2, lease_s: float = 4.0,
                    **env: str) -> tuple[list[ServerProcess], str]:
        """n nodes with the same database and Redis, each with its own data directory (the
        token-signing key is the cluster's, from the database); node 1 starts first, so it
        owns the events created through it. The nodes and the database's URL."""
        db, rurl = self.postgres.new_database(), self.redis.new_url()
        nodes = []
        for i in range(1, n + 1):
            data = self.tmp_path / f"n{i}"
            data.mkdir(parents=True)
            nodes.append(await spawn(data, "--database-url", db, "--redis-url", rurl,
                                     "--node-id", f"n{i}", "--log-level", os.environ.get("CLUSTER_LOG", "warning"), env={
                                         "FORUM_MEDIA_ENABLED": "0",
                                         "FORUM_LIMIT_OWNER_LEASE_S": str(lease_s), **env}))
            self.nodes.append(nodes[-1])
        return nodes, db

    async def proxy(self, nodes: list[ServerProcess]) -> ServerProcess:
        """start_proxy() in front of `nodes` (skipped without haproxy)."""
        proxy = await start_proxy(self.tmp_path, nodes)
        self.proxies.append(proxy)
        return proxy

    def talker(self, name: str, ev: dict[str, Any], token: str) -> Talker:
        """A Talker whose sockets are closed at the end, before the nodes stop."""
        self.talkers.append(Talker(name, ev, token))
        return self.talkers[-1]

    async def stop(self) -> None:
        for t in self.talkers:
            await t.close()
        for proxy in self.proxies:
            proxy.proc.kill()
            proxy.proc.wait(10)
        for node in self.nodes:
            if node.proc.poll() is None:
                os.kill(node.proc.pid, signal.SIGCONT)  # (one a test paused)
                node.proc.kill()
                node.proc.wait(10)


@pytest.fixture
async def cluster(tmp_path: Path, postgres: PgServer,
                  redis_server: RedisServer) -> AsyncIterator[Cluster]:  # noqa: F811
    c = Cluster(tmp_path, postgres, redis_server)
    try:
        yield c
    finally:
        await c.stop()


async def event_with(node: ServerProcess, *names: str, moderator: str | None = None
                     ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A new event created through `node` and the people joined to it there: the
    moderator (if named) first, then `names` in order."""
    async with node.http() as http:
        ev = await create_event(http)
        people = [await join(http, ev, moderator, moderator=True)] if moderator else []
        people += [await join(http, ev, name) for name in names]
    return ev, people


async def journal(url: str, event_id: str) -> list[Any]:
    return await sql(url, "SELECT seq, kind, data FROM journal WHERE event_id = $1 ORDER BY seq",
                     event_id)


def dense(rows: list[Any]) -> bool:
    """The journal's seqs are 1, 2, 3, ... without a gap or a fork (one writer at a time)."""
    return [r[0] for r in rows] == list(range(1, len(rows) + 1))


async def owner(url: str, event_id: str) -> tuple[str, int] | None:
    rows = await sql(url, "SELECT node, epoch FROM event_owners WHERE event_id = $1", event_id)
    return (rows[0][0], int(rows[0][1])) if rows else None


async def eventually(cond: Callable[[], Any], timeout: float, pause: float = 0.2) -> None:
    """Poll `cond` (true, or an awaitable of true) until it holds or `timeout` s passed;
    the test asserts afterwards what it needs (the timeout only bounds a hang)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + timeout
    while True:
        held = cond()
        if inspect.isawaitable(held):
            held = await held
        if held or loop.time() >= until:
            return
        await asyncio.sleep(pause)


def chats(c: Client, after: int = 0) -> list[tuple[int, str]]:
    return [(e["seq"], e["message"]["text"]) for e in c.of("chat.message") if e["seq"] > after]


async def test_chat_crosses_nodes_in_one_seq_order_and_resume_works_on_the_other_node(
        cluster: Cluster, redis_server: RedisServer) -> None:  # noqa: F811
    (n1, n2), db = await cluster.start()
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
    assert dense(rows), rows  # one writer
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
    # an anonymous ballot through the follower: cast once, never on the wire in Redis
    await m.request("poll.create", scope="event", question="Q", kind="single",
                    options=["ja", "nein"], anonymous=True)
    poll = (await a.wait_for(lambda e: e["type"] == "poll.opened"))["poll"]["id"]
    assert (await a.request("poll.vote", poll=poll, choice=1))["type"] == "ok"
    again = await Client.connect(n2, ev["id"], anna["token"])  # full state on n2
    mine = [p for p in again.ready["state"]["polls"]  # type: ignore[index]
            if p["poll"]["id"] == poll]
    assert mine[0]["voted"] is True
    assert (await again.request("poll.vote", poll=poll, choice=0))["code"] == "conflict"
    await again.close()
    r = aioredis.Redis.from_url(redis_server.last_url, decode_responses=True)
    try:
        kinds = {json.loads(f["row"])["kind"]
                 for _id, f in await r.xrange(f"fl:ev:{ev['id']}")}
    finally:
        await r.aclose()
    assert "chat.message" in kinds and not kinds & {"poll.voter", "poll.ballot"}
    # a request pushed into Redis by someone without the cluster's key is not applied
    forged = {"id": "x", "from": "n2", "event": ev["id"], "epoch": 1, "until": 4e9,
              "op": "submit", "pid": anna["participant"]["id"],
              "cmd": {"type": "chat.send", "room": room, "text": "gefälscht"}}
    r = aioredis.Redis.from_url(redis_server.last_url, decode_responses=True)
    try:
        await r.lpush("fl:rpc:n1", json.dumps({"mac": "0" * 64, "body": json.dumps(forged)}))
        await r.lpush("fl:rpc:n1", json.dumps(forged))
    finally:
        await r.aclose()
    await asyncio.sleep(1.0)
    assert not [row for row in await journal(db, ev["id"]) if "gefälscht" in row[2]]
    # an HTTP write on the follower (the organizer ends the event) runs on the owner;
    # the answer comes once node 2 has it, so a read there right after sees it
    async with n2.http() as h2:
        org = {"Authorization": f"Bearer {ORGANIZER}"}
        r = await h2.post(f"/api/events/{ev['id']}/end", headers=org)
        assert r.status_code == 200, r.text
        assert r.headers.get("x-frame-options") == "DENY"
        assert (await h2.get(f"/api/events/{ev['id']}", headers=org)).json()["status"] == "ended"
    ended = await a.wait_for(lambda e: e["type"] == "event.ended")
    assert ended["seq"] == (await journal(db, ev["id"]))[-1][0]
    for c in (a, b2, m):
        await c.close()


class Talker:
    """A client that chats in a loop through one node and, when the socket closes (its
    node died, or the event moved), comes back with resume_from on the node it is given."""

    def __init__(self, name: str, ev: dict[str, Any], token: str) -> None:
        self.name, self.ev, self.token = name, ev, token
        self.clients: list[Client] = []
        self.acked: list[str] = []
        self.refused: list[str] = []

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for c in self.clients for e in c.events]

    async def connect(self, node: ServerProcess, deadline: float = 30.0) -> Client:
        loop = asyncio.get_running_loop()
        until = loop.time() + deadline
        while True:
            last = self.clients[-1].last_seq if self.clients else None
            try:
                c = await Client.connect(node, self.ev["id"], self.token, resume_from=last,
                                         open_timeout=3)
            except Exception:
                if loop.time() > until:
                    raise
                await asyncio.sleep(0.3)
                continue
            if last is not None:
                assert c.ready is not None and c.ready["resumed"] is True, c.ready
            self.clients.append(c)
            return c

    async def talk(self, node: ServerProcess, stop: asyncio.Event, pace: float = 0.3,
                   minutes: bool = False) -> None:
        """Chat lines (or, with `minutes`, notes in the minutes), each with its own text."""
        c = await self.connect(node)
        n = 0
        while not stop.is_set():
            n += 1
            text = f"{self.name}-{n}"
            extra = {"kind": "note"} if minutes else {}
            try:
                r = await c.request("minutes.add" if minutes else "chat.send",
                                    room=self.ev["plenary_room"], text=text, timeout=15,
                                    **extra)
            except Exception:  # closed (node died, event moved) or no answer: resume
                self.refused.append(text)
                if node.proc.poll() is not None:
                    return  # its node is gone: this talker stops
                c = await self.connect(node)
                continue
            if r["type"] == "ok":
                self.acked.append(text)
            else:
                assert r["code"] in ("unavailable", "rate_limited"), r
                self.refused.append(text)
            await asyncio.sleep(pace)

    async def close(self) -> None:
        for c in self.clients:
            try:
                await c.close()
            except Exception:
                pass


async def wait_owner(db: str, event_id: str, node: str, timeout: float) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < timeout:
        got = await owner(db, event_id)
        if got is not None and got[0] == node:
            return loop.time() - start
        await asyncio.sleep(0.2)
    raise AssertionError(f"{node} did not take {event_id} over within {timeout} s")


async def test_owner_killed_under_load_another_node_takes_over_and_nothing_acked_is_lost(
        cluster: Cluster) -> None:
    (n1, n2), db = await cluster.start(lease_s=10.0)
    ev, people = await event_with(n1, *(f"P{i}" for i in range(4)))
    assert await owner(db, ev["id"]) == ("n1", 1)
    talkers = [cluster.talker(f"t{i}", ev, p["token"]) for i, p in enumerate(people)]
    stop = asyncio.Event()
    # two talk through the owner (they die with it), two through node 2 (they stay);
    # one of each pair writes the minutes instead of chatting
    tasks = [asyncio.create_task(t.talk(node, stop, minutes=i % 2 == 1))
             for i, (t, node) in enumerate(zip(talkers, (n1, n1, n2, n2)))]
    await asyncio.sleep(2.0)
    n1.kill9()
    took = await wait_owner(db, ev["id"], "n2", 15.0)
    survivors = talkers[2:]
    before = [len(t.acked) for t in survivors]
    await asyncio.sleep(3.0)  # the survivors talk to the new owner
    stop.set()
    await asyncio.gather(*tasks)
    assert all(len(t.acked) > n for t, n in zip(survivors, before))  # served again
    rows = await journal(db, ev["id"])
    assert dense(rows), rows  # no fork
    said = [json.loads(r[2])["message"]["text"] for r in rows if r[1] == "chat.message"]
    said += [json.loads(r[2])["entry"]["text"] for r in rows if r[1] == "minutes.added"]
    assert len(said) == len(set(said))
    for t in talkers:  # every acknowledged line and note is there exactly once
        assert t.acked and set(t.acked) <= set(said), (t.name, t.acked, said)
    # the survivors, after resuming, saw every line of the journal exactly once, in order
    heard = [e["seq"] for e in survivors[0].events if e["type"] == "chat.message"]
    first, last = survivors[0].clients[0].ready["seq"], survivors[0].clients[-1].last_seq  # type: ignore[index]
    assert heard == [r[0] for r in rows if r[1] == "chat.message" and first < r[0] <= last]
    assert len(heard) > 10
    assert (await owner(db, ev["id"]))[1] == 2  # type: ignore[index]
    print(f"takeover after {took:.1f} s")


async def test_an_owner_paused_past_its_lease_cannot_write_after_the_takeover(
        cluster: Cluster) -> None:
    (n1, n2), db = await cluster.start(lease_s=3.0)
    ev, (anna, bernd) = await event_with(n1, "Anna", "Bernd")
    room = ev["plenary_room"]
    b = await Client.connect(n1, ev["id"], bernd["token"])
    assert (await b.request("chat.send", room=room, text="vorher"))["type"] == "ok"
    os.kill(n1.proc.pid, signal.SIGSTOP)
    await asyncio.sleep(0.5)
    for i in range(3):  # read by n1 only when it runs again: too late
        await b.ws.send(json.dumps({"type": "chat.send", "ref": f"late{i}", "room": room,
                                    "text": f"spät {i}"}))
    await wait_owner(db, ev["id"], "n2", 12.0)
    a = cluster.talker("anna", ev, anna["token"])
    stop_talk = asyncio.Event()
    talk = asyncio.create_task(a.talk(n2, stop_talk))
    await eventually(lambda: a.acked, 10, 0.1)
    assert a.acked, "the new owner takes commands"
    os.kill(n1.proc.pid, signal.SIGCONT)
    replies: list[dict[str, Any]] = []
    try:
        while len(replies) < 3:
            frame = await b.recv(10)
            if frame["type"] == "error" and str(frame.get("ref", "")).startswith("late"):
                replies.append(frame)
    except Exception:
        pass  # or the stepping-down node closed the socket first
    assert all(r["code"] == "unavailable" for r in replies), replies
    await asyncio.sleep(1.5)
    stop_talk.set()
    await talk
    rows = await journal(db, ev["id"])
    assert dense(rows), rows
    texts = [json.loads(r[2])["message"]["text"] for r in rows if r[1] == "chat.message"]
    assert not [t for t in texts if t.startswith("spät")]  # refused, nothing forked
    assert set(a.acked) <= set(texts) and "vorher" in texts
    assert (await owner(db, ev["id"])) == ("n2", 2)
    # the old owner is a follower now: a client there is served through n2
    b2 = await Client.connect(n1, ev["id"], bernd["token"], open_timeout=30)
    got = await b2.request("chat.send", room=room, text="wieder da", timeout=30)
    assert got["type"] == "ok", got
    assert (await journal(db, ev["id"]))[-1][0] == got["seq"]
    await b2.close()


async def test_two_tabs_on_two_nodes_are_one_person_online_and_a_dead_node_lets_them_go(
        cluster: Cluster) -> None:
    (n1, n2, n3), db = await cluster.start(n=3, lease_s=3.0)
    ev, (mod, anna) = await event_with(n1, "Anna", moderator="Mia")
    me = anna["participant"]["id"]
    m = await Client.connect(n1, ev["id"], mod["token"])
    tab1 = await Client.connect(n2, ev["id"], anna["token"])
    tab2 = await Client.connect(n3, ev["id"], anna["token"])
    assert tab2.ready is not None
    await m.wait_for(lambda e: e["type"] == "participant.joined"
                     and e["participant"]["id"] == me)
    await tab1.close()  # one tab closes: still online (the other node holds a socket)
    await asyncio.sleep(1.5)
    await m.request("ping")
    assert not [e for e in m.of("participant.left") if e["participant"]["id"] == me]
    assert len([e for e in m.of("participant.joined")
                if e["participant"]["id"] == me]) == 1
    n3.kill9()  # the node of the other tab dies: after its liveness key expires she left
    left = await m.wait_for(lambda e: e["type"] == "participant.left"
                            and e["participant"]["id"] == me, timeout=15)
    assert left["seq"] > 0
    await m.close()


async def test_redis_restarted_under_load_nothing_acked_is_lost_and_followers_catch_up(
        cluster: Cluster, redis_server: RedisServer) -> None:  # noqa: F811
    (n1, n2), db = await cluster.start(lease_s=4.0)
    ev, people = await event_with(n1, *(f"P{i}" for i in range(3)))
    listener = cluster.talker("listener", ev, people[2]["token"])
    await listener.connect(n2)  # a follower's socket: its lines come from the stream
    talkers = [cluster.talker(f"t{i}", ev, p["token"]) for i, p in enumerate(people[:2])]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(t.talk(node, stop)) for t, node in zip(talkers, (n1, n2))]
    await asyncio.sleep(1.5)
    redis_server.stop()  # everything in it is gone (no persistence)
    await asyncio.sleep(2.0)
    redis_server.start()
    before = len(talkers[1].acked)
    # (15 s: a reply lost with the old Redis is found by its receipt, 2 s later)
    await eventually(lambda: len(talkers[1].acked) >= before + 3, 15)
    stop.set()
    await asyncio.gather(*tasks)
    rows = await journal(db, ev["id"])
    said = {json.loads(r[2])["message"]["text"]: r[0] for r in rows if r[1] == "chat.message"}
    for t in talkers:
        assert t.acked and set(t.acked) <= set(said), t.name
    assert len(talkers[1].acked) > before  # the follower forwards again
    c = listener.clients[-1]
    await c.request("ping")
    loop = asyncio.get_running_loop()
    until = loop.time() + 10
    while c.last_seq < rows[-1][0] and loop.time() < until:
        await c.recv(2)
    heard = [e["seq"] for e in listener.events if e["type"] == "chat.message"]
    assert heard == sorted(said.values())  # every line, once, in order, on the follower


def haproxy_binary() -> str | None:
    found = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/sbin/haproxy") if os.path.exists(p)), None)
    if found is None and os.environ.get("CI") == "true":
        pytest.fail("CI must have haproxy for the cluster test behind a proxy")
    return found


async def start_proxy(tmp_path: Path, nodes: list[ServerProcess]) -> ServerProcess:
    """deploy/haproxy.cfg itself, its addresses from the environment."""
    binary = haproxy_binary()
    if binary is None:
        pytest.skip("haproxy is not installed here")
    port = free_port()
    log = tmp_path / "haproxy.log"
    env = {**os.environ, "FORUM_PROXY_BIND": f"127.0.0.1:{port}",
           **{f"FORUM_NODE{i}": f"127.0.0.1:{n.port}" for i, n in enumerate(nodes, 1)}}
    with open(log, "w") as out:
        proc = subprocess.Popen([binary, "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
                                env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    proxy = ServerProcess(proc, port, log)
    if await proxy.healthy(100, 0.1, timeout=10):
        return proxy
    raise RuntimeError(f"haproxy did not start: {proxy.output()}")


async def home_node(proxy: ServerProcess, nodes: list[ServerProcess],
                    ev: dict[str, Any]) -> ServerProcess:
    """The node the proxy sends every request of the event to (asserted to be one)."""
    async with proxy.http() as http:
        served = {(await http.get(f"/api/events/{ev['id']}",
                                  headers={"Authorization": f"Bearer {ORGANIZER}"})
                   ).headers["x-forum-node"] for _ in range(4)}
    assert len(served) == 1  # every request of the event to the same node
    return nodes[int(served.pop()[1:]) - 1]


async def test_behind_haproxy_an_event_sticks_to_one_node_and_moves_when_it_dies(
        cluster: Cluster) -> None:
    nodes, db = await cluster.start(lease_s=4.0)
    proxy = await cluster.proxy(nodes)
    ev, people = await event_with(proxy, *(f"P{i}" for i in range(3)))
    home = await home_node(proxy, nodes, ev)
    talkers = [cluster.talker(f"t{i}", ev, p["token"]) for i, p in enumerate(people)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(t.talk(proxy, stop)) for t in talkers]
    # ownership follows the proxy: the event's sockets are all on `home`, so within a
    # few lease rounds `home` owns it (its clients, media and decider on one node)
    name = f"n{nodes.index(home) + 1}"
    await wait_owner(db, ev["id"], name, 15.0)
    await asyncio.sleep(1.0)
    assert all(t.acked for t in talkers)
    home.kill9()  # its clients come back through the proxy on the other node
    before = [len(t.acked) for t in talkers]
    await eventually(lambda: all(len(t.acked) > n + 2 for t, n in zip(talkers, before)), 25)
    stop.set()
    await asyncio.gather(*tasks)
    assert all(len(t.acked) > n for t, n in zip(talkers, before))  # served again
    rows = await journal(db, ev["id"])
    assert dense(rows), rows
    said = [json.loads(r[2])["message"]["text"] for r in rows if r[1] == "chat.message"]
    assert len(said) == len(set(said))
    for t in talkers:
        assert set(t.acked) <= set(said), t.name
        first, last = t.clients[0].ready["seq"], t.clients[-1].last_seq  # type: ignore[index]
        heard = [e["seq"] for e in t.events if e["type"] == "chat.message"]
        assert heard == [r[0] for r in rows if r[1] == "chat.message" and first < r[0] <= last]


async def test_a_breakout_round_closes_exactly_once_across_an_owner_kill(
        cluster: Cluster) -> None:
    (n1, n2), db = await cluster.start(lease_s=4.0)
    ev, (mod, anna) = await event_with(n1, "Anna", moderator="Mia")
    m = await Client.connect(n2, ev["id"], mod["token"])  # on the follower
    await Client.connect(n1, ev["id"], anna["token"])  # (so n1 keeps the event)
    opened = await m.request("breakouts.open", assign="auto", duration_s=3)
    assert opened["type"] == "ok", opened
    await asyncio.sleep(0.5)
    n1.kill9()  # the round ends while nobody owns the event
    loop = asyncio.get_running_loop()
    start = loop.time()
    kinds: list[str] = []
    while loop.time() - start < 15 and "breakouts.closed" not in kinds:
        await asyncio.sleep(0.3)
        kinds = [r[1] for r in await journal(db, ev["id"])]
    assert kinds.count("breakouts.closed") == 1, kinds  # the new owner's clock, at once
    await asyncio.sleep(2.0)  # and not a second time
    rows = await journal(db, ev["id"])
    assert [r[1] for r in rows].count("breakouts.closed") == 1
    assert dense(rows), rows
    assert await owner(db, ev["id"]) == ("n2", 2)
    # the moderator's socket moved to the new runtime; resuming shows the close once
    m2 = await Client.connect(n2, ev["id"], mod["token"], resume_from=m.last_seq)
    await m2.request("ping")
    assert len([e for e in m.events + m2.events if e["type"] == "breakouts.closed"]) == 1
    await m2.close()


async def test_gdpr_export_and_erasure_through_a_follower_node(
        cluster: Cluster, redis_server: RedisServer) -> None:  # noqa: F811
    (n1, n2), db = await cluster.start(lease_s=3.0)
    org = {"Authorization": f"Bearer {ORGANIZER}"}
    async with n1.http() as h1, n2.http() as h2:
        ev = await create_event(h1)
        anna = await join(h2, ev, "Anna")
        a1 = await Client.connect(n1, ev["id"], anna["token"])
        a2 = await Client.connect(n2, ev["id"], anna["token"])
        said = await a2.request("chat.send", room=ev["plenary_room"], text="meine Daten")
        assert said["type"] == "ok"
        await a1.wait_for(lambda e: e["type"] == "chat.message")
        pid = anna["participant"]["id"]
        r = await h2.get(f"/api/events/{ev['id']}/participants/{pid}/export", headers=org)
        assert r.status_code == 200, r.text
        assert "meine Daten" in r.text
        r = await h2.delete(f"/api/events/{ev['id']}", headers=org)  # on the follower
        assert r.status_code == 200, r.text
        for c in (a1, a2):  # the owner's sockets too, within a lease round
            with pytest.raises(Exception):
                while True:
                    await c.recv(8)
        assert await journal(db, ev["id"]) == []
        assert await sql(db, "SELECT * FROM event_owners WHERE event_id = $1", ev["id"]) == []
        for h in (h1, h2):
            r = await h.post(f"/api/events/{ev['id']}/join",
                             json={"name": "X", "key": ev["participant_key"]})
            assert r.status_code in (403, 404), r.text
    key = f"fl:ev:{ev['id']}"
    r = aioredis.Redis.from_url(redis_server.last_url)
    try:
        async def gone() -> bool:
            return not await r.exists(key)
        await eventually(gone, 5)
        assert not await r.exists(key)  # nothing of it left in Redis
    finally:
        await r.aclose()


async def test_revoking_tokens_and_the_join_limit_hold_on_every_node(
        cluster: Cluster) -> None:
    (n1, n2), db = await cluster.start(lease_s=3.0, FORUM_LIMIT_JOIN_RATE="0.01",
                                       FORUM_LIMIT_JOIN_BURST="4")
    org = {"Authorization": f"Bearer {ORGANIZER}"}
    async with n1.http() as h1, n2.http() as h2:
        ev = await create_event(h1)
        anna, bernd = await join(h1, ev, "Anna"), await join(h2, ev, "Bernd")
        a = await Client.connect(n1, ev["id"], anna["token"])
        b = await Client.connect(n2, ev["id"], bernd["token"])
        r = await h2.post(f"/api/events/{ev['id']}/revoke", headers=org)  # via the follower
        assert r.status_code == 200, r.text
        fresh = r.json()
        for c in (a, b):  # closed on both nodes (n2's within a lease round)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await c.recv(8)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        for node in (n1, n2):
            with pytest.raises(PermissionError):
                await Client.connect(node, ev["id"], bernd["token"])
        ev = {**ev, **fresh}
        await join(h1, ev, "Clara")  # the 3rd and 4th join from 127.0.0.1 ...
        await join(h2, ev, "Dirk")
        for h in (h1, h2):  # ... and the 5th on either node is one too many
            r = await h.post(f"/api/events/{ev['id']}/join",
                             json={"name": "Eva", "key": ev["participant_key"]})
            assert r.status_code == 429, r.text
            assert int(r.headers["retry-after"]) >= 1


async def test_a_node_stopped_cleanly_hands_its_events_over_at_once(
        cluster: Cluster) -> None:
    # a lease far longer than the wait: n2 can only own the event because n1 gave it up
    (n1, n2), db = await cluster.start(lease_s=300.0)
    ev, (anna, bernd) = await event_with(n1, "Anna", "Bernd")
    a = cluster.talker("anna", ev, anna["token"])
    await a.connect(n2)
    b = await Client.connect(n1, ev["id"], bernd["token"])
    assert (await b.request("chat.send", room=ev["plenary_room"], text="tschüss"))["type"] == "ok"
    assert n1.terminate() == 0  # SIGTERM: sockets closed, journal flushed, leases given up
    await wait_owner(db, ev["id"], "n2", 60.0)  # (not after the lease: 300 s)
    stop = asyncio.Event()
    talk = asyncio.create_task(a.talk(n2, stop))
    await eventually(lambda: a.acked, 10, 0.1)
    stop.set()
    await talk
    assert a.acked
    heard = [e["message"]["text"] for e in a.events if e["type"] == "chat.message"]
    assert heard[0] == "tschüss" and heard.count("tschüss") == 1


async def test_an_idle_event_is_unloaded_released_and_claimed_by_the_next_node_that_needs_it(
        cluster: Cluster) -> None:
    (n1, n2), db = await cluster.start(lease_s=3.0, FORUM_LIMIT_IDLE_UNLOAD_S="1")
    ev, (anna,) = await event_with(n1, "Anna")
    a = await Client.connect(n2, ev["id"], anna["token"])  # n2 follows, n1 owns
    said = await a.request("chat.send", room=ev["plenary_room"], text="erst")
    assert said["type"] == "ok"
    await a.close()
    async def released() -> bool:  # unloaded idle on n1: its lease released, not renewed
        return await owner(db, ev["id"]) == ("", 1)
    await eventually(released, 10)
    assert await owner(db, ev["id"]) == ("", 1)
    await asyncio.sleep(2.5)  # and nobody takes a released event over as an orphan
    assert await owner(db, ev["id"]) == ("", 1)
    a2 = await Client.connect(n2, ev["id"], anna["token"], resume_from=a.last_seq)
    assert a2.ready is not None and a2.ready["resumed"] is True
    again = await a2.request("chat.send", room=ev["plenary_room"], text="wieder")
    assert again["type"] == "ok", again
    assert await owner(db, ev["id"]) == ("n2", 2)  # the node that needed it claimed it
    rows = await journal(db, ev["id"])
    assert dense(rows), rows
    await a2.close()


def test_a_follower_refuses_media_with_unavailable() -> None:
    """Audio and video stay on the owner: on a follower the media service is a stand-in
    that answers `unavailable`, and the service's hooks are taken off the follower."""
    from forum_live.cluster.follower import FollowerRuntime, keep_media_on_owner
    from forum_live.config import Limits
    from forum_live.domain.errors import Unavailable
    from forum_live.domain.model import EventState
    from forum_live.store.memory import MemoryStore

    class Media:
        def on_commit(self, rt: Any, entries: Any) -> None: ...
        def on_detach(self, rt: Any, conn: Any) -> None: ...
        async def join(self, *args: Any) -> dict[str, Any]:
            return {}

    media = Media()
    rt = FollowerRuntime("ev", MemoryStore(), Limits(), EventState(id="ev"))
    rt.services["media"] = media
    rt.after_commit.append(media.on_commit)
    rt.on_detach.append(media.on_detach)
    keep_media_on_owner(rt)
    assert rt.services["media"] is not media and not rt.after_commit and not rt.on_detach
    with pytest.raises(Unavailable):
        rt.services["media"].join(rt, None, None)


async def in_audio(proxy: ServerProcess, ev: dict[str, Any], person: dict[str, Any],
                   hz: float, timeout: float) -> Peer:
    """A person's socket through the proxy and an aiortc peer joined to the audio, tried
    again as the browser app does while the event moves: `media.join` answers
    `unavailable` on a node that does not own the event (yet), and a takeover closes the
    sockets there (a new one then)."""
    loop = asyncio.get_running_loop()
    deadline, last = loop.time() + timeout, None
    sig: Sig | None = None
    while loop.time() < deadline:
        peer = None
        try:
            if sig is None:
                sig = await Sig.connect(proxy.ws_base, ev["id"], person["token"])
            peer = Peer(sig, hz)
            reply = await sig.request("media.join", video=False)
            if reply["type"] == "ok":
                await asyncio.wait_for(peer.connected.wait(), 20)
                return peer
            last = reply
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
            last = exc  # a refused handshake (503 while the proxy checks), a closed socket
        if peer is not None:
            await peer.close()
        if sig is not None and (sig.task is None or sig.task.done()):
            await sig.close()
            sig = None
        await asyncio.sleep(1.0)
    if sig is not None:
        await sig.close()
    raise AssertionError(f"{person['participant']['name']} not back in the audio: {last!r}")


async def hear_each_other(a: Peer, b: Peer, a_hz: float, b_hz: float, timeout: float) -> None:
    """Each hears the other's tone in one second of the room's mix."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        t0 = time.monotonic()
        await asyncio.sleep(1.0)
        if has_tone(a.heard_since(t0), b_hz) and has_tone(b.heard_since(t0), a_hz):
            return
        assert loop.time() < deadline, "the two do not hear each other"


async def test_behind_haproxy_audio_comes_back_on_the_node_that_takes_the_event_over(
        cluster: Cluster) -> None:
    """Media runs on the event's owner. When that node dies, its people's sockets come
    back through the proxy on the other node; there they join the audio again (what the
    browser app does by itself after each `ready`) once it owns the event, and hear each
    other through its mixer."""
    nodes, db = await cluster.start(lease_s=4.0, FORUM_MEDIA_ENABLED="1")
    proxy = await cluster.proxy(nodes)
    ev, people = await event_with(proxy, "Anna", "Ben")
    home = await home_node(proxy, nodes, ev)
    # (the event moves to `home` once its sockets are there: media.join waits for that)
    peers = [await in_audio(proxy, ev, p, hz, 60.0) for p, hz in zip(people, (440.0, 660.0))]
    try:
        await hear_each_other(*peers, 440.0, 660.0, 60.0)
        home.kill9()
        for p in peers:
            await p.close()
            await p.sig.close()
        peers = [await in_audio(proxy, ev, p, hz, 120.0)
                 for p, hz in zip(people, (440.0, 660.0))]
        other = f"n{2 - nodes.index(home)}"
        assert (await owner(db, ev["id"]) or ("", 0))[0] == other  # the survivor owns it
        await hear_each_other(*peers, 440.0, 660.0, 60.0)
    finally:
        for p in peers:
            await p.close()
            await p.sig.close()


# -- the socket suite's core against two nodes behind HAProxy -------------------------------
SOCKET_CORE = [
    "test_chat_fans_out_to_fifty_clients_once_each_in_the_same_order",
    "test_one_person_with_two_tabs_is_present_once",
    "test_presence_in_the_ready_state_and_the_join_event",
    "test_a_tampered_token_is_refused",
    "test_oversize_frame_is_too_large_and_the_connection_stays",
    "test_text_over_the_limit_is_too_large",
    "test_chat_spam_is_rate_limited_after_the_burst",
    "test_malformed_frames_are_invalid_with_the_ref_echoed",
    "test_chat_delete_needs_a_moderator_and_reaches_everyone",
    "test_hands_are_raised_and_lowered_in_order",
    "test_sending_into_a_room_one_is_not_in",
    "test_resume_delivers_exactly_the_missed_events",
    "test_resume_with_nothing_missed_is_an_empty_replay",
    "test_unknown_event_and_foreign_origin_are_refused",
    "test_two_tabs_raising_at_once_make_one_hand",
    "test_ping_answers_the_committed_seq",
]
FEATURE_SOCKET_TESTS = [  # (module, test): breakout rooms, polls, minutes, waiting room
    ("test_breakouts_socket", "test_room_chat_is_isolated_for_every_client"),
    ("test_breakouts_socket", "test_reconnect_inside_a_breakout_lands_back_in_it_with_history"),
    ("test_breakouts_socket", "test_broadcast_reaches_every_room_and_help_reaches_moderators"),
    ("test_polls_socket", "test_500_concurrent_voters_are_each_counted_once"),
    ("test_polls_socket", "test_results_live_for_everyone_on_close_only_for_moderators"),
    ("test_minutes_socket", "test_concurrent_edits_conflict_and_everyone_sees_the_result"),
    ("test_participation_socket", "test_a_waiting_participant_receives_nothing_but_its_admission"),
    ("test_participation_socket", "test_declined_and_removed_tokens_are_refused"),
    ("test_participation_socket", "test_reactions_are_batched_not_chat"),
]


class JournalReader:
    """What tests/test_socket.py reads of `server.forum.store`: the journal, from PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def flush(self) -> None:
        return None  # every node's ok came after its commit

    async def journal(self, event_id: str) -> Any:
        from forum_live.domain.entries import Entry
        for r in await sql(self.url, 'SELECT seq, kind, at, room, audience, "to", actor, data '
                                     "FROM journal WHERE event_id = $1 ORDER BY seq", event_id):
            yield Entry.from_row(dict(r))


class ClusterFront:
    """The `server` of tests/test_socket.py: the proxy in front of the cluster."""

    def __init__(self, proxy: ServerProcess, db: str) -> None:
        from forum_live.config import Settings
        self.proxy = proxy
        self.settings = Settings(port=proxy.port).with_limits(
            presence_grace_s=0, join_rate=1e6, join_burst=1_000_000)
        self.forum = type("Forum", (), {"store": JournalReader(db)})()
        self.base, self.ws_base = proxy.base, proxy.ws_base

    def http(self) -> httpx.AsyncClient:
        return self.proxy.http()


async def test_the_socket_suites_core_on_two_nodes_behind_haproxy(
        cluster: Cluster) -> None:
    from tests import test_socket as suite
    # a long lease: no handover to the proxy's node in the middle of a test (each test makes
    # its own event on whichever node the proxy picks; half of them are followed through)
    nodes, db = await cluster.start(lease_s=30.0)
    proxy = await cluster.proxy(nodes)
    front = ClusterFront(proxy, db)
    for name in SOCKET_CORE:
        try:
            await getattr(suite, name)(front)
        except Exception as exc:
            raise AssertionError(f"{name} failed behind the cluster: {exc!r}") from exc
    for hello in ({"type": "hello", "token": "nonsense"}, {"type": "hello", "token": ""},
                  {"type": "hello"}):
        await suite.test_bad_token_is_unauthorized_4401(front, hello)
    for module, name in FEATURE_SOCKET_TESTS:  # room isolation, moderator-only entries
        try:
            await getattr(importlib.import_module(f"tests.{module}"), name)(front)
        except Exception as exc:
            raise AssertionError(f"{module}.{name} failed behind the cluster: {exc!r}") \
                from exc
    # some of those events were served by a node that did not own them (followed through)
    followed = 0
    async with proxy.http() as http:
        for event_id, node in await sql(db, "SELECT event_id, node FROM event_owners"):
            r = await http.get(f"/api/events/{event_id}",
                               headers={"Authorization": f"Bearer {ORGANIZER}"})
            followed += r.headers["x-forum-node"] != node
    assert followed >= 1


async def test_nodes_share_the_organizer_token_and_the_signing_key_through_the_database(
        cluster: Cluster, tmp_path: Path) -> None:
    (n1, n2), db = await cluster.start(FORUM_ORGANIZER_TOKEN="")  # each node would make its own
    token = (tmp_path / "n1" / "organizer_token").read_text().strip()
    assert (tmp_path / "n2" / "organizer_token").read_text().strip() == token
    assert (tmp_path / "n2" / "secret_key").read_text() == \
        (tmp_path / "n1" / "secret_key").read_text()
    async with n2.http() as h2:
        r = await h2.post("/api/events", headers={"Authorization": f"Bearer {token}"},
                          json={"title": "Forum", "topics": [{"title": "A"}]})
        assert r.status_code == 201, r.text
        ev = r.json()
        anna = await join(h2, ev, "Anna")
    a = await Client.connect(n1, ev["id"], anna["token"])  # n2's token works on n1
    assert a.ready is not None
    await a.close()
