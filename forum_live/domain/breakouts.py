"""Breakout rooms per impulse topic: opening, placing people, help, the timer, closing.

The timer is the server's: `ends_at` is in the journal, and `due()` says what the clock
demands now (the one-minute warning, the close). A close that fell due while the server was
down is simply due at the next start.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from .commands import Body, Command, Id, register_command
from .context import Context, iso
from .decide import register_decider
from .entries import Audience, Entry
from .errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from .model import (AssignMode, BreakoutRound, EventState, Participant, Room, RoomKind,
                    register_apply)
from .clock import Clock
from .features import state_part, on_online as declare_on_online
from .media import listeners

MAX_ROOMS = 50
MAX_DURATION_S = 24 * 3600


# ---- commands -------------------------------------------------------------------------
class RoomSpec(Body):
    topic: Id | None = None
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=200)] | None = None
    capacity: Annotated[int, Field(ge=1, le=10000)] | None = None


@register_command
class BreakoutsOpen(Command):
    type: Literal["breakouts.open"]
    rooms: Annotated[list[RoomSpec], Field(min_length=1, max_length=MAX_ROOMS)] | None = None
    per_topic: Annotated[int, Field(ge=1, le=20)] | None = None
    assign: Literal["self", "auto", "manual"] = "self"
    assignments: dict[Id, Annotated[int, Field(ge=0)]] | None = None
    duration_s: Annotated[int, Field(ge=1, le=MAX_DURATION_S)] | None = None


@register_command
class RoomEnter(Command):
    type: Literal["room.enter"]
    room: Id


@register_command
class BreakoutsMove(Command):
    """Extension: a moderator places someone (manual mode, or any time)."""
    type: Literal["breakouts.move"]
    participant: Id
    room: Id


@register_command
class BreakoutsBroadcast(Command):
    type: Literal["breakouts.broadcast"]
    text: str


@register_command
class BreakoutsHelp(Command):
    type: Literal["breakouts.help"]


@register_command
class BreakoutsClose(Command):
    type: Literal["breakouts.close"]


@register_command
class BreakoutsExtend(Command):
    """Extension: add (or with a negative value take) time from the running round, or with
    `room` from that one room only (BigBlueButton's "extend" per room)."""
    type: Literal["breakouts.extend"]
    seconds: Annotated[int, Field(ge=-MAX_DURATION_S, le=MAX_DURATION_S)]
    room: Id | None = None


@register_command
class BreakoutsCloseRoom(Command):
    """Extension: close one breakout room; its people go back to the plenary, the other
    rooms go on. Closing the last open room closes the round."""
    type: Literal["breakouts.close_room"]
    room: Id


# ---- helpers --------------------------------------------------------------------------
def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _moved(s: EventState, ctx: Context, pid: str, to: str, actor: str | None,
           reason: str) -> list[Entry]:
    """participant.moved, lowering the mover's hand first (a hand belongs to a room)."""
    frm = s.room_of(pid)
    if frm == to:
        return []
    out = []
    hand = s.hand_of(pid)
    if hand is not None:
        out.append(Entry("hand.lowered", {"participant": pid, "reason": "moved"}, ctx.at,
                         room=hand.room, actor=actor))
    # In a large audience a move goes to the person moved and the moderators only (their
    # room mates learn of it from the room's state), not to every socket of the event.
    crowd = s.online_count >= ctx.limits.presence_broadcast_max
    mover = s.participants.get(pid)
    quiet = crowd and mover is not None and not mover.is_moderator
    out.append(Entry("participant.moved", {"participant": pid, "from": frm, "to": to,
                                           "reason": reason}, ctx.at, actor=actor,
                     audience=Audience.PARTICIPANT if quiet else Audience.EVENT,
                     to=pid if quiet else None))
    return out


def occupancy(s: EventState, rooms: list[str]) -> dict[str, int]:
    """Seats taken per room: everyone placed there but moderators (who hop freely)."""
    counts = {r: 0 for r in rooms}
    for p in s.participants.values():
        if not p.is_moderator and p.room in counts:
            counts[p.room] += 1
    return counts


def has_space(s: EventState, room: Room, counts: dict[str, int] | None = None) -> bool:
    if room.capacity is None:
        return True
    taken = (counts or occupancy(s, [room.id]))[room.id]
    return taken < room.capacity


def least_full(s: EventState, rooms: list[str], counts: dict[str, int]) -> str | None:
    """The open room with the fewest people and a free seat (first one on ties)."""
    best = None
    for rid in rooms:
        if not s.rooms[rid].open or not has_space(s, s.rooms[rid], counts):
            continue
        if best is None or counts[rid] < counts[best]:
            best = rid
    return best


def auto_place(s: EventState, rooms: list[str], people: list[str]) -> dict[str, str]:
    """Balanced placement: each person, in order, into the currently least-full room."""
    counts = occupancy(s, rooms)
    placed = {}
    for pid in people:
        rid = least_full(s, rooms, counts)
        if rid is None:
            break
        placed[pid] = rid
        counts[rid] += 1
    return placed


def _require_moderator(me: Participant) -> None:
    if not me.is_moderator:
        raise Forbidden("only moderators run breakout rooms")


def _require_open(s: EventState) -> BreakoutRound:
    rnd = s.breakout
    if rnd is None:
        raise Conflict("no breakout rooms are open")
    return rnd


def open_rooms(s: EventState, rnd: BreakoutRound) -> list[str]:
    """The round's rooms not closed on their own (breakouts.room_closed)."""
    return [r for r in rnd.rooms if s.rooms[r].open]


def room_ends_at(rnd: BreakoutRound, room: str) -> str | None:
    """When one room of the round ends: its own end once extended alone, else the round's."""
    return rnd.room_ends.get(room, rnd.ends_at)


def _require_round_room(s: EventState, rnd: BreakoutRound, room: str) -> None:
    if room not in rnd.rooms:
        raise NotFound(f"room: {room!r} is not a breakout room of this round")
    if not s.rooms[room].open:
        raise Conflict("room: this breakout room is already closed")


# ---- decisions ------------------------------------------------------------------------
@register_decider(BreakoutsOpen)
def breakouts_open(s: EventState, ctx: Context, me: Participant, cmd: BreakoutsOpen
                   ) -> list[Entry]:
    _require_moderator(me)
    if s.breakout is not None:
        raise Conflict("breakout rooms are already open; close them first")
    specs: list[dict[str, object]] = []
    if cmd.rooms:
        for i, r in enumerate(cmd.rooms):
            if r.topic is not None and r.topic not in s.topics:
                raise NotFound(f"rooms.{i}.topic: no topic {r.topic!r}")
            if r.topic is None and not r.title:
                raise Invalid(f"rooms.{i}: a room needs a topic or a title")
            title = r.title or s.topics[r.topic].title  # type: ignore[index]
            specs.append({"topic": r.topic, "title": title, "capacity": r.capacity})
    else:
        if not s.topics:
            raise Invalid("rooms: this event has no topics; list the rooms")
        n = cmd.per_topic or 1
        for t in s.topics.values():
            for k in range(n):
                title = t.title if n == 1 else f"{t.title} ({k + 1})"
                specs.append({"topic": t.id, "title": title, "capacity": None})
    if len(specs) > MAX_ROOMS:
        raise Invalid(f"rooms: at most {MAX_ROOMS}")
    rooms = [{"id": ctx.make_id(), "kind": RoomKind.BREAKOUT.value, **sp} for sp in specs]
    ids = [str(r["id"]) for r in rooms]
    ends_at = iso(ctx.now + timedelta(seconds=cmd.duration_s)) if cmd.duration_s else None
    number = len(s.rounds) + 1
    opened = Entry("breakouts.opened", {"round": number, "rooms": rooms, "assign": cmd.assign,
                                        "ends_at": ends_at}, ctx.at, actor=me.id)
    # Placement is decided against the state as it will be once the rooms exist.
    preview = _with_rooms(s, rooms)
    people = [p.id for p in s.participants.values() if not p.is_moderator and p.online]
    placed: dict[str, str] = {}
    if cmd.assign == AssignMode.AUTO.value:
        placed = auto_place(preview, ids, people)
    elif cmd.assign == AssignMode.MANUAL.value and cmd.assignments:
        counts = {r: 0 for r in ids}
        for pid, idx in cmd.assignments.items():
            if pid not in s.participants:
                raise NotFound(f"assignments: no participant {pid!r}")
            if idx >= len(ids):
                raise Invalid(f"assignments.{pid}: no room with index {idx}")
            rid = ids[idx]
            cap = rooms[idx]["capacity"]
            if cap is not None and counts[rid] >= cap:  # type: ignore[operator]
                raise Conflict(f"assignments: room {idx} is over its capacity")
            counts[rid] += 1
            placed[pid] = rid
    out = [opened]
    for pid, rid in placed.items():
        out += _moved(s, ctx, pid, rid, me.id, "assigned")
    return out


def _with_rooms(s: EventState, rooms: list[dict[str, object]]) -> EventState:
    """A shallow view of `s` with the new rooms added, for placement before they exist."""
    view = EventState.__new__(EventState)
    view.__dict__.update(s.__dict__)
    view.rooms = dict(s.rooms)
    for r in rooms:
        view.rooms[str(r["id"])] = Room(str(r["id"]), str(r["title"]), RoomKind.BREAKOUT,
                                        r.get("topic"), r.get("capacity"))  # type: ignore[arg-type]
    return view


@register_decider(RoomEnter)
def room_enter(s: EventState, ctx: Context, me: Participant, cmd: RoomEnter) -> list[Entry]:
    room = s.rooms.get(cmd.room)
    if room is None or not room.open:
        raise NotFound(f"no open room {cmd.room!r}")
    if s.room_of(me.id) == room.id:
        return []
    rnd = s.breakout
    out: list[Entry] = []
    if me.is_moderator:
        out = _moved(s, ctx, me.id, room.id, me.id, "entered")
        if rnd is not None and room.id in rnd.help:
            out.append(Entry("help.cleared", {"room": room.id, "by": me.id}, ctx.at,
                             room=room.id, audience=Audience.MODERATORS, actor=me.id))
        return out
    if rnd is None or rnd.assign != AssignMode.SELF:
        raise Forbidden("a moderator assigns the rooms")
    if room.kind is RoomKind.BREAKOUT and not has_space(s, room):
        raise Conflict(f"room {room.title!r} is full")
    return _moved(s, ctx, me.id, room.id, me.id, "chose")


@register_decider(BreakoutsMove)
def breakouts_move(s: EventState, ctx: Context, me: Participant, cmd: BreakoutsMove
                   ) -> list[Entry]:
    _require_moderator(me)
    target = s.participants.get(cmd.participant)
    if target is None:
        raise NotFound(f"no participant {cmd.participant!r}")
    room = s.rooms.get(cmd.room)
    if room is None or not room.open:
        raise NotFound(f"no open room {cmd.room!r}")
    if (room.kind is RoomKind.BREAKOUT and not target.is_moderator
            and s.room_of(target.id) != room.id and not has_space(s, room)):
        raise Conflict(f"room {room.title!r} is full")
    return _moved(s, ctx, target.id, room.id, me.id, "placed")


@register_decider(BreakoutsBroadcast)
def breakouts_broadcast(s: EventState, ctx: Context, me: Participant, cmd: BreakoutsBroadcast
                        ) -> list[Entry]:
    _require_moderator(me)
    text = cmd.text.strip()
    if not text:
        raise Invalid("text: must not be empty")
    if len(text) > ctx.limits.text_max:
        raise TooLarge(f"text: at most {ctx.limits.text_max} characters")
    return [Entry("broadcast", {"text": text, "from": {"id": me.id, "name": me.name}}, ctx.at,
                  actor=me.id)]


@register_decider(BreakoutsHelp)
def breakouts_help(s: EventState, ctx: Context, me: Participant, cmd: BreakoutsHelp
                   ) -> list[Entry]:
    rnd = _require_open(s)
    room = s.room_of(me.id)
    if room not in rnd.rooms:
        raise Forbidden("help can be called from a breakout room")
    if room in rnd.help:
        return []
    return [Entry("help.requested", {"room": room, "participant": me.id, "name": me.name},
                  ctx.at, room=room, audience=Audience.MODERATORS, actor=me.id)]


def _close_room(s: EventState, ctx: Context, rnd: BreakoutRound, room: str,
                actor: str | None, reason: str) -> list[Entry]:
    """One room closes: its people go back to the plenary (the last open room: the round)."""
    if open_rooms(s, rnd) == [room]:
        return _close(s, ctx, actor, reason)
    out = [Entry("breakouts.room_closed", {"round": rnd.number, "room": room,
                                           "reason": reason}, ctx.at, actor=actor)]
    for p in s.participants.values():
        if s.room_of(p.id) == room:
            out += _moved(s, ctx, p.id, s.plenary_room, actor, "closed")
    return out


def _close(s: EventState, ctx: Context, actor: str | None, reason: str) -> list[Entry]:
    rnd = _require_open(s)
    out = [Entry("breakouts.closed", {"round": rnd.number, "reason": reason}, ctx.at,
                 actor=actor)]
    rooms = set(rnd.rooms)
    for p in s.participants.values():
        if s.room_of(p.id) in rooms:
            out += _moved(s, ctx, p.id, s.plenary_room, actor, "closed")
    return out


@register_decider(BreakoutsClose)
def breakouts_close(s: EventState, ctx: Context, me: Participant, cmd: BreakoutsClose
                    ) -> list[Entry]:
    _require_moderator(me)
    return _close(s, ctx, me.id, "moderator")


@register_decider(BreakoutsCloseRoom)
def breakouts_close_room(s: EventState, ctx: Context, me: Participant,
                         cmd: BreakoutsCloseRoom) -> list[Entry]:
    _require_moderator(me)
    rnd = _require_open(s)
    _require_round_room(s, rnd, cmd.room)
    return _close_room(s, ctx, rnd, cmd.room, me.id, "moderator")


def _shifted(ts: str | None, now: datetime, seconds: int) -> datetime:
    base = _parse(ts) if ts else now
    return max(base + timedelta(seconds=seconds), now)


@register_decider(BreakoutsExtend)
def breakouts_extend(s: EventState, ctx: Context, me: Participant, cmd: BreakoutsExtend
                     ) -> list[Entry]:
    _require_moderator(me)
    rnd = _require_open(s)
    if cmd.room is not None:
        _require_round_room(s, rnd, cmd.room)
        ends = _shifted(room_ends_at(rnd, cmd.room), ctx.now, cmd.seconds)
        return [Entry("breakouts.room_extended", {"round": rnd.number, "room": cmd.room,
                                                  "ends_at": iso(ends)}, ctx.at, actor=me.id)]
    ends = _shifted(rnd.ends_at, ctx.now, cmd.seconds)
    data: dict[str, object] = {"round": rnd.number, "ends_at": iso(ends)}
    # rooms extended on their own move by the same time (they keep their head start)
    own = {r: iso(_shifted(t, ctx.now, cmd.seconds)) for r, t in rnd.room_ends.items()
           if s.rooms[r].open}
    if own:
        data["rooms"] = own
    return [Entry("breakouts.extended", data, ctx.at, actor=me.id)]


def on_online(s: EventState, ctx: Context, pid: str) -> list[Entry]:
    """A late joiner in auto mode goes to the least-full room."""
    rnd = s.breakout
    p = s.participants[pid]
    if rnd is None or rnd.assign != AssignMode.AUTO or p.is_moderator:
        return []
    if s.room_of(pid) != s.plenary_room:
        return []
    placed = auto_place(s, open_rooms(s, rnd), [pid])
    return _moved(s, ctx, pid, placed[pid], None, "assigned") if pid in placed else []


declare_on_online(on_online)


# ---- the clock ------------------------------------------------------------------------
def _deadlines(s: EventState, rnd: BreakoutRound, warning_s: float
               ) -> list[tuple[datetime, str | None, datetime]]:
    """(when, room or None for the round's warning/close, that room's end) per pending
    deadline: each open room's close at its end, the round's one warning (rooms that run on
    the round's time) and each room's own warning once extended alone."""
    out: list[tuple[datetime, str | None, datetime]] = []
    shared = False
    for r in open_rooms(s, rnd):
        ts = room_ends_at(rnd, r)
        if ts is None:
            continue
        ends = _parse(ts)
        out.append((ends, r, ends))
        if warning_s <= 0:
            continue
        if r in rnd.room_ends:
            if r not in rnd.room_warned:
                out.append((ends - timedelta(seconds=warning_s), r, ends))
        else:
            shared = True
    if shared and not rnd.warned and rnd.ends_at is not None:
        ends = _parse(rnd.ends_at)
        out.append((ends - timedelta(seconds=warning_s), None, ends))
    return out


def next_deadline(s: EventState, warning_s: float) -> datetime | None:
    rnd = s.breakout
    if rnd is None:
        return None
    times = [t for t, _, _ in _deadlines(s, rnd, warning_s)]
    return min(times) if times else None


def due(s: EventState, ctx: Context, warning_s: float) -> list[Entry]:
    """What the clock demands at ctx.now: the warnings, or the automatic closes (one room
    whose own time ran out, or the round once every open room's time ran out)."""
    rnd = s.breakout
    if rnd is None:
        return []
    rooms = open_rooms(s, rnd)
    ended = [r for r in rooms if (ts := room_ends_at(rnd, r)) and ctx.now >= _parse(ts)]
    if ended and len(ended) == len(rooms):
        return _close(s, ctx, None, "time")
    out: list[Entry] = []
    if ended:  # some rooms, not all (so none of them is the round's last open room)
        for r in ended:
            out += _close_room(s, ctx, rnd, r, None, "time")
        return out
    for when, room, ends in _deadlines(s, rnd, warning_s):
        if when >= ends or ctx.now < when:
            continue
        left = max(0, round((ends - ctx.now).total_seconds()))
        if room is None:
            out.append(Entry("breakouts.warning", {"round": rnd.number, "ends_at": rnd.ends_at,
                                                   "seconds_left": left}, ctx.at))
        else:
            out.append(Entry("breakouts.warning", {"round": rnd.number, "room": room,
                                                   "ends_at": room_ends_at(rnd, room),
                                                   "seconds_left": left}, ctx.at,
                             room=room, audience=Audience.ROOM))
    return out


# ---- the fold -------------------------------------------------------------------------
@register_apply("breakouts.opened")
def _opened(s: EventState, e: Entry) -> None:
    rooms = e.data["rooms"]
    for r in rooms:
        s.rooms[r["id"]] = Room(r["id"], r["title"], RoomKind.BREAKOUT, r.get("topic"),
                                r.get("capacity"))
    s.rounds.append(BreakoutRound(e.data["round"], [r["id"] for r in rooms],
                                  AssignMode(e.data["assign"]), e.at, e.data.get("ends_at")))


@register_apply("breakouts.warning")
def _warned(s: EventState, e: Entry) -> None:
    if s.breakout is not None:
        if e.data.get("room"):
            s.breakout.room_warned.add(e.data["room"])
        else:
            s.breakout.warned = True


@register_apply("breakouts.extended")
def _extended(s: EventState, e: Entry) -> None:
    rnd = s.breakout
    if rnd is not None:
        rnd.ends_at = e.data["ends_at"]
        rnd.warned = False
        for room, ends in (e.data.get("rooms") or {}).items():
            rnd.room_ends[room] = ends
            rnd.room_warned.discard(room)


@register_apply("breakouts.room_extended")
def _room_extended(s: EventState, e: Entry) -> None:
    rnd = s.breakout
    if rnd is not None:
        rnd.room_ends[e.data["room"]] = e.data["ends_at"]
        rnd.room_warned.discard(e.data["room"])


@register_apply("breakouts.room_closed")
def _room_closed(s: EventState, e: Entry) -> None:
    rnd = s.breakout
    room = s.rooms.get(e.data["room"])
    if rnd is None or room is None:
        return
    room.open = False
    rnd.help.pop(room.id, None)


@register_apply("breakouts.closed")
def _closed(s: EventState, e: Entry) -> None:
    rnd = s.breakout
    if rnd is None:
        return
    rnd.closed_at = e.at
    rnd.help.clear()
    for rid in rnd.rooms:
        s.rooms[rid].open = False


@register_apply("help.requested")
def _help(s: EventState, e: Entry) -> None:
    if s.breakout is not None:
        s.breakout.help[e.data["room"]] = e.data["participant"]


@register_apply("help.cleared")
def _help_cleared(s: EventState, e: Entry) -> None:
    if s.breakout is not None:
        s.breakout.help.pop(e.data["room"], None)


def breakout_view(s: EventState, pid: str) -> dict[str, object]:
    """The `breakouts` part of the ready state."""
    rnd = s.breakout
    if rnd is None:
        return {"status": "closed", "rounds": len(s.rounds)}
    p = s.participants.get(pid)
    counts = occupancy(s, rnd.rooms)
    members: dict[str, list[str]] = {r: [] for r in rnd.rooms}
    for q in s.participants.values():
        if q.room in members:
            members[q.room].append(q.id)
    moderator = p is not None and p.is_moderator
    view: dict[str, object] = {
        "status": "open", "round": rnd.number, "assign": rnd.assign.value,
        "ends_at": rnd.ends_at, "warned": rnd.warned,
        # moderators: who listens in on each room (as its members see it); they get every
        # room's `breakouts.listening` too, and their cockpit goes on from this
        "rooms": [{**s.rooms[r].public(), "count": counts[r], "members": members[r],
                   "open": s.rooms[r].open, "ends_at": room_ends_at(rnd, r),
                   **({"listening": listeners(s, r)} if moderator else {})}
                  for r in rnd.rooms],
    }
    if moderator:
        view["help"] = [{"room": r, "participant": q,
                         "name": s.participants[q].name if q in s.participants else None}
                        for r, q in rnd.help.items()]
    return view


_part_breakouts = state_part("breakouts")(breakout_view)

CLOCK = Clock(lambda s, limits: next_deadline(s, limits.breakout_warning_s),
                    lambda s, ctx: due(s, ctx, ctx.limits.breakout_warning_s))
