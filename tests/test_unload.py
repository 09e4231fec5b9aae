"""Memory that does not grow with history (issue 12), against a real server and SQLite: an
event nobody is connected to is unloaded after its idle grace, the next hello reloads it
from its snapshot plus the journal tail with exactly the state a full fold gives, resume
inside the window works exactly across the unload, and a pending breakout deadline keeps
the event loaded until it has fired. Every wait is on a condition."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest

from forum_live.config import Limits
from forum_live.domain import setup
from forum_live.domain.commands import EventIn, JoinIn, TopicIn
from forum_live.domain.context import Context
from forum_live.domain.model import Role
from forum_live.domain.views import ready_state
from forum_live.live import EventRuntime, fold_journal
from forum_live.store.memory import MemoryStore
from tests.support.live import Client, LiveServer, connected, create_event, join, start_server

WINDOW = 20  # a small resume window, so the reload reads a tail, not the whole journal


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    s = await start_server(tmp_path / "data", idle_unload_s=0.3, resume_window=WINDOW,
                           breakout_warning_s=0, chat_rate=1000, chat_burst=1000)
    try:
        yield s
    finally:
        await s.stop()


async def until(cond: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Wait for a condition (the limit only turns a hang into a failure)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not cond():
        assert loop.time() < end, f"never happened: {what}"
        await asyncio.sleep(0.02)


async def journal_kinds(server: LiveServer, event_id: str) -> list[str]:
    return [e.kind async for e in server.forum.store.journal(event_id)]


def body(ready: dict[str, Any] | None) -> dict[str, Any]:
    assert ready is not None
    return ready["state"]  # type: ignore[no-any-return]


async def memory_runtime(**limits: Any) -> tuple[MemoryStore, EventRuntime]:
    """The event "ev1" (one topic) in an open MemoryStore, loaded as a runtime with
    these limits: a runtime's own bookkeeping, without a server."""
    store = MemoryStore()
    await store.open()
    lim = Limits(**limits)
    first = setup.create_event(Context.current(lim), EventIn(title="F",
                                                             topics=[TopicIn(title="A")]))
    first.seq = 1
    await store.create_event({"id": "ev1", "title": "F", "created_at": first.at,
                              "participant_key": "p", "moderator_key": "m"}, first)
    return store, await EventRuntime.load(store, "ev1", lim)


async def test_an_idle_event_is_unloaded_and_reloaded_from_its_snapshot_exactly(
        server: LiveServer) -> None:
    forum = server.forum
    async with server.http() as http:
        ev = await create_event(http)
        anna, bernd, cem = [await join(http, ev, n) for n in ("Anna", "Bernd", "Cem")]
    a = await Client.connect(server, ev["id"], anna["token"])
    b = await Client.connect(server, ev["id"], bernd["token"])
    c = await Client.connect(server, ev["id"], cem["token"])  # never drops until the end
    room = ev["plenary_room"]
    for i in range(40):
        assert (await a.request("chat.send", room=room, text=f"Zeile {i}"))["type"] == "ok"
    await b.request("ping")
    mark = b.last_seq  # Bernd drops here ...
    await b.close()
    for i in range(5):  # ... and misses these
        assert (await a.request("chat.send", room=room, text=f"später {i}"))["type"] == "ok"
    await c.request("ping")
    seen_by_cem = [e for e in c.events if e["seq"] > mark and e["type"] == "chat.message"]
    assert len(seen_by_cem) == 5
    before = forum.runtimes[ev["id"]]
    for x in (a, c):
        await x.close()

    await until(lambda: ev["id"] not in forum.runtimes and forum.unloads == 1,
                "the idle event unloaded (and its snapshot saved)")
    assert before.unloaded and not before.tasks and before._clock is None
    saved = await forum.store.load_snapshot(ev["id"])
    assert saved is not None and saved[0] == before.state.seq  # taken at the head

    reads: list[int] = []  # where the reload starts reading the journal
    journal = forum.store.journal

    def spy(event_id: str, after: int = 0) -> Any:
        reads.append(after)
        return journal(event_id, after)
    forum.store.journal = spy
    try:
        b2 = await Client.connect(server, ev["id"], bernd["token"], resume_from=mark)
    finally:
        del forum.store.journal
    rt = forum.runtimes[ev["id"]]
    assert rt is not before and reads == [saved[0] - WINDOW]  # the snapshot, then the tail
    # resume across the unload: exactly the lines a never-dropped client saw
    assert b2.ready is not None and b2.ready["resumed"] is True
    replayed = [e for e in b2.events if e["type"] == "chat.message"]
    assert replayed == seen_by_cem
    assert [e["seq"] for e in b2.events] == sorted({e["seq"] for e in b2.events})

    # a fresh ready: the same state as a full fold of the journal (no snapshot)
    a2 = await Client.connect(server, ev["id"], anna["token"])
    full, _ = await fold_journal(forum.store, ev["id"], server.settings.limits,
                                 use_snapshot=False)
    assert full.seq == rt.state.seq == a2.ready["seq"]  # type: ignore[index]
    for pid in full.participants:
        assert ready_state(rt.state, pid) == ready_state(full, pid)
    assert body(a2.ready) == json.loads(json.dumps(ready_state(full,
                                                               anna["participant"]["id"])))
    texts = [m["text"] for m in body(a2.ready)["chat"] if m["room"] == room]
    assert texts[-5:] == [f"später {i}" for i in range(5)] and "Zeile 0" in texts
    # the reloaded event serves as before
    r = await a2.request("chat.send", room=room, text="nach dem Laden")
    assert r["type"] == "ok" and r["seq"] == full.seq + 1
    await b2.wait_for(lambda e: e["type"] == "chat.message"
                      and e["message"]["text"] == "nach dem Laden")
    await a2.close()
    await b2.close()


async def test_a_resume_from_before_the_window_after_a_reload_gets_the_full_state(
        server: LiveServer) -> None:
    forum = server.forum
    async with server.http() as http:
        ev = await create_event(http)
        anna = await join(http, ev, "Anna")
    a = await Client.connect(server, ev["id"], anna["token"])
    mark = a.last_seq
    for i in range(WINDOW + 5):
        await a.request("chat.send", room=ev["plenary_room"], text=f"Zeile {i}")
    await a.close()
    await until(lambda: ev["id"] not in forum.runtimes, "the idle event unloaded")
    a2 = await Client.connect(server, ev["id"], anna["token"], resume_from=mark)
    assert a2.ready is not None and a2.ready["resumed"] is False and "state" in a2.ready
    assert a2.events == []
    await a2.close()


async def test_a_pending_breakout_deadline_keeps_the_event_loaded_until_it_fired(
        server: LiveServer) -> None:
    forum = server.forum
    async with server.http() as http:
        ev = await create_event(http)
        quiet = await create_event(http, title="Ohne Frist")
        mod = await join(http, ev, "Mia", moderator=True)
        people = [await join(http, ev, f"P{i}") for i in range(3)]
        other = await join(http, quiet, "Olaf")
    m, *clients = await connected(server, ev, mod, *people)
    o, = await connected(server, quiet, other)
    r = await m.request("breakouts.open", assign="auto", duration_s=4)
    assert r["type"] == "ok", r
    for x in (m, *clients, o):
        await x.close()

    # the event without a deadline goes after its grace; the one with a deadline stays
    await until(lambda: quiet["id"] not in forum.runtimes, "the quiet event unloaded")
    closed = False
    while not closed:
        closed = "breakouts.closed" in await journal_kinds(server, ev["id"])
        if not closed:
            assert ev["id"] in forum.runtimes, "unloaded with a deadline pending"
            await asyncio.sleep(0.05)
    # the deadline fired without anyone connected; afterwards the event goes too
    await until(lambda: ev["id"] not in forum.runtimes, "unloaded once the deadline fired")
    m2 = await Client.connect(server, ev["id"], mod["token"])
    rt = forum.runtimes[ev["id"]]
    assert rt.state.breakout is None
    assert all(p.room == rt.state.plenary_room for p in rt.state.participants.values())
    await m2.close()


async def test_sockets_on_other_cluster_nodes_keep_the_owner_loaded() -> None:
    """A cluster owner's hub counts the sockets of other nodes (ClusterHub.remote): with
    none of its own it is still in use, and must not be unloaded."""
    from forum_live.cluster.follower import ClusterHub

    store, rt = await memory_runtime(idle_unload_s=0)
    rt.hub = ClusterHub()
    assert rt.idle_for() is not None  # nobody anywhere: idle
    rt.hub.set_remote("p1", "node-b", 1)
    assert rt.idle_for() is None
    rt.hub.set_remote("p1", "node-b", 0)
    assert rt.idle_for() is not None
    await rt.close_all(1001, "end of test")
    await store.close()


async def test_start_up_loads_open_events_from_their_snapshot_and_no_ended_event(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = await start_server(data, resume_window=WINDOW)
    try:
        async with server.http() as http:
            ended, running = await create_event(http, title="Vorbei"), await create_event(http)
            mod = await join(http, ended, "Mia", moderator=True)
            anna = await join(http, running, "Anna")
        m = await Client.connect(server, ended["id"], mod["token"])
        assert (await m.request("event.end"))["type"] == "ok"
        await m.close()
        a = await Client.connect(server, running["id"], anna["token"])
        for i in range(WINDOW + 10):
            await a.request("chat.send", room=running["plenary_room"], text=f"Zeile {i}")
        await a.close()
    finally:
        await server.stop()  # shutdown saves a snapshot of each loaded event
    server = await start_server(data, resume_window=WINDOW)
    try:
        forum = server.forum
        assert list(forum.runtimes) == [running["id"]]  # the ended event was not folded
        saved = await forum.store.load_snapshot(running["id"])
        rt = forum.runtimes[running["id"]]
        assert saved is not None and saved[0] <= rt.state.seq <= saved[0] + 2  # + presence
        full, recent = await fold_journal(forum.store, running["id"], server.settings.limits,
                                          use_snapshot=False)
        assert ready_state(rt.state, anna["participant"]["id"]) == \
            ready_state(full, anna["participant"]["id"])
        assert [e.seq for e in rt.recent] == [e.seq for e in recent]  # the same window
    finally:
        await server.stop()


async def test_a_loaded_event_saves_a_snapshot_every_snapshot_every_entries() -> None:
    store, rt = await memory_runtime(snapshot_every=10)
    limits = rt.limits
    for i in range(25):
        await rt.write(lambda s, ctx, i=i: setup.register(s, ctx, JoinIn(name=f"P{i}"),
                                                           Role.PARTICIPANT))
    await until(lambda: "ev1" in store.snapshots and store.snapshots["ev1"][0] >= 21,
                "a snapshot after 20 more entries")
    seq = store.snapshots["ev1"][0]
    again, _ = await fold_journal(store, "ev1", limits)  # from that snapshot + the tail
    full, _ = await fold_journal(store, "ev1", limits, use_snapshot=False)
    assert 21 <= seq < rt.state.seq == again.seq == full.seq == 26
    assert again.participants == full.participants
    await rt.close_all(1001, "end of test")
    await store.close()
