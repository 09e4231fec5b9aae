"""The SQLite journal: WAL, numbered migrations, one writer task with group commit.

Every append waits in one queue; the writer takes whatever is waiting and commits it in a
single transaction, then runs each item's `on_commit` in order before resolving its future.
So fan-out and acks happen only after the commit, and always in journal order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

import sqlite3

import aiosqlite

from ..domain.entries import Entry
from . import StoreClosed, StoreConflict, StoreError, StoreUnavailable, batch
from .sql import BALLOT_TABLES, Sql, migration_files

log = logging.getLogger(__name__)

SQL = Sql(numbered=False, ignore="INSERT OR IGNORE INTO {}",
          probe="INSERT OR REPLACE INTO store_probe (id, at) VALUES (1, ?)",
          erased=("journal", *BALLOT_TABLES, "snapshots", "minutes_files"))


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
    """(number, sql) for every file migrations/NNN_name.sql, in order."""
    return migration_files("migrations")


CHECKPOINT_WAIT_MS = 100  # the longest a reseal's checkpoint holds up the writer at once


@dataclass
class SqliteStore(batch.SqlWrites):
    sql = SQL
    path: Path
    synchronous: str = "FULL"
    _db: aiosqlite.Connection | None = None
    readers: int = 4  # read connections: one statement each at a time (see _read)
    _reader_pool: asyncio.Queue[aiosqlite.Connection] | None = None
    _reader_conns: list[aiosqlite.Connection] = field(default_factory=list)
    # Event rows as committed, read once: every hello and join looks its event up, and only
    # this process writes them (the writes below drop a row after their commit).
    _rows: dict[str, dict[str, str]] = field(default_factory=dict)
    _row_changes: int = 0  # a read racing a change does not fill the cache

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
        await self._stop_writer()
        for conn in (*self._reader_conns, self._db):
            if conn is not None:
                await conn.close()
        self._reader_conns, self._reader_pool, self._db = [], None, None

    # -- the group commit (the writes themselves: batch.SqlWrites) -------------------
    async def _read_head(self, event_id: str) -> int:
        assert self._db is not None
        async with self._db.execute(self.sql.head, (event_id,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _commit_batch(self, writes: list[batch.Write]) -> None:
        """One transaction for the batch, a savepoint per write: a write that fails (a
        conflict, a value that cannot be stored) is rolled back alone and fails alone. Only
        a failure of the transaction itself (disk full, read-only, locked) fails them all."""
        db = self._db
        assert db is not None
        tentative: dict[str, int] = {}
        wrote = False
        failed: StoreError | None = None
        try:
            await db.execute("BEGIN IMMEDIATE")
            for w in writes:
                if await self._stale(w, tentative):
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
            failed = store_error(exc)
            self._healthy = False
            self.last_error = str(failed)
            try:
                if db.in_transaction:
                    await db.execute("ROLLBACK")
            except Exception:  # noqa: S110 - the connection rolls back on its next BEGIN
                pass
        self._batch_done(writes, failed, tentative, wrote)
        self.failures += batch.settle(writes, log, on_done=self._done)

    def _done(self, w: batch.Write) -> None:
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
        async with self._read() as db, db.execute(self.sql.event_row, (event_id,)) as cur:
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
        async with self._read() as db:
            await db.execute("BEGIN")  # one snapshot for the three tables
            try:
                for kind, sql in self.sql.sealed:
                    async with db.execute(sql, (event_id,)) as cur:
                        async for r in cur:
                            yield batch.sealed_entry(kind, r)
            finally:
                await db.execute("COMMIT")

    async def load_snapshot(self, event_id: str) -> tuple[int, bytes] | None:
        async with self._read() as db, db.execute(self.sql.load_snapshot, (event_id,)) as cur:
            row = await cur.fetchone()
        return (int(row[0]), bytes(row[1])) if row else None

    async def load_minutes_file(self, event_id: str, sha256: str) -> bytes | None:
        async with self._read() as db, db.execute(self.sql.load_minutes_file,
                                                  (event_id, sha256)) as cur:
            row = await cur.fetchone()
        return bytes(row[0]) if row else None

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

