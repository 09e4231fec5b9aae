"""Waiting room, Q&A, reactions, floor and timers over the real server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.live import Client, LiveServer, auth, connected, join, start_server


async def lobby_event(server: LiveServer) -> dict:  # type: ignore[type-arg]
    async with server.http() as http:
        r = await http.post("/api/events", headers=auth(),
                            json={"title": "Forum mit Warteraum", "lobby": True,
                                  "lobby_note": "Wir beginnen um 10 Uhr", "topics": []})
        assert r.status_code == 201
        return r.json()  # type: ignore[no-any-return]


async def test_a_waiting_participant_receives_nothing_but_its_admission(server: LiveServer) -> None:
    ev = await lobby_event(server)
    async with server.http() as http:
        mod = await join(http, ev, "Moderatorin", moderator=True)
        guest = await join(http, ev, "Gast")
    assert guest["participant"]["standing"] == "waiting"
    cm = await Client.connect(server, ev["id"], mod["token"])
    cg = await Client.connect(server, ev["id"], guest["token"])
    state = cg.ready["state"]  # type: ignore[index]
    assert set(state) == {"event", "me", "lobby"} and state["lobby"]["note"] == "Wir beginnen um 10 Uhr"
    assert cm.ready["state"]["lobby"]["waiting"][0]["name"] == "Gast"  # type: ignore[index]
    await cm.request("chat.send", room=ev["plenary_room"], text="Interna vor dem Start")
    await cm.request("poll.create", scope="event", question="Q", kind="single",
                     options=["a", "b"])
    await cm.request("hand.raise")
    refused = await cg.request("chat.send", room=ev["plenary_room"], text="hallo?")
    assert refused["code"] == "forbidden"
    await cm.request("lobby.admit", participants=[guest["participant"]["id"]])
    admitted = await cg.wait_for(lambda e: e["type"] == "lobby.admitted")
    assert admitted["participant"] == guest["participant"]["id"]
    assert [e["type"] for e in cg.events] == ["lobby.admitted"]  # nothing before it
    joined = await cm.wait_for(lambda e: e["type"] == "participant.joined"
                               and e["participant"]["id"] == guest["participant"]["id"])
    assert joined
    sync = await cg.request("state.sync")
    assert [m["text"] for m in sync["state"]["chat"]] == ["Interna vor dem Start"]
    assert (await cg.request("chat.send", room=ev["plenary_room"], text="Danke!"))["type"] == "ok"


async def sent_away(cm: Client, command: str, person: dict[str, Any], c: Client, told: str,
                    reason: str) -> None:
    """The moderator's `command` with a reason against `person`: told so on their socket
    `c` (event `told`, with the reason), which is then closed with 4403."""
    await cm.request(command, participant=person["participant"]["id"], reason=reason)
    got = await c.wait_for(lambda e: e["type"] == told)
    assert got["reason"] == reason
    await asyncio.wait_for(c.ws.wait_closed(), 5)
    assert c.ws.close_code == 4403


async def test_declined_and_removed_tokens_are_refused(server: LiveServer) -> None:
    ev = await lobby_event(server)
    async with server.http() as http:
        mod = await join(http, ev, "M", moderator=True)
        guest = await join(http, ev, "Gast")
        other = await join(http, ev, "Andere")
    cm, cg = await connected(server, ev, mod, guest)
    await sent_away(cm, "lobby.decline", guest, cg, "lobby.declined", "nicht eingeladen")
    with pytest.raises(PermissionError):
        await Client.connect(server, ev["id"], guest["token"])
    # an admitted participant removed: told, disconnected, token refused on reconnect
    await cm.request("lobby.admit", all=True)
    co, = await connected(server, ev, other)
    await sent_away(cm, "participant.remove", other, co, "participant.removed", "Störung")
    ws = await websockets.connect(f"{server.ws_base}/ws/events/{ev['id']}")
    await ws.send(json.dumps({"type": "hello", "token": other["token"]}))
    err = json.loads(await ws.recv())
    assert err["code"] == "unauthorized" and "removed" in err["message"]
    await asyncio.wait_for(ws.wait_closed(), 5)
    assert ws.close_code == 4401


async def test_question_votes_are_counted_once_under_200_concurrent_voters(
        tmp_path: Path) -> None:
    server = await start_server(tmp_path / "d")
    try:
        async with server.http() as http:
            from tests.support.live import create_event
            ev = await create_event(http)
            asker = await join(http, ev, "Frau Fragt")
            voters = await asyncio.gather(*(join(http, ev, f"V{i}") for i in range(200)))
        ca = await Client.connect(server, ev["id"], asker["token"])
        r = await ca.request("question.ask", text="Wie wird der Breitbandausbau finanziert?")
        assert r["type"] == "ok"
        qid = (await ca.wait_for(lambda e: e["type"] == "question.asked"))["question"]["id"]
        clients = await asyncio.gather(*(Client.connect(server, ev["id"], v["token"])
                                         for v in voters))
        # every voter votes twice at once: the second is a conflict, never a second count
        vote = {"type": "question.vote", "question": qid}
        pairs = await asyncio.gather(*(c.requests(vote, vote, timeout=20) for c in clients))
        replies = [r for pair in pairs for r in pair]
        assert sum(r["type"] == "ok" for r in replies) == 200
        assert {r["code"] for r in replies if r["type"] == "error"} == {"conflict"}
        last = await ca.wait_for(lambda e: e["type"] == "question.voted" and e["votes"] == 200,
                                 timeout=30)
        assert last["votes"] == 200
        assert server.forum.runtimes[ev["id"]].state.questions[qid].public()["votes"] == 200
    finally:
        await server.stop()


async def test_reactions_are_batched_not_chat(server: LiveServer) -> None:
    async with server.http() as http:
        from tests.support.live import create_event
        ev = await create_event(http)
        people = [await join(http, ev, f"P{i}") for i in range(5)]
    clients = [await Client.connect(server, ev["id"], p["token"]) for p in people]
    replies = await asyncio.gather(*(c.request("reaction.send", kind="applause")
                                     for c in clients))
    assert all(r["type"] == "ok" for r in replies)
    batch = await clients[0].wait_for(lambda e: e["type"] == "reactions")
    assert batch["counts"] == {"applause": 5}
    assert len(clients[0].of("reactions")) == 1 and clients[0].of("chat.message") == []
    bad = await clients[0].request("reaction.send", kind="thumbsdown")
    assert bad["code"] == "invalid"


async def test_floor_with_a_time_limit_and_a_timer_survive_a_restart(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "d")
    async with server.http() as http:
        from tests.support.live import create_event
        ev = await create_event(http)
        mod = await join(http, ev, "M", moderator=True)
        a = await join(http, ev, "Anna")
    cm, ca = await connected(server, ev, mod, a)
    await ca.request("hand.raise")
    given = await cm.request("floor.give", limit_s=10)
    assert given["type"] == "ok"
    floor = await ca.wait_for(lambda e: e["type"] == "floor.given")
    assert floor["participant"] == a["participant"]["id"] and floor["until"]
    await cm.request("timer.start", title="Kaffeepause", seconds=2)
    await ca.wait_for(lambda e: e["type"] == "timer.started")
    await cm.close()
    await ca.close()
    await server.stop()
    await asyncio.sleep(2.1)
    server = await start_server(tmp_path / "d")
    try:
        again = await Client.connect(server, ev["id"], a["token"])
        state = again.ready["state"]  # type: ignore[index]
        assert state["floor"][0]["participant"] == a["participant"]["id"]
        rt = server.forum.runtimes[ev["id"]]
        for _ in range(60):
            if all(t.finished for t in rt.state.timers.values()):
                break
            await asyncio.sleep(0.05)
        assert [t.finished for t in rt.state.timers.values()] == [True]
    finally:
        await server.stop()
