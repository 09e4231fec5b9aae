"""Storage behind one small interface: the journal, the event index and the ballot box.

Every implementation (SQLite, in memory, PostgreSQL) passes the same contract suite
(tests/test_store_contract.py). Errors cross this interface only as the store's own
exceptions below, never as a driver's (sqlite3, asyncpg) exceptions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Protocol, Sequence

from ..domain.entries import Entry

OnCommit = Callable[[], None]


class StoreError(Exception):
    """A write could not be made durable; nothing of it was applied."""


class StoreConflict(StoreError):
    """The append did not follow the seq it named: another write came first, or an earlier
    write of the same event failed. The caller's view of the journal is stale."""


class StoreUnavailable(StoreError):
    """The storage refused the write (disk full, read-only, locked, I/O error)."""


class StoreClosed(StoreError):
    """The store was closed (shutdown): nothing more is written."""


@dataclass(frozen=True)
class Receipt:
    """A command another cluster node forwarded to this one (issue 14): an append that
    applies it keeps its id with the entries, in the same transaction, so the asking node
    can find out whether it was applied when the reply is lost. PostgreSQL only."""

    request: str  # the forwarded request's id (random, from the asking node)
    until: float  # the asker's deadline (Unix time)


class EventRow(dict):  # type: ignore[type-arg]
    """id, title, created_at, participant_key, moderator_key, status."""


class Store(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def create_event(self, row: dict[str, str], first: Entry) -> None: ...
    def append(self, event_id: str, entries: Sequence[Entry], on_commit: OnCommit | None = None,
               *, expect: int, receipts: Sequence[Receipt] = ()) -> asyncio.Future[None]:
        """Journal `entries` (journaled ones numbered expect+1, expect+2, ...; sealed ones
        into the ballot box) if and only if the event's last committed seq is `expect`;
        else the future fails with StoreConflict. A failure of one append never fails
        another event's appends. `on_commit` runs after the commit, in journal order.
        `receipts` (cluster, PostgreSQL only; the others refuse them): the forwarded
        requests this append applies, kept in the same transaction; the append fails if
        one of them was given up by its asker."""
        ...
    async def flush(self) -> None: ...
    async def event_row(self, event_id: str) -> dict[str, str] | None: ...
    async def list_events(self) -> list[dict[str, str]]: ...
    async def set_status(self, event_id: str, status: str) -> None: ...
    async def revoke_tokens(self, event_id: str, participant_key: str,
                            moderator_key: str) -> None: ...
    async def reseal(self, event_id: str, poll_ids: Sequence[str]) -> int: ...


    async def delete_event(self, event_id: str) -> None: ...
    def journal(self, event_id: str, after: int = 0) -> AsyncIterator[Entry]: ...
    def sealed(self, event_id: str) -> AsyncIterator[Entry]: ...
    async def save_snapshot(self, event_id: str, seq: int, blob: bytes) -> None:
        """Keep `blob` as the event's snapshot at `seq` (one per event), unless the one kept
        is of a later seq. Written behind every write already queued; erased with the event."""
        ...
    async def load_snapshot(self, event_id: str) -> tuple[int, bytes] | None:
        """The event's last saved snapshot as (seq, blob), or None."""
        ...
    async def save_minutes_files(self, event_id: str, files: Sequence[bytes]) -> None:
        """Keep the bytes of an approved minutes version (issue 16), each under its SHA-256
        hex digest (the journal's `minutes.approved` names them); a digest kept already
        stays. Written behind every write already queued; erased with the event."""
        ...
    async def load_minutes_file(self, event_id: str, sha256: str) -> bytes | None:
        """The bytes kept under that digest for the event, or None."""
        ...
    async def probe(self) -> None:
        """A tiny real write: raises StoreError while writes cannot be made durable."""
        ...
    @property
    def healthy(self) -> bool:
        """False from a failed commit until the next successful one."""
        ...
