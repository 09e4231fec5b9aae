"""What the SQL stores share: the queued write of a group commit, the rows an entry
becomes, the seq check of an append, the loop that batches the queue, the settling of a
committed (or failed) batch and the Store's writes as statements (`SqlWrites`, in the
store's dialect of sql.Sql). The transaction itself is each driver's own."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, ClassVar, Sequence

from ..domain.entries import Entry
from ..domain.polls import ROOM_BALLOTS
from . import OnCommit, Receipt, StoreClosed, StoreConflict, StoreError
from .sql import Sql

Statements = list[tuple[str, Sequence[Sequence[Any]]]]


@dataclass
class Write:
    statements: Statements
    future: asyncio.Future[None]
    on_commit: OnCommit | None = None
    event_id: str | None = None  # with `expect`: the append must follow that seq
    expect: int | None = None
    head: int | None = None  # the event's last seq once this write is committed
    forget: str | None = None  # an event erased by this write
    row: str | None = None  # an event whose row this write changes
    epoch: int | None = None  # cluster: the writer's owner epoch, checked in the transaction
    error: StoreError | None = None


def entry_params(event_id: str, e: Entry) -> tuple[Any, ...]:
    r = e.to_row()
    return (event_id, r["seq"], r["kind"], r["at"], r["room"], r["audience"], r["to"],
            r["actor"], r["data"])


def journaled(entries: Sequence[Entry], expect: int) -> tuple[list[Entry], int]:
    """The entries that enter the journal and the head after them; they must number
    expect+1, expect+2, ... (StoreConflict otherwise)."""
    out, head = [], expect
    for e in entries:
        if e.sealed:
            continue
        if e.seq != head + 1:
            raise StoreConflict(f"seq {e.seq} does not follow {head}")
        head = e.seq
        out.append(e)
    return out, head


def no_receipts(receipts: Sequence[Receipt]) -> None:
    """Forwarded requests exist in a cluster only, and a cluster runs on PostgreSQL."""
    if receipts:
        raise StoreError("forwarded requests (a cluster) need the PostgreSQL store")


def sealed_entry(kind: str, r: Sequence[Any]) -> Entry:
    """A ballot-box row as the entry the fold takes: voters (poll, participant), counts
    (poll, room, option, n) or texts (poll, room, text)."""
    if kind == "poll.voter":
        data: dict[str, Any] = {"poll": r[0], "participant": r[1]}
    elif kind == "poll.tally":
        data = {"poll": r[0], "room": r[1], "key": r[2], "n": int(r[3])}
    else:
        data = {"poll": r[0], "room": r[1], "text": r[2]}
    return Entry(kind, data, "", sealed=True)


async def drain(queue: asyncio.Queue[Write | None], max_batch: int,
                commit: Callable[[list[Write]], Awaitable[None]]) -> None:
    """The writer task: take whatever waits (up to max_batch) and commit it as one batch;
    None in the queue ends it after what came before."""
    stop = False
    while not stop:
        item = await queue.get()
        if item is None:
            break
        batch = [item]
        while len(batch) < max_batch and not queue.empty():
            nxt = queue.get_nowait()
            if nxt is None:
                stop = True
                break
            batch.append(nxt)
        await commit(batch)
        # nothing of the batch waits here for the next write: its hooks hold runtimes (an
        # unloaded event's memory would stay until some event writes again)
        batch.clear()
        item = nxt = None


def settle(batch: list[Write], log: logging.Logger,
           on_failed: Callable[[Write], None] | None = None,
           on_done: Callable[[Write], None] | None = None) -> int:
    """After the transaction: fail the writes that failed, run the others' after-commit
    hooks in journal order and resolve their futures. Returns how many failed."""
    failed = [w for w in batch if w.error is not None]
    if failed:
        log.error("journal: %d of %d writes failed: %s", len(failed), len(batch),
                  failed[0].error)
    for w in batch:
        if w.error is not None:
            if on_failed is not None:
                on_failed(w)
            if not w.future.done():
                w.future.set_exception(w.error)
            continue
        if on_done is not None:
            on_done(w)
        if w.on_commit is not None:
            try:
                w.on_commit()
            except Exception:
                log.exception("after-commit hook failed")
        if not w.future.done():
            w.future.set_result(None)
    return len(failed)


@dataclass(kw_only=True)
class SqlWrites:
    """The Store's writes as SqliteStore and PostgresStore both make them: statements in
    the store's dialect (`sql`), queued for the writer task, which commits whatever waits
    (up to `max_batch`) in one transaction (`_commit_batch`, each driver's own)."""

    sql: ClassVar[Sql]
    max_batch: int = 512
    _queue: asyncio.Queue[Write | None] = field(default_factory=asyncio.Queue)
    _writer: asyncio.Task[None] | None = None
    commits: int = 0  # transactions, for tests and benchmarks of the group commit
    appended: int = 0
    failures: int = 0  # writes that failed, for healthz and tests
    _heads: dict[str, int] = field(default_factory=dict)  # committed last seq per event
    _healthy: bool = True
    last_error: str | None = None

    @property
    def healthy(self) -> bool:
        return self._healthy

    # -- the writes, queued ------------------------------------------------------------
    def _submit(self, statements: Statements, on_commit: OnCommit | None = None,
                **check: Any) -> asyncio.Future[None]:
        if self._writer is None or self._writer.done():
            raise StoreClosed("the store is closed")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(Write(statements, fut, on_commit, **check))
        return fut

    def _epoch(self, event_id: str) -> int | None:
        """The owner epoch an append of the event carries, checked in the transaction
        (cluster fencing: PostgresStore's); None checks none."""
        return None

    def _receipts(self, event_id: str, entries: Sequence[Entry],
                  receipts: Sequence[Receipt]) -> Statements:
        """The statements that keep the receipts of forwarded requests (a cluster) with the
        append's entries: PostgresStore's; the others refuse them."""
        no_receipts(receipts)
        return []

    def append(self, event_id: str, entries: Sequence[Entry],
               on_commit: OnCommit | None = None, *, expect: int,
               receipts: Sequence[Receipt] = ()) -> asyncio.Future[None]:
        # first: a request its asker gave up on fails the write before anything is sent
        statements = self._receipts(event_id, entries, receipts)
        self.appended += len(entries)
        new, head = journaled(entries, expect)
        epoch = self._epoch(event_id)
        if new:
            statements.append((self.sql.insert_entry, [entry_params(event_id, e) for e in new]))
        for e in entries:
            if e.sealed:
                statements += self._sealed_statements(event_id, e)
        return self._submit(statements, on_commit, event_id=event_id, expect=expect, head=head,
                            epoch=epoch)

    def _sealed_statements(self, event_id: str, e: Entry) -> Statements:
        """The ballot-box writes of a sealed entry: nothing that links voter and choice."""
        d = e.data
        if e.kind == "poll.voter":
            return [(self.sql.add_voter, [(event_id, d["poll"], d["participant"])])]
        if e.kind == "poll.ballot":
            # ROOM_BALLOTS counts the ballots of each room (a multiple-choice ballot adds to
            # several options): per-room results need at least k of them (issue 13)
            keys = [*(d.get("keys") or []), ROOM_BALLOTS]
            out: Statements = [(self.sql.count_ballot,
                                [(event_id, d["poll"], d["room"], k) for k in keys])]
            if d.get("text") is not None:
                out.append((self.sql.add_text, [(event_id, d["poll"], secrets.token_hex(16),
                                                 d["room"], d["text"])]))
            return out
        raise StoreError(f"no ballot box for sealed entry {e.kind!r}")

    async def probe(self) -> None:
        """One real write: fails while the storage cannot make writes durable."""
        await self._submit([(self.sql.probe, [(secrets.token_hex(8),)])])

    async def create_event(self, row: dict[str, str], first: Entry) -> None:
        await self._submit([
            (self.sql.create_event,
             [(row["id"], row["title"], row["created_at"], row["participant_key"],
               row["moderator_key"], row.get("status", "open"))]),
            (self.sql.insert_entry, [entry_params(row["id"], first)]),
        ], event_id=row["id"], expect=0, head=first.seq)

    async def set_status(self, event_id: str, status: str) -> None:
        await self._submit([(self.sql.set_status, [(status, event_id)])], row=event_id)

    async def revoke_tokens(self, event_id: str, participant_key: str,
                            moderator_key: str) -> None:
        """New invite keys and the next token generation: every token issued so far ends."""
        await self._submit([(self.sql.revoke_tokens,
                             [(participant_key, moderator_key, event_id)])], row=event_id)

    async def delete_event(self, event_id: str) -> None:
        """Forget an event entirely (GDPR erasure): its row, journal, ballot box, snapshot
        and minutes files, in one transaction behind every write already queued."""
        one: list[Sequence[Any]] = [(event_id,)]
        await self._submit([(sql, one) for sql in self.sql.erase], forget=event_id,
                           row=event_id)

    async def save_snapshot(self, event_id: str, seq: int, blob: bytes) -> None:
        await self._submit([(self.sql.save_snapshot, [(event_id, seq, bytes(blob))])])

    async def save_minutes_files(self, event_id: str, files: Sequence[bytes]) -> None:
        await self._submit([(self.sql.save_minutes_file,
                             [(event_id, hashlib.sha256(b).hexdigest(), bytes(b))
                              for b in files])])

    async def flush(self) -> None:
        """Wait until everything appended so far is committed."""
        await self._submit([])

    # -- the writer task and its transaction ---------------------------------------------
    async def _commit_batch(self, writes: list[Write]) -> None:
        """The batch in one transaction, the driver's own (`_stale` checks each write's
        seq in it); then `_batch_done` and `settle`."""
        raise NotImplementedError

    async def _read_head(self, event_id: str) -> int:
        """The event's last committed seq as the writer's transaction sees it (0: none)."""
        raise NotImplementedError

    async def _head(self, event_id: str, tentative: dict[str, int]) -> int:
        """The event's last seq: as written earlier in this batch (`tentative`), else as
        committed (read once, then kept)."""
        if event_id in tentative:
            return tentative[event_id]
        if event_id not in self._heads:
            self._heads[event_id] = await self._read_head(event_id)
        return self._heads[event_id]

    async def _stale(self, w: Write, tentative: dict[str, int]) -> bool:
        """In the transaction: True, failing the write with StoreConflict, if it must
        follow a seq (`expect`) that is not its event's last one."""
        if w.event_id is None or w.expect is None:
            return False
        head = await self._head(w.event_id, tentative)
        if head == w.expect:
            return False
        w.error = StoreConflict(f"event {w.event_id}: the journal is at seq {head}, the "
                                f"write follows {w.expect}")
        return True

    def _batch_done(self, writes: list[Write], failed: StoreError | None,
                    tentative: dict[str, int], wrote: bool) -> None:
        """What a batch's transaction leaves the store knowing. A failed one (`failed`)
        fails every write of it, and the heads are read anew (what is durable) on the next
        write; a committed one is counted, its heads (`tentative`) are the events' heads now,
        and if it wrote anything the store is healthy again."""
        if failed is not None:
            for w in writes:
                w.error = failed
            self._heads.clear()
        else:
            self.commits += 1
            self._heads.update(tentative)
            if wrote:
                self._healthy = True
                self.last_error = None

    async def _write_loop(self) -> None:
        await drain(self._queue, self.max_batch, self._commit_batch)

    async def _stop_writer(self) -> None:
        """Let the writer commit what is queued, then end it."""
        if self._writer is not None:
            await self._queue.put(None)
            await self._writer
            self._writer = None
