"""One running event: its folded state, its journal tail, its connections.

Decisions are taken and applied to the in-memory state synchronously, in order, so two
concurrent commands never both pass a check that only one may pass. Nobody hears of an
entry before it is committed: acks wait for the commit, and the hub is fed from the
store's after-commit hook, in journal order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from .config import Limits
from .domain import clock, polls, reactions, setup
from .domain.commands import Command
from .domain.context import Context
from .domain.decide import decide
from .domain.entries import Entry
from .domain.errors import RateLimited
from .domain.limits import TokenBucket
from .domain.model import EventState
from .domain.views import ready_state
from .hub import Connection, Hub
from .store import Store

log = logging.getLogger(__name__)

# Which commands draw on which token bucket (rate and burst are Limits fields).
RATE_LIMITS = {
    "chat.send": ("chat_rate", "chat_burst"),
    "question.ask": ("question_rate", "question_burst"),
    "question.vote": ("vote_rate", "vote_burst"),
    "question.unvote": ("vote_rate", "vote_burst"),
    "poll.vote": ("vote_rate", "vote_burst"),
    "reaction.send": ("reaction_rate", "reaction_burst"),
}
CLOSE_REMOVED = 4403


@dataclass
class EventRuntime:
    id: str
    store: Store
    limits: Limits
    state: EventState
    recent: deque[Entry] = field(default_factory=deque)
    hub: Hub = field(default_factory=Hub)
    committed_seq: int = 0
    buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)
    _commit_waiters: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)
    _leaving: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    after_commit: list[Callable[["EventRuntime", list[Entry]], None]] = field(
        default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)  # owned, cancelled at close
    on_detach: list[Callable[["EventRuntime", Connection], None]] = field(
        default_factory=list)  # a socket closed (media closes its peer)
    services: dict[str, Any] = field(default_factory=dict)  # e.g. "media": MediaService
    reactions: "ReactionBatcher | None" = None
    _clock: asyncio.Task[None] | None = None
    _tick: asyncio.Event = field(default_factory=asyncio.Event)
    deleted: bool = False  # erased by the organizer: commit refuses, sockets are closed

    @classmethod
    async def load(cls, store: Store, event_id: str, limits: Limits) -> "EventRuntime":
        """Rebuild the state by folding the whole journal."""
        state = EventState(id=event_id, chat_history=limits.chat_history,
                           presence_broadcast_max=limits.presence_broadcast_max)
        recent: deque[Entry] = deque(maxlen=limits.resume_window)
        async for e in store.journal(event_id):
            state.apply(e)
            recent.append(e)
        async for e in store.sealed(event_id):
            state.apply(e)
        rt = cls(event_id, store, limits, state, recent, committed_seq=state.seq)
        rt._clock = asyncio.create_task(rt._run_clock(), name=f"clock-{event_id}")
        rt._own(rt._watch_sends())
        rt.after_commit.append(ResultsPublisher(limits.results_interval_s).on_commit)
        rt.reactions = ReactionBatcher(limits.reactions_interval_s)
        # A restart drops every socket: whoever the journal still shows online has left.
        stale = [p.id for p in state.participants.values() if p.online]
        if stale:
            ctx = Context.current(limits)
            entries = [e for pid in stale for e in setup.presence(state, ctx, pid, False)]
            await rt.commit(entries)
        return rt

    # -- writing ---------------------------------------------------------------------
    async def commit(self, entries: list[Entry]) -> list[Entry]:
        """Number, apply and journal `entries`; return once they are durable."""
        if not entries:
            return entries
        if self.deleted:  # late presence or timers of a deleted event write nothing
            raise RuntimeError(f"event {self.id} was deleted")
        journaled = []
        for e in entries:
            if not e.sealed:
                e.seq = self.state.seq + 1
                journaled.append(e)
                self.recent.append(e)
            self.state.apply(e)
        last = self.state.seq

        def committed() -> None:
            self.committed_seq = last
            self.hub.publish(self.state, journaled)
            self._wake_waiters()
            self._tick.set()
            for hook in self.after_commit:
                hook(self, entries)
            for e in journaled:
                if e.kind == "event.ended":
                    self._own(self.store.set_status(self.id, "ended"))
                elif e.kind == "lobby.admitted" and self.hub.count(e.data["participant"]):
                    self._own(self._came_online(e.data["participant"]))
                elif e.kind in ("lobby.declined", "participant.removed"):
                    reason = e.data.get("reason") or ("declined" if e.kind == "lobby.declined"
                                                      else "removed by a moderator")
                    self._own(self._show_out(e.data["participant"], reason))

        await self.store.append(self.id, entries, committed)
        return entries

    async def submit(self, actor: str, cmd: Command) -> list[Entry]:
        """Decide a client command and commit what it causes. Raises DomainError."""
        self.rate_check(actor, cmd.type)
        entries = decide(self.state, Context.current(self.limits), actor, cmd)
        return await self.commit(entries)

    async def react(self, actor: str, kind: str) -> int:
        """Count a reaction into the next batch; returns once that batch is committed."""
        self.rate_check(actor, "reaction.send")
        room = reactions.check(self.state, actor)
        assert self.reactions is not None
        return await self.reactions.add(self, room, kind)

    def rate_check(self, actor: str, kind: str) -> None:
        """Token buckets per person and kind of action, shared by all their tabs."""
        names = RATE_LIMITS.get(kind)
        if names is None:
            return
        rate, burst = (getattr(self.limits, n) for n in names)
        bucket = self.buckets.get((actor, names[0]))
        if bucket is None:
            bucket = self.buckets[(actor, names[0])] = TokenBucket(rate, burst)
        if not bucket.take(time.monotonic()):
            raise RateLimited(f"too many at once: at most {rate:g} a second")

    async def _came_online(self, pid: str) -> None:
        await self.commit(setup.presence(self.state, Context.current(self.limits), pid, True))

    async def _show_out(self, pid: str, reason: str) -> None:
        """Close a declined or removed person's sockets once they were told why."""
        for conn in self.hub.of(pid):
            await conn.drain(1.0)
            conn.kill(CLOSE_REMOVED, reason[:100])

    async def _watch_sends(self) -> None:
        """The watchdog of slow readers: a send stuck longer than send_timeout_s is cut."""
        loop = asyncio.get_running_loop()
        period = max(0.05, min(1.0, self.limits.send_timeout_s / 4))
        while True:
            await asyncio.sleep(period)
            self.hub.cut_stalled(loop.time())

    def _own(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run_clock(self) -> None:
        """Server time drives the timers: sleep until the next deadline (or until the
        journal changes), then commit what is due. Deadlines are in the state, so a
        deadline that passed while the server was down is due at start."""
        while True:
            deadline = clock.next_deadline(self.state, self.limits)
            self._tick.clear()
            if deadline is None:
                await self._tick.wait()
                continue
            wait = (deadline - Context.current(self.limits).now).total_seconds()
            if wait > 0:
                try:
                    await asyncio.wait_for(self._tick.wait(), min(wait, 3600))
                    continue
                except asyncio.TimeoutError:
                    pass
            entries = clock.due(self.state, Context.current(self.limits))
            if entries:
                try:
                    await self.commit(entries)
                except Exception:
                    log.exception("timer could not commit; retrying")
                    await asyncio.sleep(1)
            else:
                await asyncio.sleep(0.05)  # clock skew: deadline not yet reached

    async def snapshot(self, pid: str) -> tuple[int, dict[str, Any]]:
        """The full state at a committed seq, after every frame up to it was queued."""
        while self.state.seq > self.committed_seq:
            await self.wait_committed(self.state.seq)
        return self.state.seq, ready_state(self.state, pid)

    def _wake_waiters(self) -> None:
        keep = []
        for seq, fut in self._commit_waiters:
            if seq <= self.committed_seq:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((seq, fut))
        self._commit_waiters = keep

    async def wait_committed(self, seq: int) -> None:
        if seq <= self.committed_seq:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._commit_waiters.append((seq, fut))
        await fut

    # -- connections -----------------------------------------------------------------
    async def attach(self, conn: Connection, resume_from: int | None) -> None:
        """Register a connection and queue its catch-up: the replay or the full state,
        then `ready`, then whatever happens live. Presence comes first, so the state a
        client draws already shows it online."""
        pending_leave = self._leaving.pop(conn.pid, None)
        if pending_leave is not None:
            pending_leave.cancel()
        self.hub.add(conn)
        if not self.state.participants[conn.pid].online:
            await self.commit(setup.presence(self.state, Context.current(self.limits),
                                             conn.pid, True))
        head = self.state.seq  # the state is exactly at `head` until the next await
        conn.room = self.state.room_of(conn.pid)
        replay = self._replay(conn.pid, resume_from, head) if resume_from is not None else None
        body: dict[str, Any] | None = None if replay is not None else ready_state(self.state,
                                                                                  conn.pid)
        await self.wait_committed(head)
        if replay is not None:
            for frame in replay:
                conn.push(frame)
            conn.push(_ready(head, True, None))
        else:
            conn.push(_ready(head, False, body))
        self.hub.go_live(conn, self.state, head)

    def _replay(self, pid: str, after: int, head: int) -> list[str] | None:
        """The frames pid may see in (after, head], or None when `after` is out of the window."""
        if after > head:
            return None
        oldest = self.recent[0].seq if self.recent else head + 1
        if after < oldest - 1 and after < head:
            return None
        tail = [e for e in self.recent if after < e.seq <= head]
        room = self.state.room_of(pid)
        for e in reversed(tail):  # where was pid at `after`? undo its later moves
            if e.kind == "participant.moved" and e.data.get("participant") == pid:
                room = e.data["from"]
        frames = []
        for e in tail:
            if self.state.visible(e, pid, room):
                frames.append(e.frame())
            if e.kind == "participant.moved" and e.data.get("participant") == pid:
                room = e.data["to"]
        return frames

    async def detach(self, conn: Connection) -> None:
        """Forget a closed socket. Presence ends after a grace period, so a page reload
        does not flicker a person out of the list (nor drop their raised hand)."""
        self.hub.remove(conn)
        await conn.stop()
        for hook in self.on_detach:
            hook(self, conn)
        pid = conn.pid
        if self.hub.count(pid) or pid in self._leaving:
            return
        if self.limits.presence_grace_s <= 0:
            await self._leave(pid)
            return
        self._leaving[pid] = asyncio.create_task(self._leave_later(pid), name=f"leave-{pid}")

    async def _leave_later(self, pid: str) -> None:
        await asyncio.sleep(self.limits.presence_grace_s)
        self._leaving.pop(pid, None)
        await self._leave(pid)

    async def _leave(self, pid: str) -> None:
        if self.hub.count(pid) or not self.state.participants[pid].online:
            return
        try:
            await self.commit(setup.presence(self.state, Context.current(self.limits), pid,
                                             False))
        except RuntimeError:
            pass  # the store closed during shutdown; the restart fold marks them left

    async def close_all(self, code: int, reason: str) -> None:
        tasks = [*self._leaving.values(), *([self._clock] if self._clock else []), *self.tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._leaving.clear()
        self._clock = None
        for conn in list(self.hub.connections):
            await conn.drain(0.5)
            conn.kill(code, reason)


def _ready(seq: int, resumed: bool, state: dict[str, Any] | None) -> str:
    from .protocol import encode
    body: dict[str, Any] = {"type": "ready", "seq": seq, "resumed": resumed}
    if state is not None:
        body["state"] = state
    return encode(body)


@dataclass
class ResultsPublisher:
    """Coalesces poll results: votes mark a poll dirty; one task sends full results at
    most every `interval` seconds per poll, as journal entries like any other event."""

    interval: float
    throttle: polls.ResultsThrottle = field(init=False)
    task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.throttle = polls.ResultsThrottle(self.interval)

    def on_commit(self, rt: EventRuntime, entries: list[Entry]) -> None:
        now = time.monotonic()
        sealed: list[str] = []
        for e in entries:
            if e.kind in ("poll.voted", "poll.ballot"):
                self.throttle.mark(e.data["poll"], now)
            elif e.kind == "poll.closed":
                self.throttle.forget(e.data["poll"], now)
                poll = rt.state.polls.get(e.data["poll"])
                if poll is not None and poll.anonymous:
                    sealed.append(poll.id)
        if sealed:  # closed anonymous polls: no link at rest from here on (issue 13)
            rt.tasks.add(task := asyncio.get_running_loop().create_task(
                self._reseal(rt, sealed), name=f"reseal-{rt.id}"))
            task.add_done_callback(rt.tasks.discard)
        if self.throttle.dirty and (self.task is None or self.task.done()):
            self.task = asyncio.get_running_loop().create_task(self._run(rt),
                                                               name=f"results-{rt.id}")
            rt.tasks.add(self.task)
            self.task.add_done_callback(rt.tasks.discard)

    @staticmethod
    async def _reseal(rt: EventRuntime, poll_ids: list[str]) -> None:
        await rt.store.reseal(rt.id, poll_ids)

    @staticmethod
    def step_reached(poll: polls.Poll, k: int) -> bool:
        """An anonymous poll's results move only once at least k ballots came in since the
        last ones went out, so no change can be lined up with fewer than k voters."""
        if not poll.anonymous:
            return True
        shown = (poll.published or {}).get("total", 0)
        return len(poll.voters) - int(shown) >= k

    async def _run(self, rt: EventRuntime) -> None:
        while (due_at := self.throttle.next_due()) is not None:
            await asyncio.sleep(max(0.0, due_at - time.monotonic()))
            ctx = Context.current(rt.limits)
            entries = []
            for pid in self.throttle.take(time.monotonic()):
                poll = rt.state.polls.get(pid)
                if poll is not None and poll.open and self.step_reached(
                        poll, rt.limits.anonymous_step):
                    entries.append(polls.results_entry(rt.state, ctx, poll, final=False))
            if entries:
                await rt.commit(entries)



@dataclass
class ReactionBatcher:
    """Reactions are counted, not journaled one by one: one `reactions` entry per room and
    interval carries the counts; every sender's ack waits for that commit."""

    interval: float
    pending: dict[str, dict[str, int]] = field(default_factory=dict)
    waiters: list[asyncio.Future[int]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def add(self, rt: EventRuntime, room: str, kind: str) -> asyncio.Future[int]:
        counts = self.pending.setdefault(room, {})
        counts[kind] = counts.get(kind, 0) + 1
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.waiters.append(fut)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._flush(rt))
            rt.tasks.add(self.task)
            self.task.add_done_callback(rt.tasks.discard)
        return fut

    async def _flush(self, rt: EventRuntime) -> None:
        await asyncio.sleep(self.interval)
        pending, self.pending = self.pending, {}
        waiters, self.waiters = self.waiters, []
        ctx = Context.current(rt.limits)
        try:
            entries = await rt.commit([reactions.batch_entry(ctx, room, counts)
                                       for room, counts in pending.items()])
        except Exception as exc:
            for w in waiters:
                if not w.done():
                    w.set_exception(exc)
            raise
        for w in waiters:
            if not w.done():
                w.set_result(entries[-1].seq)
