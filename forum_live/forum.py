"""The registry of events: creates them, loads them on first use, hands out runtimes."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from datetime import datetime
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from .config import Settings
from .domain import setup
from .domain.commands import EventIn, JoinIn
from .domain.context import Context, new_id
from .domain.features import Features, domain_features
from .domain.errors import Forbidden, NotFound
from .domain.model import Role
from .live import EventRuntime
from .store import Store
from .transport import redact
from .transport.auth import Auth, TokenClaims

log = logging.getLogger(__name__)

INVALID_INVITATION = "a valid invitation key is needed to join"
CLOSE_REVOKED = 4401  # as for any token that is no longer valid: join again


@dataclass
class Forum:
    settings: Settings
    store: Store
    auth: Auth
    runtimes: dict[str, EventRuntime] = field(default_factory=dict)
    _loading: dict[str, asyncio.Lock] = field(default_factory=dict)
    closing: bool = False
    on_runtime: list[Callable[[EventRuntime], None]] = field(default_factory=list)  # on load
    unloads: int = 0  # events unloaded after their idle grace, for tests and benchmarks
    on_unload: list[Callable[[EventRuntime], None]] = field(default_factory=list)  # after it
    features: Features = field(default_factory=domain_features)  # create_app sets the app's
    _sweeper: asyncio.Task[None] | None = None
    # a cluster node (issue 14, forum_live/cluster) loads an event as its owner or follower
    loader: Callable[[str], Awaitable[EventRuntime]] | None = None

    async def create_event(self, body: EventIn) -> EventRuntime:
        ctx = Context.current(self.settings.limits)
        event_id = new_id(12)
        first = setup.create_event(ctx, body)
        first.seq = 1
        row = {"id": event_id, "title": body.title, "created_at": ctx.at,
               "participant_key": new_id(18), "moderator_key": new_id(18), "status": "open"}
        await self.store.create_event(row, first)
        return await self.runtime(event_id)

    async def runtime(self, event_id: str) -> EventRuntime:
        rt = self.runtimes.get(event_id)
        if rt is not None:
            rt.touch()
            return rt
        lock = self._loading.setdefault(event_id, asyncio.Lock())
        async with lock:
            rt = self.runtimes.get(event_id)
            if rt is None:
                if len(event_id) > 64 or await self.store.event_row(event_id) is None:
                    raise NotFound("no such event")
                rt = (await self.loader(event_id) if self.loader is not None  # a cluster
                      else await EventRuntime.load(self.store, event_id, self.settings.limits,
                                                   features=self.features))
                self.runtimes[event_id] = rt
                # anonymous polls closed before a crash may not have been resealed yet
                closed = [p.id for p in getattr(rt.state, "polls", {}).values()
                          if p.anonymous and not p.open]
                if closed:
                    rt.tasks.add(task := asyncio.get_running_loop().create_task(
                        self._reseal(event_id, closed), name=f"reseal-{event_id}"))
                    task.add_done_callback(rt.tasks.discard)
                for hook in self.on_runtime:
                    hook(rt)
        return rt

    async def join(self, event_id: str, body: JoinIn) -> tuple[str, dict[str, str]]:
        """Register a participant with an invite key; the key decides the role."""
        row = await self.store.event_row(event_id) if len(event_id) <= 64 else None
        key = (body.key or "").encode()
        # An unknown event and a wrong key answer alike: event ids cannot be probed.
        if row is None or not key:
            raise Forbidden(INVALID_INVITATION)
        if hmac.compare_digest(key, row["moderator_key"].encode()):
            role = Role.MODERATOR
        elif hmac.compare_digest(key, row["participant_key"].encode()):
            role = Role.PARTICIPANT
        else:
            raise Forbidden(INVALID_INVITATION)
        rt = await self.runtime(event_id)
        register = getattr(rt, "register", None)  # a cluster follower asks the owner
        entries = (await register(body, role) if register is not None
                   else await rt.write(lambda s, ctx: setup.register(s, ctx, body, role)))
        participant = entries[0].data["participant"]
        token = self.auth.issue(event_id, participant["id"], int(row.get("token_gen") or 0))
        return token, {"id": participant["id"], "name": participant["name"],
                       "role": participant["role"], "organization": participant["organization"],
                       "standing": participant["standing"]}

    async def _reseal(self, event_id: str, poll_ids: list[str]) -> None:
        await self.store.reseal(event_id, poll_ids)

    async def verify_token(self, token: str, event_id: str) -> TokenClaims | None:
        """A token that lets its holder in now: signed for this event and its current token
        generation (not revoked), younger than `token_max_age_s`, and, once the event has
        ended, not more than `token_after_end_s` past its end."""
        if not token or len(token) > 1024 or len(event_id) > 64:
            return None
        row = await self.store.event_row(event_id)
        if row is None:
            return None
        claims = self.auth.verify(token, event_id, int(row.get("token_gen") or 0))
        if claims is None:
            return None
        rt = self.runtimes.get(event_id) or await self.runtime(event_id)
        ended = rt.state.ended_at
        if ended is not None:
            end = datetime.fromisoformat(ended.replace("Z", "+00:00")).timestamp()
            if time.time() > end + self.settings.limits.token_after_end_s:
                return None
        return claims

    async def revoke_tokens(self, event_id: str) -> dict[str, str]:
        """New invite keys and a new token generation: every link and token handed out so
        far stops working; open sockets of the event are closed (4401)."""
        rt = await self.runtime(event_id)  # 404 for no such event
        await self.store.revoke_tokens(event_id, new_id(18), new_id(18))
        await rt.close_all(CLOSE_REVOKED, "the organizer revoked every token of this event")
        row = await self.store.event_row(event_id)
        assert row is not None
        return {"participant_key": row["participant_key"],
                "moderator_key": row["moderator_key"], **self.links(row)}

    def links(self, row: dict[str, str]) -> dict[str, str]:
        """Invitation links with the key in the fragment: browsers never send it, so no
        server or proxy log sees it (contract §9)."""
        base = self.settings.base_url
        return {"participant_url": f"{base}/e/{row['id']}#key={row['participant_key']}",
                "moderator_url": f"{base}/e/{row['id']}#key={row['moderator_key']}"}

    async def start(self) -> None:
        """Load the open events, so their breakout timers run (and catch up) right away;
        each from its snapshot and the journal after it. Ended events are not loaded: the
        start reads their index rows only. Those without sockets and deadlines are
        unloaded again after `idle_unload_s`."""
        redact.install()  # no token or key in uvicorn's access log, whoever started it
        for row in await self.store.list_events():
            if row["status"] == "open":
                await self.runtime(row["id"])
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="unload-idle")

    # -- unloading (issue 12) ---------------------------------------------------------------
    async def unload_idle(self) -> list[str]:
        """Unload every event that nothing has kept loaded for `idle_unload_s` (see
        `EventRuntime.idle_for`): its tasks end, a snapshot of its state is saved, and the
        next `runtime()` (a hello, a join, an HTTP request) loads it again."""
        grace = self.settings.limits.idle_unload_s
        done = []
        for event_id, rt in list(self.runtimes.items()):
            idle = rt.idle_for()
            if idle is None or idle < grace:
                continue
            lock = self._loading.setdefault(event_id, asyncio.Lock())
            async with lock:  # a load of the same event waits: it reads the new snapshot
                idle = rt.idle_for()
                if self.runtimes.get(event_id) is not rt or idle is None or idle < grace:
                    continue
                del self.runtimes[event_id]  # no await between the check and this
                await rt.unload()
                for hook in self.on_unload:
                    hook(rt)
            self.unloads += 1
            done.append(event_id)
            log.info("event %s unloaded after %.0f s idle (seq %d)", event_id, idle,
                     rt.state.seq)
        return done

    async def _sweep(self) -> None:
        period = min(30.0, max(0.05, self.settings.limits.idle_unload_s / 4))
        while not self.closing:
            await asyncio.sleep(period)
            try:
                await self.unload_idle()
            except Exception:
                log.exception("unloading idle events failed")

    async def close_sockets(self, code: int = 1001, reason: str = "server shutting down") -> None:
        self.closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        for rt in list(self.runtimes.values()):
            await rt.close_all(code, reason)
        for rt in list(self.runtimes.values()):  # the next start folds only what follows
            await rt.save_snapshot()
