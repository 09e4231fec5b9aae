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
from time import monotonic
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .closecodes import REMOVED as CLOSE_REMOVED
from .config import Limits
from . import snapshot
from .domain import clock, polls, reactions, setup
from .domain.commands import Command
from .domain.context import Context
from .domain.decide import decide
from .domain.entries import Entry
from .domain.errors import RateLimited, Unavailable
from .domain.features import Features
from .domain.limits import TokenBucket
from .domain.model import EventState
from .domain.views import ready_state
from .hub import Connection, Hub
from .store import Receipt, Store, StoreClosed, StoreError
from .timesource import SystemTime, TimeSource

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

# A decision: what the state and the moment cause. Runs inside the runtime, synchronously.
Decision = Callable[[EventState, Context], list[Entry]]


async def fold_journal(store: Store, event_id: str, limits: Limits,
                       use_snapshot: bool = True, features: Features | None = None
                       ) -> tuple[EventState, deque[Entry]]:
    """The committed state of an event: its journal folded, then its ballot box. With a
    snapshot (see snapshot.py) the fold starts there and reads the journal from the
    resume window before it: the last `resume_window` entries are kept for resume either
    way, and the ballot box is folded whole after the journal either way."""
    state = EventState(id=event_id, chat_history=limits.chat_history,
                       presence_broadcast_max=limits.presence_broadcast_max)
    if use_snapshot:
        saved = await store.load_snapshot(event_id)
        if saved is not None:
            state = snapshot.decode(saved[1], saved[0], state, limits) or state
    if features is not None:  # the app's feature set folds (and decides) from here on
        state.features = features
    start = state.seq
    recent: deque[Entry] = deque(maxlen=limits.resume_window)
    async for e in store.journal(event_id, after=max(0, start - limits.resume_window)):
        if e.seq > start:
            state.apply(e)
        recent.append(e)
    async for e in store.sealed(event_id):
        state.apply(e)
    return state, recent


@dataclass
class EventRuntime:
    id: str
    store: Store
    limits: Limits
    state: EventState
    recent: deque[Entry] = field(default_factory=deque)
    hub: Hub = field(default_factory=Hub)
    committed_seq: int = 0
    time: TimeSource = field(default_factory=SystemTime)
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
    deleted: bool = False  # erased by the organizer: writes refused, sockets are closed
    # The failure path: a write the store refused leaves the state ahead of the journal.
    # Until it is folded anew from the journal, writes answer `unavailable`.
    broken: bool = False
    recoveries: int = 0
    _inflight: set[asyncio.Future[None]] = field(default_factory=set)
    _serving: asyncio.Event = field(default_factory=asyncio.Event)
    # Unloading (issue 12): when it was last used, the seq of its last snapshot, and
    # whether it was unloaded (Forum then hands out a new runtime; this one refuses writes)
    last_used: float = field(default_factory=monotonic)
    snapshot_seq: int = 0
    unloaded: bool = False
    _watcher: asyncio.Task[None] | None = None

    @classmethod
    async def load(cls, store: Store, event_id: str, limits: Limits,
                   time_source: TimeSource | None = None,
                   features: Features | None = None) -> "EventRuntime":
        """Rebuild the state: its snapshot, if any, and the journal after it."""
        state, recent = await fold_journal(store, event_id, limits, features=features)
        rt = cls(event_id, store, limits, state, recent, committed_seq=state.seq,
                 time=time_source or SystemTime(), snapshot_seq=state.seq)
        rt._serving.set()
        rt._clock = asyncio.create_task(rt._run_clock(), name=f"clock-{event_id}")
        rt._watcher = rt._own(rt._watch_sends())
        rt.after_commit.append(ResultsPublisher(limits.results_interval_s).on_commit)
        rt.reactions = ReactionBatcher(limits.reactions_interval_s)
        # A restart drops every socket: whoever the journal still shows online has left.
        await rt.write(lambda s, ctx: [e for p in list(s.participants.values()) if p.online
                                       for e in setup.presence(s, ctx, p.id, False)])
        return rt

    def context(self) -> Context:
        return Context(now=self.time.now(), limits=self.limits)

    # -- writing: the one path -------------------------------------------------------
    async def write(self, decision: Decision, *,
                    receipts: Sequence[Receipt] = ()) -> list[Entry]:
        """The one write path of an event. `decision` runs against the current state and
        returns entries (or raises a DomainError: nothing happens). The entries are
        numbered, applied (so the next decision sees them) and journaled; this returns
        once they are durable. If the store refuses them, this raises `Unavailable` and
        the runtime folds its state anew from the journal: nothing of it stays visible.
        `receipts`: the requests forwarded by other cluster nodes that these entries
        answer, journaled with them (store.Receipt)."""
        if self.deleted:
            raise StoreClosed(f"event {self.id} was deleted")
        if self.broken or self.unloaded:  # unloaded: whoever still holds it tries again
            raise Unavailable()
        self.touch()
        entries = decision(self.state, self.context())
        if not entries:
            return entries
        expect = self.state.seq
        journaled = []
        try:
            for e in entries:
                if not e.sealed:
                    e.seq = self.state.seq + 1
                    journaled.append(e)
                self.state.apply(e)
        except Exception as exc:  # a bug in a fold: the state is half-applied
            self._fail(f"fold of {[e.kind for e in entries]} failed: {exc!r}")
            raise
        self.recent.extend(journaled)
        last = self.state.seq

        def committed() -> None:
            self.committed_seq = last
            self.hub.publish(self.state, journaled)
            self._wake_waiters()
            self._tick.set()
            for hook in self.after_commit:
                hook(self, entries)
            if 0 < self.limits.snapshot_every <= last - self.snapshot_seq:
                taken = self._take_snapshot()
                if taken is not None:
                    self._own(self._store_snapshot(*taken))
            for e in journaled:
                if e.kind == "event.ended":
                    self._own(self.store.set_status(self.id, "ended"))
                elif e.kind == "lobby.admitted" and self.hub.count(e.data["participant"]):
                    self._own(self._came_online(e.data["participant"]))
                elif e.kind in ("lobby.declined", "participant.removed"):
                    reason = e.data.get("reason") or ("declined" if e.kind == "lobby.declined"
                                                      else "removed by a moderator")
                    self._own(self._show_out(e.data["participant"], reason))

        try:
            fut = self.store.append(self.id, entries, committed, expect=expect,
                                    receipts=receipts)
        except StoreError as exc:
            self._fail(str(exc))
            raise Unavailable() from exc
        self._inflight.add(fut)
        fut.add_done_callback(self._write_done)
        try:
            await asyncio.shield(fut)  # a cancelled caller does not cancel the write
        except StoreClosed:
            raise
        except StoreError as exc:
            raise Unavailable() from exc
        return entries

    def _write_done(self, fut: asyncio.Future[None]) -> None:
        self._inflight.discard(fut)
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None and not isinstance(exc, StoreClosed):
            self._fail(str(exc))

    def _fail(self, reason: str) -> None:
        """The state ran ahead of the journal: stop writing and fold it anew."""
        if self.broken:
            return
        self.broken = True
        self._serving.clear()
        log.error("event %s: a write failed (%s); reloading its state from the journal",
                  self.id, reason)
        self._own(self._recover())

    async def _recover(self) -> None:
        delay = 0.05
        while True:
            while self._inflight:  # writes after the failed one fail too: wait them out
                await asyncio.gather(*list(self._inflight), return_exceptions=True)
            try:
                state, recent = await fold_journal(self.store, self.id, self.limits,
                                                   features=self.state.features)
            except Exception:
                log.exception("event %s: reading the journal failed; retrying", self.id)
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)
                continue
            if not self._inflight:
                break
        self.state, self.recent, self.committed_seq = state, recent, state.seq
        waiters, self._commit_waiters = self._commit_waiters, []
        for _seq, fut in waiters:
            if not fut.done():
                fut.set_exception(Unavailable())
        self.broken = False
        self.recoveries += 1
        self._serving.set()
        self._tick.set()
        log.warning("event %s: state reloaded at seq %d", self.id, state.seq)

    async def serving(self) -> None:
        """Wait until the runtime is not recovering from a failed write."""
        await self._serving.wait()

    async def submit(self, actor: str, cmd: Command,
                     receipt: Receipt | None = None) -> list[Entry]:
        """Decide a client command and commit what it causes. Raises DomainError."""
        self.rate_check(actor, cmd.type)
        return await self.write(lambda s, ctx: decide(s, ctx, actor, cmd),
                                receipts=[receipt] if receipt else ())

    async def react(self, actor: str, kind: str, receipt: Receipt | None = None) -> int:
        """Count a reaction into the next batch; returns once that batch is committed."""
        self.rate_check(actor, "reaction.send")
        if self.broken:
            raise Unavailable()
        room = reactions.check(self.state, actor)
        assert self.reactions is not None
        return await self.reactions.add(self, room, kind, receipt)

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

    async def _presence(self, pid: str, online: bool) -> None:
        """Journal that pid came or went, unless the state already says so."""
        def decision(s: EventState, ctx: Context) -> list[Entry]:
            p = s.participants.get(pid)
            if p is None or p.online == online or (not online and self.hub.count(pid)):
                return []
            return setup.presence(s, ctx, pid, online)
        try:
            await self.write(decision)
        except (StoreError, Unavailable) as exc:
            # presence is not worth failing a socket for; the next change of it is written
            log.warning("event %s: presence of %s not written: %s", self.id, pid, exc)

    async def _came_online(self, pid: str) -> None:
        await self._presence(pid, True)

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

    def _own(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

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
            wait = (deadline - self.time.now()).total_seconds()
            if wait > 0:
                sleeper = asyncio.ensure_future(self.time.sleep(min(wait, 3600)))
                ticker = asyncio.ensure_future(self._tick.wait())
                done, pending = await asyncio.wait({sleeper, ticker},
                                                   return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
                if ticker in done:
                    continue
            try:
                entries = await self.write(clock.due)
            except (StoreError, Unavailable) as exc:
                log.warning("event %s: timer could not commit (%s); retrying", self.id, exc)
                await asyncio.sleep(1)
                continue
            if not entries:
                await asyncio.sleep(0.05)  # clock skew: deadline not yet reached

    # -- unloading (issue 12) -----------------------------------------------------------
    def touch(self) -> None:
        """Someone uses this event (a socket, an HTTP request): the idle time starts anew."""
        self.last_used = monotonic()

    def idle_for(self) -> float | None:
        """Seconds since the last use if nothing keeps this event loaded, else None. Kept
        loaded: sockets (or presence grace pending), writes in flight or a recovery, its own
        tasks (results, reactions, reseal, a snapshot being saved), a pending deadline
        (breakout round, speaker limit, countdown: the clock must fire it), an active
        recording."""
        if (self.hub.connections or getattr(self.hub, "remote", None)  # a cluster owner:
                # sockets on other nodes count as connected (forum_live/cluster ClusterHub)
                or self._leaving or self._inflight or self._commit_waiters
                or self.broken or self.deleted or self.unloaded
                or self.state.seq != self.committed_seq
                or any(t is not self._watcher for t in self.tasks)
                or clock.next_deadline(self.state, self.limits) is not None):
            return None
        media = self.state.__dict__.get("media")
        if media is not None and any(r.active for r in media.recordings.values()):
            return None
        return monotonic() - self.last_used

    def _take_snapshot(self) -> tuple[int, bytes] | None:
        """The committed state pickled now, if it is newer than the last snapshot."""
        seq = self.state.seq
        if seq != self.committed_seq or self.broken or seq <= self.snapshot_seq:
            return None
        try:
            blob = snapshot.encode(self.state, self.limits)
        except Exception:  # something in the state that does not pickle: a bug, logged
            log.exception("event %s: the state could not be pickled for a snapshot", self.id)
            return None
        self.snapshot_seq = seq
        return seq, blob

    async def _store_snapshot(self, seq: int, blob: bytes) -> None:
        try:
            await self.store.save_snapshot(self.id, seq, blob)
        except StoreError as exc:  # a snapshot is a cache: the journal still has it all
            log.warning("event %s: snapshot at seq %d not saved: %s", self.id, seq, exc)

    async def save_snapshot(self) -> None:
        """Save the committed state as this event's snapshot (best effort)."""
        taken = self._take_snapshot()
        if taken is not None:
            await self._store_snapshot(*taken)

    async def unload(self) -> None:
        """Stop this runtime (the caller checked `idle_for` just now and forgot it) and
        keep a snapshot of its state, so the next load folds only what came after."""
        self.unloaded = True
        taken = self._take_snapshot()  # pickled before close_all awaits
        await self.close_all(1001, "unloaded")
        if taken is not None:
            await self._store_snapshot(*taken)

    async def snapshot(self, pid: str) -> tuple[int, dict[str, Any]]:
        """The full state at a committed seq, after every frame up to it was queued."""
        while True:
            await self.serving()
            try:
                while self.state.seq > self.committed_seq:
                    await self.wait_committed(self.state.seq)
            except Unavailable:
                continue  # that head was never committed: take the reloaded state
            if not self.broken:
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
        """Until `seq` is committed; raises Unavailable if its write failed."""
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
        self.touch()
        self.hub.add(conn)
        await self._presence(conn.pid, True)
        while True:
            await self.serving()
            head = self.state.seq  # the state is exactly at `head` until the next await
            conn.room = self.state.room_of(conn.pid)
            replay = (self._replay(conn.pid, resume_from, head) if resume_from is not None
                      else None)
            body: dict[str, Any] | None = (None if replay is not None
                                           else ready_state(self.state, conn.pid))
            try:
                await self.wait_committed(head)
            except Unavailable:
                continue  # the head was never committed: draw the reloaded state
            break
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
        self.touch()  # the idle grace starts when the last socket has gone
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
        await self._presence(pid, False)  # at shutdown the restart fold marks them left

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
            due = self.throttle.take(time.monotonic())

            def results(s: EventState, ctx: Context, due: list[str] = due) -> list[Entry]:
                shown = (s.polls.get(pid) for pid in due)
                return [polls.results_entry(s, ctx, poll, final=False) for poll in shown
                        if poll is not None and poll.open
                        and self.step_reached(poll, rt.limits.anonymous_step)]
            await rt.write(results)



@dataclass
class ReactionBatcher:
    """Reactions are counted, not journaled one by one: one `reactions` entry per room and
    interval carries the counts; every sender's ack waits for that commit."""

    interval: float
    pending: dict[str, dict[str, int]] = field(default_factory=dict)
    waiters: list[asyncio.Future[int]] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)  # forwarded reactions among them
    task: asyncio.Task[None] | None = None

    def add(self, rt: EventRuntime, room: str, kind: str,
            receipt: Receipt | None = None) -> asyncio.Future[int]:
        counts = self.pending.setdefault(room, {})
        counts[kind] = counts.get(kind, 0) + 1
        if receipt is not None:
            self.receipts.append(receipt)
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
        receipts, self.receipts = self.receipts, []
        try:
            entries = await rt.write(lambda s, ctx: [reactions.batch_entry(ctx, room, counts)
                                                     for room, counts in pending.items()],
                                     receipts=receipts)
        except Exception as exc:  # every sender hears of it (unavailable)
            for w in waiters:
                if not w.done():
                    w.set_exception(exc)
            return
        for w in waiters:
            if not w.done():
                w.set_result(entries[-1].seq)
