"""The speaker queue: raised hands become a queue run by moderators. Giving the floor takes
the hand down; an optional time limit shows a countdown to all and ends with a gentle
signal (`floor.time_up`), not a cut. Speaking time per person is kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from ..config import Limits
from .clock import Clock
from .commands import Command, Id, register_command
from .context import Context, iso
from .decide import register_decider
from .entries import Entry
from .errors import Conflict, Forbidden, NotFound
from .model import EventState, Participant, register_apply
from .features import state_part


@register_command
class FloorGive(Command):
    type: Literal["floor.give"]
    participant: Id | None = None  # default: the first raised hand in the moderator's room
    limit_s: Annotated[int, Field(ge=10, le=3600)] | None = None


@register_command
class FloorEnd(Command):
    type: Literal["floor.end"]
    room: Id | None = None


@register_command
class HandMove(Command):
    """Moderators reorder the queue: put `participant` at `position` (0 = next)."""
    type: Literal["hand.move"]
    participant: Id
    position: Annotated[int, Field(ge=0, le=10000)]


@dataclass
class Floor:
    participant: str
    room: str
    since: str
    until: str | None
    limit_s: int | None
    time_up: bool = False

    def public(self) -> dict[str, Any]:
        return {"participant": self.participant, "room": self.room, "since": self.since,
                "until": self.until, "limit_s": self.limit_s, "time_up": self.time_up}


def _ts(v: str) -> datetime:
    return datetime.fromisoformat(v.replace("Z", "+00:00"))


def _end(s: EventState, ctx: Context, room: str, actor: str | None) -> list[Entry]:
    f: Floor | None = s.floor.get(room)
    if f is None:
        return []
    spoke = max(0.0, (ctx.now - _ts(f.since)).total_seconds())
    return [Entry("floor.ended", {"participant": f.participant, "spoke_s": round(spoke, 1)},
                  ctx.at, room=room, actor=actor)]


@register_decider(FloorGive)
def floor_give(s: EventState, ctx: Context, me: Participant, cmd: FloorGive) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators give the floor")
    room = s.room_of(me.id)
    if cmd.participant is None:
        hands = s.hands_in(room)
        if not hands:
            raise Conflict("no raised hands in this room")
        target = hands[0].participant
    else:
        target = cmd.participant
        if target not in s.participants:
            raise NotFound(f"no participant {target!r}")
        room = s.room_of(target)
    out = _end(s, ctx, room, me.id)
    if s.hand_of(target) is not None:
        out.append(Entry("hand.lowered", {"participant": target, "reason": "floor"}, ctx.at,
                         room=s.hand_of(target).room, actor=me.id))  # type: ignore[union-attr]
    until = iso(ctx.now + timedelta(seconds=cmd.limit_s)) if cmd.limit_s else None
    out.append(Entry("floor.given", {"participant": target, "name": s.participants[target].name,
                                     "since": ctx.at, "until": until, "limit_s": cmd.limit_s},
                     ctx.at, room=room, actor=me.id))
    return out


@register_decider(FloorEnd)
def floor_end(s: EventState, ctx: Context, me: Participant, cmd: FloorEnd) -> list[Entry]:
    room = cmd.room or s.room_of(me.id)
    f: Floor | None = s.floor.get(room)
    if f is None:
        raise Conflict("nobody has the floor here")
    if not me.is_moderator and f.participant != me.id:
        raise Forbidden("only the speaker or a moderator ends a turn")
    return _end(s, ctx, room, me.id)


@register_decider(HandMove)
def hand_move(s: EventState, ctx: Context, me: Participant, cmd: HandMove) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators reorder the queue")
    hand = s.hand_of(cmd.participant)
    if hand is None:
        raise NotFound("that person has no raised hand")
    order = [h.participant for h in s.hands_in(hand.room) if h.participant != cmd.participant]
    order.insert(min(cmd.position, len(order)), cmd.participant)
    return [Entry("hands.reordered", {"order": order}, ctx.at, room=hand.room, actor=me.id)]


# ---- the fold -------------------------------------------------------------------------
@register_apply("floor.given")
def _given(s: EventState, e: Entry) -> None:
    d = e.data
    s.floor[e.room or s.plenary_room] = Floor(d["participant"], e.room or s.plenary_room,
                                              d["since"], d["until"], d["limit_s"])


@register_apply("floor.ended")
def _ended(s: EventState, e: Entry) -> None:
    s.floor.pop(e.room or s.plenary_room, None)
    p = s.participants.get(e.data["participant"])
    if p is not None:
        p.spoke_s += float(e.data["spoke_s"])


@register_apply("floor.time_up")
def _time_up(s: EventState, e: Entry) -> None:
    f = s.floor.get(e.room or s.plenary_room)
    if f is not None:
        f.time_up = True


@register_apply("hands.reordered")
def _reordered(s: EventState, e: Entry) -> None:
    room = e.room or s.plenary_room
    pos = {pid: i for i, pid in enumerate(e.data["order"])}
    in_room = sorted((h for h in s.hands if h.room == room and h.participant in pos),
                     key=lambda h: pos[h.participant])
    it = iter(in_room)
    s.hands = [next(it) if (h.room == room and h.participant in pos) else h for h in s.hands]


# ---- the clock ------------------------------------------------------------------------
def _next(s: EventState, limits: Limits) -> datetime | None:
    times = [_ts(f.until) for f in s.floor.values() if f.until and not f.time_up]
    return min(times) if times else None


def _due(s: EventState, ctx: Context) -> list[Entry]:
    return [Entry("floor.time_up", {"participant": f.participant}, ctx.at, room=f.room)
            for f in s.floor.values() if f.until and not f.time_up and _ts(f.until) <= ctx.now]


CLOCK = Clock(_next, _due)
_part_floor = state_part("floor")(lambda s, pid: [
    {**f.public(), "name": s.participants[f.participant].name if f.participant in s.participants
     else None} for f in s.floor.values()])
