"""Breakout rooms over the real server: isolation, reconnect, races and the timer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.live import Client, LiveServer, create_event, join, start_server


async def people(server: LiveServer, n: int, topics: list[dict[str, str]] | None = None):  # type: ignore[no-untyped-def]
    async with server.http() as http:
        ev = await create_event(http, topics=topics)
        mod = await join(http, ev, "Moderatorin", moderator=True)
        parts = [await join(http, ev, f"Teilnehmer {i}") for i in range(n)]
    cm = await Client.connect(server, ev["id"], mod["token"])
    clients = [await Client.connect(server, ev["id"], p["token"]) for p in parts]
    return ev, cm, clients, parts


async def test_room_chat_is_isolated_for_every_client(server: LiveServer) -> None:
    ev, cm, clients, parts = await people(server, 6)
    opened = await cm.request("breakouts.open", assign="auto")
    assert opened["type"] == "ok"
    rooms = (await cm.wait_for(lambda e: e["type"] == "breakouts.opened"))["rooms"]
    # everyone learns where they are
    where = {}
    for c, p in zip(clients, parts):
        moved = await c.wait_for(lambda e, pid=p["participant"]["id"]:
                                 e["type"] == "participant.moved" and e["participant"] == pid)
        where[p["participant"]["id"]] = moved["to"]
    assert set(where.values()) == {r["id"] for r in rooms}
    for c, p in zip(clients, parts):
        r = await c.request("chat.send", room=where[p["participant"]["id"]],
                            text=f"from {p['participant']['id']}")
        assert r["type"] == "ok"
    # a line into a room one is not in is refused
    other = next(r["id"] for r in rooms if r["id"] != where[parts[0]["participant"]["id"]])
    refused = await clients[0].request("chat.send", room=other, text="sneaking in")
    assert refused["code"] == "forbidden"
    await asyncio.sleep(0.3)
    for c, p in zip(clients, parts):
        await c.request("ping")
        mine = where[p["participant"]["id"]]
        seen = [e for e in c.of("chat.message")]
        assert seen, "everyone sees their own room's chat"
        assert all(e["room"] == mine for e in seen)
        mates = {q for q, r in where.items() if r == mine}
        assert {e["message"]["author"]["id"] for e in seen} == mates
    # the moderator in the plenary saw none of it
    assert cm.of("chat.message") == []


async def test_reconnect_inside_a_breakout_lands_back_in_it_with_history(server: LiveServer) -> None:
    ev, cm, clients, parts = await people(server, 2, topics=[{"title": "Geodaten"}])
    await cm.request("breakouts.open", assign="auto")
    a, b = clients
    moved = await a.wait_for(lambda e: e["type"] == "participant.moved"
                             and e["participant"] == parts[0]["participant"]["id"])
    room = moved["to"]
    await b.wait_for(lambda e: e["type"] == "participant.moved"
                     and e["participant"] == parts[1]["participant"]["id"])
    await a.request("chat.send", room=room, text="Wer moderiert hier?")
    await a.close()
    await b.request("chat.send", room=room, text="Ich fange an.")
    fresh = await Client.connect(server, ev["id"], parts[0]["token"])
    state = fresh.ready["state"]  # type: ignore[index]
    assert state["my_room"] == room
    assert [m["text"] for m in state["chat"]] == ["Wer moderiert hier?", "Ich fange an."]
    assert state["breakouts"]["status"] == "open"
    # and a resume from the last seq gets the missed line only
    resumed = await Client.connect(server, ev["id"], parts[0]["token"], resume_from=a.last_seq)
    assert resumed.ready["resumed"] is True  # type: ignore[index]
    texts = [e["message"]["text"] for e in resumed.of("chat.message")]
    assert texts == ["Ich fange an."]


async def test_many_participants_racing_for_the_last_seat(server: LiveServer) -> None:
    ev, cm, clients, parts = await people(server, 12, topics=[{"title": "Smart Mobility"}])
    await cm.request("breakouts.open", assign="self", rooms=[{"topic": ev["topics"][0]["id"],
                                                              "capacity": 3}])
    opened = await cm.wait_for(lambda e: e["type"] == "breakouts.opened")
    room = opened["rooms"][0]["id"]
    for c in clients:
        await c.wait_for(lambda e: e["type"] == "breakouts.opened")
    replies = await asyncio.gather(*(c.request("room.enter", room=room) for c in clients))
    ok = [r for r in replies if r["type"] == "ok"]
    full = [r for r in replies if r["type"] == "error"]
    assert len(ok) == 3
    assert {r["code"] for r in full} == {"conflict"}
    async with server.http() as http:
        from tests.support.live import auth
        info = (await http.get(f"/api/events/{ev['id']}", headers=auth())).json()
    assert info["id"] == ev["id"]
    rt = server.forum.runtimes[ev["id"]]
    assert sum(1 for p in rt.state.participants.values() if p.room == room) == 3


async def test_rooms_close_by_themselves_and_everyone_is_back(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "d", breakout_warning_s=1)
    try:
        ev, cm, clients, parts = await people(server, 4)
        await cm.request("breakouts.open", assign="auto", duration_s=2)
        for c in clients:
            warn = await c.wait_for(lambda e: e["type"] == "breakouts.warning", timeout=30)
            assert warn["seconds_left"] <= 1
            await c.wait_for(lambda e: e["type"] == "breakouts.closed", timeout=30)
        for c, p in zip(clients, parts):
            await c.request("ping")
            sync = await c.request("state.sync")
            assert sync["state"]["my_room"] == ev["plenary_room"]
            assert sync["state"]["breakouts"]["status"] == "closed"
    finally:
        await server.stop()


async def test_broadcast_reaches_every_room_and_help_reaches_moderators(server: LiveServer) -> None:
    ev, cm, clients, parts = await people(server, 3)
    await cm.request("breakouts.open", assign="auto")
    for c in clients:
        await c.wait_for(lambda e: e["type"] == "breakouts.opened")
    r = await cm.request("breakouts.broadcast", text="Noch fünf Minuten")
    assert r["type"] == "ok"
    for c in clients:
        got = await c.wait_for(lambda e: e["type"] == "broadcast")
        assert got["text"] == "Noch fünf Minuten" and got["from"]["name"] == "Moderatorin"
    await clients[0].wait_for(lambda e: e["type"] == "participant.moved")
    assert (await clients[0].request("breakouts.help"))["type"] == "ok"
    flagged = await cm.wait_for(lambda e: e["type"] == "help.requested")
    assert flagged["participant"] == parts[0]["participant"]["id"]
    await asyncio.sleep(0.2)
    await clients[1].request("ping")
    assert clients[1].of("help.requested") == []  # moderators only
    denied = await clients[1].request("breakouts.close")
    assert denied["code"] == "forbidden"


async def test_breakout_timer_survives_a_restart(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "d", breakout_warning_s=0)
    ev, cm, clients, parts = await people(server, 2)
    await cm.request("breakouts.open", assign="auto", duration_s=2)
    await cm.close()
    for c in clients:
        await c.close()
    await server.stop()
    await asyncio.sleep(2.2)  # the round falls due while the server is down
    server = await start_server(tmp_path / "d")
    try:
        rt = server.forum.runtimes[ev["id"]]
        for _ in range(100):
            if rt.state.breakout is None:
                break
            await asyncio.sleep(0.05)
        assert rt.state.breakout is None
        assert all(rt.state.room_of(p["participant"]["id"]) == ev["plenary_room"] for p in parts)
    finally:
        await server.stop()
