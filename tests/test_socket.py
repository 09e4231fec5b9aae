"""The socket of contract §4 against a real server: fan-out, presence, limits, errors,
resume (also under random drops), slow readers and the hello timeout."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.live import Client, LiveServer, create_event, join, start_server


async def setup_event(server: LiveServer, names: list[str], moderators: tuple[str, ...] = ()
                      ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    async with server.http() as http:
        ev = await create_event(http)
        people = {n: await join(http, ev, n) for n in names}
        for m in moderators:
            people[m] = await join(http, ev, m, moderator=True)
    return ev, people


async def raw(server: LiveServer, event_id: str, **kw: Any) -> Any:
    return await websockets.connect(f"{server.ws_base}/ws/events/{event_id}", max_size=None, **kw)


async def closed_with(ws: Any, timeout: float = 5.0) -> int | None:
    """Read until the server closes; the close code."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed:
        pass
    return ws.close_code  # type: ignore[no-any-return]


async def settle(*clients: Client) -> None:
    """Each client's ping round trip: everything committed before is delivered before the ok."""
    for c in clients:
        r = await c.request("ping")
        assert r["type"] == "ok"


def chat_seqs(c: Client) -> list[int]:
    return [e["seq"] for e in c.of("chat.message")]


async def journal(server: LiveServer, event_id: str) -> list[Any]:
    await server.forum.store.flush()
    return [e async for e in server.forum.store.journal(event_id)]


# -- fan-out and presence -------------------------------------------------------------------
async def test_chat_fans_out_to_fifty_clients_once_each_in_the_same_order(
        server: LiveServer) -> None:
    names = [f"p{i}" for i in range(50)]
    ev, people = await setup_event(server, names)
    clients = [await Client.connect(server, ev["id"], people[n]["token"]) for n in names]
    senders = clients[:5]
    room = ev["plenary_room"]

    async def send_lines(i: int, c: Client) -> list[int]:
        seqs = []
        for k in range(8):
            r = await c.request("chat.send", room=room, text=f"{i}-{k}")
            assert r["type"] == "ok", r
            seqs.append(r["seq"])
        return seqs

    async def receive_all(c: Client) -> None:
        while len(c.of("chat.message")) < 40:
            await c.recv(10)

    acked = await asyncio.gather(*(send_lines(i, c) for i, c in enumerate(senders)))
    await asyncio.gather(*(receive_all(c) for c in clients))
    await asyncio.gather(*(settle(c) for c in clients))
    expected = sorted(s for seqs in acked for s in seqs)
    assert len(set(expected)) == 40
    for c in clients:
        assert chat_seqs(c) == expected
    first = [(e["seq"], e["message"]["text"], e["message"]["id"]) for e in clients[0].of(
        "chat.message")]
    for c in clients[1:]:
        assert [(e["seq"], e["message"]["text"], e["message"]["id"])
                for e in c.of("chat.message")] == first
    # each sender's own lines arrive in the order it sent them
    for i in range(5):
        assert [t for _, t, _ in first if t.startswith(f"{i}-")] == [f"{i}-{k}" for k in range(8)]
    await asyncio.gather(*(c.close() for c in clients))


async def test_one_person_with_two_tabs_is_present_once(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna", "Wim"])
    anna = people["Anna"]
    wim = await Client.connect(server, ev["id"], people["Wim"]["token"])
    tab1 = await Client.connect(server, ev["id"], anna["token"])
    tab2 = await Client.connect(server, ev["id"], anna["token"])
    assert tab2.ready is not None
    online = [p["id"] for p in tab2.ready["state"]["participants"]]
    assert online.count(anna["participant"]["id"]) == 1
    await settle(wim)
    joined = [e for e in wim.of("participant.joined")
              if e["participant"]["id"] == anna["participant"]["id"]]
    assert len(joined) == 1
    await tab1.close()
    await asyncio.sleep(0.2)
    await settle(wim, tab2)
    assert wim.of("participant.left") == []
    # both tabs see the same live events
    r = await wim.request("chat.send", room=ev["plenary_room"], text="noch da?")
    got = await tab2.wait_for(lambda e: e["type"] == "chat.message")
    assert got["seq"] == r["seq"]
    await tab2.close()
    left = await wim.wait_for(lambda e: e["type"] == "participant.left")
    assert left["participant"]["id"] == anna["participant"]["id"]
    await settle(wim)
    assert len(wim.of("participant.left")) == 1
    await wim.close()


async def test_presence_in_the_ready_state_and_the_join_event(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna", "Bernd"])
    a = await Client.connect(server, ev["id"], people["Anna"]["token"])
    b = await Client.connect(server, ev["id"], people["Bernd"]["token"])
    assert b.ready is not None
    assert {p["name"] for p in b.ready["state"]["participants"]} == {"Anna", "Bernd"}
    j = await a.wait_for(lambda e: e["type"] == "participant.joined")
    assert j["participant"]["name"] == "Bernd" and j["seq"] <= b.ready["seq"]
    await a.close()
    await b.close()


# -- authentication --------------------------------------------------------------------------
@pytest.mark.parametrize("hello", [
    {"type": "hello", "token": "nonsense"},
    {"type": "hello", "token": ""},
    {"type": "hello"},
    {"type": "hello", "token": 12},
])
async def test_bad_token_is_unauthorized_4401(server: LiveServer, hello: dict[str, Any]) -> None:
    ev, _ = await setup_event(server, [])
    ws = await raw(server, ev["id"])
    await ws.send(json.dumps(hello))
    frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert frame["type"] == "error" and frame["code"] == "unauthorized"
    assert await closed_with(ws) == 4401


@pytest.mark.parametrize("first", [
    json.dumps({"type": "chat.send", "room": "x", "text": "hi"}),
    json.dumps({"type": "ping", "ref": 1}),
    "not json",
    json.dumps([1, 2]),
])
async def test_first_frame_must_be_hello(server: LiveServer, first: str) -> None:
    ev, people = await setup_event(server, ["Anna"])
    ws = await raw(server, ev["id"])
    await ws.send(first)
    frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert frame["type"] == "error" and frame["code"] == "unauthorized"
    assert await closed_with(ws) == 4401


async def test_a_tampered_token_is_refused(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna"])
    token = people["Anna"]["token"]
    bad = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    ws = await raw(server, ev["id"])
    await ws.send(json.dumps({"type": "hello", "token": bad}))
    frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert frame["code"] == "unauthorized"
    assert await closed_with(ws) == 4401


async def test_hello_timeout_closes_a_silent_socket(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "d", hello_timeout_s=0.3)
    try:
        ev, _ = await setup_event(server, [])
        ws = await raw(server, ev["id"])
        t0 = time.monotonic()
        code = await closed_with(ws, timeout=30)
        elapsed = time.monotonic() - t0
        assert code is not None and code >= 4000  # 4408
        assert elapsed >= 0.25  # not before the hello timeout
    finally:
        await server.stop()


# -- limits and errors -------------------------------------------------------------------------
async def test_oversize_frame_is_too_large_and_the_connection_stays(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna", "Bernd"])
    a = await Client.connect(server, ev["id"], people["Anna"]["token"])
    b = await Client.connect(server, ev["id"], people["Bernd"]["token"])
    big = json.dumps({"type": "chat.send", "ref": "big", "room": ev["plenary_room"],
                      "text": "x" * (server.settings.limits.frame_max + 10)})
    await a.ws.send(big)
    while True:
        f = await a.recv()
        if f["type"] == "error":
            break
    assert f["code"] == "too_large"
    r = await a.request("chat.send", room=ev["plenary_room"], text="klein")
    assert r["type"] == "ok"
    got = await b.wait_for(lambda e: e["type"] == "chat.message")
    assert got["message"]["text"] == "klein"
    await settle(b)
    assert len(b.of("chat.message")) == 1
    await a.close()
    await b.close()


async def test_text_over_the_limit_is_too_large(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna"])
    a = await Client.connect(server, ev["id"], people["Anna"]["token"])
    r = await a.request("chat.send", room=ev["plenary_room"], text="x" * 2001)
    assert r["type"] == "error" and r["code"] == "too_large"
    r = await a.request("chat.send", room=ev["plenary_room"], text="ä" * 2000)
    assert r["type"] == "ok"
    await a.close()


async def test_chat_spam_is_rate_limited_after_the_burst(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna", "Bernd"])
    a = await Client.connect(server, ev["id"], people["Anna"]["token"])
    b = await Client.connect(server, ev["id"], people["Bernd"]["token"])
    room = ev["plenary_room"]
    for i in range(25):  # all at once, without waiting for the replies
        await a.ws.send(json.dumps({"type": "chat.send", "ref": f"s{i}", "room": room,
                                    "text": f"spam {i}"}))
    while len([k for k in a.replies if str(k).startswith("s")]) < 25:
        await a.recv()
    replies = [a.replies[f"s{i}"] for i in range(25)]
    oks = [r for r in replies if r["type"] == "ok"]
    limited = [r for r in replies if r["type"] == "error"]
    assert 10 <= len(oks) <= 12, [r["type"] for r in replies]
    assert all(r["code"] == "rate_limited" for r in limited)
    assert replies[:10] == oks[:10]  # the burst is the first ten
    await settle(b)
    assert chat_seqs(b) == [r["seq"] for r in oks]  # refused lines reached nobody
    # others are unaffected, and after a pause the spammer may speak again
    r = await b.request("chat.send", room=room, text="ich darf")
    assert r["type"] == "ok"
    await asyncio.sleep(0.45)
    r = await a.request("chat.send", room=room, text="wieder da")
    assert r["type"] == "ok"
    await a.close()
    await b.close()


async def test_malformed_frames_are_invalid_with_the_ref_echoed(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna"])
    a = await Client.connect(server, ev["id"], people["Anna"]["token"])
    await a.ws.send("{not json")
    f = await a.recv()
    assert f["type"] == "error" and f["code"] == "invalid"
    r = await a.request("no.such.type")
    assert r["type"] == "error" and r["code"] == "invalid" and "no.such.type" in r["message"]
    r = await a.request("chat.send", room=ev["plenary_room"])
    assert r["code"] == "invalid" and "text" in r["message"]
    r = await a.request("chat.send", room=ev["plenary_room"], text=5)
    assert r["code"] == "invalid" and "text" in r["message"]
    await a.ws.send(json.dumps({"type": "whatever", "ref": "mine"}))
    f = await a.recv()
    assert f == {**f, "type": "error", "code": "invalid", "ref": "mine"}
    await a.ws.send(json.dumps(["type", "chat.send"]))
    f = await a.recv()
    assert f["type"] == "error" and f["code"] == "invalid"
    await a.ws.send(b'{"type": "ping", "ref": "bin"}')  # a binary frame is read as JSON too
    f = await a.recv()
    assert f["ref"] == "bin"
    await a.ws.send("[" * 30_000 + "]" * 30_000)  # deep nesting, inside the frame limit
    f = await a.recv()
    assert f["type"] == "error" and f["code"] == "invalid"
    r = await a.request("hello", token=people["Anna"]["token"])
    assert r["code"] == "invalid"
    assert (await a.request("ping"))["type"] == "ok"
    await a.close()


async def test_chat_delete_needs_a_moderator_and_reaches_everyone(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna", "Bernd"], moderators=("Mia",))
    a, b, m = [await Client.connect(server, ev["id"], people[n]["token"])
               for n in ("Anna", "Bernd", "Mia")]
    r = await a.request("chat.send", room=ev["plenary_room"], text="unpassend")
    mid = r["message"]
    r = await b.request("chat.delete", message=mid)
    assert r["type"] == "error" and r["code"] == "forbidden"
    r = await a.request("chat.delete", message=mid)  # not even one's own
    assert r["code"] == "forbidden"
    r = await m.request("chat.delete", message=mid)
    assert r["type"] == "ok"
    for c in (a, b, m):
        d = await c.wait_for(lambda e: e["type"] == "chat.deleted")
        assert d["message"] == mid and d["seq"] == r["seq"] and d["room"] == ev["plenary_room"]
    r = await m.request("chat.delete", message="nope")
    assert r["code"] == "not_found"
    late = await Client.connect(server, ev["id"], people["Bernd"]["token"])
    assert late.ready is not None and late.ready["state"]["chat"] == []
    for c in (a, b, m, late):
        await c.close()


async def test_hands_are_raised_and_lowered_in_order(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna", "Bernd"], moderators=("Mia",))
    a, b, m = [await Client.connect(server, ev["id"], people[n]["token"])
               for n in ("Anna", "Bernd", "Mia")]
    pa, pb = people["Anna"]["participant"]["id"], people["Bernd"]["participant"]["id"]
    assert (await a.request("hand.raise"))["type"] == "ok"
    assert (await b.request("hand.raise"))["type"] == "ok"
    assert (await a.request("hand.raise"))["type"] == "ok"  # a no-op, no event
    r = await b.request("hand.lower", participant=pa)
    assert r["code"] == "forbidden"
    snapshot = await Client.connect(server, ev["id"], people["Mia"]["token"])
    assert snapshot.ready is not None
    assert [h["participant"] for h in snapshot.ready["state"]["hands"]] == [pa, pb]
    await snapshot.close()
    assert (await a.request("hand.lower"))["type"] == "ok"
    assert (await m.request("hand.lower", participant=pb))["type"] == "ok"
    await settle(a, b, m)
    for c in (a, b, m):
        hands = [(e["type"], e["participant"]) for e in c.events if e["type"].startswith("hand.")]
        assert hands == [("hand.raised", pa), ("hand.raised", pb), ("hand.lowered", pa),
                         ("hand.lowered", pb)]
    for c in (a, b, m):
        await c.close()


async def test_sending_into_a_room_one_is_not_in(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna"])
    a = await Client.connect(server, ev["id"], people["Anna"]["token"])
    r = await a.request("chat.send", room="elsewhere", text="hi")
    assert r["code"] in ("not_found", "forbidden")
    await a.close()


# -- resume -----------------------------------------------------------------------------------
async def test_resume_delivers_exactly_the_missed_events(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna", "Bernd", "Carl"], moderators=("Mia",))
    room = ev["plenary_room"]
    a, b, m = [await Client.connect(server, ev["id"], people[n]["token"])
               for n in ("Anna", "Bernd", "Mia")]
    await a.request("chat.send", room=room, text="vorher")
    await settle(a, b, m)
    mark = a.last_seq
    await a.close()
    await asyncio.sleep(0.1)
    for i in range(5):
        await b.request("chat.send", room=room, text=f"verpasst {i}")
    await b.request("hand.raise")
    c = await Client.connect(server, ev["id"], people["Carl"]["token"])
    r = await b.request("chat.send", room=room, text="zu löschen")
    await m.request("chat.delete", message=r["message"])
    await settle(b, m)

    a2 = await Client.connect(server, ev["id"], people["Anna"]["token"], resume_from=mark)
    assert a2.ready is not None and a2.ready["resumed"] is True and "state" not in a2.ready
    await settle(b)
    witness = [e for e in b.events if e["seq"] > mark]
    assert [e["seq"] for e in a2.events] == [e["seq"] for e in witness]
    assert a2.events == witness  # the very same frames
    kinds = [e["type"] for e in a2.events]
    assert kinds.count("chat.message") == 6 and "chat.deleted" in kinds
    assert kinds.count("participant.left") == 1  # her own departure, as everyone saw it
    # and live from there on, no duplicates
    r = await c.request("chat.send", room=room, text="danach")
    got = await a2.wait_for(lambda e: e["type"] == "chat.message"
                            and e["message"]["text"] == "danach")
    assert got["seq"] == r["seq"]
    await settle(a2)
    assert len(a2.of("chat.message")) == 7
    for x in (a2, b, c, m):
        await x.close()


async def test_resume_with_nothing_missed_is_an_empty_replay(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna", "Bernd"])
    a = await Client.connect(server, ev["id"], people["Anna"]["token"])
    b = await Client.connect(server, ev["id"], people["Bernd"]["token"])
    # a second tab resumes from the head: Anna never left, so nothing is new
    await settle(a)
    a2 = await Client.connect(server, ev["id"], people["Anna"]["token"], resume_from=a.last_seq)
    assert a2.ready is not None and a2.ready["resumed"] is True
    assert a2.events == [] and a2.ready["seq"] == a.last_seq
    for x in (a, a2, b):
        await x.close()


async def test_resume_from_too_old_gives_the_full_state(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "d", resume_window=5)
    try:
        ev, people = await setup_event(server, ["Anna", "Bernd"])
        room = ev["plenary_room"]
        a = await Client.connect(server, ev["id"], people["Anna"]["token"])
        b = await Client.connect(server, ev["id"], people["Bernd"]["token"])
        await settle(a)
        mark = a.last_seq
        await a.close()
        for i in range(8):
            await b.request("chat.send", room=room, text=f"l{i}")
        a2 = await Client.connect(server, ev["id"], people["Anna"]["token"], resume_from=mark)
        assert a2.ready is not None and a2.ready["resumed"] is False
        state = a2.ready["state"]
        assert [m["text"] for m in state["chat"]] == [f"l{i}" for i in range(8)]
        assert state["me"]["id"] == people["Anna"]["participant"]["id"]
        assert {p["name"] for p in state["participants"]} == {"Anna", "Bernd"}
        assert a2.events == []
        # a resume_from in the future is no better
        a3 = await Client.connect(server, ev["id"], people["Anna"]["token"],
                                  resume_from=a2.ready["seq"] + 100)
        assert a3.ready is not None and a3.ready["resumed"] is False and "state" in a3.ready
        # but a recent one still resumes
        r = await b.request("chat.send", room=room, text="neu")
        await settle(b)
        a4 = await Client.connect(server, ev["id"], people["Anna"]["token"],
                                  resume_from=r["seq"] - 1)
        assert a4.ready is not None and a4.ready["resumed"] is True
        assert [e["seq"] for e in a4.events] == [r["seq"]]
        for x in (a2, a3, a4, b):
            await x.close()
    finally:
        await server.stop()


@pytest.mark.parametrize("seed", range(1, 7))
async def test_random_drops_and_resumes_lose_nothing(tmp_path: Path, seed: int) -> None:
    """Property: whatever the schedule of sends, drops and resumes, every person ends up
    with exactly the journal's chat lines, in journal order, each once."""
    server = await start_server(tmp_path / "d", chat_rate=1000.0, chat_burst=1000)
    try:
        rng = random.Random(seed)
        names = ["A", "B", "C", "D", "E"]
        ev, people = await setup_event(server, names)
        room = ev["plenary_room"]
        conns: dict[str, Client | None] = {}
        seen: dict[str, list[int]] = {n: [] for n in names}
        last: dict[str, int] = {}
        taken: dict[str, int] = {n: 0 for n in names}  # events of the current conn accounted

        def account(n: str) -> None:
            c = conns[n]
            assert c is not None
            new = c.events[taken[n]:]
            taken[n] = len(c.events)
            seen[n].extend(e["seq"] for e in new if e["type"] == "chat.message")
            last[n] = c.last_seq

        async def connect(n: str) -> None:
            # max_queue=None: a client with many unread frames must not stall its own close
            # (websockets stops reading when its queue is full, so it never sees the reply)
            c = await Client.connect(server, ev["id"], people[n]["token"],
                                     resume_from=last.get(n), max_queue=None)
            assert c.ready is not None
            if n in last:
                assert c.ready["resumed"] is True, c.ready
            conns[n], taken[n] = c, 0
            account(n)

        for n in names:
            await connect(n)
        for step in range(200):
            n = rng.choice(names)
            c = conns[n]
            roll = rng.random()
            if c is None:
                await connect(n)
            elif roll < 0.6:
                r = await c.request("chat.send", room=room, text=f"{n}{step}")
                assert r["type"] == "ok", r
                account(n)
            elif roll < 0.75:
                # read a little, not necessarily everything
                try:
                    for _ in range(rng.randint(0, 5)):
                        await c.recv(0.05)
                except asyncio.TimeoutError:
                    pass
                account(n)
            elif roll < 0.9:
                await c.close()
                conns[n] = None
            else:
                c.ws.transport.abort()  # a dead network, no closing handshake
                await c.ws.wait_closed()
                conns[n] = None
        for n in names:
            if conns[n] is None:
                await connect(n)
        expected = [e.seq for e in await journal(server, ev["id"]) if e.kind == "chat.message"]
        assert len(expected) > 30
        for n in names:
            c = conns[n]
            assert c is not None
            await settle(c)
            account(n)
            assert seen[n] == expected, (n, seed)
        for n in names:
            await conns[n].close()  # type: ignore[union-attr]
    finally:
        await server.stop()


# -- slow readers -------------------------------------------------------------------------------
def tiny_socket(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    return s


async def test_a_slow_reader_is_cut_off_without_slowing_anyone(tmp_path: Path) -> None:
    # a send may hang for a minute before the cut: had anyone waited for the slow reader,
    # the fast one's 30 s deadline would pass first; the full queue (32) is what cuts it
    server = await start_server(tmp_path / "d", outbound_queue=32, send_timeout_s=60.0,
                                chat_rate=10000.0, chat_burst=10000, text_max=40000)
    slow: Client | None = None
    try:
        ev, people = await setup_event(server, ["Slow", "Fast", "Talker"])
        room = ev["plenary_room"]
        slow = await Client.connect(server, ev["id"], people["Slow"]["token"],
                                    sock=tiny_socket(server.settings.port), max_queue=1)
        fast = await Client.connect(server, ev["id"], people["Fast"]["token"])
        talker = await Client.connect(server, ev["id"], people["Talker"]["token"])
        await settle(fast, talker)
        mark = slow.last_seq  # Slow never reads another frame from here
        rt = server.forum.runtimes[ev["id"]]
        slow_pid = people["Slow"]["participant"]["id"]

        n = 150
        for i in range(n):
            r = await talker.request("chat.send", room=room, text=f"{i:04d}" + "x" * 30000)
            assert r["type"] == "ok", r
            await fast.wait_for(lambda e, s=r["seq"]: e["seq"] == s)
        assert len(fast.of("chat.message")) == n

        def slow_conns() -> list[Any]:
            return [c for c in rt.hub.connections if c.pid == slow_pid]
        deadline = time.monotonic() + 30
        while any(c.close_code is None for c in slow_conns()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert all(c.close_code == 4408 for c in slow_conns()), slow_conns()
        # it is gone from the hub (its handler ended), not lingering with a dead queue
        deadline = time.monotonic() + 30
        while slow_conns() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert slow_conns() == []

        # the slow one comes back and resumes without loss
        again = await Client.connect(server, ev["id"], people["Slow"]["token"],
                                     resume_from=mark)
        assert again.ready is not None and again.ready["resumed"] is True
        await settle(fast)
        assert chat_seqs(again) == chat_seqs(fast)
        assert fast.ready is not None
        assert [e["seq"] for e in again.events if e["seq"] > fast.ready["seq"]] == [
            e["seq"] for e in fast.events]
        # everything here is visible to everyone: the replay is every seq after the mark
        assert [e["seq"] for e in again.events] == list(range(mark + 1, fast.last_seq + 1))
        for c in (again, fast, talker):
            await c.close()
    finally:
        if slow is not None:
            slow.ws.transport.abort()
        await server.stop()


# -- more edges ------------------------------------------------------------------------------
async def test_unknown_event_and_foreign_origin_are_refused(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna"])
    ws = await raw(server, "no-such-event")
    await ws.send(json.dumps({"type": "hello", "token": people["Anna"]["token"]}))
    frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert frame["type"] == "error" and frame["code"] in ("not_found", "unauthorized")
    assert await closed_with(ws) in (4404, 4401)
    # a page on another site cannot open a socket with a visitor's token
    with pytest.raises(websockets.InvalidStatus):
        await raw(server, ev["id"], origin="http://evil.example")
    ok = await raw(server, ev["id"], origin=server.base)
    await ok.send(json.dumps({"type": "hello", "token": people["Anna"]["token"]}))
    assert json.loads(await asyncio.wait_for(ok.recv(), 5))["type"] == "ready"
    await ok.close()


async def test_a_reload_within_the_grace_period_does_not_flicker(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "d", presence_grace_s=0.4)
    try:
        ev, people = await setup_event(server, ["Anna", "Wim"])
        wim = await Client.connect(server, ev["id"], people["Wim"]["token"])
        a = await Client.connect(server, ev["id"], people["Anna"]["token"])
        assert (await a.request("hand.raise"))["type"] == "ok"
        await a.close()
        a = await Client.connect(server, ev["id"], people["Anna"]["token"])  # page reload
        await asyncio.sleep(0.6)
        await settle(wim)
        assert wim.of("participant.left") == [] and wim.of("hand.lowered") == []
        assert a.ready is not None and len(a.ready["state"]["hands"]) == 1
        await a.close()
        t0 = time.monotonic()
        left = await wim.wait_for(lambda e: e["type"] == "participant.left", timeout=30)
        assert time.monotonic() - t0 >= 0.3
        assert left["participant"]["id"] == people["Anna"]["participant"]["id"]
        lowered = await wim.wait_for(lambda e: e["type"] == "hand.lowered")
        assert lowered["participant"] == people["Anna"]["participant"]["id"]
        await wim.close()
    finally:
        await server.stop()


async def test_two_tabs_raising_at_once_make_one_hand(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna", "Wim"])
    wim = await Client.connect(server, ev["id"], people["Wim"]["token"])
    tabs = [await Client.connect(server, ev["id"], people["Anna"]["token"]) for _ in range(3)]
    replies = await asyncio.gather(*(t.request("hand.raise") for t in tabs))
    assert all(r["type"] == "ok" for r in replies)
    await settle(wim)
    assert len(wim.of("hand.raised")) == 1
    for c in (wim, *tabs):
        await c.close()


async def test_ping_answers_the_committed_seq(server: LiveServer) -> None:
    ev, people = await setup_event(server, ["Anna"])
    a = await Client.connect(server, ev["id"], people["Anna"]["token"])
    r = await a.request("chat.send", room=ev["plenary_room"], text="x")
    p = await a.request("ping")
    assert p["type"] == "ok" and p["seq"] == r["seq"] == a.last_seq
    await a.close()
