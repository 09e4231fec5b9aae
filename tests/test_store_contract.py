"""The store contract: one suite, every implementation (SQLite file, memory, PostgreSQL).
What the runtime relies on: appends follow the seq they name,
failures are the store's own errors and stay with their write, hooks run after the commit
in journal order, the ballot box keeps no link, erasure erases."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import AsyncIterator, Callable

import pytest

from forum_live.domain.entries import Audience, Entry
from forum_live.domain.polls import ROOM_BALLOTS
from forum_live.store import Store, StoreClosed, StoreConflict, StoreError
from forum_live.store.memory import MemoryStore
from forum_live.store.sqlite import SqliteStore
from tests.support.pg import PgServer


def entry(seq: int, kind: str = "chat.message", **data: object) -> Entry:
    return Entry(kind, {"n": seq, **data}, "2024-05-06T09:00:00.000Z", room="r1",
                 audience=Audience.ROOM, actor="p1", seq=seq)


def row(event_id: str, at: str = "2024-05-06T09:00:00.000Z") -> dict[str, str]:
    return {"id": event_id, "title": f"Forum {event_id}", "created_at": at,
            "participant_key": "pk", "moderator_key": "mk", "status": "open"}


class Kit:
    """A store under test and its way to make the storage refuse one event's writes."""

    def __init__(self, store: Store, refuse: Callable[[str | None], None]) -> None:
        self.store = store
        self.refuse = refuse


@pytest.fixture(params=["sqlite", "memory", "postgres"])
async def kit(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Kit]:
    if request.param == "sqlite":
        path = tmp_path / "forum.db"
        sq = SqliteStore(path, synchronous="NORMAL")
        await sq.open()

        def refuse_sqlite(event_id: str | None) -> None:
            # a real refusal by the database, from outside, for one event's rows only
            with sqlite3.connect(path) as db:
                db.execute("DROP TRIGGER IF EXISTS refuse")
                if event_id is not None:
                    db.execute("CREATE TRIGGER refuse BEFORE INSERT ON journal "
                               f"WHEN NEW.event_id = '{event_id}' "
                               "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        yield Kit(sq, refuse_sqlite)
        await sq.close()
    elif request.param == "postgres":
        from forum_live.store.postgres import PostgresStore

        server: PgServer = request.getfixturevalue("postgres")
        url = server.new_database()
        database = url.rsplit("/", 1)[1]
        pg = PostgresStore(url)
        await pg.open()

        def refuse_postgres(event_id: str | None) -> None:
            # a real refusal by the database, from outside, for one event's rows only
            sql = "DROP TRIGGER IF EXISTS refuse ON journal;"
            if event_id is not None:
                sql += ("CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql "
                        "AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;"
                        "CREATE TRIGGER refuse BEFORE INSERT ON journal FOR EACH ROW "
                        f"WHEN (NEW.event_id = '{event_id}') EXECUTE FUNCTION refuse();")
            server.psql(sql, database)
        yield Kit(pg, refuse_postgres)
        await pg.close()
    else:
        mem = MemoryStore()
        await mem.open()
        refused: list[str | None] = [None]
        mem.refuse = lambda event_id: event_id is not None and event_id == refused[0]

        def refuse_memory(event_id: str | None) -> None:
            refused[0] = event_id
        yield Kit(mem, refuse_memory)
        await mem.close()


async def seqs(store: Store, event_id: str, after: int = 0) -> list[int]:
    return [e.seq async for e in store.journal(event_id, after)]


async def test_events_are_listed_newest_first_with_journals_of_their_own(kit: Kit) -> None:
    s = kit.store
    for i in range(3):
        await s.create_event(row(f"ev{i}", f"2024-05-06T09:00:0{i}.000Z"),
                             entry(1, "event.created"))
    await s.append("ev1", [entry(2), entry(3)], expect=1)
    assert [r["id"] for r in await s.list_events()] == ["ev2", "ev1", "ev0"]
    assert await seqs(s, "ev1") == [1, 2, 3] and await seqs(s, "ev0") == [1]
    got = [e async for e in s.journal("ev1")]
    assert got[1].data == {"n": 2} and got[1].room == "r1" and got[1].audience is Audience.ROOM
    assert (await s.event_row("ev1"))["title"] == "Forum ev1"  # type: ignore[index]
    assert await s.event_row("nope") is None
    await s.set_status("ev1", "ended")
    assert (await s.event_row("ev1"))["status"] == "ended"  # type: ignore[index]


async def test_appends_commit_in_order_and_hooks_run_in_journal_order(kit: Kit) -> None:
    s = kit.store
    await s.create_event(row("ev1"), entry(1, "event.created"))
    heard: list[int] = []
    futures = [s.append("ev1", [entry(seq)], lambda seq=seq: heard.append(seq), expect=seq - 1)
               for seq in range(2, 202)]
    await asyncio.gather(*futures)
    assert heard == list(range(2, 202))
    assert await seqs(s, "ev1") == list(range(1, 202))
    assert await seqs(s, "ev1", after=195) == list(range(196, 202))


async def test_an_append_that_does_not_follow_its_seq_is_a_conflict(kit: Kit) -> None:
    s = kit.store
    await s.create_event(row("ev1"), entry(1, "event.created"))
    await s.append("ev1", [entry(2)], expect=1)
    heard: list[int] = []
    with pytest.raises(StoreConflict):  # the seq is taken: the store's error, not sqlite3's
        await s.append("ev1", [entry(2)], lambda: heard.append(2), expect=1)
    with pytest.raises(StoreConflict):  # a gap: 4 does not follow 2
        await s.append("ev1", [entry(4)], lambda: heard.append(4), expect=3)
    assert heard == []  # nobody heard of what was not committed
    await s.append("ev1", [entry(3)], expect=2)
    assert await seqs(s, "ev1") == [1, 2, 3]


async def test_a_value_that_cannot_be_stored_fails_its_write_alone(kit: Kit) -> None:
    s = kit.store
    await s.create_event(row("ev1"), entry(1, "event.created"))
    await s.create_event(row("ev2"), entry(1, "event.created"))
    bad = s.append("ev1", [entry(2, text="\ud800")], expect=1)  # a lone surrogate
    good = s.append("ev2", [entry(2, text="gut")], expect=1)  # same batch, other event
    after_bad = s.append("ev1", [entry(3)], expect=2)  # follows the failed one: fails too
    results = await asyncio.gather(bad, good, after_bad, return_exceptions=True)
    assert isinstance(results[0], StoreError) and results[1] is None
    assert isinstance(results[2], StoreConflict)
    assert await seqs(s, "ev1") == [1] and await seqs(s, "ev2") == [1, 2]
    await s.append("ev1", [entry(2, text="wieder gut")], expect=1)
    assert await seqs(s, "ev1") == [1, 2]


async def test_a_refused_event_fails_alone_in_a_batch_of_several(kit: Kit) -> None:
    s = kit.store
    for ev in ("a", "b", "c"):
        await s.create_event(row(ev), entry(1, "event.created"))
    kit.refuse("b")
    heard: list[str] = []
    futs = [s.append(ev, [entry(2)], lambda ev=ev: heard.append(ev), expect=1)
            for ev in ("a", "b", "c")]
    results = await asyncio.gather(*futs, return_exceptions=True)
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], StoreError)
    assert heard == ["a", "c"]
    kit.refuse(None)
    await s.append("b", [entry(2)], expect=1)
    assert [await seqs(s, ev) for ev in ("a", "b", "c")] == [[1, 2]] * 3


async def test_the_ballot_box_keeps_counts_and_texts_apart_from_voters(kit: Kit) -> None:
    s = kit.store
    await s.create_event(row("ev1"), entry(1, "event.created"))
    for i, (key, text) in enumerate([("a", None), ("b", None), ("a", None), (None, "frei")]):
        sealed = [Entry("poll.voter", {"poll": "p1", "participant": f"v{i}"}, "", sealed=True),
                  Entry("poll.ballot", {"poll": "p1", "room": "r1",
                                        "keys": [key] if key else [], "text": text},
                        "", sealed=True)]
        await s.append("ev1", sealed, expect=1)
    got = [e async for e in s.sealed("ev1")]
    voters = sorted(e.data["participant"] for e in got if e.kind == "poll.voter")
    tallies = {e.data["key"]: e.data["n"] for e in got if e.kind == "poll.tally"}
    texts = [e.data for e in got if e.kind == "poll.ballot"]
    assert voters == ["v0", "v1", "v2", "v3"] and tallies == {"a": 2, "b": 1, ROOM_BALLOTS: 4}
    assert texts == [{"poll": "p1", "room": "r1", "text": "frei"}]  # no voter, no time
    assert await seqs(s, "ev1") == [1]  # sealed entries never enter the journal


async def test_erasure_forgets_the_event_and_its_ballots(kit: Kit) -> None:
    s = kit.store
    await s.create_event(row("ev1"), entry(1, "event.created"))
    await s.append("ev1", [entry(2), Entry("poll.voter", {"poll": "p", "participant": "x"}, "",
                                           sealed=True)], expect=1)
    await s.delete_event("ev1")
    assert await s.event_row("ev1") is None and await seqs(s, "ev1") == []
    assert [e async for e in s.sealed("ev1")] == []


async def test_close_commits_what_was_appended_and_then_refuses(kit: Kit) -> None:
    s = kit.store
    await s.create_event(row("ev1"), entry(1, "event.created"))
    pending = s.append("ev1", [entry(2)], expect=1)
    await s.probe()
    assert s.healthy
    await s.close()
    assert pending.done() and pending.exception() is None
    with pytest.raises(StoreClosed):
        s.append("ev1", [entry(3)], expect=2)
    await s.open()
    assert await seqs(s, "ev1") == [1, 2]


async def test_a_snapshot_is_kept_per_event_and_never_replaced_by_an_older_one(
        kit: Kit) -> None:
    s = kit.store
    await s.create_event(row("ev1"), entry(1, "event.created"))
    await s.create_event(row("ev2"), entry(1, "event.created"))
    assert await s.load_snapshot("ev1") is None
    await s.save_snapshot("ev1", 5, b"\x00five\xff")
    await s.save_snapshot("ev2", 2, b"two")
    assert await s.load_snapshot("ev1") == (5, b"\x00five\xff")
    await s.save_snapshot("ev1", 9, b"nine")
    await s.save_snapshot("ev1", 7, b"seven, late")  # an older one arriving late
    assert await s.load_snapshot("ev1") == (9, b"nine")
    assert await s.load_snapshot("ev2") == (2, b"two")
    await s.delete_event("ev1")  # erasure erases the snapshot too
    assert await s.load_snapshot("ev1") is None and await s.load_snapshot("ev2") == (2, b"two")
    await s.close()
    await s.open()
    assert await s.load_snapshot("ev2") == (2, b"two")


async def test_revoking_tokens_sets_new_keys_and_the_next_generation(kit: Kit) -> None:
    s = kit.store
    await s.create_event(row("ev1"), entry(1, "event.created"))
    before = await s.event_row("ev1")
    assert before is not None
    await s.revoke_tokens("ev1", "pk2", "mk2")
    after = await s.event_row("ev1")
    assert after is not None
    assert (after["participant_key"], after["moderator_key"]) == ("pk2", "mk2")
    assert int(after.get("token_gen") or 0) == int(before.get("token_gen") or 0) + 1


async def test_a_reseal_keeps_every_count_and_answer(kit: Kit) -> None:
    s = kit.store
    await s.create_event(row("ev1"), entry(1, "event.created"))
    for i in range(6):
        await s.append("ev1", [
            Entry("poll.voter", {"poll": "p1", "participant": f"v{i}"}, "", sealed=True),
            Entry("poll.ballot", {"poll": "p1", "room": "r1", "keys": [str(i % 2)],
                                  "text": f"Antwort {i}"}, "", sealed=True)], expect=1)

    async def box() -> tuple[list[str], dict[str, int], list[str]]:
        got = [e async for e in s.sealed("ev1")]
        return (sorted(e.data["participant"] for e in got if e.kind == "poll.voter"),
                {e.data["key"]: e.data["n"] for e in got if e.kind == "poll.tally"},
                sorted(e.data["text"] for e in got if e.kind == "poll.ballot"))
    before = await box()
    await s.reseal("ev1", ["p1"])
    assert await box() == before



async def test_minutes_files_are_kept_by_digest_and_erased_with_the_event(kit: Kit) -> None:
    """Issue 16: the bytes of an approved minutes version, under their SHA-256."""
    import hashlib

    s = kit.store
    await s.create_event(row("ev1"), entry(1, "event.created"))
    await s.create_event(row("ev2"), entry(1, "event.created"))
    pdf, md = b"%PDF-1.7\x00\xff frozen", "# Protokoll\n".encode()
    digest = {b: hashlib.sha256(b).hexdigest() for b in (pdf, md)}
    assert await s.load_minutes_file("ev1", digest[pdf]) is None
    await s.save_minutes_files("ev1", [pdf, md])
    await s.save_minutes_files("ev2", [md])
    await s.save_minutes_files("ev1", [pdf])  # the same bytes again: kept once
    assert await s.load_minutes_file("ev1", digest[pdf]) == pdf
    assert await s.load_minutes_file("ev1", digest[md]) == md
    assert await s.load_minutes_file("ev2", digest[pdf]) is None  # per event
    await s.delete_event("ev1")  # erasure erases them too
    assert await s.load_minutes_file("ev1", digest[pdf]) is None
    assert await s.load_minutes_file("ev1", digest[md]) is None
    assert await s.load_minutes_file("ev2", digest[md]) == md
    await s.close()
    await s.open()
    assert await s.load_minutes_file("ev2", digest[md]) == md
