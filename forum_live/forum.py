"""The registry of events: creates them, loads them on first use, hands out runtimes."""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass, field
from typing import Callable

from .config import Settings
from .domain import setup
from .domain.commands import EventIn, JoinIn
from .domain.context import Context, new_id
from .domain.errors import Forbidden, NotFound
from .domain.model import Role
from .live import EventRuntime
from .store import Store
from .transport.auth import Auth

log = logging.getLogger(__name__)


@dataclass
class Forum:
    settings: Settings
    store: Store
    auth: Auth
    runtimes: dict[str, EventRuntime] = field(default_factory=dict)
    _loading: dict[str, asyncio.Lock] = field(default_factory=dict)
    closing: bool = False
    on_runtime: list[Callable[[EventRuntime], None]] = field(default_factory=list)  # on load

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
            return rt
        lock = self._loading.setdefault(event_id, asyncio.Lock())
        async with lock:
            rt = self.runtimes.get(event_id)
            if rt is None:
                if len(event_id) > 64 or await self.store.event_row(event_id) is None:
                    raise NotFound("no such event")
                rt = await EventRuntime.load(self.store, event_id, self.settings.limits)
                self.runtimes[event_id] = rt
                for hook in self.on_runtime:
                    hook(rt)
        return rt

    async def join(self, event_id: str, body: JoinIn) -> tuple[str, dict[str, str]]:
        """Register a participant with an invite key; the key decides the role."""
        row = await self.store.event_row(event_id)
        if row is None:
            raise NotFound("no such event")
        key = (body.key or "").encode()
        if key and hmac.compare_digest(key, row["moderator_key"].encode()):
            role = Role.MODERATOR
        elif key and hmac.compare_digest(key, row["participant_key"].encode()):
            role = Role.PARTICIPANT
        else:
            raise Forbidden("a valid invitation key is needed to join")
        rt = await self.runtime(event_id)
        entries = setup.register(rt.state, Context.current(self.settings.limits), body, role)
        await rt.commit(entries)
        participant = entries[0].data["participant"]
        token = self.auth.issue(event_id, participant["id"])
        return token, {"id": participant["id"], "name": participant["name"],
                       "role": participant["role"], "organization": participant["organization"],
                       "standing": participant["standing"]}

    def links(self, row: dict[str, str]) -> dict[str, str]:
        base = self.settings.base_url
        return {"participant_url": f"{base}/e/{row['id']}?key={row['participant_key']}",
                "moderator_url": f"{base}/e/{row['id']}?key={row['moderator_key']}"}

    async def start(self) -> None:
        """Load the open events, so their breakout timers run (and catch up) right away."""
        for row in await self.store.list_events():
            if row["status"] == "open":
                await self.runtime(row["id"])

    async def close_sockets(self, code: int = 1001, reason: str = "server shutting down") -> None:
        self.closing = True
        for rt in list(self.runtimes.values()):
            await rt.close_all(code, reason)
