"""Build event states through the real decisions and fold, with a controllable clock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from forum_live.config import Limits
from forum_live.domain import setup
from forum_live.domain.commands import CLIENT_COMMANDS, EventIn, JoinIn, TopicIn
from forum_live.domain.context import Context
from forum_live.domain.decide import decide
from forum_live.domain.entries import Entry
from forum_live.domain.model import EventState, Role

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


@dataclass
class Scenario:
    """A journal and its fold, driven only through decisions, like the server does."""

    limits: Limits = field(default_factory=Limits)
    now: datetime = T0
    state: EventState = field(default_factory=lambda: EventState(id="ev"))
    journal: list[Entry] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def ctx(self) -> Context:
        return Context(now=self.now, limits=self.limits, make_id=lambda: f"id{next(self._ids)}")

    def commit(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            e.seq = self.state.seq + 1
            self.state.apply(e)
            self.journal.append(e)
        return entries

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    @classmethod
    def event(cls, topics: tuple[str, ...] = ("Arbeiten 4.0", "Geodaten", "Smart Mobility"),
              **limits: Any) -> "Scenario":
        sc = cls(limits=Limits(**limits))
        body = EventIn(title="Forum", topics=[TopicIn(title=t) for t in topics])
        sc.commit([setup.create_event(sc.ctx(), body)])
        return sc

    def person(self, name: str, moderator: bool = False, online: bool = True) -> str:
        role = Role.MODERATOR if moderator else Role.PARTICIPANT
        e = self.commit(setup.register(self.state, self.ctx(), JoinIn(name=name), role))[0]
        pid = e.data["participant"]["id"]
        if online:
            self.commit(setup.presence(self.state, self.ctx(), pid, True))
        return pid  # type: ignore[no-any-return]

    def do(self, actor: str, type_: str, **body: Any) -> list[Entry]:
        cmd = CLIENT_COMMANDS[type_].model_validate({"type": type_, **body})
        return self.commit(decide(self.state, self.ctx(), actor, cmd))

    def rebuilt(self) -> EventState:
        fresh = EventState(id=self.state.id)
        for e in self.journal:
            fresh.apply(e)
        return fresh

    @property
    def topics(self) -> list[str]:
        return list(self.state.topics)
