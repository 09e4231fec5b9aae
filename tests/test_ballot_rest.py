"""Anonymity at rest (issue 13): once an anonymous poll is closed, the data directory
holds no link between a voter and a choice: not in a row, a WAL frame, a freed page or the
physical order of cells. The test plays whoever copies the data directory: it replays the
WAL commit by commit (its own parser of the WAL format, every frame whatever its salt) and
diffs the ballot box between commits, which links every vote while the poll is open, and
nothing once it is closed. Acknowledged votes are in the copy taken while voting."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import struct
from itertools import combinations
from pathlib import Path
from typing import Any

from tests.support.live import Client, LiveServer, create_event, join, start_server

WAL_HEADER = 32
FRAME_HEADER = 24


def wal_commits(wal: bytes) -> tuple[int, list[dict[int, bytes]]]:
    """(page size, [the pages each commit wrote]) of a WAL file: 32-byte header, then
    frames of a 24-byte header (page number, db size > 0 for a commit frame, salts,
    checksums) and one page. Frames of older WAL generations (other salts) are read too:
    a forensic reader would."""
    if len(wal) < WAL_HEADER:
        return 0, []
    magic, _version, page_size = struct.unpack(">III", wal[:12])
    assert magic in (0x377F0682, 0x377F0683)
    commits: list[dict[int, bytes]] = []
    pages: dict[int, bytes] = {}
    at = WAL_HEADER
    while at + FRAME_HEADER + page_size <= len(wal):
        pgno, db_size = struct.unpack(">II", wal[at:at + 8])
        pages[pgno] = wal[at + FRAME_HEADER:at + FRAME_HEADER + page_size]
        at += FRAME_HEADER + page_size
        if db_size:
            commits.append(pages)
            pages = {}
    return page_size, commits


def ballot_box(image: bytes, path: Path) -> tuple[set[str], set[str], dict[str, int]]:
    """(voters, texts, counts) of a database image, opened read-only."""
    path.write_bytes(image[:18] + b"\x01\x01" + image[20:])  # as a rollback-journal file
    db = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        voters = {r[0] for r in db.execute("SELECT participant_id FROM poll_voters")}
        texts = {r[0] for r in db.execute("SELECT text FROM poll_texts")}
        counts = {f"{r[0]}/{r[1]}": r[2] for r in db.execute(
            "SELECT poll_id, option, n FROM poll_counts")}
    except sqlite3.DatabaseError:  # not created yet at this commit
        return set(), set(), {}
    finally:
        db.close()
    return voters, texts, counts


def links_by_replay(data: Path, scratch: Path) -> list[tuple[frozenset[str], object]]:
    """Replay the WAL over the main file commit by commit; whenever a commit adds voters,
    what it adds to the texts and counts is their choice: (voters, what they chose)."""
    db = (data / "forum.db").read_bytes()
    wal_path = data / "forum.db-wal"
    page_size, commits = wal_commits(wal_path.read_bytes() if wal_path.exists() else b"")
    image = bytearray(db)
    before = ballot_box(bytes(image), scratch)
    found = []
    for pages in commits:
        for pgno, page in pages.items():
            end = pgno * page_size
            if len(image) < end:
                image.extend(b"\0" * (end - len(image)))
            image[end - page_size:end] = page
        after = ballot_box(bytes(image), scratch)
        new_voters = after[0] - before[0]
        if new_voters:
            chose = (frozenset(after[1] - before[1]),
                     {k: n - before[2].get(k, 0) for k, n in after[2].items()
                      if n != before[2].get(k, 0) and not k.endswith("/#n")})
            found.append((frozenset(new_voters), chose))
        before = after
    return found


def copy_data_dir(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for name in ("forum.db", "forum.db-wal", "forum.db-shm"):
        if (src / name).exists():
            shutil.copyfile(src / name, dst / name)
    return dst


def kendall_tau(order: list[int]) -> float:
    pairs = list(combinations(range(len(order)), 2))
    agree = sum(1 if order[i] < order[j] else -1 for i, j in pairs)
    return agree / len(pairs)


N = 24  # voters
TEXT = "Antwort-{:02d}" + " lorem ipsum dolor sit amet" * 5  # ~150 bytes: several pages


async def voters(n: int, server: LiveServer) -> tuple[dict[str, Any], dict[str, Any],
                                                     list[dict[str, Any]], Client]:
    """A new event, its moderator's join answer, `n` people joined (not yet connected) and
    the moderator's socket."""
    async with server.http() as http:
        ev = await create_event(http)
        mod = await join(http, ev, "Moderatorin", moderator=True)
        people = [await join(http, ev, f"P{i}") for i in range(n)]
    return ev, mod, people, await Client.connect(server, ev["id"], mod["token"])


async def test_no_link_between_voter_and_choice_at_rest_after_close(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server: LiveServer = await start_server(data)
    try:
        ev, mod, people, cm = await voters(N, server)
        await cm.request("poll.create", scope="event", question="Was?", kind="text",
                         anonymous=True)
        text_poll = (await cm.wait_for(lambda e: e["type"] == "poll.opened"))["poll"]["id"]
        await cm.request("poll.create", scope="event", question="Ja?", kind="single",
                         options=["ja", "nein", "egal"], anonymous=True)
        choice_poll = (await cm.wait_for(lambda e: e["type"] == "poll.opened"
                                         and e["poll"]["id"] != text_poll))["poll"]["id"]
        pids = [p["participant"]["id"] for p in people]
        for i, p in enumerate(people):  # one after the other, each acknowledged
            c = await Client.connect(server, ev["id"], p["token"])
            assert (await c.request("poll.vote", poll=text_poll,
                                    text=TEXT.format(i)))["type"] == "ok"
            assert (await c.request("poll.vote", poll=choice_poll,
                                    choice=i % 3))["type"] == "ok"
            await c.close()

        # While the polls are open a copy links every vote (the attack works) ...
        during = copy_data_dir(data, tmp_path / "during")
        links = links_by_replay(during, tmp_path / "scratch.db")
        linked = {v for voters, (texts, _) in links if len(voters) == 1
                  for v in voters if texts}
        assert len(linked) >= N // 2, links[:3]
        # ... and it holds every acknowledged vote (nothing waits in memory only)
        db = sqlite3.connect(during / "forum.db")
        assert db.execute("SELECT count(*) FROM poll_texts").fetchone()[0] == N
        assert db.execute("SELECT count(*) FROM poll_voters").fetchone()[0] == 2 * N
        db.close()

        store = server.forum.store
        for poll in (text_poll, choice_poll):
            assert (await cm.request("poll.close", poll=poll))["type"] == "ok"
        rt = server.forum.runtimes[ev["id"]]
        reseal = [t for t in rt.tasks if t.get_name().startswith("reseal-")]
        if reseal:  # started by the close's commit, before its ok; may be done already
            await asyncio.wait(reseal)
        await store.flush()

        after = copy_data_dir(data, tmp_path / "after")
        assert links_by_replay(after, tmp_path / "scratch2.db") == []
        raw = b"".join((after / n).read_bytes() for n in ("forum.db", "forum.db-wal")
                       if (after / n).exists())
        # every answer once in the ballot box and otherwise only where the journal has it
        # (the published results): no stale copy in a freed page, cell or WAL frame
        db = sqlite3.connect(after / "forum.db")
        journal = [r[0] for r in db.execute("SELECT data FROM journal")]
        db.close()
        text_at, voter_at = [], []
        for i in range(N):
            text = TEXT.format(i).encode()
            in_journal = sum(d.encode().count(text) for d in journal)
            # (a long journal row spills to overflow pages and may split a copy)
            assert raw.count(text) <= 1 + in_journal, i
            cell = re.compile(re.escape(text_poll.encode()) + rb"[0-9a-f]{32}\*" +
                              re.escape(text))
            hits = [m.start() for m in cell.finditer(raw)]
            assert len(hits) == 1, (i, hits)
            text_at.append(hits[0])
        for pid in pids:
            hits = [m.start() for m in re.finditer(re.escape((text_poll + pid).encode()), raw)]
            assert len(hits) == 1, (pid, hits)
            voter_at.append(hits[0])
        # and their physical order is not the order of voting, nor are the voters'
        for name, at in (("texts", text_at), ("voters", voter_at)):
            rank = sorted(range(N), key=lambda i: at[i])
            assert abs(kendall_tau(rank)) < 0.6, (name, rank)
        # the results are still right
        final = [e for e in cm.events if e["type"] == "poll.results" and e["final"]]
        by_poll = {e["poll"]: e for e in final}
        assert sorted(by_poll[text_poll]["answers"]) == sorted(TEXT.format(i)
                                                               for i in range(N))
        assert by_poll[choice_poll]["counts"] == [8, 8, 8]
        await cm.close()
    finally:
        await server.stop()
    # after a restart the box reads back the same
    server = await start_server(data)
    try:
        c = await Client.connect(server, ev["id"], mod["token"])
        polls = {p["poll"]["id"]: p for p in c.ready["state"]["polls"]}  # type: ignore[index]
        assert polls[choice_poll]["results"]["counts"] == [8, 8, 8]
        await c.close()
    finally:
        await server.stop()


async def test_a_reader_in_the_way_delays_the_reseal_not_the_writer(tmp_path: Path) -> None:
    """A checkpoint waiting for a reader holds the write lock: the reseal waits for it in
    short attempts, so votes and chat go on meanwhile, and it ends once the reader is gone."""
    data = tmp_path / "data"
    server: LiveServer = await start_server(data)
    try:
        ev, mod, people, cm = await voters(6, server)
        await cm.request("poll.create", scope="event", question="Ja?", kind="single",
                         options=["ja", "nein"], anonymous=True)
        poll = (await cm.wait_for(lambda e: e["type"] == "poll.opened"))["poll"]["id"]
        reader = sqlite3.connect(data / "forum.db", isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM journal").fetchone()  # a snapshot from now on
        for i, p in enumerate(people):
            c = await Client.connect(server, ev["id"], p["token"])
            assert (await c.request("poll.vote", poll=poll, choice=i % 2))["type"] == "ok"
            await c.close()
        assert (await cm.request("poll.close", poll=poll))["type"] == "ok"
        rt = server.forum.runtimes[ev["id"]]
        reseal = [t for t in rt.tasks if t.get_name().startswith("reseal-")]
        assert reseal
        for i in range(8):  # the writer is not held up by the waiting checkpoint
            reply = await cm.request("chat.send", room=ev["plenary_room"], text=f"weiter {i}")
            assert reply["type"] == "ok", reply
        assert not reseal[0].done()  # the reader still holds its old snapshot
        reader.execute("COMMIT")
        reader.close()
        await reseal[0]
        await server.forum.store.flush()
        after = copy_data_dir(data, tmp_path / "after")
        assert links_by_replay(after, tmp_path / "scratch.db") == []
        await cm.close()
    finally:
        await server.stop()
