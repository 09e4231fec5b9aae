"""One node of a cluster (FORUM_DATABASE_URL + FORUM_REDIS_URL, issue 14).

* Ownership: one owner node per event, a lease with an epoch (fencing token) in
  PostgreSQL's `event_owners`. A node that loads an event claims it when nobody holds a
  live lease; the owner renews its leases every third of `owner_lease_s`. The store's
  appends carry the owner's epoch and are refused in the write transaction when it moved
  on (store/postgres.py, StoreFenced), so an owner paused past its lease cannot commit
  after a takeover; it steps down (its sockets close with 1001 and resume elsewhere).
* Fan-out: after each commit the owner adds the journaled entries (never sealed ones: no
  ballot goes over Redis) to the event's Redis Stream `fl:ev:{id}`, one stream entry per
  journal entry with the seq as its id, in journal order. Every follower node reads the
  streams of its events (XREAD BLOCK from its own head) and fills gaps from PostgreSQL.
* Forwarding: a follower hands commands, reactions, joins and presence to the owner as
  a request on the owner's Redis list `fl:rpc:{node}`; the reply comes back on
  `fl:reply:{node}`. The owner keeps a receipt of each request it applies in
  `cluster_requests`, in the transaction of its entries, so a reply lost with Redis is
  found there (a late reply is looked up every PEEK_S). An asker that gets no answer in
  time writes the request's id there as `abandoned` before it says `unavailable`: the
  primary key lets only one of the two in, so the owner's commit of it fails from then
  on and `unavailable` stays true. The request's deadline (the owner does not start it
  later) keeps that race rare.
* Takeover: followers watch their events' leases; when one ran out they close their
  sockets of it (clients resume), claim it (epoch + 1), fold it from the journal and run
  its clock at once (due timers fire).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator

import asyncpg
import redis.asyncio as aioredis
from itsdangerous import URLSafeTimedSerializer

from ..domain import errors as domain_errors
from ..domain.commands import JoinIn
from ..domain.entries import Entry
from ..domain.errors import DomainError, Internal, NotFound, Unavailable
from ..domain.model import Role
from ..domain import setup
from ..forum import CLOSE_REVOKED
from ..live import EventRuntime
from ..protocol import parse_frame
from ..store import Receipt, StoreError
from .follower import CLOSE_MOVED, MOVED, ClusterHub, FollowerRuntime
from .http import run_here

if TYPE_CHECKING:
    from ..forum import Forum

log = logging.getLogger(__name__)

REDIS_CONNECTIONS = 32  # per node, for forwarding and publishing (blocking streams have their own)
PEEK_S = 2.0  # a forwarded request unanswered this long: its receipt is looked for
SETTLE_S = 10.0  # how long an asker keeps trying to settle a request without a reply
REQUESTS_KEPT = "1 hour"  # receipts and abandoned ids are forgotten this long after their
# deadline (migration 010: nothing is applied 10 minutes after it)
# a stream outlives its event's last entry by this long (resume reads the journal after it);
# personal data does not linger in Redis
STREAM_TTL_S = 24 * 3600
DEADLINE_S = 5.0  # the owner does not start a request older than this (the asker waits longer)
# a request's id taken as 'abandoned' (by its asker) or 'started' (a forwarded HTTP write,
# by the owner): the id when this took it, None when the other side has it already
CLAIM_REQUEST = """
INSERT INTO cluster_requests (id, event_id, until, state) VALUES ($1, $2, to_timestamp($3),
       $4) ON CONFLICT (id) DO NOTHING RETURNING id
"""
ERRORS: dict[str, type[DomainError]] = {
    cls.code: cls for cls in vars(domain_errors).values()
    if isinstance(cls, type) and issubclass(cls, DomainError) and cls is not DomainError}

CLAIM = """
INSERT INTO event_owners (event_id, node, epoch, lease_until)
VALUES ($1, $2, 1, now() + make_interval(secs => $3))
ON CONFLICT (event_id) DO UPDATE
   SET node = excluded.node, epoch = event_owners.epoch + 1, lease_until = excluded.lease_until
 WHERE event_owners.lease_until < now() OR event_owners.node = excluded.node
RETURNING epoch
"""
RENEW = """
UPDATE event_owners o SET lease_until = now() + make_interval(secs => $2)
  FROM unnest($3::text[], $4::bigint[]) AS m(event_id, epoch)
 WHERE o.event_id = m.event_id AND o.epoch = m.epoch AND o.node = $1
RETURNING o.event_id
"""
HAND_OVER = """
UPDATE event_owners SET node = $3, epoch = epoch + 1,
       lease_until = now() + make_interval(secs => $4)
 WHERE event_id = $1 AND node = $2 AND epoch = $5
RETURNING epoch
"""
SHARE_SECRET = """
WITH put AS (INSERT INTO cluster_secrets (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO NOTHING RETURNING value)
SELECT value FROM put UNION ALL SELECT value FROM cluster_secrets WHERE name = $1 LIMIT 1
"""
TOKEN_SALT = "forum-live/participant"  # as transport/auth.py signs participant tokens
ORPHANS = """
SELECT o.event_id FROM event_owners o JOIN events e ON e.id = o.event_id
 WHERE o.lease_until < now() AND e.status = 'open' AND o.node NOT IN ($1, '')
 ORDER BY o.lease_until LIMIT 50
"""
OWNERS = """
SELECT o.event_id, o.node, o.epoch, o.lease_until > now() AS live, e.token_gen
  FROM event_owners o LEFT JOIN events e ON e.id = o.event_id
 WHERE o.event_id = ANY($1::text[])
"""
# a token bucket per client address, shared by the nodes (the join limit): tokens and
# stamp in a hash, Redis's own clock; returns the seconds to wait (0: go ahead)
JOIN_BUCKET = """
local b = redis.call('HMGET', KEYS[1], 't', 's')
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tokens = tonumber(b[1]) or burst
local stamp = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 elseif rate > 0 then wait = (1 - tokens) / rate
else wait = 60 end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 's', tostring(now))
redis.call('EXPIRE', KEYS[1], ARGV[3])
return tostring(wait)
"""


def stream_key(event_id: str) -> str:
    return f"fl:ev:{event_id}"


@dataclass
class Owner:
    node: str
    epoch: int
    live: bool


@dataclass
class Cluster:
    forum: "Forum"
    database_url: str
    redis_url: str
    node: str
    lease_s: float = 10.0
    owned: dict[str, int] = field(default_factory=dict)  # event -> epoch this node holds
    followers: dict[str, FollowerRuntime] = field(default_factory=dict)
    owners: dict[str, Owner] = field(default_factory=dict)  # last seen, for forwarding
    _db: Any = None
    _redis: Any = None  # commands and publishing
    _pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _asked: dict[str, float] = field(default_factory=dict)  # request id -> when it was sent
    _outbox: asyncio.Queue[tuple[str, list[Entry]]] = field(default_factory=asyncio.Queue)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _moving: set[str] = field(default_factory=set)
    closing: bool = False
    takeovers: int = 0
    handovers: int = 0
    _lonely: dict[str, tuple[str, float]] = field(default_factory=dict)  # event -> (node, since)
    _releasing: set[asyncio.Task[None]] = field(default_factory=set)
    _mac_key: bytes = b""  # signs forwarded requests and replies (from the shared key)
    app: Any = None  # the node's ASGI app: forwarded HTTP writes run through it (http.py)
    redis_error: str | None = None  # why Redis did not answer the last probe (None: it did)

    # -- life cycle ----------------------------------------------------------------------
    async def start(self) -> None:
        self._db = await asyncpg.create_pool(self.database_url, min_size=1, max_size=5,
                                             command_timeout=10)
        # a bounded pool that makes callers wait for a free connection (500 votes at once
        # through a follower must queue here, not fail with "too many connections")
        pool = aioredis.BlockingConnectionPool.from_url(
            self.redis_url, max_connections=REDIS_CONNECTIONS, timeout=10,
            decode_responses=True, socket_timeout=10, socket_connect_timeout=3,
            health_check_interval=5)
        self._redis = aioredis.Redis(connection_pool=pool)
        await self._share_secrets()
        await self._alive()
        store: Any = self.forum.store
        store.fencing = True
        store.on_fenced.append(self._fenced)
        for name, coro in (("lease", self._lease_loop()), ("publish", self._publish_loop()),
                           ("follow", self._follow_loop()), ("rpc", self._serve_loop()),
                           ("replies", self._reply_loop()), ("peek", self._peek_loop()),
                           ("redis", self._redis_watch())):
            self._tasks.append(asyncio.create_task(coro, name=f"cluster-{name}"))
        log.info("cluster node %s: lease %.1f s", self.node, self.lease_s)

    async def _share_secrets(self) -> None:
        """Every node signs and checks participant tokens with the same key, and knows the
        same organizer token (unless FORUM_ORGANIZER_TOKEN gives it): the first node's,
        kept in `cluster_secrets`. A node that had others on disk takes the cluster's and
        writes them over its own files."""
        settings, auth = self.forum.settings, self.forum.auth
        data_dir = settings.data_dir
        mine = {"secret_key": (data_dir / "secret_key").read_text(encoding="utf-8").strip()}
        self._mac_key = _mac_key(mine["secret_key"])
        if not settings.organizer_token:
            mine["organizer_token"] = auth.organizer_token
        for name, value in mine.items():
            shared = await self._db.fetchval(SHARE_SECRET, name, value)
            if shared is None:  # another node put it in at this very moment: read it
                shared = await self._db.fetchval(
                    "SELECT value FROM cluster_secrets WHERE name = $1", name)
            if shared == value:
                continue
            path = data_dir / name
            path.write_text(shared + "\n", encoding="utf-8")
            if name == "secret_key":
                auth._signer = URLSafeTimedSerializer(shared, salt=TOKEN_SALT)
                self._mac_key = _mac_key(shared)
            else:
                auth.organizer_token = shared
                log.warning("cluster node %s: the organizer token is the cluster's (kept in "
                            "%s); a token printed above at this start is not used", self.node,
                            path)

    async def close(self) -> None:
        """At shutdown (after the sockets closed and the journal was flushed): publish what
        is left, give the leases up so another node takes over at once."""
        self.closing = True
        try:
            await asyncio.wait_for(self._drain_outbox(), 3)
        except Exception:  # noqa: BLE001
            pass
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.owned and self._db is not None:
            try:
                await self._db.execute(
                    "UPDATE event_owners SET lease_until = now() - interval '1 second' "
                    "WHERE node = $1 AND event_id = ANY($2::text[])", self.node,
                    list(self.owned))
            except Exception as exc:  # noqa: BLE001
                log.warning("cluster: leases not released: %s", exc)
        if self._redis is not None:
            await self._redis.aclose()
        if self._db is not None:
            await self._db.close()

    async def _drain_outbox(self) -> None:
        while not self._outbox.empty():
            await asyncio.sleep(0.02)

    # -- loading an event: owner or follower ---------------------------------------------
    async def load(self, event_id: str) -> EventRuntime:
        """Forum.runtime's loader: claim the event if nobody holds a live lease, then run it
        as its owner; else follow it."""
        epoch = await self._db.fetchval(CLAIM, event_id, self.node, self.lease_s)
        if epoch is not None:
            return await self._own_event(event_id, int(epoch))
        rt = await FollowerRuntime.follow(self, event_id)
        row = await self.forum.store.event_row(event_id)
        rt.token_gen = int((row or {}).get("token_gen") or 0)
        owner = await self.owner(event_id, fresh=True)
        rt.owner_epoch = owner.epoch if owner else 0
        self.followers[event_id] = rt
        return rt

    async def _own_event(self, event_id: str, epoch: int) -> EventRuntime:
        forum = self.forum
        store: Any = forum.store
        store.fence(event_id, epoch)
        self.owned[event_id] = epoch
        self.owners[event_id] = Owner(self.node, epoch, True)
        try:
            rt = await EventRuntime.load(forum.store, event_id, forum.settings.limits,
                                         features=forum.features)
        except BaseException:
            self.owned.pop(event_id, None)
            store.fence(event_id, None)
            raise
        rt.hub = ClusterHub()
        rt.after_commit.append(self._committed)
        log.info("cluster node %s owns event %s (epoch %d, seq %d)", self.node, event_id,
                 epoch, rt.state.seq)
        return rt

    def unloaded(self, rt: EventRuntime) -> None:
        """Forum.on_unload: an owned event unloaded after its idle grace (no socket on any
        node, no deadline pending) gives its lease up, marked released (node ''), so no node
        loads it as an orphan; the next node that needs it claims it (epoch + 1)."""
        epoch = self.owned.pop(rt.id, None)
        if epoch is None or isinstance(rt, FollowerRuntime):
            return
        store: Any = self.forum.store
        store.fence(rt.id, None)
        task = asyncio.get_running_loop().create_task(self._release(rt.id, epoch))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _release(self, event_id: str, epoch: int) -> None:
        try:
            await self._db.execute(
                "UPDATE event_owners SET node = '', lease_until = now() "
                "WHERE event_id = $1 AND node = $2 AND epoch = $3", event_id, self.node, epoch)
        except Exception as exc:  # noqa: BLE001 - the lease runs out by itself then
            log.warning("cluster: lease of unloaded event %s not released: %s", event_id, exc)

    def unfollow(self, rt: FollowerRuntime) -> None:
        if self.followers.get(rt.id) is rt:
            del self.followers[rt.id]

    async def owner(self, event_id: str, fresh: bool = False) -> Owner | None:
        if fresh or event_id not in self.owners:
            rows = await self._db.fetch(OWNERS, [event_id])
            if rows:
                r = rows[0]
                self.owners[event_id] = Owner(r["node"], int(r["epoch"]), bool(r["live"]))
            else:
                self.owners.pop(event_id, None)
        return self.owners.get(event_id)

    # -- losing and taking over ----------------------------------------------------------
    def _fenced(self, event_id: str) -> None:
        """An append of ours was refused: someone else owns the event now."""
        if event_id in self.owned and not self.closing:
            asyncio.get_running_loop().create_task(self._step_down(event_id))

    async def _step_down(self, event_id: str) -> None:
        if event_id in self._moving:
            return
        self._moving.add(event_id)
        try:
            self.owned.pop(event_id, None)
            store: Any = self.forum.store
            store.fence(event_id, None)
            rt = self.forum.runtimes.get(event_id)
            if rt is not None and not isinstance(rt, FollowerRuntime):
                del self.forum.runtimes[event_id]
                rt.unloaded = True  # writes answer `unavailable` from here on
                log.warning("cluster node %s lost event %s: stepping down", self.node,
                            event_id)
                await rt.close_all(CLOSE_MOVED, MOVED)
        finally:
            self._moving.discard(event_id)

    async def _take_over(self, rt: FollowerRuntime) -> None:
        """The owner's lease ran out: its sockets here resume on the new runtime."""
        event_id = rt.id
        if event_id in self._moving:
            return
        self._moving.add(event_id)
        try:
            if self.forum.runtimes.get(event_id) is rt:
                del self.forum.runtimes[event_id]
            rt.unloaded = True
            await rt.close_all(CLOSE_MOVED, MOVED)
            new = await self.forum.runtime(event_id)
            if not isinstance(new, FollowerRuntime):
                self.takeovers += 1
        except NotFound:  # erased (GDPR): its sockets here are closed, its stream goes
            await self._forget(event_id)
        except Exception:
            log.exception("cluster: taking over event %s failed", event_id)
        finally:
            self._moving.discard(event_id)

    async def _lease_loop(self) -> None:
        """Renew this node's leases every third of the lease; every second (or more often
        with a short lease) watch the owners of the events it follows, so a lapsed lease is
        taken over at most a second after it ran out."""
        period = max(0.2, self.lease_s / 3)
        tick = min(1.0, period)
        loop = asyncio.get_running_loop()
        renewed = swept = loop.time()
        while True:
            await asyncio.sleep(tick)
            try:
                if loop.time() - renewed >= period - tick / 2:
                    renewed = loop.time()
                    await self._alive()
                    await self._renew()
                if loop.time() - swept >= 60:
                    swept = loop.time()
                    await self._db.execute("DELETE FROM cluster_requests WHERE until < "
                                           f"now() - interval '{REQUESTS_KEPT}'")
                await self._watch()
                await self._rebalance(period)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cluster: lease round failed: %s", exc)

    async def _alive(self) -> None:
        """Say this node is alive (a key that expires), and forget the sockets that nodes
        no longer alive held in this node's events: their people leave."""
        try:
            await self._redis.set(f"fl:node:{self.node}", "1",
                                  px=int(self.lease_s * 1500))
        except Exception as exc:  # noqa: BLE001 - Redis away: nothing to judge by either
            log.warning("cluster: Redis unreachable: %s", exc)
            return
        hubs = [(rt, rt.hub) for event_id in self.owned
                if (rt := self.forum.runtimes.get(event_id)) is not None
                and isinstance(rt.hub, ClusterHub) and rt.hub.remote]
        nodes = sorted({n for _rt, hub in hubs for counts in hub.remote.values() for n in counts})
        if not nodes:
            return
        alive = await self._redis.mget([f"fl:node:{n}" for n in nodes])
        for node, flag in zip(nodes, alive):
            if flag is not None:
                continue
            for rt, hub in hubs:
                for pid in hub.forget_node(node):
                    if not hub.count(pid):
                        log.info("cluster: node %s is gone; %s has left", node, pid)
                        await rt._leave(pid)

    async def _renew(self) -> None:
        if not self.owned:
            return
        held = dict(self.owned)
        rows = await self._db.fetch(RENEW, self.node, self.lease_s, list(held),
                                    list(held.values()))
        kept = {r["event_id"] for r in rows}
        for event_id in held:
            if event_id not in kept and self.owned.get(event_id) == held[event_id]:
                await self._step_down(event_id)
                if await self.forum.store.event_row(event_id) is None:
                    await self._forget(event_id)

    async def _rebalance(self, period: float) -> None:
        """Ownership follows the proxy: an event whose sockets are all on one other node
        (the node the proxy hashes it to) for two lease rounds is handed to that node, so
        its clients, its media and its decider share a node again."""
        now = asyncio.get_running_loop().time()
        for event_id, epoch in list(self.owned.items()):
            rt = self.forum.runtimes.get(event_id)
            hub = rt.hub if rt is not None else None
            if rt is None or not isinstance(hub, ClusterHub):
                continue
            nodes = {n for counts in hub.remote.values() for n, c in counts.items() if c > 0}
            if hub.connections or len(nodes) != 1 or rt.broken or event_id in self._moving:
                self._lonely.pop(event_id, None)
                continue
            target = nodes.pop()
            seen = self._lonely.setdefault(event_id, (target, now))
            if seen[0] != target:
                self._lonely[event_id] = (target, now)
            elif now - seen[1] >= 2 * period:
                await self._hand_over(rt, target, epoch)

    async def _hand_over(self, rt: EventRuntime, target: str, epoch: int) -> None:
        event_id = rt.id
        self._lonely.pop(event_id, None)
        self._moving.add(event_id)
        try:
            rt.unloaded = True  # from here on its commands answer `unavailable`
            await self.forum.store.flush()  # what was decided is committed (or refused)
            moved = await self._db.fetchval(HAND_OVER, event_id, self.node, target,
                                            self.lease_s, epoch)
            log.info("cluster node %s handed event %s to %s (epoch %s)", self.node,
                     event_id, target, moved)
            self.handovers += 1
        finally:
            self._moving.discard(event_id)
        await self._step_down(event_id)

    async def head(self, event_id: str) -> int:
        """The journal's last seq of an event (PostgreSQL: the truth)."""
        return int(await self._db.fetchval(
            "SELECT COALESCE(MAX(seq), 0) FROM journal WHERE event_id = $1", event_id))

    async def voted(self, event_id: str, pid: str) -> list[str]:
        """The polls pid took part in (the ballot box's voters, never a choice)."""
        rows = await self._db.fetch("SELECT poll_id FROM poll_voters WHERE event_id = $1 "
                                    "AND participant_id = $2", event_id, pid)
        return [r["poll_id"] for r in rows]

    async def join_wait(self, address: str) -> float:
        """The cluster-wide join limit per client address (Redis); 0: go ahead. Redis away:
        0, and each node's own bucket (transport/http.py) still holds."""
        limits = self.forum.settings.limits
        ttl = int(max(60, limits.join_burst / max(limits.join_rate, 1e-6))) + 1
        try:
            wait = await self._redis.eval(JOIN_BUCKET, 1, f"fl:join:{address}",
                                          limits.join_rate, limits.join_burst, ttl)
            return float(wait)
        except Exception as exc:  # noqa: BLE001
            log.warning("cluster: join limit not checked in Redis: %s", exc)
            return 0.0

    async def _forget(self, event_id: str) -> None:
        """An erased event: nothing of it stays in Redis either."""
        self.owners.pop(event_id, None)
        try:
            await self._redis.delete(stream_key(event_id))
        except Exception as exc:  # noqa: BLE001 - it expires (STREAM_TTL_S) anyway
            log.warning("cluster: stream of erased event %s not deleted: %s", event_id, exc)

    async def _watch(self) -> None:
        follow = list(self.followers.values())
        # open events whose owner died while no other node had them loaded: their clocks
        # must run (a breakout round ends on time), so some node takes them over
        for r in await self._db.fetch(ORPHANS, self.node):
            if r["event_id"] not in self.forum.runtimes and not self.closing:
                try:
                    await self.forum.runtime(r["event_id"])
                except Exception:
                    log.exception("cluster: taking over event %s failed", r["event_id"])
        if not follow:
            return
        rows = {r["event_id"]: r for r in await self._db.fetch(OWNERS, [f.id for f in follow])}
        for rt in follow:
            r = rows.get(rt.id)
            if r is not None:
                self.owners[rt.id] = Owner(r["node"], int(r["epoch"]), bool(r["live"]))
            if r is not None and r["token_gen"] is not None and \
                    int(r["token_gen"]) != rt.token_gen:  # revoked (on another node)
                rt.token_gen = int(r["token_gen"])
                for conn in list(rt.hub.connections):
                    conn.kill(CLOSE_REVOKED, "the organizer revoked every token of this event")
            if r is not None and r["node"] == "" and not rt.hub.connections:
                # released by an owner that unloaded it idle: nobody here needs it either
                if self.forum.runtimes.get(rt.id) is rt:
                    del self.forum.runtimes[rt.id]
                await rt.unload()
            elif r is None or not r["live"] or r["node"] == self.node:  # (handed to us)
                await self._take_over(rt)
            elif int(r["epoch"]) != rt.owner_epoch:
                rt.owner_epoch = int(r["epoch"])
                rt._own(rt.announce())  # the new owner counts this node's sockets

    # -- publishing (owner) ----------------------------------------------------------------
    def _committed(self, rt: EventRuntime, entries: list[Entry]) -> None:
        journaled = [e for e in entries if not e.sealed]  # a ballot never goes over Redis
        if journaled:
            self._outbox.put_nowait((rt.id, journaled))

    async def _publish_loop(self) -> None:
        limit = self.forum.settings.limits.resume_window
        batch: list[tuple[str, list[Entry]]] = []
        while True:
            if not batch:
                batch.append(await self._outbox.get())
            while not self._outbox.empty() and len(batch) < 256:
                batch.append(self._outbox.get_nowait())
            try:
                pipe = self._redis.pipeline(transaction=False)
                for event_id, entries in batch:
                    epoch = self.owned.get(event_id, 0)
                    for e in entries:
                        pipe.xadd(stream_key(event_id),
                                  {"row": json.dumps(e.to_row()), "epoch": epoch},
                                  id=f"{e.seq}-0", maxlen=limit, approximate=True)
                    pipe.expire(stream_key(event_id), STREAM_TTL_S)
                for result in await pipe.execute(raise_on_error=False):
                    if isinstance(result, Exception) and "equal or smaller" not in str(result):
                        log.warning("cluster: publish refused: %s", result)
                batch = []
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: keep the order, retry; followers that
                # miss entries meanwhile read them from the journal
                log.warning("cluster: publishing failed (%s); retrying", exc)
                if sum(len(b[1]) for b in batch) > limit:
                    batch = batch[len(batch) // 2:]
                await asyncio.sleep(0.5)

    # -- following (followers) ---------------------------------------------------------------
    async def _follow_loop(self) -> None:
        reader: Any = aioredis.Redis.from_url(self.redis_url, decode_responses=True,
                                              socket_connect_timeout=3, socket_timeout=None)
        try:
            while True:
                if not self.followers:
                    await asyncio.sleep(0.2)
                    continue
                streams = {stream_key(f.id): f"{f.committed_seq}-0"
                           for f in self.followers.values()}
                try:
                    got = await reader.xread(streams, count=1000, block=500)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("cluster: reading streams failed (%s); catching up from the "
                                "journal", exc)
                    for f in list(self.followers.values()):
                        await self._safe(f.catch_up())
                    await asyncio.sleep(1.0)
                    continue
                for key, items in got or []:
                    follower = self.followers.get(key.split(":", 2)[2])
                    if follower is None:
                        continue
                    entries = [Entry.from_row(json.loads(fields["row"])) for _id, fields in items]
                    await self._safe(follower.feed(entries))
        finally:
            await reader.aclose()

    @staticmethod
    async def _safe(coro: Any) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("cluster: a follower could not catch up")

    # -- forwarding ----------------------------------------------------------------------
    async def call(self, event_id: str, payload: dict[str, Any],
                   timeout: float | None = None) -> dict[str, Any]:
        """Ask the owner of `event_id`; raises the owner's DomainError, or Unavailable when
        there is no live owner, or no answer in time and the owner did not apply it (and
        now never will: `_settle`)."""
        if timeout is None:
            timeout = self.forum.settings.limits.forward_timeout_s
        owner = await self.owner(event_id)
        if owner is None or not owner.live or owner.node == self.node:
            owner = await self.owner(event_id, fresh=True)
        if owner is None or not owner.live or owner.node == self.node:
            raise Unavailable("the event is moving to another node; please try again")
        rid = secrets.token_hex(16)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._pending[rid] = fut
        self._asked[rid] = loop.time()
        until = time.time() + min(DEADLINE_S, timeout * 0.6)
        request = {"id": rid, "from": self.node, "event": event_id, "epoch": owner.epoch,
                   "until": until, **payload}
        reply: dict[str, Any] | None = None
        try:
            try:
                await self._redis.lpush(f"fl:rpc:{owner.node}", self._seal(request))
                reply = await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                pass
            except Exception as exc:  # Redis away: perhaps sent, perhaps not
                log.warning("cluster: forwarding to %s failed: %s", owner.node, exc)
            if reply is None:
                self.owners.pop(event_id, None)  # look the owner up anew next time
                reply = await self._settle(rid, event_id, until)
        finally:
            self._pending.pop(rid, None)
            self._asked.pop(rid, None)
        if reply is None:
            raise Unavailable("the event's node did not answer; nothing was applied; please "
                              "try again")
        if "error" in reply:
            cls = ERRORS.get(reply["error"], Internal)
            raise cls(reply.get("message") or "error", **(reply.get("extra") or {}))
        return reply

    async def _settle(self, rid: str, event_id: str, until: float) -> dict[str, Any] | None:
        """A request without a reply: the reply the owner kept with what it applied, or
        None when it did not apply it. Then this node's `abandoned` row holds the request's
        id, so the owner's commit of it fails from now on (the primary key). A forwarded
        HTTP request the owner is still running is waited for; without an outcome within
        SETTLE_S (the database away), it is `unavailable` with a warning that it may have
        been applied, as when a commit's acknowledgement is lost on one node."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + SETTLE_S
        while True:
            try:
                if await self._db.fetchval(CLAIM_REQUEST, rid, event_id, until,
                                           "abandoned") is not None:
                    return None
                row = await self._db.fetchrow(
                    "SELECT state, reply FROM cluster_requests WHERE id = $1", rid)
                if row is not None and row["state"] == "done":
                    done: dict[str, Any] = json.loads(row["reply"])
                    return done
            except Exception as exc:  # noqa: BLE001 - tried again until SETTLE_S
                log.warning("cluster: request %s not settled yet: %s", rid, exc)
            if loop.time() > give_up:
                log.error("cluster: outcome of request %s to event %s unknown", rid, event_id)
                raise Unavailable("the event's node did not answer and whether the change "
                                  "was applied is not known; check before trying again")
            await asyncio.sleep(0.5)

    async def _peek_loop(self) -> None:
        """Requests unanswered for PEEK_S: their receipts, if the owner applied them (a
        reply lost with Redis is not waited for until the timeout)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(PEEK_S / 2)
            now = loop.time()
            late = [rid for rid, since in self._asked.items() if now - since >= PEEK_S]
            if not late:
                continue
            try:
                rows = await self._db.fetch(
                    "SELECT id, reply FROM cluster_requests WHERE id = ANY($1::text[]) "
                    "AND state = 'done'", late)
            except Exception as exc:  # noqa: BLE001 - the next round, or _settle
                log.info("cluster: receipts not read: %s", exc)
                continue
            for r in rows:
                fut = self._pending.get(r["id"])
                if fut is not None and not fut.done():
                    fut.set_result(json.loads(r["reply"]))

    async def _redis_watch(self) -> None:
        """Whether Redis answers, for /healthz: a PING every second on a connection of its
        own, so a stopped or stuck Redis shows within seconds and /healthz never waits."""
        probe: Any = aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=2,
                                             socket_timeout=2)
        try:
            while True:
                try:
                    await asyncio.wait_for(probe.ping(), 3)
                    if self.redis_error is not None:
                        log.warning("cluster: Redis answers again")
                    self.redis_error = None
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if self.redis_error is None:
                        log.warning("cluster: Redis does not answer: %r", exc)
                    self.redis_error = repr(exc)[:200]
                await asyncio.sleep(1.0)
        finally:
            await probe.aclose()

    def _seal(self, message: dict[str, Any]) -> str:
        """A forwarded request or reply with its HMAC (a key derived from the cluster's
        signing key): a node takes only what another node of this cluster sent, even from
        someone who can write to Redis but does not have the database's secrets."""
        body = json.dumps(message)
        mac = hmac.new(self._mac_key, body.encode(), hashlib.sha256).hexdigest()
        return json.dumps({"mac": mac, "body": body})

    def _open(self, raw: str | bytes) -> dict[str, Any] | None:
        try:
            sealed = json.loads(raw)
            body = sealed["body"]
            mac = hmac.new(self._mac_key, body.encode(), hashlib.sha256).hexdigest()
            if hmac.compare_digest(mac, str(sealed["mac"])):
                message: dict[str, Any] = json.loads(body)
                return message
        except (ValueError, KeyError, TypeError):
            pass
        log.warning("cluster: dropped a forwarded message without a valid signature")
        return None

    async def _signed(self, key: str, what: str) -> AsyncIterator[dict[str, Any]]:
        """The signed messages popped from one of this node's Redis lists (replies to what
        it forwarded, or requests forwarded to it); unsigned or forged ones are dropped."""
        listener = aioredis.Redis.from_url(self.redis_url, decode_responses=True,
                                           socket_connect_timeout=3, socket_timeout=None)
        try:
            while True:
                try:
                    got = await listener.brpop([key], timeout=1)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("cluster: reading %s failed: %s", what, exc)
                    await asyncio.sleep(0.5)
                    continue
                if got is None:
                    continue
                message = self._open(got[1])
                if message is not None:
                    yield message
        finally:
            await listener.aclose()

    async def _reply_loop(self) -> None:
        async for reply in self._signed(f"fl:reply:{self.node}", "replies"):
            fut = self._pending.get(str(reply.get("id")))
            if fut is not None and not fut.done():
                fut.set_result(reply)

    async def _serve_loop(self) -> None:
        running: set[asyncio.Task[None]] = set()
        async for request in self._signed(f"fl:rpc:{self.node}", "requests"):
            task = asyncio.create_task(self._answer(request))
            running.add(task)
            task.add_done_callback(running.discard)

    async def _answer(self, req: dict[str, Any]) -> None:
        if time.time() > float(req.get("until", 0)):
            return  # the asker gave up (its client heard `unavailable`): do not apply it
        try:
            reply = await self._handle(req)
        except DomainError as e:
            reply = {"error": e.code, "message": e.message,
                     "extra": e.extra if _jsonable(e.extra) else {}}
        except StoreError:
            reply = {"error": "unavailable", "message": Unavailable().message}
        except Exception:
            log.exception("cluster: forwarded %s failed", req.get("op"))
            reply = {"error": "internal", "message": "internal error"}
        reply["id"] = req.get("id")
        try:
            target = f"fl:reply:{req['from']}"
            await self._redis.lpush(target, self._seal(reply))
            await self._redis.expire(target, 60)
        except Exception as exc:
            log.warning("cluster: reply to %s lost: %s", req.get("from"), exc)

    async def _handle(self, req: dict[str, Any]) -> dict[str, Any]:
        event_id = str(req["event"])
        receipt = Receipt(str(req["id"]), float(req["until"]))
        if event_id not in self.owned:
            raise Unavailable("the event is moving to another node; please try again")
        rt = await self.forum.runtime(event_id)
        if isinstance(rt, FollowerRuntime) or self.owned.get(event_id) is None:
            raise Unavailable("the event is moving to another node; please try again")
        op, pid = req["op"], str(req.get("pid") or "")
        if op == "submit":
            limits = self.forum.settings.limits
            cmd, _ref, err = parse_frame(json.dumps(req["cmd"]), 4 * limits.frame_max,
                                         rt.state.features.commands)
            if err is not None or cmd is None:
                raise err or Internal("unreadable command")
            entries = await rt.submit(pid, cmd, receipt)
            return {"seqs": [e.seq for e in entries if not e.sealed]}
        if op == "react":
            return {"seqs": [await rt.react(pid, str(req["kind"]), receipt)]}
        if op == "register":
            body, role = JoinIn(**req["body"]), Role(req["role"])
            entries = await rt.write(lambda s, ctx: setup.register(s, ctx, body, role),
                                     receipts=[receipt])
            return {"seqs": [e.seq for e in entries if not e.sealed]}
        if op == "presence":
            hub = rt.hub
            n = int(req.get("sockets") or 0)
            if isinstance(hub, ClusterHub):
                hub.set_remote(pid, str(req["from"]), n)
            if n > 0:
                await rt._came_online(pid)
            elif not hub.count(pid):
                await rt._leave(pid)
            return {"seq": rt.committed_seq}
        if op == "http" and self.app is not None:
            return await self._run_http(req, receipt)
        raise Internal(f"unknown forwarded operation {op!r}")


    async def _run_http(self, req: dict[str, Any], receipt: Receipt) -> dict[str, Any]:
        """A forwarded HTTP write: its app may write several times, so it is not one
        transaction with a receipt; instead its id is taken (`started`) before it runs,
        unless its asker gave up already, and its answer is kept once it is there."""
        event_id = str(req["event"])
        try:
            started = await self._db.fetchval(CLAIM_REQUEST, receipt.request, event_id,
                                              receipt.until, "started")
        except Exception as exc:
            raise Unavailable() from exc
        if started is None:
            raise Unavailable()  # its asker gave up on it already: never run
        reply = await run_here(self.app, req)
        current = self.forum.runtimes.get(event_id)
        reply["seq"] = current.committed_seq if current is not None else 0
        try:
            await self._db.execute("UPDATE cluster_requests SET state = 'done', reply = $2 "
                                   "WHERE id = $1", receipt.request, json.dumps(reply))
        except Exception as exc:  # noqa: BLE001 - the reply over Redis still tells it
            log.warning("cluster: answer of forwarded request %s not kept: %s",
                        receipt.request, exc)
        return reply


def _mac_key(secret: str) -> bytes:
    return hashlib.sha256(b"forum-live/cluster-forwarding\0" + secret.encode()).digest()


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False
