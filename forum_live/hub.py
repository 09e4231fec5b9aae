"""Fan-out: one bounded outbound queue per connection, frames encoded once.

Nobody waits for the slowest client: a full queue or a send that takes longer than the
send timeout closes that connection (4408); it resumes from its last seq when it returns.
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Generator, Iterable

from .closecodes import TOO_SLOW as CLOSE_TOO_SLOW
from .domain.entries import Audience, Entry
from .domain.model import MODERATORS_SEE_EVERY_ROOM, EventState

log = logging.getLogger(__name__)


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
    reader: asyncio.Task[Any] | None = None  # the task reading this socket; kill() stops it
    _queue: deque[str] = field(default_factory=deque)
    _wake: asyncio.Future[None] | None = None  # the idle writer waits on this
    _held: list[Entry] = field(default_factory=list)
    _writer: asyncio.Task[None] | None = None
    _closer: asyncio.Task[None] | None = None  # the close that kill() started
    _catchup: int = 0  # frames of the hello catch-up still queued (outside the bound)
    sending_since: float | None = None  # loop time when the send under way began
    _busy: bool = False  # the writer task has a send under way or frames to send
    _resume: tuple[Generator[Any, Any, Any], Any] | None = None  # a send push() began
    # Frames pushed while nothing was waiting, written together at the end of this turn
    # of the loop (all entries of one group commit: one write per socket, not one each)
    _batch: list[str] = field(default_factory=list)
    _batch_catchup: int = 0  # how many of them (the first ones) belong to the catch-up
    # Writes frames straight to the transport if it takes them now (-> True), else False
    # (full buffer, closing): the transport's fast path (ws.frame_writer), or None
    write_frames: Callable[[list[str]], bool] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"ws-writer-{self.pid}")

    def push(self, frame: str) -> None:
        """Send a frame: if nothing waits for this socket, together with the other frames
        of this turn of the loop (`_flush`), else queue it; a full queue means the client
        fell behind: cut it off."""
        if self.close_code is not None or self.closed.is_set():
            return
        if not self._queue and not self._busy:
            batch = self._batch
            batch.append(frame)
            if not self.live:
                self._batch_catchup += 1
            if len(batch) == 1:
                asyncio.get_running_loop().call_soon(self._flush)
            return
        if not self.live:
            # The catch-up of a hello (replay, ready) may exceed the bound: it is finite
            # (the resume window) and already in memory, and a client that missed more than
            # the queue holds must still be able to resume rather than be cut off again.
            self._catchup += 1
        elif len(self._queue) - self._catchup >= self.max_queue:
            self.kill(CLOSE_TOO_SLOW, "too slow: resume from your last seq")
            return
        self._queue.append(frame)
        self._wake_writer()

    def _wake_writer(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    def _flush(self) -> None:
        """Write the frames pushed during this turn of the loop: in one write when the
        transport offers that (write_frames), else each send run right here (_send_now).
        What the transport cannot take now goes to the queue and the writer task."""
        frames, self._batch = self._batch, []
        catchup, self._batch_catchup = self._batch_catchup, 0
        if not frames or self.close_code is not None or self.closed.is_set():
            return
        rest: list[str] = frames
        if self.write_frames is not None:
            try:
                if self.write_frames(frames):
                    return
            except Exception:  # noqa: S110 - the writer's send reports a closed socket
                pass
        else:
            i = 0
            while i < len(frames) and not self._busy and not self.closed.is_set():
                self._send_now(frames[i])
                i += 1
            rest = frames[i:]
        if not rest or self.closed.is_set():
            return
        self._queue.extend(rest)
        # the catch-up frames came first; those not written stay outside the bound
        self._catchup += max(0, catchup - (len(frames) - len(rest)))
        self._wake_writer()
        if self.live and len(self._queue) - self._catchup > self.max_queue:
            self.kill(CLOSE_TOO_SLOW, "too slow: resume from your last seq")

    def _send_now(self, frame: str) -> None:
        """The send, run right here up to its first wait, like websockets' broadcast():
        while the transport takes the bytes (the common case) it completes without a task
        switch, which fan-out would otherwise pay once per socket and frame. When the
        transport's buffer is full (the client reads slowly) the send waits: the writer
        task takes it over, later frames queue behind it (bounded) and the watchdog times
        it (sending_since), exactly as for a send the writer began."""
        it = self.send(frame).__await__()
        try:
            waiting = it.send(None)
        except StopIteration:
            return
        except Exception:
            self.closed.set()  # the socket is gone; the reader notices and cleans up
            return
        self._busy = True
        self._resume = (it, waiting)
        self.sending_since = asyncio.get_running_loop().time()
        self._wake_writer()

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
        """Close this connection now: stop its writer and its reader, send the close."""
        if self.closed.is_set():
            return
        self.close_code = code
        self.closed.set()
        self._batch, self._batch_catchup = [], 0
        resume, self._resume = self._resume, None
        if resume is not None:  # a send push() began and the writer has not taken over
            resume[0].close()
        if self._writer is not None:
            self._writer.cancel()
        reader = self.reader
        if reader is not None and reader is not asyncio.current_task() and not reader.done():
            reader.cancel()
        self._closer = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self.close_socket(code, reason), 2.0)
        except Exception:
            pass

    def _next(self) -> str:
        if self._catchup:
            self._catchup -= 1
        return self._queue.popleft()

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        queue = self._queue
        try:
            while True:
                resume = self._resume
                if resume is not None:  # finish the send push() began
                    self._resume = None
                    await _go_on(*resume)
                if not queue:
                    self._busy = False
                    self.sending_since = None
                    self._wake = loop.create_future()
                    await self._wake
                    self._wake = None
                    continue
                # No timer per frame (that cost more than the send itself under fan-out):
                # the hub's watchdog cuts a connection whose send has not returned within
                # send_timeout (see Hub.cut_stalled).
                self._busy = True
                while queue:
                    self.sending_since = loop.time()
                    await self.send(self._next())
        except asyncio.CancelledError:
            raise
        except Exception:
            # the socket is gone; the reader notices and cleans up
            self.closed.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def drain(self, timeout: float = 2.0) -> None:
        """Let queued frames leave (used before a graceful close)."""
        try:
            await asyncio.wait_for(self._wait_empty(), timeout)
        except asyncio.TimeoutError:
            pass

    async def _wait_empty(self) -> None:
        while (self._queue or self._busy or self._batch) and not self.closed.is_set():
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


@types.coroutine
def _go_on(it: Generator[Any, Any, Any], waiting: Any) -> Generator[Any, Any, None]:
    """Await the rest of a send whose first step ran in Connection.push: hand the future
    it waits on to the running task, then feed it what the task sends or throws in."""
    while True:
        try:
            value = yield waiting
        except GeneratorExit:
            it.close()
            raise
        except BaseException as exc:  # cancellation goes to the send, as for any await
            try:
                waiting = it.throw(exc)
            except StopIteration:
                return
        else:
            try:
                waiting = it.send(value)
            except StopIteration:
                return


@dataclass
class Hub:
    """The connections of one event, indexed by person and by room, so that an entry
    visits only the sockets that may see it: a room's chat line the room's members, a
    moderators' entry the moderators, not every socket of the event."""

    connections: set[Connection] = field(default_factory=set)
    _by_pid: dict[str, set[Connection]] = field(default_factory=dict)
    _by_room: dict[str, set[Connection]] = field(default_factory=dict)
    _catching_up: set[Connection] = field(default_factory=set)  # not live yet: hold all

    def add(self, conn: Connection) -> None:
        if conn in self.connections:
            return
        self.connections.add(conn)
        self._by_pid.setdefault(conn.pid, set()).add(conn)
        self._catching_up.add(conn)

    def go_live(self, conn: Connection, state: EventState, after: int) -> None:
        """The catch-up of `conn` is queued: deliver what it held and index it by room."""
        self._catching_up.discard(conn)
        conn.go_live(state, after)
        if conn in self.connections:
            self._by_room.setdefault(conn.room, set()).add(conn)

    def remove(self, conn: Connection) -> None:
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        self._catching_up.discard(conn)
        _discard(self._by_pid, conn.pid, conn)
        _discard(self._by_room, conn.room, conn)

    def _targets(self, state: EventState, entry: Entry) -> Iterable[Connection]:
        aud = entry.audience
        if aud is Audience.EVENT:
            return [c for c in self.connections if c.live]
        if aud is Audience.ROOM:
            members = self._by_room.get(entry.room or state.plenary_room, set())
            if entry.kind in MODERATORS_SEE_EVERY_ROOM:  # and every moderator, anywhere
                return list(members.union(*(self._by_pid.get(pid, ())
                                            for pid in state.moderators)))
            return list(members)
        if aud is Audience.INTERNAL:
            return ()
        mods = [c for pid in state.moderators for c in self._by_pid.get(pid, ())]
        if aud is Audience.PARTICIPANT:
            return [*mods, *self._by_pid.get(entry.to or "", ())]
        return mods

    def publish(self, state: EventState, entries: Iterable[Entry]) -> None:
        for entry in entries:
            for conn in self._catching_up:
                conn.deliver(state, entry)  # held until its catch-up is queued
            for conn in self._targets(state, entry):
                if not conn.live:
                    continue
                room = conn.room
                conn.deliver(state, entry)  # checks visibility exactly, tracks its room
                if conn.room != room and conn in self.connections:
                    _discard(self._by_room, room, conn)
                    self._by_room.setdefault(conn.room, set()).add(conn)

    def cut_stalled(self, now: float) -> int:
        """Close every connection whose current send has taken longer than its timeout
        (a client that stopped reading): the one timer for all sockets of the event."""
        stalled = [c for c in self.connections
                   if c.sending_since is not None and now - c.sending_since > c.send_timeout]
        for conn in stalled:
            conn.kill(CLOSE_TOO_SLOW, "too slow: resume from your last seq")
        return len(stalled)

    def count(self, pid: str) -> int:
        """Open sockets of one person (a person in two tabs is online once)."""
        return sum(1 for c in self._by_pid.get(pid, ()) if not c.closed.is_set())

    def of(self, pid: str) -> list[Connection]:
        return list(self._by_pid.get(pid, ()))


def _discard(index: dict[str, set[Connection]], key: str, conn: Connection) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(conn)
        if not members:
            del index[key]
