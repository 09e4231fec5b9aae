"""A pure test world for the domain: an event as the fold of its journal, driven only
through the real decisions, with a clock the test moves and counter ids. No I/O."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from forum_live.config import Limits
from forum_live.domain import setup
from forum_live.domain.commands import Command, EventIn, JoinIn, TopicIn
from forum_live.domain.context import Context
from forum_live.domain.decide import decide
from forum_live.domain.entries import Entry
from forum_live.domain.model import EventState, Role

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


@dataclass
class Scenario:
    """One event as the fold of its journal; every entry it produced is kept in `journal`."""

    limits: Limits = field(default_factory=Limits)
    now: datetime = T0
    state: EventState = field(init=False)
    journal: list[Entry] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.state = EventState(id="ev1", chat_history=self.limits.chat_history,
                                presence_broadcast_max=self.limits.presence_broadcast_max)

    def ctx(self) -> Context:
        return Context(now=self.now, limits=self.limits, make_id=lambda: f"id{next(self._ids)}")

    def commit(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            if not e.sealed:
                e.seq = self.state.seq + 1
                self.journal.append(e)
            self.state.apply(e)
        return entries

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    @classmethod
    def event(cls, topics: tuple[str, ...] = ("Arbeiten 4.0", "Geodaten", "Smart Mobility"),
              **limits: Any) -> "Scenario":
        sc = cls(limits=Limits(**limits))
        sc.create(topics=topics)
        return sc

    def create(self, title: str = "Forum", topics: tuple[str, ...] = ("A", "B")) -> None:
        body = EventIn(title=title, topics=[TopicIn(title=t) for t in topics])
        self.commit([setup.create_event(self.ctx(), body)])

    def person(self, name: str, moderator: bool = False, online: bool = True) -> str:
        return self.join(name, Role.MODERATOR if moderator else Role.PARTICIPANT, online)

    def join(self, name: str, role: Role = Role.PARTICIPANT, online: bool = True) -> str:
        entry = self.commit(setup.register(self.state, self.ctx(), JoinIn(name=name), role))[0]
        pid = str(entry.data["participant"]["id"])
        if online:
            self.commit(setup.presence(self.state, self.ctx(), pid, True))
        return pid

    def do(self, actor: str, cmd: Command | str, **body: Any) -> list[Entry]:
        """Decide and commit a command: a Command, or its type and fields."""
        if isinstance(cmd, str):
            cmd = self.state.features.commands[cmd].model_validate({"type": cmd, **body})
        return self.commit(decide(self.state, self.ctx(), actor, cmd))

    def rebuilt(self) -> EventState:
        fresh = EventState(id=self.state.id, chat_history=self.limits.chat_history,
                           presence_broadcast_max=self.limits.presence_broadcast_max)
        for e in self.journal:
            fresh.apply(e)
        return fresh

    @property
    def topics(self) -> list[str]:
        return list(self.state.topics)


World = Scenario  # the name the spine's domain tests use
