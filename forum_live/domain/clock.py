"""Server time: capabilities with deadlines (breakout rounds, the speaker's time limit,
countdowns) declare a module-level `Clock`; features.Features.install collects it. The runtime sleeps until the earliest deadline and
commits whatever is due; deadlines live in the state, so they survive restarts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from ..config import Limits
from .context import Context
from .entries import Entry
from .model import EventState


@dataclass(frozen=True)
class Clock:
    next_deadline: Callable[[EventState, Limits], datetime | None]
    due: Callable[[EventState, Context], list[Entry]]


def next_deadline(state: EventState, limits: Limits) -> datetime | None:
    times = [t for c in state.features.clocks if (t := c.next_deadline(state, limits)) is not None]
    return min(times) if times else None


def due(state: EventState, ctx: Context) -> list[Entry]:
    out: list[Entry] = []
    for c in state.features.clocks:
        out += c.due(state, ctx)
    return out
