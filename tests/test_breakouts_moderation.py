"""A moderator's per-room controls over the real server: close one breakout room, extend
one, and listen in on a room (its mix, listen-only, and its chat) from the plenary, heard
through real aiortc peers on 127.0.0.1 (FFT of the decoded audio)."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.support import media
from tests.support.live import Client, LiveServer, create_event, crowd, join
from tests.support.media import Peer, Sig, has_tone, tone_power
from tests.support.process import spawn

PLENARY_HZ, ROOM_HZ = 440.0, 660.0
until = partial(media.until, timeout=30.0)  # a deadline for every wait here, not a speed


def recent(peer: Peer, seconds: float = 0.5) -> Any:
    return peer.heard_since(time.monotonic() - seconds)


def hears(peer: Peer, hz: float) -> bool:
    return has_tone(recent(peer), hz)


def silent_to(peer: Peer, hz: float) -> bool:
    pcm = recent(peer)
    return len(pcm) > 20000 and tone_power(pcm, hz) < 0.01


async def world(server: LiveServer, topics: int, n: int) -> tuple[dict, list[dict], list[Sig]]:
    async with server.http() as http:
        event = await create_event(http, topics=[{"title": f"Thema {i}"} for i in range(topics)])
        people = [await join(http, event, f"P{i}", moderator=(i == 0)) for i in range(n)]
    sigs = [await Sig.connect(server.ws_base, event["id"], p["token"]) for p in people]
    return event, people, sigs


async def test_close_and_extend_a_single_room_leave_the_others_alone(server: LiveServer) -> None:
    event, people, sigs = await world(server, 3, 7)
    mod = sigs[0]
    ids = [p["participant"]["id"] for p in people]
    try:
        opened = await mod.request("breakouts.open", assign="auto", duration_s=600)
        assert opened["type"] == "ok", opened
        ev = await mod.wait_event(lambda e: e["type"] == "breakouts.opened")
        a, b, c = [r["id"] for r in ev["rooms"]]
        moves = {}
        for s, pid in zip(sigs[1:], ids[1:]):
            m = await s.wait_event(lambda e, pid=pid: e["type"] == "participant.moved"
                                   and e["participant"] == pid)
            moves[pid] = m["to"]
        in_a = {p for p, r in moves.items() if r == a}
        assert len(in_a) == 2
        # extend a alone: the others keep the round's time
        ext = await mod.request("breakouts.extend", seconds=300, room=a)
        assert ext["type"] == "ok", ext
        room_ext = await sigs[1].wait_event(lambda e: e["type"] == "breakouts.room_extended")
        assert room_ext["room"] == a and room_ext["ends_at"] > ev["ends_at"]
        state = (await mod.request("state.sync"))["state"]["breakouts"]
        ends = {r["id"]: r["ends_at"] for r in state["rooms"]}
        assert ends[b] == ends[c] == state["ends_at"] == ev["ends_at"] and ends[a] > ev["ends_at"]
        # a participant may do neither
        denied = await sigs[1].request("breakouts.close_room", room=a)
        assert denied["type"] == "error" and denied["code"] == "forbidden"
        # close a alone: its two people come back, b and c go on
        closed = await mod.request("breakouts.close_room", room=a)
        assert closed["type"] == "ok", closed
        rc = await mod.wait_event(lambda e: e["type"] == "breakouts.room_closed")
        assert rc["room"] == a and rc["reason"] == "moderator"
        for s, pid in zip(sigs[1:], ids[1:]):
            if pid in in_a:
                back = await s.wait_event(lambda e, pid=pid: e["type"] == "participant.moved"
                                          and e["participant"] == pid and e["reason"] == "closed")
                assert back["to"] == event["plenary_room"]
        await mod.request("ping")
        rt = server.forum.runtimes[event["id"]]
        assert {p for p in ids if rt.state.room_of(p) == event["plenary_room"]} == in_a | {ids[0]}
        assert all(rt.state.room_of(p) == moves[p] for p in ids[1:] if p not in in_a)
        assert rt.state.breakout is not None
        again = await mod.request("breakouts.close_room", room=a)
        assert again["type"] == "error" and again["code"] == "conflict"
        # nobody can enter the closed room
        entering = await mod.request("room.enter", room=a)
        assert entering["type"] == "error" and entering["code"] == "not_found"
        # the journal says the same after a fresh fold
        state = (await sigs[2].request("state.sync"))["state"]["breakouts"]
        assert [r["open"] for r in state["rooms"]] == [False, True, True]
    finally:
        for s in sigs:
            await s.close()


async def test_moderator_listens_in_on_a_room_without_leaving_the_plenary(server: LiveServer) -> None:
    event, people, sigs = await world(server, 1, 3)
    ids = [p["participant"]["id"] for p in people]
    mod_sig, plen_sig, room_sig = sigs
    media = server.app.state.media
    peers = [Peer(mod_sig, None), Peer(plen_sig, PLENARY_HZ, record_audio=False),
             Peer(room_sig, ROOM_HZ, record_audio=False)]
    mod = peers[0]
    try:
        await asyncio.gather(*(p.join(video_slots=False) for p in peers))
        opened = await mod_sig.request("breakouts.open", assign="manual",
                                       assignments={ids[2]: 0})
        assert opened["type"] == "ok", opened
        room = (await mod_sig.wait_event(lambda e: e["type"] == "breakouts.opened"))["rooms"][0]["id"]
        await room_sig.wait_event(lambda e: e["type"] == "participant.moved")
        said = await room_sig.request("chat.send", room=room, text="Vor dem Mithören")
        assert said["type"] == "ok"
        await until(lambda: hears(mod, PLENARY_HZ) and silent_to(mod, ROOM_HZ), what="plenary only")

        # a participant may not listen in
        denied = await plen_sig.request("breakouts.listen", room=room)
        assert denied["type"] == "error" and denied["code"] == "forbidden"

        listening = await mod_sig.request("breakouts.listen", room=room)
        assert listening["type"] == "ok", listening
        assert [m["text"] for m in listening["chat"]] == ["Vor dem Mithören"]
        await until(lambda: hears(mod, ROOM_HZ) and silent_to(mod, PLENARY_HZ),
                    what="the room's mix, not the plenary")
        # still in the plenary: the journal did not move the moderator, the plenary hears
        # the moderator's microphone as before (its input stays in the plenary's mixer)
        rt = server.forum.runtimes[event["id"]]
        assert rt.state.room_of(ids[0]) == event["plenary_room"]
        plenary_mixer = media.mixers[(event["id"], event["plenary_room"])]
        room_mixer = media.mixers[(event["id"], room)]
        assert ids[0] in plenary_mixer.inputs and ids[0] not in room_mixer.inputs
        assert ids[0] in room_mixer.outputs and ids[0] not in plenary_mixer.outputs

        # the room's chat reaches the listener as listen.entry, nobody else in the plenary
        said = await room_sig.request("chat.send", room=room, text="Wir brauchen Hilfe")
        assert said["type"] == "ok"
        await until(lambda: any(f["type"] == "listen.entry" for f in mod_sig.direct),
                    what="listen.entry")
        entry = next(f for f in mod_sig.direct if f["type"] == "listen.entry")
        assert entry["room"] == room and entry["entry"]["type"] == "chat.message"
        assert entry["entry"]["message"]["text"] == "Wir brauchen Hilfe"
        await plen_sig.request("ping")
        assert not any(e["type"] == "chat.message" for e in plen_sig.events + mod_sig.events)
        assert not any(f["type"] == "listen.entry" for f in plen_sig.direct)

        # stop: the plenary again
        stopped = await mod_sig.request("breakouts.listen", room=None)
        assert stopped["type"] == "ok"
        await until(lambda: hears(mod, PLENARY_HZ) and silent_to(mod, ROOM_HZ), what="back")

        # listening while the room closes: told why, back in the plenary mix with everyone
        assert (await mod_sig.request("breakouts.listen", room=room))["type"] == "ok"
        await until(lambda: hears(mod, ROOM_HZ), what="listening again")
        assert (await mod_sig.request("breakouts.close_room", room=room))["type"] == "ok"
        await until(lambda: any(f["type"] == "listen.stopped" for f in mod_sig.direct),
                    what="listen.stopped")
        stop = next(f for f in mod_sig.direct if f["type"] == "listen.stopped")
        assert stop == {"type": "listen.stopped", "room": room, "reason": "closed"}
        await until(lambda: hears(mod, PLENARY_HZ) and hears(mod, ROOM_HZ),
                    what="everyone in the plenary")
        assert not media.listening
    finally:
        for p in peers:
            await p.close()
            await p.sig.close()


async def test_listening_in_survives_a_reconnect_and_ends_when_the_moderator_leaves(
        server: LiveServer) -> None:
    event, people, sigs = await world(server, 1, 2)
    ids = [p["participant"]["id"] for p in people]
    mod_sig, room_sig = sigs
    media = server.app.state.media
    try:
        assert (await mod_sig.request("breakouts.open", assign="manual",
                                      assignments={ids[1]: 0}))["type"] == "ok"
        room = (await mod_sig.wait_event(lambda e: e["type"] == "breakouts.opened"))["rooms"][0]["id"]
        await room_sig.wait_event(lambda e: e["type"] == "participant.moved")
        assert (await mod_sig.request("breakouts.listen", room=room))["type"] == "ok"
        # the moderator's page reconnects (the new socket before the old one is gone, as
        # within presence_grace_s): still listening, without asking again
        again = await Sig.connect(server.ws_base, event["id"], people[0]["token"])
        await mod_sig.close()
        sigs[0] = again
        await again.request("ping")
        assert (await room_sig.request("chat.send", room=room, text="Nach dem Neuverbinden"))["type"] == "ok"
        await until(lambda: any(f["type"] == "listen.entry" for f in again.direct),
                    what="listen.entry on the new socket")
        assert media.listening == {(event["id"], ids[0]): room}
        # gone for good (participant.left): the listening ends
        await again.close()
        await until(lambda: not media.listening, what="listening ended with participant.left")
    finally:
        for s in sigs:
            await s.close()


def listening_of(client: Client) -> list[dict[str, Any]]:
    assert client.ready is not None and "state" in client.ready, client.ready
    return client.ready["state"]["listening"]  # type: ignore[no-any-return]


async def test_the_members_of_a_room_are_told_who_listens_in_and_nobody_else(
        server: LiveServer) -> None:
    """Like BigBlueButton and Jitsi: whoever is in a room sees that a moderator listens,
    live, after a resume, in a fresh ready state and after moving in; nobody in another
    room or the plenary learns of it; it ends when the moderator stops or is gone."""
    event, people, clients = await crowd(
        server, ["Moderatorin Ute", "Anna", "Arne", "Berta", "Paul"], {"Moderatorin Ute"},
        topics=[{"title": "Thema A"}, {"title": "Thema B"}])
    ev_id = event["id"]
    ids = [p["participant"]["id"] for p in people]
    mod_id = ids[0]
    tokens = [p["token"] for p in people]
    mod, anna, arne, berta, paul = clients
    try:
        assert (await mod.request("breakouts.open", assign="manual",
                                  assignments={ids[1]: 0, ids[2]: 0, ids[3]: 1}))["type"] == "ok"
        opened = await mod.wait_for(lambda e: e["type"] == "breakouts.opened")
        room_a, room_b = [r["id"] for r in opened["rooms"]]
        for c, pid in ((anna, ids[1]), (arne, ids[2]), (berta, ids[3])):
            await c.wait_for(lambda e, pid=pid: e["type"] == "participant.moved"
                             and e["participant"] == pid)
        # Arne's page drops before the moderator starts listening: he resumes later
        arne_seq = arne.last_seq
        await arne.close()

        started = await mod.request("breakouts.listen", room=room_a)
        assert started["type"] == "ok", started
        told = await anna.wait_for(lambda e: e["type"] == "breakouts.listening")
        assert {k: told[k] for k in ("room", "participant", "name", "listening")} == {
            "room": room_a, "participant": mod_id, "name": "Moderatorin Ute", "listening": True}

        # the resume replays it; a fresh start has it in its state; both only in room A
        arne = clients[2] = await Client.connect(server, ev_id, tokens[2], resume_from=arne_seq)
        assert arne.ready is not None and arne.ready["resumed"] is True
        assert [e["listening"] for e in arne.of("breakouts.listening")] == [True]
        fresh = await Client.connect(server, ev_id, tokens[1])
        assert listening_of(fresh) == [{"participant": mod_id, "name": "Moderatorin Ute"}]
        await fresh.close()
        synced = await anna.request("state.sync")
        assert synced["state"]["listening"] == [{"participant": mod_id, "name": "Moderatorin Ute"}]
        for other in (berta, paul):
            await other.request("ping")
            assert not other.of("breakouts.listening")
            assert (await other.request("state.sync"))["state"]["listening"] == []
        # moderators see every room's listeners (their cockpit), the listener too
        assert [e["room"] for e in mod.of("breakouts.listening")] == [room_a]

        # Berta is placed in room A: what her page loads after the move shows it
        assert (await mod.request("breakouts.move", participant=ids[3], room=room_a))["type"] == "ok"
        await berta.wait_for(lambda e: e["type"] == "participant.moved" and e["to"] == room_a)
        assert (await berta.request("state.sync"))["state"]["listening"] == [
            {"participant": mod_id, "name": "Moderatorin Ute"}]

        # stopped: everyone in room A is told, and it is gone from the state
        assert (await mod.request("breakouts.listen", room=None))["type"] == "ok"
        for c in (anna, arne, berta):
            ended = await c.wait_for(lambda e: e["type"] == "breakouts.listening"
                                     and not e["listening"])
            assert ended["room"] == room_a and ended["reason"] == "stopped"
            assert (await c.request("state.sync"))["state"]["listening"] == []
        again = await Client.connect(server, ev_id, tokens[2])
        assert listening_of(again) == []
        await again.close()

        # listening again, then the moderator is gone for good: it ends with them
        assert (await mod.request("breakouts.listen", room=room_a))["type"] == "ok"
        await anna.wait_for(lambda e: e["type"] == "breakouts.listening" and e["listening"]
                            and e["seq"] > ended["seq"])
        await mod.close()
        gone = await anna.wait_for(lambda e: e["type"] == "breakouts.listening"
                                   and not e["listening"] and e["seq"] > ended["seq"])
        assert gone["reason"] == "left"
        assert (await anna.request("state.sync"))["state"]["listening"] == []
        await paul.request("ping")
        assert not paul.of("breakouts.listening")
    finally:
        for c in clients:
            await c.close()


def rooms_listening(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Who listens in on each breakout room, as a moderator's state has it."""
    return {r["id"]: r["listening"] for r in state["breakouts"]["rooms"]}


async def test_the_other_moderators_see_who_listens_in_on_which_room(
        server: LiveServer) -> None:
    """A moderator in the plenary sees in the cockpit that a colleague listens in on a
    room: live, after a resume, in a fresh ready state and a `state.sync`, and when it
    ends. Participants outside the room still learn nothing of it."""
    event, people, clients = await crowd(
        server, ["Moderatorin Ute", "Moderator Max", "Anna", "Berta", "Paul"],
        {"Moderatorin Ute", "Moderator Max"}, topics=[{"title": "Thema A"}, {"title": "Thema B"}])
    ev_id = event["id"]
    ids = [p["participant"]["id"] for p in people]
    ute_id = ids[0]
    tokens = [p["token"] for p in people]
    ute, max_, anna, berta, paul = clients
    max_tab = await Client.connect(server, ev_id, tokens[1])  # Max's second tab drops
    clients.append(max_tab)
    try:
        assert (await ute.request("breakouts.open", assign="manual",
                                  assignments={ids[2]: 0, ids[3]: 1}))["type"] == "ok"
        opened = await ute.wait_for(lambda e: e["type"] == "breakouts.opened")
        room_a, room_b = [r["id"] for r in opened["rooms"]]
        for c, pid in ((anna, ids[2]), (berta, ids[3]), (max_tab, ids[3])):
            await c.wait_for(lambda e, pid=pid: e["type"] == "participant.moved"
                             and e["participant"] == pid)
        assert rooms_listening((await max_.request("state.sync"))["state"]) == {
            room_a: [], room_b: []}
        dropped_at = max_tab.last_seq
        await max_tab.close()

        assert (await ute.request("breakouts.listen", room=room_a))["type"] == "ok"
        ute_in_a = [{"participant": ute_id, "name": "Moderatorin Ute"}]
        # Max, in the plenary: told live, and his room's own notice stays empty
        told = await max_.wait_for(lambda e: e["type"] == "breakouts.listening")
        assert {k: told[k] for k in ("room", "participant", "name", "listening")} == {
            "room": room_a, "participant": ute_id, "name": "Moderatorin Ute", "listening": True}
        synced = (await max_.request("state.sync"))["state"]
        assert rooms_listening(synced) == {room_a: ute_in_a, room_b: []}
        assert synced["listening"] == []  # nobody listens in on the plenary
        # a fresh page and a resumed one of Max show the same
        fresh = await Client.connect(server, ev_id, tokens[1])
        clients.append(fresh)
        assert fresh.ready is not None
        assert rooms_listening(fresh.ready["state"]) == {room_a: ute_in_a, room_b: []}
        resumed = await Client.connect(server, ev_id, tokens[1], resume_from=dropped_at)
        clients.append(resumed)
        assert resumed.ready is not None and resumed.ready["resumed"] is True
        assert [(e["room"], e["listening"]) for e in resumed.of("breakouts.listening")] == [
            (room_a, True)]
        # participants outside room A: nothing, neither live nor in their state
        for other in (berta, paul):
            await other.request("ping")
            assert not other.of("breakouts.listening")
            state = (await other.request("state.sync"))["state"]
            assert state["listening"] == []
            assert all("listening" not in r for r in state["breakouts"]["rooms"])

        # she moves on to room B, then stops: Max sees each change
        assert (await ute.request("breakouts.listen", room=room_b))["type"] == "ok"
        moved = await max_.wait_for(lambda e: e["type"] == "breakouts.listening"
                                    and e["room"] == room_b)
        assert moved["listening"] is True
        assert rooms_listening((await max_.request("state.sync"))["state"]) == {
            room_a: [], room_b: ute_in_a}
        assert (await ute.request("breakouts.listen", room=None))["type"] == "ok"
        ended = await max_.wait_for(lambda e: e["type"] == "breakouts.listening"
                                    and e["room"] == room_b and not e["listening"])
        assert ended["reason"] == "stopped"
        assert [(e["room"], e["listening"]) for e in max_.of("breakouts.listening")] == [
            (room_a, True), (room_a, False), (room_b, True), (room_b, False)]
        assert rooms_listening((await max_.request("state.sync"))["state"]) == {
            room_a: [], room_b: []}
        await paul.request("ping")
        assert not paul.of("breakouts.listening")
    finally:
        for c in clients:
            await c.close()


@pytest.mark.slow
async def test_a_restart_tells_the_room_that_nobody_listens_any_more(tmp_path: Path) -> None:
    """Nobody hears a room across a restart (the routing lives in the process), so the
    room must not go on showing a listener: after a kill -9 the start tells it
    (`interrupted`); a graceful stop does (`left` when the closed sockets end the
    moderator's presence first, else `shutdown`)."""
    data = tmp_path / "data"
    sp = await spawn(data)
    try:
        async with sp.http() as http:
            event = await create_event(http, topics=[{"title": "Thema A"}])
            mod_p = await join(http, event, "Moderatorin Ute", moderator=True)
            anna_p = await join(http, event, "Anna")
        ev_id, anna_id = event["id"], anna_p["participant"]["id"]
        room = None
        for stop, reasons in (("kill9", {"interrupted"}), ("terminate", {"left", "shutdown"})):
            mod = await Client.connect(sp, ev_id, mod_p["token"])  # type: ignore[arg-type]
            anna = await Client.connect(sp, ev_id, anna_p["token"])  # type: ignore[arg-type]
            if room is None:  # Anna stays in her room across the restarts
                assert (await mod.request("breakouts.open", assign="manual",
                                          assignments={anna_id: 0}))["type"] == "ok"
                room = (await mod.wait_for(lambda e: e["type"] == "breakouts.opened"))["rooms"][0]["id"]
                await anna.wait_for(lambda e: e["type"] == "participant.moved" and e["to"] == room)
            assert (await mod.request("breakouts.listen", room=room))["type"] == "ok"
            await anna.wait_for(lambda e: e["type"] == "breakouts.listening" and e["listening"])
            seen = anna.last_seq
            getattr(sp, stop)()
            await mod.close()
            await anna.close()
            sp = await spawn(data, port=sp.port)
            anna = await Client.connect(sp, ev_id, anna_p["token"],  # type: ignore[arg-type]
                                        resume_from=seen)
            ended = await anna.wait_for(lambda e: e["type"] == "breakouts.listening")
            assert not ended["listening"] and ended["reason"] in reasons, ended
            assert (await anna.request("state.sync"))["state"]["listening"] == []
            await anna.close()
    finally:
        if sp.proc.poll() is None:
            assert sp.terminate() in (0, -15)
