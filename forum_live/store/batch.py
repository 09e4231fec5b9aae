"""What the SQL stores share: the queued write of a group commit, the rows an entry
becomes, the seq check of an append, the loop that batches the queue and the settling of
a committed (or failed) batch. The transaction itself is each driver's own."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

from ..domain.entries import Entry
from . import OnCommit, Receipt, StoreConflict, StoreError

Statements = list[tuple[str, Sequence[Sequence[Any]]]]

INSERT_ENTRY = ('INSERT INTO journal (event_id, seq, kind, at, room, audience, "to", actor, '
                "data) VALUES ({})")
JOURNAL_COLUMNS = 9


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
