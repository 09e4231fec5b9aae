"""A store in memory: the same contract as SQLite's, for domain-level and runtime tests
that want no files, and as the reference the contract suite holds the others to.

Nothing survives the process. Rows are kept as the encoded JSON a database would hold, so a
value that cannot be stored (a lone surrogate) fails here exactly as it does in SQLite.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable, Sequence

from ..domain.entries import Entry
from ..domain.polls import ROOM_BALLOTS
from . import OnCommit, Receipt, StoreClosed, StoreConflict, StoreError, StoreUnavailable, batch


def _encoded(event_id: str, e: Entry) -> dict[str, object]:
    row = e.to_row()
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise StoreError(f"could not store: {exc}") from None
    return row


@dataclass
class MemoryStore:
    events: dict[str, dict[str, str]] = field(default_factory=dict)
    rows: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    voters: set[tuple[str, str, str]] = field(default_factory=set)
    counts: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    texts: list[tuple[str, str, str, str]] = field(default_factory=list)
    snapshots: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    minutes_files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    commits: int = 0
    failures: int = 0
    # A test's way to make the storage refuse writes (as a full disk would): while it
    # returns True for an event id, appends of that event fail with StoreUnavailable.
    refuse: Callable[[str | None], bool] = lambda event_id: False  # noqa: E731
    _open: bool = False
    _healthy: bool = True

    @property
    def healthy(self) -> bool:
        return self._healthy

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        await self.flush()
        self._open = False

    def _write(self, event_id: str | None, apply: Callable[[], None],
               on_commit: OnCommit | None = None) -> asyncio.Future[None]:
        """Apply now, or fail alone; the hook and the future follow in call order."""
        if not self._open:
            raise StoreClosed("the store is closed")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()
        try:
            if self.refuse(event_id):
                raise StoreUnavailable("storage refused the write")
            apply()
        except StoreError as exc:
            self.failures += 1
            if isinstance(exc, StoreUnavailable):
                self._healthy = False
            err = exc  # `exc` is unbound after the except block

            def failed() -> None:
                if not fut.done():
                    fut.set_exception(err)
            loop.call_soon(failed)
            return fut
        self.commits += 1
        self._healthy = True

        def done() -> None:
            if on_commit is not None:
                on_commit()
            if not fut.done():
                fut.set_result(None)
        loop.call_soon(done)
        return fut

    def append(self, event_id: str, entries: Sequence[Entry], on_commit: OnCommit | None = None,
               *, expect: int, receipts: Sequence[Receipt] = ()) -> asyncio.Future[None]:
        batch.no_receipts(receipts)
        def apply() -> None:
            journal = self.rows.setdefault(event_id, [])
            head = int(journal[-1]["seq"]) if journal else 0  # type: ignore[call-overload]
            if head != expect:
                raise StoreConflict(f"event {event_id}: the journal is at seq {head}, "
                                    f"the write follows {expect}")
            new, seq = [], expect
            for e in entries:
                if not e.sealed:
                    if e.seq != seq + 1:
                        raise StoreConflict(f"seq {e.seq} does not follow {seq}")
                    seq = e.seq
                    new.append(_encoded(event_id, e))
            ballots = [e for e in entries if e.sealed]
            for e in ballots:
                if e.kind not in ("poll.voter", "poll.ballot"):
                    raise StoreError(f"no ballot box for sealed entry {e.kind!r}")
                if e.data.get("text") is not None:
                    _encoded(event_id, e)
            journal.extend(new)
            for e in ballots:
                d = e.data
                if e.kind == "poll.voter":
                    self.voters.add((event_id, d["poll"], d["participant"]))
                    continue
                for k in [*(d.get("keys") or []), ROOM_BALLOTS]:  # ballots per room too
                    key = (event_id, d["poll"], d["room"], k)
                    self.counts[key] = self.counts.get(key, 0) + 1
                if d.get("text") is not None:
                    self.texts.append((event_id, d["poll"], d["room"], d["text"]))
        return self._write(event_id, apply, on_commit)

    async def create_event(self, row: dict[str, str], first: Entry) -> None:
        def apply() -> None:
            if row["id"] in self.events:
                raise StoreConflict(f"event {row['id']} exists")
            self.events[row["id"]] = {**row, "status": row.get("status", "open")}
            self.rows[row["id"]] = [_encoded(row["id"], first)]
        await self._write(row["id"], apply)

    async def set_status(self, event_id: str, status: str) -> None:
        def apply() -> None:
            if event_id in self.events:
                self.events[event_id]["status"] = status
        await self._write(event_id, apply)

    async def revoke_tokens(self, event_id: str, participant_key: str,
                            moderator_key: str) -> None:
        def apply() -> None:
            row = self.events.get(event_id)
            if row is not None:
                row.update(participant_key=participant_key, moderator_key=moderator_key,
                           token_gen=str(int(row.get("token_gen") or 0) + 1))
        await self._write(event_id, apply)

    async def reseal(self, event_id: str, poll_ids: Sequence[str]) -> int:
        """Nothing of memory survives the process; the text answers are shuffled anew so
        not even their order in this list follows the voting."""
        def apply() -> None:
            random.SystemRandom().shuffle(self.texts)
        await self._write(event_id, apply)
        return 1

    async def delete_event(self, event_id: str) -> None:
        def apply() -> None:
            self.events.pop(event_id, None)
            self.rows.pop(event_id, None)
            self.voters = {v for v in self.voters if v[0] != event_id}
            self.counts = {k: n for k, n in self.counts.items() if k[0] != event_id}
            self.texts = [t for t in self.texts if t[0] != event_id]
            self.snapshots.pop(event_id, None)
            self.minutes_files = {k: b for k, b in self.minutes_files.items()
                                  if k[0] != event_id}
        await self._write(event_id, apply)

    async def save_snapshot(self, event_id: str, seq: int, blob: bytes) -> None:
        def apply() -> None:
            kept = self.snapshots.get(event_id)
            if kept is None or kept[0] <= seq:
                self.snapshots[event_id] = (seq, bytes(blob))
        await self._write(event_id, apply)

    async def load_snapshot(self, event_id: str) -> tuple[int, bytes] | None:
        return self.snapshots.get(event_id)

    async def save_minutes_files(self, event_id: str, files: Sequence[bytes]) -> None:
        def apply() -> None:
            for b in files:
                self.minutes_files.setdefault((event_id, hashlib.sha256(b).hexdigest()),
                                              bytes(b))
        await self._write(event_id, apply)

    async def load_minutes_file(self, event_id: str, sha256: str) -> bytes | None:
        return self.minutes_files.get((event_id, sha256))

    async def flush(self) -> None:
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    async def probe(self) -> None:
        await self._write(None, lambda: None)

    async def event_row(self, event_id: str) -> dict[str, str] | None:
        row = self.events.get(event_id)
        return dict(row) if row else None

    async def list_events(self) -> list[dict[str, str]]:
        order = list(self.events.values())
        order.reverse()  # newest first: insertion order reversed, then by time
        return [dict(r) for r in sorted(order, key=lambda r: r["created_at"], reverse=True)]

    async def journal(self, event_id: str, after: int = 0) -> AsyncIterator[Entry]:
        for row in list(self.rows.get(event_id, [])):
            if int(row["seq"]) > after:  # type: ignore[call-overload]
                yield Entry.from_row(row)

    async def sealed(self, event_id: str) -> AsyncIterator[Entry]:
        for ev, poll, pid in sorted(self.voters):
            if ev == event_id:
                yield Entry("poll.voter", {"poll": poll, "participant": pid}, "", sealed=True)
        for (ev, poll, room, key), n in sorted(self.counts.items()):
            if ev == event_id:
                yield Entry("poll.tally", {"poll": poll, "room": room, "key": key, "n": n}, "",
                            sealed=True)
        texts = [t for t in self.texts if t[0] == event_id]
        random.shuffle(texts)
        for _ev, poll, room, text in texts:
            yield Entry("poll.ballot", {"poll": poll, "room": room, "text": text}, "",
                        sealed=True)
