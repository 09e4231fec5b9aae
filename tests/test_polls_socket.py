"""Polls over the real server: concurrency, coalescing, durability and anonymity."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import sqlite3
from pathlib import Path

import pytest

from tests.support.live import Client, LiveServer, auth, create_event, join
from tests.support.process import spawn


async def setup_people(server, n: int):  # type: ignore[no-untyped-def]
    async with server.http() as http:
        ev = await create_event(http)
        mod = await join(http, ev, "Moderator", moderator=True)
        parts = await asyncio.gather(*(join(http, ev, f"Person {i}") for i in range(n)))
    return ev, mod, list(parts)


async def test_500_concurrent_voters_are_each_counted_once(server: LiveServer) -> None:
    ev, mod, parts = await setup_people(server, 500)
    cm = await Client.connect(server, ev["id"], mod["token"])
    clients = await asyncio.gather(*(Client.connect(server, ev["id"], p["token"]) for p in parts))
    r = await cm.request("poll.create", scope="event", question="Welches Projekt zuerst?",
                         kind="single", options=["Marktplatz", "Geodaten", "Coworking"])
    assert r["type"] == "ok"
    opened = await cm.wait_for(lambda e: e["type"] == "poll.opened")
    poll = opened["poll"]["id"]
    for c in clients:
        await c.wait_for(lambda e: e["type"] == "poll.opened")
    t0 = asyncio.get_running_loop().time()
    replies = await asyncio.gather(*(c.request("poll.vote", timeout=30, poll=poll, choice=i % 3)
                                     for i, c in enumerate(clients)))
    assert all(r["type"] == "ok" for r in replies)
    expected = [sum(1 for i in range(500) if i % 3 == k) for k in range(3)]

    def complete(e: dict) -> bool:  # type: ignore[type-arg]
        return e["type"] == "poll.results" and e["total"] == 500

    sample = clients[::50]
    for c in sample:
        final = await c.wait_for(complete, timeout=60)
        assert final["counts"] == expected
    elapsed = asyncio.get_running_loop().time() - t0  # from the first vote to the last result
    for c in sample:
        updates = len(c.of("poll.results"))
        # coalesced: at most ~4 a second (+1 for the tail), however fast the votes came
        assert updates <= 4 * (elapsed + 1) + 2, (updates, elapsed)
    done = await cm.request("poll.close", poll=poll)
    assert done["type"] == "ok"
    last = await clients[0].wait_for(lambda e: e["type"] == "poll.results" and e["final"])
    assert last["counts"] == expected
    late = await clients[1].request("poll.vote", poll=poll, choice=0)
    assert late["code"] == "conflict"


async def test_results_live_for_everyone_on_close_only_for_moderators(server: LiveServer) -> None:
    ev, mod, parts = await setup_people(server, 2)
    cm = await Client.connect(server, ev["id"], mod["token"])
    a, b = [await Client.connect(server, ev["id"], p["token"]) for p in parts]
    await cm.request("poll.create", scope="event", question="Q", kind="rating",
                     results="on_close")
    poll = (await a.wait_for(lambda e: e["type"] == "poll.opened"))["poll"]["id"]
    assert (await a.request("poll.vote", poll=poll, rating=4))["type"] == "ok"
    assert (await b.request("poll.vote", poll=poll, rating=2))["type"] == "ok"
    seen = await cm.wait_for(lambda e: e["type"] == "poll.results" and e["total"] == 2)
    assert seen["final"] is False and seen["mean"] == 3.0
    await asyncio.sleep(0.4)
    await a.request("ping")
    assert a.of("poll.results") == []  # nothing until the moderator closes it
    await cm.request("poll.close", poll=poll)
    final = await a.wait_for(lambda e: e["type"] == "poll.results")
    assert final["final"] is True and final["counts"] == [0, 1, 0, 1, 0]


async def test_poll_of_another_room_is_forbidden(server: LiveServer) -> None:
    ev, mod, parts = await setup_people(server, 4)
    cm = await Client.connect(server, ev["id"], mod["token"])
    clients = [await Client.connect(server, ev["id"], p["token"]) for p in parts]
    await cm.request("breakouts.open", assign="auto")
    opened = await cm.wait_for(lambda e: e["type"] == "breakouts.opened")
    room = opened["rooms"][0]["id"]
    await cm.request("room.enter", room=room)
    r = await cm.request("poll.create", question="Nur hier?", kind="single", options=["a", "b"])
    assert r["type"] == "ok"
    rt = server.forum.runtimes[ev["id"]]
    poll = next(iter(rt.state.polls))
    for c, p in zip(clients, parts):
        inside = rt.state.room_of(p["participant"]["id"]) == room
        reply = await c.request("poll.vote", poll=poll, choice=0)
        assert reply["type"] == ("ok" if inside else "error")
        if not inside:
            assert reply["code"] == "forbidden"
            assert c.of("poll.opened") == []  # never saw it


@pytest.mark.slow
async def test_an_acknowledged_vote_survives_kill_9(tmp_path: Path) -> None:
    sp = await spawn(tmp_path / "data")
    try:
        ev, mod, parts = await setup_people(sp, 3)
        cm = await Client.connect(sp, ev["id"], mod["token"])
        clients = [await Client.connect(sp, ev["id"], p["token"]) for p in parts]
        await cm.request("poll.create", scope="event", question="Q", kind="single",
                         options=["ja", "nein"], anonymous=True)
        anon = (await cm.wait_for(lambda e: e["type"] == "poll.opened"))["poll"]["id"]
        await cm.request("poll.create", scope="event", question="Q2", kind="single",
                         options=["ja", "nein"])
        named = (await cm.wait_for(lambda e: e["type"] == "poll.opened"
                                   and e["poll"]["id"] != anon))["poll"]["id"]
        for i, c in enumerate(clients):
            assert (await c.request("poll.vote", poll=anon, choice=i % 2))["type"] == "ok"
            assert (await c.request("poll.vote", poll=named, choice=1))["type"] == "ok"
        sp.kill9()
        sp = await spawn(tmp_path / "data", port=sp.port)
        again = await Client.connect(sp, ev["id"], mod["token"])
        polls = {p["poll"]["id"]: p for p in again.ready["state"]["polls"]}  # type: ignore[index]
        assert polls[named]["results"]["counts"] == [0, 3]
        voter = await Client.connect(sp, ev["id"], parts[0]["token"])
        twice = await voter.request("poll.vote", poll=anon, choice=1)
        assert twice["code"] == "conflict"  # the ballot box remembers who took part
        # fewer than k (5) ballots: the anonymous counts show at close (issue 13)
        assert polls[anon]["results"]["counts"] == [0, 0]
        assert (await again.request("poll.close", poll=anon))["type"] == "ok"
        final = await again.wait_for(lambda e: e["type"] == "poll.results"
                                     and e["poll"] == anon and e["final"])
        assert final["counts"] == [2, 1]

    finally:
        sp.proc.kill()
        sp.proc.wait(10)


async def test_anonymous_poll_leaves_no_link_between_voter_and_choice(
        server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ev, mod, parts = await setup_people(server, 20)
    cm = await Client.connect(server, ev["id"], mod["token"])
    clients = [await Client.connect(server, ev["id"], p["token"]) for p in parts]
    await cm.request("poll.create", scope="event", question="Ihre Idee?", kind="text",
                     anonymous=True)
    text_poll = (await cm.wait_for(lambda e: e["type"] == "poll.opened"))["poll"]["id"]
    await cm.request("poll.create", scope="event", question="Ja oder nein?", kind="single",
                     options=["ja", "nein"], anonymous=True)
    choice_poll = (await cm.wait_for(lambda e: e["type"] == "poll.opened"
                                     and e["poll"]["id"] != text_poll))["poll"]["id"]
    answers = {}
    for i, (c, p) in enumerate(zip(clients, parts)):
        answer = f"idee{i:02d}zzq"
        answers[p["participant"]["id"]] = (p["participant"]["name"], answer)
        assert (await c.request("poll.vote", poll=text_poll, text=answer))["type"] == "ok"
        assert (await c.request("poll.vote", poll=choice_poll, choice=i % 2))["type"] == "ok"
    await cm.request("poll.close", poll=text_poll)
    await cm.request("poll.close", poll=choice_poll)
    await cm.wait_for(lambda e: e["type"] == "poll.results" and e["final"]
                      and e["poll"] == choice_poll)
    await server.forum.store.flush()

    db = server.settings.db_path
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(FULL)")  # every page in the main file for the scan
    try:
        # The journal holds no vote of an anonymous poll, and no entry pairs a voter and
        # an answer; the ballot box keeps voters and answers in separate tables.
        rows = con.execute("SELECT kind, actor, data FROM journal").fetchall()
        assert not [r for r in rows if r[0] in ("poll.voted", "poll.voter", "poll.ballot")]
        for kind, actor, data in rows:
            for pid, (name, answer) in answers.items():
                if answer in data:
                    assert pid not in data and name not in data and actor != pid, kind
        stored = [t for (t,) in con.execute(
            "SELECT text FROM poll_texts WHERE poll_id = ?", (text_poll,))]
        assert sorted(stored) == sorted(a for _, a in answers.values())
        assert stored != [a for _, a in answers.values()]  # not in arrival order
        cols = {c[1] for t in ("poll_counts", "poll_texts")
                for c in con.execute(f"PRAGMA table_info({t})")}
        assert not cols & {"participant_id", "actor", "at", "voter"}
    finally:
        con.close()
    # Raw bytes: no page of the database file (or its WAL) that stores a ballot holds a
    # voter's id or name. (Quoted occurrences are the aggregate results in the journal,
    # which list every answer together and no voter.)
    ballots_seen = set()
    for path in (db, Path(str(db) + "-wal")):
        if not path.exists():
            continue
        raw = path.read_bytes()
        for off in range(0, len(raw), 4096):
            page = raw[off:off + 4096]
            for pid, (name, answer) in answers.items():
                at = page.find(answer.encode())
                while at != -1:
                    if at == 0 or page[at - 1:at] != b'"':
                        ballots_seen.add(answer)
                        assert pid.encode() not in page and name.encode() not in page
                    at = page.find(answer.encode(), at + 1)
    assert len(ballots_seen) == len(answers)  # the scan did find every stored ballot
    # Nor does any log line, the results clients received, or the CSV export.
    for record in caplog.records:
        line = record.getMessage()
        for pid, (name, answer) in answers.items():
            assert not (answer in line and (pid in line or name in line))
    for c, p in zip(clients, parts):
        for e in c.events:
            blob = json.dumps(e)
            if e["type"] == "poll.results":
                assert p["participant"]["id"] not in blob
    async with server.http() as http:
        r = await http.get(f"/api/events/{ev['id']}/polls.csv?lang=en", headers=auth())
        assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
        table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert {row["option"] for row in table if row["poll"] == text_poll} == \
        {a for _, a in answers.values()}
    for row in table:
        assert not any(pid in " ".join(row.values()) or name in " ".join(row.values())
                       for pid, (name, _) in answers.items())
    ja = next(r for r in table if r["poll"] == choice_poll and r["option"] == "ja")
    assert ja["count"] == "10" and ja["voters"] == "20"
