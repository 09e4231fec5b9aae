"""The PostgreSQL journal (asyncpg): the same contract as SqliteStore, selected with
FORUM_DATABASE_URL=postgresql://... (or --database-url).

One writer task with one connection does group commit: whatever waits is written in one
transaction, a SAVEPOINT per write, so one write's failure (a conflict, a value that cannot
be stored, a refusal) rolls back that write alone. After the commit each write's
`on_commit` runs in journal order, then its future resolves. Reads use a small pool.

`append(expect=seq)` checks the event's head inside the transaction (cached per process
after the first read); the primary key (event_id, seq) is the guard against a writer in
another process: a duplicate seq is a unique violation, reported as StoreConflict.
Migrations are numbered SQL files in pg_migrations/ (the twins of SQLite's), applied under
an advisory lock so that two processes starting together do not race, and recorded in
`schema_version`. asyncpg's exceptions never leave this module: they become the store's
own (connection lost, server shutting down, disk full: StoreUnavailable).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Sequence

import asyncpg

from ..domain.entries import Entry
from . import Receipt, StoreClosed, StoreConflict, StoreError, StoreUnavailable, batch
from .sql import BALLOT_TABLES, Sql, migration_files

log = logging.getLogger(__name__)

SQL = Sql(numbered=True, ignore="INSERT INTO {} ON CONFLICT DO NOTHING",
          probe="INSERT INTO store_probe (id, at) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET at = excluded.at",
          erased=("journal", *BALLOT_TABLES, "snapshots", "event_owners", "minutes_files",
                  "cluster_requests"))
# the receipt of a forwarded request (cluster): a second row of the same id (its asker gave
# up on it: 'abandoned') fails the append on the primary key, so it is never applied
INSERT_RECEIPT = ("INSERT INTO cluster_requests (id, event_id, until, state, reply) "
                  "VALUES ($1, $2, to_timestamp($3), 'done', $4)")
MIGRATION_LOCK = 0x666F72756D  # pg_advisory_lock key while migrating ("forum")
PAGE = 2000  # journal rows per read
# SQLSTATE classes and codes where the storage, not the write, is the problem
_UNAVAILABLE_CLASSES = ("08", "53", "57", "58", "40")
_UNAVAILABLE_CODES = ("25006", "55P03", "55006", "42501", "P0001")

Statements = batch.Statements


class StoreFenced(StoreConflict):
    """The append names an owner epoch that is no longer the event's (cluster, issue 14):
    another node took the event over. Nothing of it was written."""


# A connection that is gone or unusable: asyncpg raises InternalClientError ("cannot
# switch to state ...; another operation is in progress") when the server ended the
# session while the connection sat in the pool and its loss was not processed yet.
LOST = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.InternalClientError,
        OSError, asyncio.TimeoutError, ConnectionError)


def store_error(exc: BaseException) -> StoreError:
    """asyncpg's exception as the store's own: a duplicate key is a conflict; a lost
    connection or a refusal of the server (shutting down, disk full, read-only, locked,
    out of resources, a trigger refusing) is unavailable; anything else a failure of this
    one write (a value that cannot be stored)."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, asyncpg.UniqueViolationError):
        return StoreConflict(f"{exc.table_name or 'row'}: {exc}")
    if isinstance(exc, LOST):
        return StoreUnavailable(f"database unreachable: {type(exc).__name__}: {exc}")
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        if state[:2] in _UNAVAILABLE_CLASSES or state in _UNAVAILABLE_CODES:
            return StoreUnavailable(f"database refused the write: {exc}")
    return StoreError(f"could not store: {type(exc).__name__}: {exc}")


def migrations() -> list[tuple[int, str]]:
    """(number, sql) for every file pg_migrations/NNN_name.sql, in order."""
    return migration_files("pg_migrations")




class _NotStarted(Exception):
    """The transaction could not even begin: nothing was sent, safe to try again."""


@dataclass
class PostgresStore(batch.SqlWrites):
    sql = SQL
    url: str
    pool_size: int = 4
    command_timeout: float = 30.0
    _db: Any = None  # the writer's asyncpg connection
    _pool: Any = None  # readers
    # Cluster (issue 14): with `fencing` on, an append carries the owner epoch this node
    # holds for its event (`fence()`) and is refused without one; `on_fenced` hears of
    # every event whose append was refused because its epoch moved on.
    fencing: bool = False
    fences: dict[str, int] = field(default_factory=dict)
    on_fenced: list[Callable[[str], None]] = field(default_factory=list)

    # -- connections -----------------------------------------------------------------
    async def _connect(self) -> Any:
        try:
            return await asyncpg.connect(self.url, command_timeout=self.command_timeout,
                                         server_settings={"application_name": "forum-live"})
        except Exception as exc:  # refused, unreachable, no such database: not there
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {type(exc).__name__}: "
                                   f"{exc}") from None

    async def open(self) -> None:
        self._db = await self._connect()
        try:
            await self._migrate()
            self._pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=self.pool_size,
                command_timeout=self.command_timeout,
                server_settings={"application_name": "forum-live"})
        except Exception as exc:
            await self._drop_connection()
            raise store_error(exc) from None
        self._heads.clear()
        self._writer = asyncio.create_task(self._write_loop(), name="postgres-writer")

    async def _migrate(self) -> None:
        db = self._db
        await db.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            await db.execute("CREATE TABLE IF NOT EXISTS schema_version "
                             "(version integer NOT NULL)")
            version = int(await db.fetchval("SELECT COALESCE(MAX(version), 0) "
                                            "FROM schema_version"))
            for number, sql in migrations():
                if number <= version:
                    continue
                async with db.transaction():
                    await db.execute(sql)
                    await db.execute("DELETE FROM schema_version")
                    await db.execute("INSERT INTO schema_version (version) VALUES ($1)",
                                     number)
                log.info("applied PostgreSQL migration %03d", number)
        finally:
            await db.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)

    async def _drop_connection(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            try:
                await asyncio.wait_for(db.close(), 2)
            except Exception:  # noqa: BLE001 - a dead connection is simply dropped
                db.terminate()

    async def close(self) -> None:
        await self._stop_writer()
        await self._drop_connection()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5)
            except Exception:  # noqa: BLE001
                pool.terminate()

    # -- ownership (cluster) -----------------------------------------------------------
    def fence(self, event_id: str, epoch: int | None) -> None:
        """From now on appends of `event_id` carry `epoch` (None: this node does not own it
        and its appends are refused). The cached head is read anew."""
        if epoch is None:
            self.fences.pop(event_id, None)
        else:
            self.fences[event_id] = epoch
        self._heads.pop(event_id, None)

    def _epoch(self, event_id: str) -> int | None:
        """The epoch an append of the event carries (see fence()); with fencing on, an
        append this node holds none for is refused before anything is queued."""
        epoch = self.fences.get(event_id)
        if self.fencing and epoch is None:
            raise StoreFenced(f"event {event_id}: this node does not own it")
        return epoch

    def _receipts(self, event_id: str, entries: Sequence[Entry],
                  receipts: Sequence[Receipt]) -> Statements:
        """The receipts of the forwarded requests an append applies, written in its
        savepoint of the batch's transaction (so with its entries or not at all); the reply
        is the one the asker would have got: the seqs journaled."""
        if not receipts:
            return []
        reply = json.dumps({"seqs": [e.seq for e in entries if not e.sealed]})
        return [(INSERT_RECEIPT, [(r.request, event_id, r.until, reply) for r in receipts])]

    # -- the group commit (the writes themselves: batch.SqlWrites) -------------------
    async def _read_head(self, event_id: str) -> int:
        return int(await self._db.fetchval(self.sql.head, event_id))

    async def _transaction(self, writes: list[batch.Write], tentative: dict[str, int]) -> bool:
        """The batch in one transaction, a savepoint per write; True if anything was
        written. Raises _NotStarted if the transaction could not begin."""
        if self._db is None or self._db.is_closed():
            self._db = None
            try:
                self._db = await self._connect()
            except StoreError as exc:
                raise _NotStarted(exc) from exc
        db = self._db
        tr = db.transaction()
        try:
            await tr.start()
        except Exception as exc:
            raise _NotStarted(exc) from exc
        wrote = False
        owners: dict[str, int | None] = {}  # epochs read (and share-locked) in this transaction
        try:
            for w in writes:
                w.error = None
                if w.epoch is not None and w.event_id is not None:
                    if w.event_id not in owners:  # locked until the commit: no takeover between
                        owners[w.event_id] = await db.fetchval(
                            "SELECT epoch FROM event_owners WHERE event_id = $1 FOR SHARE",
                            w.event_id)
                    if owners[w.event_id] != w.epoch:
                        w.error = StoreFenced(f"event {w.event_id}: owner epoch is "
                                              f"{owners[w.event_id]}, not {w.epoch}")
                        continue
                if await self._stale(w, tentative):
                    continue
                if not w.statements:
                    continue
                try:
                    async with db.transaction():  # nested: SAVEPOINT ... RELEASE / ROLLBACK TO
                        for sql, params in w.statements:
                            await db.executemany(sql, params)
                except Exception as exc:
                    if (db.is_closed() or not isinstance(exc, asyncpg.PostgresError)
                            or isinstance(exc, asyncpg.PostgresConnectionError)):
                        raise  # the connection, not this write: the batch fails
                    w.error = store_error(exc)  # this write alone: the others go on
                    if isinstance(w.error, StoreConflict) and w.event_id is not None:
                        self._heads.pop(w.event_id, None)  # another process wrote: re-read
                    if isinstance(w.error, StoreUnavailable):
                        self._healthy = False
                        self.last_error = str(w.error)
                    continue
                wrote = True
                if w.event_id is not None and w.head is not None:
                    tentative[w.event_id] = w.head
        except BaseException:
            try:
                await tr.rollback()
            except Exception:  # noqa: BLE001 - the connection is dropped below
                pass
            raise
        await tr.commit()
        return wrote

    async def _commit_batch(self, writes: list[batch.Write]) -> None:
        """One transaction for the batch, a savepoint per write: a write that fails (a
        conflict, a value that cannot be stored, a refusal) is rolled back alone and fails
        alone. Only a failure of the transaction itself (connection lost, server down)
        fails them all."""
        tentative: dict[str, int] = {}
        wrote = False
        failed: StoreError | None = None
        try:
            try:
                wrote = await self._transaction(writes, tentative)
            except _NotStarted:
                # a connection that died while idle (a restarted server): one fresh try,
                # nothing of this batch was sent yet
                await self._drop_connection()
                tentative.clear()
                wrote = await self._transaction(writes, tentative)
        except Exception as exc:  # nothing of the batch is durable (or, if the COMMIT
            # itself was lost, unknown: the runtime re-reads the journal either way)
            cause = exc.__cause__ if isinstance(exc, _NotStarted) else exc
            failed = store_error(cause if cause is not None else exc)
            self._healthy = False
            self.last_error = str(failed)
            if self._db is None or self._db.is_closed() or isinstance(failed, StoreUnavailable):
                await self._drop_connection()
        self._batch_done(writes, failed, tentative, wrote)
        self.failures += batch.settle(writes, log, on_failed=self._failed, on_done=self._done)

    def _failed(self, w: batch.Write) -> None:
        if isinstance(w.error, StoreFenced) and w.event_id is not None:
            self._heads.pop(w.event_id, None)
            for hook in self.on_fenced:
                try:
                    hook(w.event_id)
                except Exception:
                    log.exception("on_fenced hook failed")

    def _done(self, w: batch.Write) -> None:
        if w.forget is not None:
            self._heads.pop(w.forget, None)

    # -- reads -----------------------------------------------------------------------
    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        for attempt in (1, 2):
            if self._pool is None:
                raise StoreClosed("the store is closed")
            try:
                con = await self._pool.acquire()
            except Exception as exc:  # no connection to be had: the database is not there
                raise StoreUnavailable(f"cannot connect to PostgreSQL: {type(exc).__name__}: "
                                       f"{exc}") from None
            try:
                return list(await con.fetch(sql, *args))
            except LOST as exc:
                con.terminate()  # never handed out again: the pool opens a new one
                if attempt == 2:  # a pooled connection that died while idle: one more
                    raise store_error(exc) from None
            except Exception as exc:
                raise store_error(exc) from None
            finally:
                await self._pool.release(con)
        raise AssertionError("unreachable")

    async def event_row(self, event_id: str) -> dict[str, str] | None:
        rows = await self._fetch(self.sql.event_row, event_id)
        if not rows:
            return None
        out = dict(rows[0])
        out.pop("created_order", None)
        return out

    async def list_events(self) -> list[dict[str, str]]:
        rows = await self._fetch("SELECT * FROM events ORDER BY created_at DESC, "
                                 "created_order DESC")
        out = [dict(r) for r in rows]
        for r in out:
            r.pop("created_order", None)
        return out

    async def journal(self, event_id: str, after: int = 0) -> AsyncIterator[Entry]:
        """In pages (no connection is held while the caller folds)."""
        while True:
            rows = await self._fetch(
                'SELECT seq, kind, at, room, audience, "to", actor, data FROM journal '
                "WHERE event_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                event_id, after, PAGE)
            for r in rows:
                yield Entry.from_row(dict(r))
            if len(rows) < PAGE:
                return
            after = int(rows[-1]["seq"])

    async def sealed(self, event_id: str) -> AsyncIterator[Entry]:
        """The ballot box as entries for the fold: voters, counts, texts (by random key)."""
        for kind, sql in self.sql.sealed:
            for r in await self._fetch(sql, event_id):
                yield batch.sealed_entry(kind, r)

    async def load_snapshot(self, event_id: str) -> tuple[int, bytes] | None:
        rows = await self._fetch(self.sql.load_snapshot, event_id)
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None

    async def load_minutes_file(self, event_id: str, sha256: str) -> bytes | None:
        rows = await self._fetch(self.sql.load_minutes_file, event_id, sha256)
        return bytes(rows[0][0]) if rows else None

    # -- the ballot box at rest (issue 13) --------------------------------------------
    async def reseal(self, event_id: str, poll_ids: Sequence[str]) -> int:
        """Once anonymous polls are closed: rewrite their ballot-box rows in a random order
        in one write of the group commit (free-text answers get new random keys), so every
        row has the same transaction id (xmin) and no physical order of arrival; then
        VACUUM FULL rewrites the three tables without the old row versions. What this
        cannot reach: PostgreSQL's WAL (and any WAL archive or backup) keeps the earlier
        writes until it is recycled. Returns 1."""
        if not poll_ids:
            return 0
        polls = list(poll_ids)
        statements: Statements = []
        for table, cols in BALLOT_TABLES.items():
            names = ", ".join(cols)
            chosen = ("event_id, poll_id, replace(gen_random_uuid()::text, '-', ''), room, text"
                      if table == "poll_texts" else names)
            statements.append((
                f"WITH gone AS (DELETE FROM {table} WHERE event_id = $1 AND "
                f"poll_id = ANY($2::text[]) RETURNING {names}) "
                f"INSERT INTO {table} ({names}) SELECT {chosen} FROM gone ORDER BY random()",
                [(event_id, polls)]))
        await self._submit(statements)
        try:
            if self._pool is not None:
                async with self._pool.acquire() as con:
                    await con.execute(f"VACUUM FULL {', '.join(BALLOT_TABLES)}")
        except Exception as exc:  # noqa: BLE001 - the rows are resealed; log the rest
            log.warning("reseal: VACUUM FULL of the ballot box failed: %s", store_error(exc))
        return 1
