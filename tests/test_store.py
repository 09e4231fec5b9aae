"""The SQLite journal's own parts: migrations, WAL, group commit. What every store must do
is in tests/test_store_contract.py."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import AsyncIterator

import pytest

from forum_live.domain.entries import Audience, Entry
from forum_live.store.sqlite import SqliteStore, migrations


def entry(seq: int, kind: str = "chat.message", **data: object) -> Entry:
    return Entry(kind, {"n": seq, **data}, "2024-05-06T09:00:00.000Z", room="r1",
                 audience=Audience.ROOM, actor="p1", seq=seq)


ROW = {"id": "ev1", "title": "Forum", "created_at": "2024-05-06T09:00:00.000Z",
       "participant_key": "pk", "moderator_key": "mk", "status": "open"}


async def opened(path: Path) -> SqliteStore:
    s = SqliteStore(path, synchronous="NORMAL")
    await s.open()
    return s


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """The store on tmp_path / "forum.db", open for one test."""
    s = await opened(tmp_path / "forum.db")
    yield s
    await s.close()


async def test_migrations_are_idempotent_and_keep_data(tmp_path: Path) -> None:
    path = tmp_path / "forum.db"
    s = await opened(path)
    await s.create_event(ROW, entry(1, "event.created"))
    await s.close()
    for _ in range(2):  # opening again applies nothing twice and loses nothing
        s = await opened(path)
        assert [e.seq async for e in s.journal("ev1")] == [1]
        assert (await s.event_row("ev1"))["title"] == "Forum"  # type: ignore[index]
        await s.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == migrations()[-1][0]
    numbers = [n for n, _ in migrations()]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1


async def test_wal_mode_is_on(store: SqliteStore, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "forum.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"


async def test_concurrent_appends_are_group_committed_in_order(store: SqliteStore) -> None:
    await store.create_event(ROW, entry(1, "event.created"))
    before = store.commits
    heard: list[int] = []
    futures = [store.append("ev1", [entry(seq)], lambda seq=seq: heard.append(seq),
                            expect=seq - 1)
               for seq in range(2, 502)]
    await asyncio.gather(*futures)
    transactions = store.commits - before
    assert 1 <= transactions < 50, transactions  # far fewer than 500 appends
    assert heard == list(range(2, 502))  # after-commit hooks run in journal order
    got = [e async for e in store.journal("ev1")]
    assert [e.seq for e in got] == list(range(1, 502))
    assert got[5].data == {"n": 6} and got[5].room == "r1" and got[5].audience is Audience.ROOM
    assert [e.seq async for e in store.journal("ev1", after=495)] == list(range(496, 502))


async def test_on_commit_runs_only_after_the_commit(store: SqliteStore, tmp_path: Path) -> None:
    await store.create_event(ROW, entry(1, "event.created"))
    seen_in_db: list[bool] = []

    def hook() -> None:  # a second connection already sees the entry
        with sqlite3.connect(tmp_path / "forum.db") as db:
            n = db.execute("SELECT count(*) FROM journal WHERE seq = 2").fetchone()[0]
        seen_in_db.append(n == 1)

    await store.append("ev1", [entry(2)], hook, expect=1)
    assert seen_in_db == [True]
