"""Room timers: a countdown ("Kaffeepause", 10 min) or a stopwatch ("Impulsvortrag
Geodaten"), started by moderators, server-timed, visible to the room, surviving restarts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from ..config import Limits
from .clock import Clock
from .commands import Command, Id, register_command
from .context import Context, iso
from .decide import register_decider
from .entries import Audience, Entry
from .errors import Forbidden, Invalid, NotFound
from .model import EventState, Participant, register_apply
from .features import state_part


@register_command
class TimerStart(Command):
    type: Literal["timer.start"]
    room: Id | None = None
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    mode: Literal["countdown", "stopwatch"] = "countdown"
    seconds: Annotated[int, Field(ge=1, le=24 * 3600)] | None = None


@register_command
class TimerStop(Command):
    type: Literal["timer.stop"]
    timer: Id


@dataclass
class Timer:
    id: str
    room: str
    title: str
    mode: str
    started_at: str
    ends_at: str | None
    finished: bool = False

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "room": self.room, "title": self.title, "mode": self.mode,
                "started_at": self.started_at, "ends_at": self.ends_at,
                "finished": self.finished}


def _ts(v: str) -> datetime:
    return datetime.fromisoformat(v.replace("Z", "+00:00"))


@register_decider(TimerStart)
def timer_start(s: EventState, ctx: Context, me: Participant, cmd: TimerStart) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators start timers")
    room = cmd.room or s.room_of(me.id)
    if room not in s.rooms or not s.rooms[room].open:
        raise NotFound(f"room: no open room {room!r}")
    if cmd.mode == "countdown" and not cmd.seconds:
        raise Invalid("seconds: a countdown needs its length")
    ends = iso(ctx.now + timedelta(seconds=cmd.seconds or 0)) if cmd.mode == "countdown" else None
    timer = Timer(ctx.make_id(), room, cmd.title, cmd.mode, ctx.at, ends)
    return [Entry("timer.started", {"timer": timer.public()}, ctx.at, room=room,
                  audience=Audience.ROOM, actor=me.id)]


@register_decider(TimerStop)
def timer_stop(s: EventState, ctx: Context, me: Participant, cmd: TimerStop) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators stop timers")
    t: Timer | None = s.timers.get(cmd.timer)
    if t is None:
        raise NotFound(f"no timer {cmd.timer!r}")
    elapsed = round((ctx.now - _ts(t.started_at)).total_seconds(), 1)
    return [Entry("timer.stopped", {"timer": t.id, "elapsed_s": elapsed}, ctx.at, room=t.room,
                  audience=Audience.ROOM, actor=me.id)]


@register_apply("timer.started")
def _started(s: EventState, e: Entry) -> None:
    d = e.data["timer"]
    s.timers[d["id"]] = Timer(d["id"], d["room"], d["title"], d["mode"], d["started_at"],
                              d["ends_at"])


@register_apply("timer.finished")
def _finished(s: EventState, e: Entry) -> None:
    t = s.timers.get(e.data["timer"])
    if t is not None:
        t.finished = True


@register_apply("timer.stopped")
def _stopped(s: EventState, e: Entry) -> None:
    s.timers.pop(e.data["timer"], None)


def _next(s: EventState, limits: Limits) -> datetime | None:
    times = [_ts(t.ends_at) for t in s.timers.values() if t.ends_at and not t.finished]
    return min(times) if times else None


def _due(s: EventState, ctx: Context) -> list[Entry]:
    return [Entry("timer.finished", {"timer": t.id, "title": t.title}, ctx.at, room=t.room,
                  audience=Audience.ROOM)
            for t in s.timers.values() if t.ends_at and not t.finished and _ts(t.ends_at) <= ctx.now]


CLOCK = Clock(_next, _due)
_part_timers = state_part("timers")(lambda s, pid: [t.public() for t in s.timers.values()
                                        if t.room == s.room_of(pid)])
