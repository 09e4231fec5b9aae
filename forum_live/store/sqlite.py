"""The SQLite journal: WAL, numbered migrations, one writer task with group commit.

Every append waits in one queue; the writer takes whatever is waiting and commits it in a
single transaction, then runs each item's `on_commit` in order before resolving its future.
So fan-out and acks happen only after the commit, and always in journal order.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

import sqlite3

import aiosqlite

from ..domain.entries import Entry
from . import (OnCommit, Receipt, StoreClosed, StoreConflict, StoreError, StoreUnavailable,
               batch)

log = logging.getLogger(__name__)

INSERT_ENTRY = batch.INSERT_ENTRY.format(", ".join("?" * batch.JOURNAL_COLUMNS))
_Write = batch.Write


def store_error(exc: BaseException) -> StoreError:
    """The driver's exception as the store's own: a duplicate seq is a conflict, a refusal
    of the storage (full, read-only, locked, I/O) is unavailable, anything else a failure
    of this one write (a value that cannot be stored)."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, sqlite3.IntegrityError) and "journal" in str(exc):
        return StoreConflict(f"journal: {exc}")
    if isinstance(exc, (sqlite3.OperationalError, sqlite3.DatabaseError, OSError)):
        return StoreUnavailable(f"storage refused the write: {exc}")
    return StoreError(f"could not store: {type(exc).__name__}: {exc}")


def migrations() -> list[tuple[int, str]]:
    """(number, sql) for every file NNN_name.sql, in order."""
    out = []
    for f in resources.files("forum_live.store").joinpath("migrations").iterdir():
        if f.name.endswith(".sql"):
            out.append((int(f.name.split("_", 1)[0]), f.read_text(encoding="utf-8")))
    return sorted(out)


ROOM_BALLOTS = "#n"  # the pseudo option of poll_counts that counts a room's ballots
CHECKPOINT_WAIT_MS = 100  # the longest a reseal's checkpoint holds up the writer at once
BALLOT_TABLES = {  # table -> its columns (the key first)
    "poll_voters": ("event_id", "poll_id", "participant_id"),
    "poll_counts": ("event_id", "poll_id", "room", "option", "n"),
    "poll_texts": ("event_id", "poll_id", "shuffle", "room", "text"),
}


def _sealed_statements(event_id: str, e: Entry) -> list[tuple[str, Sequence[Sequence[Any]]]]:

    """The ballot-box writes of a sealed entry: nothing that links voter and choice."""
    d = e.data
    if e.kind == "poll.voter":
        return [("INSERT OR IGNORE INTO poll_voters (event_id, poll_id, participant_id) "
                 "VALUES (?, ?, ?)", [(event_id, d["poll"], d["participant"])])]
    if e.kind == "poll.ballot":
        out: list[tuple[str, Sequence[Sequence[Any]]]] = []
        # ROOM_BALLOTS counts the ballots of each room (a multiple-choice ballot adds to
        # several options): per-room results need at least k of them (issue 13)
        keys = [*(d.get("keys") or []), ROOM_BALLOTS]
        out.append(("INSERT INTO poll_counts (event_id, poll_id, room, option, n) "
                    "VALUES (?, ?, ?, ?, 1) ON CONFLICT (event_id, poll_id, room, option) "
                    "DO UPDATE SET n = n + 1",
                    [(event_id, d["poll"], d["room"], k) for k in keys]))

        if d.get("text") is not None:
            out.append(("INSERT INTO poll_texts (event_id, poll_id, shuffle, room, text) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [(event_id, d["poll"], secrets.token_hex(16), d["room"], d["text"])]))
        return out
    raise ValueError(f"no ballot box for sealed entry {e.kind!r}")


_entry_params = batch.entry_params


@dataclass
class SqliteStore:
    path: Path
    synchronous: str = "FULL"
    max_batch: int = 512
    _db: aiosqlite.Connection | None = None
    readers: int = 4  # read connections: one statement each at a time (see _read)
    _reader_pool: asyncio.Queue[aiosqlite.Connection] | None = None
    _reader_conns: list[aiosqlite.Connection] = field(default_factory=list)
    _queue: asyncio.Queue[_Write | None] = field(default_factory=asyncio.Queue)
    _writer: asyncio.Task[None] | None = None
    commits: int = 0  # transactions, for tests and benchmarks of the group commit
    appended: int = 0
    failures: int = 0  # writes that failed, for healthz and tests
    _heads: dict[str, int] = field(default_factory=dict)  # committed last seq per event
    # Event rows as committed, read once: every hello and join looks its event up, and only
    # this process writes them (the writes below drop a row after their commit).
    _rows: dict[str, dict[str, str]] = field(default_factory=dict)
    _row_changes: int = 0  # a read racing a change does not fill the cache
    _healthy: bool = True
    last_error: str | None = None

    @property
    def healthy(self) -> bool:
        return self._healthy

    async def open(self) -> None:
        # aiosqlite logs every statement with its parameters at DEBUG: that would put
        # anonymous ballots and their voters side by side in a log. Never below INFO.
        logging.getLogger("aiosqlite").setLevel(max(logging.INFO,
                                                    logging.getLogger("aiosqlite").level))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        self._db.row_factory = aiosqlite.Row
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute(f"PRAGMA synchronous={self.synchronous}")
        await self._db.execute("PRAGMA foreign_keys=ON")
        await self._migrate()
        self._reader_pool = asyncio.Queue()
        self._reader_conns = []
        for _ in range(self.readers):
            conn = await aiosqlite.connect(self.path, isolation_level=None)
            conn.row_factory = aiosqlite.Row
            self._reader_conns.append(conn)
            self._reader_pool.put_nowait(conn)
        self._writer = asyncio.create_task(self._write_loop(), name="sqlite-writer")

    async def _migrate(self) -> None:
        assert self._db is not None
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        for number, sql in migrations():
            if number <= version:
                continue
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                await self._run_script(sql)
                await self._db.execute(f"PRAGMA user_version={number}")
                await self._db.execute("COMMIT")
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            log.info("applied migration %03d", number)

    async def _run_script(self, sql: str) -> None:
        assert self._db is not None
        for stmt in (s.strip() for s in sql.split(";")):
            lines = [ln for ln in stmt.splitlines() if not ln.strip().startswith("--")]
            if "".join(lines).strip():
                await self._db.execute("\n".join(lines))

    async def close(self) -> None:
        if self._writer is not None:
            await self._queue.put(None)
            await self._writer
            self._writer = None
        for conn in (*self._reader_conns, self._db):
            if conn is not None:
                await conn.close()
        self._reader_conns, self._reader_pool, self._db = [], None, None

    # -- writes ----------------------------------------------------------------------
    def _submit(self, statements: list[tuple[str, Sequence[Sequence[Any]]]],
                on_commit: OnCommit | None = None, **check: Any) -> asyncio.Future[None]:
        if self._writer is None or self._writer.done():
            raise StoreClosed("the store is closed")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Write(statements, fut, on_commit, **check))
        return fut

    def append(self, event_id: str, entries: Sequence[Entry],
               on_commit: OnCommit | None = None, *, expect: int,
               receipts: Sequence[Receipt] = ()) -> asyncio.Future[None]:
        batch.no_receipts(receipts)
        self.appended += len(entries)
        statements: batch.Statements = []
        journaled, head = batch.journaled(entries, expect)
        if journaled:
            statements.append((INSERT_ENTRY, [_entry_params(event_id, e) for e in journaled]))
        for e in entries:
            if e.sealed:
                statements += _sealed_statements(event_id, e)
        return self._submit(statements, on_commit, event_id=event_id, expect=expect, head=head)

    async def probe(self) -> None:
        """One real write (a page of the WAL): fails while the disk is full or read-only."""
        await self._submit([("INSERT OR REPLACE INTO store_probe (id, at) VALUES (1, ?)",
                             [(secrets.token_hex(8),)])])

    async def create_event(self, row: dict[str, str], first: Entry) -> None:
        await self._submit([
            ("INSERT INTO events (id, title, created_at, participant_key, moderator_key, status)"
             " VALUES (?, ?, ?, ?, ?, ?)",
             [(row["id"], row["title"], row["created_at"], row["participant_key"],
               row["moderator_key"], row.get("status", "open"))]),
            (INSERT_ENTRY, [_entry_params(row["id"], first)]),
        ], event_id=row["id"], expect=0, head=first.seq)

    async def set_status(self, event_id: str, status: str) -> None:
        await self._submit([("UPDATE events SET status = ? WHERE id = ?", [(status, event_id)])],
                           row=event_id)

    async def revoke_tokens(self, event_id: str, participant_key: str,
                            moderator_key: str) -> None:
        """New invite keys and the next token generation: every token issued so far ends."""
        await self._submit([("UPDATE events SET participant_key = ?, moderator_key = ?, "
                             "token_gen = token_gen + 1 WHERE id = ?",
                             [(participant_key, moderator_key, event_id)])], row=event_id)


    async def delete_event(self, event_id: str) -> None:
        """Forget an event entirely (GDPR erasure): its row, journal and ballot box, in one
        transaction behind every write already queued."""
        one: list[Sequence[Any]] = [(event_id,)]
        await self._submit([(f"DELETE FROM {table} WHERE event_id = ?", one)
                            for table in ("journal", "poll_voters", "poll_counts", "poll_texts",
                                          "snapshots", "minutes_files")]
                           + [("DELETE FROM events WHERE id = ?", one)], forget=event_id,
                           row=event_id)

    async def save_snapshot(self, event_id: str, seq: int, blob: bytes) -> None:
        await self._submit([("INSERT INTO snapshots (event_id, seq, data) VALUES (?, ?, ?) "
                             "ON CONFLICT (event_id) DO UPDATE SET seq = excluded.seq, "
                             "data = excluded.data WHERE excluded.seq >= snapshots.seq",
                             [(event_id, seq, blob)])])

    async def load_snapshot(self, event_id: str) -> tuple[int, bytes] | None:
        async with self._read() as db, db.execute("SELECT seq, data FROM snapshots WHERE event_id = ?",
                                        (event_id,)) as cur:
            row = await cur.fetchone()
        return (int(row[0]), bytes(row[1])) if row else None

    async def save_minutes_files(self, event_id: str, files: Sequence[bytes]) -> None:
        await self._submit([("INSERT OR IGNORE INTO minutes_files (event_id, sha256, data) "
                             "VALUES (?, ?, ?)",
                             [(event_id, hashlib.sha256(b).hexdigest(), bytes(b))
                              for b in files])])

    async def load_minutes_file(self, event_id: str, sha256: str) -> bytes | None:
        async with self._read() as db, db.execute("SELECT data FROM minutes_files WHERE event_id = ? "
                                        "AND sha256 = ?", (event_id, sha256)) as cur:
            row = await cur.fetchone()
        return bytes(row[0]) if row else None

    async def flush(self) -> None:
        """Wait until everything appended so far is committed."""
        await self._submit([])

    async def _write_loop(self) -> None:
        await batch.drain(self._queue, self.max_batch, self._commit_batch)

    async def _head(self, event_id: str, tentative: dict[str, int]) -> int:
        if event_id in tentative:
            return tentative[event_id]
        if event_id not in self._heads:
            assert self._db is not None
            async with self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM journal "
                                        "WHERE event_id = ?", (event_id,)) as cur:
                row = await cur.fetchone()
            self._heads[event_id] = int(row[0]) if row else 0
        return self._heads[event_id]

    async def _commit_batch(self, writes: list[_Write]) -> None:
        """One transaction for the batch, a savepoint per write: a write that fails (a
        conflict, a value that cannot be stored) is rolled back alone and fails alone. Only
        a failure of the transaction itself (disk full, read-only, locked) fails them all."""
        db = self._db
        assert db is not None
        tentative: dict[str, int] = {}
        wrote = False
        try:
            await db.execute("BEGIN IMMEDIATE")
            for w in writes:
                if w.event_id is not None and w.expect is not None:
                    head = await self._head(w.event_id, tentative)
                    if head != w.expect:
                        w.error = StoreConflict(f"event {w.event_id}: the journal is at "
                                                f"seq {head}, the write follows {w.expect}")
                        continue
                if not w.statements:
                    continue
                await db.execute("SAVEPOINT w")
                try:
                    for sql, params in w.statements:
                        await db.executemany(sql, params)
                except Exception as exc:
                    if not db.in_transaction:
                        raise  # SQLite rolled back the whole transaction (full, I/O)
                    await db.execute("ROLLBACK TO w")
                    await db.execute("RELEASE w")
                    w.error = store_error(exc)  # this write alone: the others go on
                    if isinstance(w.error, StoreUnavailable):
                        self._healthy = False
                        self.last_error = str(w.error)
                    continue
                await db.execute("RELEASE w")
                wrote = True
                if w.event_id is not None and w.head is not None:
                    tentative[w.event_id] = w.head
            await db.execute("COMMIT")
        except Exception as exc:  # the transaction failed: nothing of the batch is durable
            err = store_error(exc)
            self._healthy = False
            self.last_error = str(err)
            try:
                if db.in_transaction:
                    await db.execute("ROLLBACK")
            except Exception:  # noqa: S110 - the connection rolls back on its next BEGIN
                pass
            for w in writes:
                w.error = err
            self._heads.clear()  # re-read what is durable on the next write
        else:
            self.commits += 1
            self._heads.update(tentative)
            if wrote:
                self._healthy = True
                self.last_error = None
        self.failures += batch.settle(writes, log, on_done=self._done)

    def _done(self, w: _Write) -> None:
        """A committed write's effect on what this store keeps in memory."""
        if w.forget is not None:
            self._heads.pop(w.forget, None)
        for changed in (w.forget, w.row):
            if changed is not None:
                self._rows.pop(changed, None)
                self._row_changes += 1

    # -- reads -----------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        """A read connection of its own for one read. SQLite keeps a connection's read
        snapshot while any of its statements is active, so two overlapping reads on one
        connection could see the journal as it was before a commit in between (a just
        created event "not found", a journal folded without its newest entries)."""
        if self._reader_pool is None:
            raise StoreClosed("the store is closed")
        conn = await self._reader_pool.get()
        try:
            yield conn
        finally:
            self._reader_pool.put_nowait(conn)

    # -- what is read
    async def event_row(self, event_id: str) -> dict[str, str] | None:
        cached = self._rows.get(event_id)
        if cached is not None:
            return dict(cached)
        changes = self._row_changes
        async with self._read() as db, db.execute("SELECT * FROM events WHERE id = ?",
                                                  (event_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        if changes == self._row_changes:
            self._rows[event_id] = dict(row)
        return dict(row)

    async def list_events(self) -> list[dict[str, str]]:
        async with self._read() as db, db.execute(
                "SELECT * FROM events ORDER BY created_at DESC, rowid DESC") as cur:
            return [dict(r) for r in await cur.fetchall()]

    async def journal(self, event_id: str, after: int = 0) -> AsyncIterator[Entry]:
        async with self._read() as db, db.execute(
                "SELECT * FROM journal WHERE event_id = ? AND seq > ? ORDER BY seq",
                (event_id, after)) as cur:
            async for row in cur:
                yield Entry.from_row(dict(row))

    async def sealed(self, event_id: str) -> AsyncIterator[Entry]:
        """The ballot box as entries for the fold: voters, counts, texts (shuffled)."""
        queries = [
            ("poll.voter", "SELECT poll_id, participant_id FROM poll_voters WHERE event_id = ?"),
            ("poll.tally", "SELECT poll_id, room, option, n FROM poll_counts WHERE event_id = ?"),
            ("poll.ballot", "SELECT poll_id, room, text FROM poll_texts WHERE event_id = ? "
                            "ORDER BY shuffle"),
        ]
        async with self._read() as db:
            await db.execute("BEGIN")  # one snapshot for the three tables
            try:
                for kind, sql in queries:
                    async with db.execute(sql, (event_id,)) as cur:
                        async for r in cur:
                            yield batch.sealed_entry(kind, r)
            finally:
                await db.execute("COMMIT")

    # -- the ballot box at rest (issue 13) --------------------------------------------
    async def reseal(self, event_id: str, poll_ids: Sequence[str]) -> int:
        """Once anonymous polls are closed: rewrite their ballot-box rows in a random order
        (new random keys for the text answers), with `secure_delete` zeroing what is
        deleted and freed, then checkpoint the WAL and truncate it to nothing, retried
        until no reader is in the way. Afterwards no row, WAL frame, freed page or
        physical order of the data directory pairs a voter with a choice. Its own
        connection: the writer's group commit just waits (busy timeout) for these
        milliseconds. A checkpoint that waits for a reader holds the write lock meanwhile,
        so each attempt waits at most `CHECKPOINT_WAIT_MS`, then lets the writer go on and
        tries again later. Returns the number of checkpoint attempts."""
        if not poll_ids:
            return 0
        rng = secrets.SystemRandom()
        db = await aiosqlite.connect(self.path, isolation_level=None, timeout=10)
        try:
            await db.execute("PRAGMA secure_delete=ON")
            await db.execute("BEGIN IMMEDIATE")  # waits (10 s) for a group commit to end
            try:
                for table, cols in BALLOT_TABLES.items():
                    rows: list[tuple[Any, ...]] = []
                    for poll_id in poll_ids:
                        async with db.execute(f"SELECT {', '.join(cols)} FROM {table} "
                                              "WHERE event_id = ? AND poll_id = ?",
                                              (event_id, poll_id)) as cur:
                            rows += [tuple(r) for r in await cur.fetchall()]
                        await db.execute(f"DELETE FROM {table} WHERE event_id = ? AND "
                                         "poll_id = ?", (event_id, poll_id))
                    if table == "poll_texts":  # new keys: the old order of keys is gone too
                        rows = [(r[0], r[1], secrets.token_hex(16), r[3], r[4]) for r in rows]
                    rng.shuffle(rows)
                    await db.executemany(
                        f"INSERT INTO {table} ({', '.join(cols)}) "
                        f"VALUES ({', '.join('?' * len(cols))})", rows)
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            attempts, pause = 0, 0.01
            while True:
                attempts += 1
                async with db.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cur:
                    row = await cur.fetchone()
                if row is not None and row[0] == 0:
                    return attempts
                await asyncio.sleep(pause)  # a reader on an older snapshot: try again
                pause = min(1.0, pause * 2)
        finally:
            await db.close()

