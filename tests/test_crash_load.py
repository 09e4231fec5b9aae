"""Crash safety under load (issue 9): 200 clients chat, vote, write and edit minutes and
move between breakout rooms while `run.py` is killed with -9 at a random moment; five
kill points per run, each a restart on the same data dir. After every restart each
acknowledged action is in the journal exactly once, seq continues densely, and the clients
resume with `resume_from` (no reload)."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.live import Client, auth, create_event
from tests.support.process import ServerProcess, spawn

pytestmark = pytest.mark.slow

CLIENTS = 200
KILLS = 5
ENV = {"FORUM_LIMIT_CHAT_RATE": "100000", "FORUM_LIMIT_CHAT_BURST": "100000",
       "FORUM_LIMIT_VOTE_RATE": "100000", "FORUM_LIMIT_VOTE_BURST": "100000",
       "FORUM_SYNCHRONOUS": "NORMAL"}


def journal(db: Path, event_id: str) -> list[tuple[int, str, dict[str, Any]]]:
    con = sqlite3.connect(db)
    try:
        return [(seq, kind, json.loads(data)) for seq, kind, data in con.execute(
            "SELECT seq, kind, data FROM journal WHERE event_id = ? ORDER BY seq", (event_id,))]
    finally:
        con.close()


async def act(c: Client, acked: dict[str, list[Any]], i: int, round_: int, room: str,
              poll: str, breakout: str | None) -> None:
    """One client's share of the load, recording what was acknowledged. Each client starts
    with a different kind of action (minutes, vote, move), then chats, so that every kind
    is under way whenever the kill comes."""

    async def minutes() -> None:
        text = f"mr{round_}c{i}"
        r = await c.request("minutes.add", room=c.room, kind="note", text=text)  # type: ignore[attr-defined]
        if r["type"] != "ok":
            return
        entry = next(e["entry"] for e in reversed(c.events)
                     if e["type"] == "minutes.added" and e["entry"]["text"] == text)
        acked["minutes"].append(entry["id"])
        r = await c.request("minutes.edit", entry=entry["id"], version=1, text=f"e{text}")
        if r["type"] == "ok":
            acked["edits"].append((entry["id"], f"e{text}"))

    async def vote() -> None:
        r = await c.request("poll.vote", poll=poll, choice=i % 2)
        if r["type"] == "ok":
            acked["votes"].append((poll, c.pid))  # type: ignore[attr-defined]

    async def move() -> None:
        if breakout is None:
            return
        r = await c.request("room.enter", room=breakout)
        if r["type"] == "ok":
            acked["moves"].append((c.pid, breakout))  # type: ignore[attr-defined]
            c.room = breakout  # type: ignore[attr-defined]

    first = [minutes, vote, move][i % 3] if i % 10 < 6 else vote
    try:
        await first()
        if first is not vote:
            await vote()
        for n in range(1000):
            text = f"r{round_}c{i}n{n}"
            r = await c.request("chat.send", room=c.room, text=text)  # type: ignore[attr-defined]
            if r["type"] == "ok":
                acked["chat"].append((r["message"], text))
    except (websockets.ConnectionClosed, OSError, asyncio.TimeoutError):
        return


async def connect_all(sp: ServerProcess, event_id: str, people: list[dict[str, Any]],
                      clients: list[Client | None]) -> list[Client]:
    async def one(k: int) -> Client:
        old = clients[k]
        c = await Client.connect(sp, event_id, people[k]["token"],  # type: ignore[arg-type]
                                 resume_from=old.last_seq if old else None,
                                 close_timeout=0.5)  # the server may be dead: don't wait
        if old is not None:
            assert c.ready["resumed"] is True, c.ready  # type: ignore[index]
            c.last_seq = max(c.last_seq, old.last_seq)
        c.pid = people[k]["participant"]["id"]  # type: ignore[attr-defined]
        c.room = getattr(old, "room", None) or plenary  # type: ignore[attr-defined]
        return c
    plenary = people[0]["plenary"]
    out = []
    for k in range(0, len(people), 50):  # not 200 handshakes in the same millisecond
        out += await asyncio.gather(*(one(j) for j in range(k, min(k + 50, len(people)))))
    return out


async def test_kill9_under_load_loses_no_acknowledged_action(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rng = random.Random()
    sp = await spawn(data, env=ENV)
    acked: dict[str, list[Any]] = {"chat": [], "votes": [], "minutes": [], "edits": [],
                                   "moves": []}
    survived = 0
    try:
        async with sp.http() as http:
            ev = await create_event(http)
            people = []
            for k in range(CLIENTS):
                key = ev["moderator_key"] if k == 0 else ev["participant_key"]
                r = await http.post(f"/api/events/{ev['id']}/join",
                                    json={"name": f"P{k}", "key": key})
                assert r.status_code == 200, r.text
                people.append({**r.json(), "plenary": ev["plenary_room"]})
        clients: list[Client | None] = [None] * CLIENTS
        last_head = 0
        for round_ in range(KILLS):
            live = await connect_all(sp, ev["id"], people, clients)
            mod = live[0]
            r = await mod.request("poll.create", scope="event", question=f"R{round_}?",
                                  kind="single", options=["a", "b"], anonymous=False)
            assert r["type"] == "ok", r
            poll = (await mod.wait_for(lambda e: e["type"] == "poll.opened"
                                       and e["poll"]["question"] == f"R{round_}?"))["poll"]["id"]
            breakout = None
            if round_ % 2 == 0:
                r = await mod.request("breakouts.open", assign="self", per_topic=1)
                if r["type"] == "ok":
                    opened = await mod.wait_for(lambda e: e["type"] == "breakouts.opened"
                                                and e["seq"] > last_head)
                    breakout = opened["rooms"][0]["id"]
            else:
                r = await mod.request("breakouts.close")
                for c in live:
                    c.room = ev["plenary_room"]  # type: ignore[attr-defined]
            for c in live:  # everyone sees the poll before voting
                await c.wait_for(lambda e: e["type"] == "poll.opened"
                                 and e["poll"]["id"] == poll, timeout=30)
            tasks = [asyncio.create_task(act(c, acked, i, round_, ev["plenary_room"], poll,
                                             breakout)) for i, c in enumerate(live[1:], 1)]
            await asyncio.sleep(rng.uniform(0.3, 1.2))
            sp.kill9()  # a random moment under load
            await asyncio.gather(*tasks)
            await asyncio.gather(*(c.ws.close() for c in live))
            clients = list(live)
            sp = await spawn(data, port=sp.port, env=ENV)
            survived += 1
            # after the restart: every acknowledged action exactly once
            rows = journal(data / "forum.db", ev["id"])
            seqs = [s for s, _, _ in rows]
            assert seqs == list(range(1, len(seqs) + 1)), "seq dense, nothing reused"
            assert seqs[-1] > last_head
            last_head = seqs[-1]
            chat_ids = Counter(d["message"]["id"] for _, k, d in rows if k == "chat.message")
            texts = {d["message"]["id"]: d["message"]["text"] for _, k, d in rows
                     if k == "chat.message"}
            for mid, text in acked["chat"]:
                assert chat_ids[mid] == 1 and texts[mid] == text, (mid, text)
            assert len(set(texts.values())) == len(texts), "no chat line twice"
            votes = Counter((d["poll"], d["participant"]) for _, k, d in rows
                            if k == "poll.voted")
            for v in acked["votes"]:
                assert votes[v] == 1, v
            added = Counter(d["entry"]["id"] for _, k, d in rows if k == "minutes.added")
            edited = {(d["entry"]["id"], d["entry"]["text"]) for _, k, d in rows
                      if k == "minutes.edited"}
            assert all(added[e] == 1 for e in acked["minutes"])
            assert all(e in edited for e in acked["edits"])
            moved = {(d["participant"], d["to"]) for _, k, d in rows
                     if k == "participant.moved"}
            assert all(m in moved for m in acked["moves"])
            # the event's state after the restart agrees with the journal: poll counts
            async with sp.http() as http:
                r = await http.get(f"/api/events/{ev['id']}", headers=auth())
                assert r.status_code == 200
                assert r.json()["seq"] >= last_head
        # and the last resume, with everything acknowledged in every client's ready
        live = await connect_all(sp, ev["id"], people, clients)
        r = await live[1].request("chat.send", room=live[1].room, text="danach")  # type: ignore[attr-defined]
        assert r["type"] == "ok" and r["seq"] > last_head
        await asyncio.gather(*(c.ws.close() for c in live))
    finally:
        if sp.proc.poll() is None:
            sp.terminate()
    assert survived == KILLS
    assert len(acked["chat"]) > 100 and acked["votes"] and acked["minutes"]
    print(f"kill points survived: {survived}; acknowledged: "
          + ", ".join(f"{k} {len(v)}" for k, v in acked.items()))
