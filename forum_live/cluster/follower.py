"""The two faces of an event on a cluster node (issue 14).

On its owner an event runs the ordinary EventRuntime; its hub is a `ClusterHub` that also
counts the sockets other nodes hold, so presence and the per-person socket limit are
cluster-wide. On every other node that serves it the event is a `FollowerRuntime`: the same
state, hub and replay, folded only from committed entries (the owner's Redis stream, gaps
from PostgreSQL), that never decides. Its writes go to the owner (`Cluster.call`); the
client's `ok` is given once the follower's own fold has reached the seq the owner
committed, so the entry's frame always comes before the `ok`, as on one node.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from ..domain import reactions
from ..domain.commands import Command, JoinIn
from ..domain.entries import Entry
from ..domain.errors import Unavailable
from ..domain.model import Role
from ..hub import Connection, Hub
from ..live import Decision, EventRuntime, fold_journal
from ..store import Receipt

if TYPE_CHECKING:
    from .node import Cluster

log = logging.getLogger(__name__)

CLOSE_MOVED = 1001  # "going away": the client reconnects and resumes (on any node)
MOVED = "the event moved to another node: reconnect and resume"


@dataclass
class ClusterHub(Hub):
    """The owner's hub: its own sockets plus, per person, how many other nodes hold."""

    remote: dict[str, dict[str, int]] = field(default_factory=dict)  # pid -> node -> sockets

    def count(self, pid: str) -> int:
        return super().count(pid) + sum(self.remote.get(pid, {}).values())

    def set_remote(self, pid: str, node: str, n: int) -> None:
        nodes = self.remote.setdefault(pid, {})
        if n > 0:
            nodes[node] = n
        else:
            nodes.pop(node, None)
            if not nodes:
                self.remote.pop(pid, None)

    def forget_node(self, node: str) -> list[str]:
        """A node that is gone: its sockets count no more; the people it held."""
        gone = []
        for pid, nodes in list(self.remote.items()):
            if nodes.pop(node, None) is not None:
                gone.append(pid)
            if not nodes:
                self.remote.pop(pid, None)
        return gone


class MediaElsewhere:
    """A follower's stand-in for the media service: audio and video of an event run on its
    owner node (its mixers, recorder and peers are there), so media frames sent to a
    follower answer `unavailable`; behind the hashing proxy the clients' node owns it."""

    def __getattr__(self, name: str) -> Any:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise Unavailable("audio and video of this event run on another node of the "
                              "cluster right now; please try again shortly")
        return refuse


def keep_media_on_owner(rt: EventRuntime) -> None:
    """Forum.on_runtime (after the media service's own hook): a follower gets no media."""
    if not isinstance(rt, FollowerRuntime) or "media" not in rt.services:
        return
    svc = rt.services["media"]
    rt.services["media"] = MediaElsewhere()
    rt.after_commit[:] = [h for h in rt.after_commit if getattr(h, "__self__", None) is not svc]
    rt.on_detach[:] = [h for h in rt.on_detach if getattr(h, "__self__", None) is not svc]


@dataclass
class FollowerRuntime(EventRuntime):
    """An event this node serves but does not own: committed entries only, no clock, no
    batchers; commands, reactions, joins and presence are forwarded to the owner."""

    cluster: "Cluster | None" = None
    owner_epoch: int = 0  # the owner epoch last seen; a new one: presence is told again
    token_gen: int = 0  # the event's token generation; a new one (revoked): sockets close
    _feeding: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tell: set[str] = field(default_factory=set)  # people whose socket count changed
    _teller: asyncio.Task[None] | None = None

    @classmethod
    async def follow(cls, cluster: "Cluster", event_id: str) -> "FollowerRuntime":
        forum = cluster.forum
        limits = forum.settings.limits
        state, recent = await fold_journal(forum.store, event_id, limits,
                                           features=forum.features)
        rt = cls(event_id, forum.store, limits, state, recent, committed_seq=state.seq,
                 snapshot_seq=state.seq, cluster=cluster)
        rt._serving.set()
        rt._watcher = rt._own(rt._watch_sends())
        return rt

    # -- writes go to the owner (receipts are the owner's: a follower applies nothing) ---
    async def write(self, decision: Decision, *,
                    receipts: Sequence[Receipt] = ()) -> list[Entry]:
        if self.deleted:
            return await super().write(decision)  # StoreClosed, as on the owner
        raise Unavailable("this node does not own the event right now; please try again")

    async def _forward(self, payload: dict[str, Any]) -> dict[str, Any]:
        if self.unloaded or self.cluster is None:
            raise Unavailable()
        return await self.cluster.call(self.id, payload)

    async def _entries(self, seqs: list[int]) -> list[Entry]:
        """The committed entries `seqs` from this node's fold, once it has them."""
        if not seqs:
            return []
        await self.caught_up(max(seqs))
        wanted, first, found = set(seqs), min(seqs), []
        for e in reversed(self.recent):  # they are among the newest: no scan of the window
            if e.seq < first:
                break
            if e.seq in wanted:
                found.append(e)
        return found[::-1]

    async def caught_up(self, seq: int, timeout: float = 10.0) -> None:
        """Until this fold has `seq`: from the stream, else read from PostgreSQL."""
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout
        while self.committed_seq < seq:
            try:
                await asyncio.wait_for(self.wait_committed(seq), 1.0)
                return
            except asyncio.TimeoutError:
                await self.catch_up()  # the stream lags (Redis down?): the journal has it
            if loop.time() > until:
                raise Unavailable("the change was saved but has not reached this node yet")

    async def submit(self, actor: str, cmd: Command,
                     receipt: Receipt | None = None) -> list[Entry]:
        self.rate_check(actor, cmd.type)  # sheds a flood here; the owner's bucket decides
        reply = await self._forward({"op": "submit", "pid": actor,
                                     "cmd": cmd.model_dump(mode="json")})
        entries = await self._entries(list(reply.get("seqs") or []))
        if cmd.type == "poll.vote" and not entries:  # an anonymous ballot, cast
            self._took_part(actor, [str(getattr(cmd, "poll"))])
        return entries

    async def sync_point(self) -> None:
        """Until this fold has everything the journal had when this was called: a `ping`
        (or `state.sync`) on a follower answers only after every entry committed before it
        was delivered, as on the owner."""
        if self.cluster is None:
            return
        try:
            head = await self.cluster.head(self.id)
        except Exception as exc:  # the database away: answer with what this fold has
            log.info("event %s: journal head not read: %s", self.id, exc)
            return
        await self.caught_up(head)

    def _took_part(self, pid: str, polls: list[str]) -> None:
        """pid's own "already voted" flags of anonymous polls (their ballots are sealed and
        never reach this node): from the vote pid sent through here, or the ballot box."""
        for poll in polls:
            self.state.apply(Entry("poll.voter", {"poll": poll, "participant": pid}, "",
                                   sealed=True))

    async def attach(self, conn: Connection, resume_from: int | None) -> None:
        if self.cluster is not None:
            try:
                self._took_part(conn.pid, await self.cluster.voted(self.id, conn.pid))
            except Exception as exc:  # the flag may be stale; the owner still decides
                log.info("event %s: votes of %s not read: %s", self.id, conn.pid, exc)
        await super().attach(conn, resume_from)

    async def react(self, actor: str, kind: str, receipt: Receipt | None = None) -> int:
        self.rate_check(actor, "reaction.send")
        reactions.check(self.state, actor)
        reply = await self._forward({"op": "react", "pid": actor, "kind": kind})
        seq = max(int(s) for s in reply.get("seqs") or [0])
        await self.caught_up(seq)
        return seq

    async def register(self, body: JoinIn, role: Role) -> list[Entry]:
        """`Forum.join` on a follower: the owner registers the person."""
        reply = await self._forward({"op": "register", "body": body.model_dump(mode="json"),
                                     "role": role.value})
        return await self._entries(list(reply.get("seqs") or []))

    async def _presence(self, pid: str, online: bool) -> None:
        """Tell the owner how many sockets of pid this node holds (it journals presence).
        A socket that attaches waits for it (at most a few seconds); the rest is queued:
        one task sends the current count of each person that changed, so the owner always
        ends up with it."""
        if self.unloaded or self.cluster is None:
            return
        if online and self.hub.count(pid):
            # a socket attaches: it is told about itself online before its `ready`, as on
            # the owner (within a few seconds; presence never fails a socket)
            try:
                reply = await asyncio.wait_for(self._forward({
                    "op": "presence", "pid": pid, "sockets": self.hub.count(pid)}), 3.0)
                await asyncio.wait_for(self.caught_up(int(reply.get("seq") or 0)), 3.0)
                return
            except Exception as exc:
                log.info("event %s: presence of %s not forwarded: %s", self.id, pid, exc)
        self._tell.add(pid)
        if self._teller is None or self._teller.done():
            self._teller = self._own(self._tell_owner())

    async def _tell_owner(self) -> None:
        while self._tell and not self.unloaded:
            pid = self._tell.pop()
            try:
                await asyncio.wait_for(self._forward({
                    "op": "presence", "pid": pid, "sockets": self.hub.count(pid)}), 5.0)
            except Exception as exc:  # presence is not worth failing a socket for
                log.info("event %s: presence of %s not forwarded: %s", self.id, pid, exc)

    async def announce(self) -> None:
        """A new owner: tell it every person with a socket here."""
        for pid in {c.pid for c in self.hub.connections}:
            await self._presence(pid, True)

    def _take_snapshot(self) -> tuple[int, bytes] | None:
        return None  # the owner keeps the snapshots (this fold lacks the ballot box's news)

    # -- committed entries in ------------------------------------------------------------
    async def feed(self, entries: list[Entry]) -> None:
        """Committed entries from the owner's stream, in seq order; a gap is read from the
        journal first. Each is applied and delivered like on the owner."""
        async with self._feeding:
            for e in entries:
                if e.seq <= self.committed_seq:
                    continue
                if e.seq != self.committed_seq + 1:
                    await self._catch_up_locked()
                    if e.seq <= self.committed_seq:
                        continue
                    if e.seq != self.committed_seq + 1:
                        log.warning("event %s: seq %d after %d and not in the journal",
                                    self.id, e.seq, self.committed_seq)
                        return
                self._apply(e)

    async def catch_up(self) -> None:
        """Whatever the journal has after this fold's head."""
        async with self._feeding:
            await self._catch_up_locked()

    async def _catch_up_locked(self) -> None:
        async for e in self.store.journal(self.id, after=self.committed_seq):
            if e.seq == self.committed_seq + 1:
                self._apply(e)

    def _apply(self, e: Entry) -> None:
        self.state.apply(e)
        self.recent.append(e)
        self.committed_seq = e.seq
        self.hub.publish(self.state, [e])
        self._wake_waiters()
        if e.kind in ("lobby.declined", "participant.removed"):
            reason = e.data.get("reason") or ("declined" if e.kind == "lobby.declined"
                                              else "removed by a moderator")
            self._own(self._show_out(e.data["participant"], reason))
        elif e.kind == "lobby.admitted" and self.hub.count(e.data["participant"]):
            self._own(self._presence(e.data["participant"], True))

    async def close_all(self, code: int, reason: str) -> None:
        if self.cluster is not None:
            self.cluster.unfollow(self)
        await super().close_all(code, reason)


def sync_queries(features: Any) -> None:
    """`ping` and `state.sync` on a follower wait for its fold to reach the journal's head
    (the app's handlers, wrapped once per app)."""
    from ..domain.commands import Ping, StateSync
    for cls in (Ping, StateSync):
        original = features.handlers.get(cls)
        if original is None:
            continue

        async def handler(rt: Any, conn: Any, cmd: Any, original: Any = original) -> Any:
            if isinstance(rt, FollowerRuntime):
                await rt.sync_point()
            return await original(rt, conn, cmd)
        features.handlers[cls] = handler
