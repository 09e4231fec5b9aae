"""A pure test world for the domain: an event as the fold of its entries, a fixed clock,
counter ids. No I/O."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from forum_live.config import Limits
from forum_live.domain import setup
from forum_live.domain.commands import Command, EventIn, JoinIn, TopicIn
from forum_live.domain.context import Context
from forum_live.domain.decide import decide
from forum_live.domain.entries import Entry
from forum_live.domain.model import EventState, Role

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=timezone.utc)


@dataclass
class World:
    """One event as the fold of its journal; every entry it produced is kept in `journal`."""

    limits: Limits = field(default_factory=Limits)
    state: EventState = field(init=False)
    journal: list[Entry] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _tick: int = 0

    def __post_init__(self) -> None:
        self.state = EventState(id="ev1", chat_history=self.limits.chat_history)

    def ctx(self) -> Context:
        self._tick += 1
        return Context(now=T0 + timedelta(seconds=self._tick), limits=self.limits,
                       make_id=lambda: f"id{next(self._ids)}")

    def commit(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            e.seq = self.state.seq + 1
            self.state.apply(e)
            self.journal.append(e)
        return entries

    def create(self, title: str = "Forum", topics: tuple[str, ...] = ("A", "B")) -> None:
        body = EventIn(title=title, topics=[TopicIn(title=t) for t in topics])
        self.commit([setup.create_event(self.ctx(), body)])

    def join(self, name: str, role: Role = Role.PARTICIPANT, online: bool = True) -> str:
        entry = self.commit(setup.register(self.state, self.ctx(), JoinIn(name=name), role))[0]
        pid = entry.data["participant"]["id"]
        if online:
            self.commit(setup.presence(self.state, self.ctx(), pid, True))
        return str(pid)

    def do(self, actor: str, cmd: Command) -> list[Entry]:
        return self.commit(decide(self.state, self.ctx(), actor, cmd))
