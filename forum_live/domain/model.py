"""The live state of one event: the fold of its journal.

`EventState.apply` is the only mutator. It must be total and deterministic: rebuilding
after a restart replays the same entries and has to arrive at the same state.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable

from .entries import Audience, Entry
from .features import Features, declare, domain_features


class Role(StrEnum):
    PARTICIPANT = "participant"
    MODERATOR = "moderator"


class EventStatus(StrEnum):
    OPEN = "open"
    ENDED = "ended"


class BreakoutStatus(StrEnum):
    CLOSED = "closed"
    OPEN = "open"


class AssignMode(StrEnum):
    SELF = "self"
    AUTO = "auto"
    MANUAL = "manual"


# Event-wide entries that the person they are about sees even when no longer admitted.
PERSONAL = frozenset({"participant.removed"})
# Entries of audience room that every moderator sees as well, whatever room they are in:
# who listens in on a room is told to its members, and a moderator sees every room anyway
# (its people, its help call, entering or listening in at will), so their cockpit shows
# where a colleague listens. Nobody else outside the room learns of it.
MODERATORS_SEE_EVERY_ROOM = frozenset({"breakouts.listening"})


class Standing(StrEnum):
    """Where a person stands with the event: the waiting room is before `admitted`."""
    WAITING = "waiting"
    ADMITTED = "admitted"
    DECLINED = "declined"
    REMOVED = "removed"


class RoomKind(StrEnum):
    PLENARY = "plenary"
    BREAKOUT = "breakout"


@dataclass(slots=True)
class Topic:
    id: str
    title: str
    speaker: str | None = None
    description: str | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "speaker": self.speaker,
                "description": self.description}


@dataclass(slots=True)
class Room:
    id: str
    title: str
    kind: RoomKind
    topic: str | None = None
    capacity: int | None = None
    open: bool = True

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "kind": self.kind.value,
                "topic": self.topic, "capacity": self.capacity}


@dataclass(slots=True)
class Participant:
    id: str
    name: str
    role: Role
    organization: str | None = None
    room: str | None = None
    online: bool = False
    registered_at: str = ""
    present: list[list[str | None]] = field(default_factory=list)  # [joined, left|None]
    standing: Standing = Standing.ADMITTED
    spoke_s: float = 0.0  # time with the floor, for attendance and the minutes

    @property
    def is_moderator(self) -> bool:
        return self.role is Role.MODERATOR

    @property
    def admitted(self) -> bool:
        return self.standing is Standing.ADMITTED

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role.value,
                "organization": self.organization, "standing": self.standing.value}


@dataclass(slots=True)
class ChatMessage:
    id: str
    room: str
    author_id: str
    author_name: str
    text: str
    at: str

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "room": self.room,
                "author": {"id": self.author_id, "name": self.author_name},
                "text": self.text, "at": self.at}


@dataclass(slots=True)
class Hand:
    participant: str
    room: str
    at: str


@dataclass(slots=True)
class BreakoutRound:
    """One opening of breakout rooms, from `breakouts.opened` to `breakouts.closed`."""

    number: int
    rooms: list[str]
    assign: AssignMode
    opened_at: str
    ends_at: str | None = None
    warned: bool = False
    closed_at: str | None = None
    members: dict[str, list[str]] = field(default_factory=dict)  # room -> everyone who was in
    help: dict[str, str] = field(default_factory=dict)  # room -> participant who asked
    # one room extended on its own (breakouts.room_extended): its own end, its own warning
    room_ends: dict[str, str] = field(default_factory=dict)
    room_warned: set[str] = field(default_factory=set)

    @property
    def status(self) -> BreakoutStatus:
        return BreakoutStatus.CLOSED if self.closed_at else BreakoutStatus.OPEN


@dataclass
class EventState:
    id: str
    chat_history: int = 200
    presence_broadcast_max: int = 200  # see Limits: the size where presence goes quiet
    title: str = ""
    description: str | None = None
    starts_at: str | None = None
    series: str | None = None
    created_at: str = ""
    status: EventStatus = EventStatus.OPEN
    ended_at: str | None = None
    plenary_room: str = ""
    topics: dict[str, Topic] = field(default_factory=dict)
    rooms: dict[str, Room] = field(default_factory=dict)
    participants: dict[str, Participant] = field(default_factory=dict)
    chat: dict[str, deque[ChatMessage]] = field(default_factory=dict)
    chat_rooms: dict[str, str] = field(default_factory=dict)  # message id -> room, for delete
    chat_count: int = 0
    online_count: int = 0
    moderators: set[str] = field(default_factory=set)  # ids with the moderator role
    hands: list[Hand] = field(default_factory=list)  # raise order across rooms
    rounds: list[BreakoutRound] = field(default_factory=list)
    polls: dict[str, Any] = field(default_factory=dict)  # id -> polls.Poll
    minutes: dict[str, Any] = field(default_factory=dict)  # id -> minutes.MinuteEntry
    minute_writers: str = "everyone"  # or "moderators" (plus the named minute-takers)
    minute_takers: set[str] = field(default_factory=set)
    lobby: bool = False  # joiners wait for admission
    lobby_note: str | None = None
    chat_locked: set[str] = field(default_factory=set)  # rooms where only moderators write
    floor: dict[str, Any] = field(default_factory=dict)  # room -> floor.Floor (who speaks)
    questions: dict[str, Any] = field(default_factory=dict)  # id -> qa.Question
    premoderation: bool = False
    timers: dict[str, Any] = field(default_factory=dict)  # id -> timers.Timer
    reactions: dict[str, dict[str, int]] = field(default_factory=dict)  # minute -> kind -> n
    seq: int = 0
    def __post_init__(self) -> None:
        # How entries fold and what the ready state holds: the app's feature set (all of
        # the domain's until the runtime sets its app's). Not a field of the state: never
        # pickled, compared or exported.
        self.features: Features = domain_features()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "features"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.features = domain_features()

    # -- queries ---------------------------------------------------------------------
    def participant(self, pid: str) -> Participant | None:
        return self.participants.get(pid)

    def online(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.online]

    def hands_in(self, room: str) -> list[Hand]:
        return [h for h in self.hands if h.room == room]

    def hand_of(self, pid: str) -> Hand | None:
        return next((h for h in self.hands if h.participant == pid), None)

    @property
    def breakout(self) -> BreakoutRound | None:
        """The open breakout round, if any."""
        if self.rounds and self.rounds[-1].closed_at is None:
            return self.rounds[-1]
        return None

    def members(self, room: str, moderators: bool = False) -> list[Participant]:
        return [p for p in self.participants.values()
                if self.room_of(p.id) == room and (moderators or not p.is_moderator)]

    def room_of(self, pid: str) -> str:
        p = self.participants.get(pid)
        return (p.room if p and p.room else None) or self.plenary_room

    def visible(self, entry: Entry, pid: str, room: str | None = None) -> bool:
        """May participant `pid` (now in `room`, default their current room) see `entry`?"""
        aud = entry.audience
        if aud is Audience.INTERNAL:
            return False
        p = self.participants.get(pid)
        if aud is Audience.PARTICIPANT and entry.to == pid:
            return True
        if p is None or not p.admitted:  # the waiting room sees nothing of the event ...
            return entry.kind in PERSONAL and entry.data.get("participant") == pid  # ... but this
        if aud is Audience.EVENT:
            return True
        if aud is Audience.PARTICIPANT:  # what concerns one person, moderators see too
            return p.is_moderator
        if aud is Audience.MODERATORS:
            return bool(p and p.is_moderator)
        # Audience.ROOM
        if p.is_moderator and entry.kind in MODERATORS_SEE_EVERY_ROOM:
            return True
        return entry.room == (room if room is not None else self.room_of(pid))

    # -- the fold --------------------------------------------------------------------
    def apply(self, e: Entry) -> None:
        if e.seq:
            self.seq = e.seq
        handler = self.features.appliers.get(e.kind)
        if handler is not None:
            handler(self, e)


def _event_created(s: EventState, e: Entry) -> None:
    d = e.data["event"]
    s.title = d["title"]
    s.description = d.get("description")
    s.starts_at = d.get("starts_at")
    s.series = d.get("series")
    s.created_at = e.at
    s.lobby = bool(d.get("lobby"))
    s.lobby_note = d.get("lobby_note")
    for t in d["topics"]:
        s.topics[t["id"]] = Topic(t["id"], t["title"], t.get("speaker"), t.get("description"))
    for r in d["rooms"]:
        s.rooms[r["id"]] = Room(r["id"], r["title"], RoomKind(r["kind"]), r.get("topic"),
                                r.get("capacity"))
        if r["kind"] == RoomKind.PLENARY:
            s.plenary_room = r["id"]
    s.chat.setdefault(s.plenary_room, deque(maxlen=s.chat_history))


def _event_ended(s: EventState, e: Entry) -> None:
    s.status = EventStatus.ENDED
    s.ended_at = e.at


def _registered(s: EventState, e: Entry) -> None:
    d = e.data["participant"]
    s.participants[d["id"]] = Participant(
        id=d["id"], name=d["name"], role=Role(d["role"]), organization=d.get("organization"),
        room=s.plenary_room, registered_at=e.at,
        standing=Standing(d.get("standing", Standing.ADMITTED.value)))
    if d["role"] == Role.MODERATOR.value:
        s.moderators.add(d["id"])


def _joined(s: EventState, e: Entry) -> None:
    p = s.participants.get(e.data["participant"]["id"])
    if p:
        if not p.online:
            s.online_count += 1
        p.online = True
        p.present.append([e.at, None])


def _left(s: EventState, e: Entry) -> None:
    p = s.participants.get(e.data["participant"]["id"])
    if p:
        if p.online:
            s.online_count -= 1
        p.online = False
        if p.present and p.present[-1][1] is None:
            p.present[-1][1] = e.at


def _chat_message(s: EventState, e: Entry) -> None:
    m = e.data["message"]
    msg = ChatMessage(m["id"], e.room or s.plenary_room, m["author"]["id"], m["author"]["name"],
                      m["text"], m["at"])
    s.chat.setdefault(msg.room, deque(maxlen=s.chat_history)).append(msg)
    s.chat_rooms[msg.id] = msg.room
    s.chat_count += 1


def _chat_deleted(s: EventState, e: Entry) -> None:
    mid = e.data["message"]
    room = s.chat_rooms.pop(mid, None)
    if room is None:
        return
    lines = s.chat.get(room)
    if lines is not None:
        for m in list(lines):
            if m.id == mid:
                lines.remove(m)
                break


def _hand_raised(s: EventState, e: Entry) -> None:
    pid = e.data["participant"]
    if s.hand_of(pid) is None:
        s.hands.append(Hand(pid, e.room or s.plenary_room, e.at))


def _hand_lowered(s: EventState, e: Entry) -> None:
    pid = e.data["participant"]
    s.hands = [h for h in s.hands if h.participant != pid]


def _moved(s: EventState, e: Entry) -> None:
    p = s.participants.get(e.data["participant"])
    if p:
        p.room = e.data["to"]
        rnd = s.breakout
        if rnd is not None and p.room in rnd.rooms:
            seen = rnd.members.setdefault(p.room, [])
            if p.id not in seen:
                seen.append(p.id)


_CORE_FOLDS: dict[str, Callable[["EventState", Entry], None]] = {
    "event.created": _event_created,
    "event.ended": _event_ended,
    "participant.registered": _registered,
    "participant.joined": _joined,
    "participant.left": _left,
    "chat.message": _chat_message,
    "chat.deleted": _chat_deleted,
    "hand.raised": _hand_raised,
    "hand.lowered": _hand_lowered,
    "participant.moved": _moved,
}


Applier = Callable[["EventState", Entry], None]


def register_apply(kind: str) -> Callable[[Applier], Applier]:
    """Capabilities added later (breakouts, polls, minutes) register their fold here."""
    def deco(fn: Applier) -> Applier:
        return declare(fn, "apply", kind)
    return deco


for _kind, _fold in _CORE_FOLDS.items():
    register_apply(_kind)(_fold)
