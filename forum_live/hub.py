"""Fan-out: one bounded outbound queue per connection, frames encoded once.

Nobody waits for the slowest client: a full queue or a send that takes longer than the
send timeout closes that connection (4408); it resumes from its last seq when it returns.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable

from .domain.entries import Entry
from .domain.model import EventState

log = logging.getLogger(__name__)

CLOSE_TOO_SLOW = 4408
CLOSE_UNAUTHORIZED = 4401
CLOSE_GOING_AWAY = 1001

Send = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]


@dataclass(eq=False)
class Connection:
    """One open socket of one participant, as the hub sees it."""

    pid: str
    send: Send
    close_socket: Close
    max_queue: int
    send_timeout: float
    room: str = ""  # the room as of the last entry delivered, for exact visibility
    live: bool = False  # False while the hello replay is being queued
    last_seq: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None
    _queue: asyncio.Queue[str] = field(init=False)
    _held: list[Entry] = field(default_factory=list)
    _writer: asyncio.Task[None] | None = None
    _closer: asyncio.Task[None] | None = None  # the close that kill() started
    _catchup: int = 0  # frames of the hello catch-up still queued (outside the bound)

    def __post_init__(self) -> None:
        # Unbounded here; push() enforces max_queue on live frames only.
        self._queue = asyncio.Queue()

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"ws-writer-{self.pid}")

    def push(self, frame: str) -> None:
        """Queue a frame; a full queue means the client fell behind: cut it off."""
        if self.closed.is_set():
            return
        if not self.live:
            # The catch-up of a hello (replay, ready) may exceed the bound: it is finite
            # (the resume window) and already in memory, and a client that missed more than
            # the queue holds must still be able to resume rather than be cut off again.
            self._catchup += 1
        elif self._queue.qsize() - self._catchup >= self.max_queue:
            self.kill(CLOSE_TOO_SLOW, "too slow: resume from your last seq")
            return
        self._queue.put_nowait(frame)

    def deliver(self, state: EventState, entry: Entry) -> None:
        if not self.live:
            self._held.append(entry)
            return
        if entry.seq <= self.last_seq:
            return
        if state.visible(entry, self.pid, self.room):
            self.push(entry.frame())
        if entry.kind == "participant.moved" and entry.data.get("participant") == self.pid:
            self.room = entry.data["to"]
        self.last_seq = entry.seq

    def go_live(self, state: EventState, after: int) -> None:
        """After the replay and `ready` are queued, deliver what arrived meanwhile."""
        self.last_seq = after
        self.live = True
        held, self._held = self._held, []
        for e in held:
            self.deliver(state, e)

    def kill(self, code: int, reason: str) -> None:
        if self.closed.is_set():
            return
        self.close_code = code
        self.closed.set()
        if self._writer is not None:
            self._writer.cancel()
        self._closer = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self.close_socket(code, reason), 2.0)
        except Exception:
            pass

    def _sent_one(self) -> None:
        if self._catchup:
            self._catchup -= 1

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        queue = self._queue
        try:
            while True:
                frame = await queue.get()
                self._sent_one()
                # Everything queued leaves in one pass under one timer whose deadline moves
                # forward before each frame: the same per-frame send timeout as a wait_for
                # around each send, without a task, a timer and a loop round trip per frame
                # (which cost more than the send itself under fan-out).
                async with asyncio.timeout(self.send_timeout) as deadline:
                    while True:
                        await self.send(frame)
                        if queue.empty():
                            break
                        frame = queue.get_nowait()
                        self._sent_one()
                        deadline.reschedule(loop.time() + self.send_timeout)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            self.kill(CLOSE_TOO_SLOW, "too slow: resume from your last seq")
        except Exception:
            # the socket is gone; the reader notices and cleans up
            self.closed.set()

    async def drain(self, timeout: float = 2.0) -> None:
        """Let queued frames leave (used before a graceful close)."""
        try:
            await asyncio.wait_for(self._wait_empty(), timeout)
        except asyncio.TimeoutError:
            pass

    async def _wait_empty(self) -> None:
        while not self._queue.empty() and not self.closed.is_set():
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            try:
                await self._writer
            except (asyncio.CancelledError, Exception):
                pass
        if self._closer is not None:  # let the close frame with its code get out first
            await self._closer


@dataclass
class Hub:
    """The connections of one event."""

    connections: set[Connection] = field(default_factory=set)

    def add(self, conn: Connection) -> None:
        self.connections.add(conn)

    def remove(self, conn: Connection) -> None:
        self.connections.discard(conn)

    def publish(self, state: EventState, entries: Iterable[Entry]) -> None:
        for entry in entries:
            for conn in self.connections:
                conn.deliver(state, entry)

    def count(self, pid: str) -> int:
        return sum(1 for c in self.connections if c.pid == pid and not c.closed.is_set())
