"""Minutes captured during the event: notes, decisions, actions and questions per room.

Edits carry a version; a stale one is a conflict that hands back the current entry, so two
people editing at once never silently overwrite each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .commands import Command, Id, register_command
from .context import Context
from .decide import register_decider
from .entries import Audience, Entry
from .errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from .model import EventState, Participant, RoomKind, register_apply
from .features import state_part

MinuteKind = Literal["note", "decision", "action", "question"]
KIND_ORDER = ("decision", "action", "question", "note")
Assignee = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]
Due = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10)]


@register_command
class MinutesAdd(Command):
    type: Literal["minutes.add"]
    room: Id
    kind: MinuteKind = "note"
    text: str
    topic: Id | None = None
    assignee: Assignee | None = None
    due: Due | None = None


@register_command
class MinutesEdit(Command):
    type: Literal["minutes.edit"]
    entry: Id
    version: Annotated[int, Field(ge=1)]
    text: str | None = None
    kind: MinuteKind | None = None
    assignee: Assignee | None = None
    due: Due | None = None


@register_command
class MinutesDelete(Command):
    type: Literal["minutes.delete"]
    entry: Id


@register_command
class MinutesFromChat(Command):
    """Extension: a moderator turns a chat line into a minutes entry with one click."""
    type: Literal["minutes.from_chat"]
    message: Id
    kind: MinuteKind = "note"


@register_command
class MinutesRestrict(Command):
    """Extension: who may write minutes: everyone, or moderators plus named minute-takers."""
    type: Literal["minutes.restrict"]
    writers: Literal["everyone", "moderators"]
    takers: Annotated[list[Id], Field(max_length=100)] = []


@dataclass
class MinuteEntry:
    id: str
    room: str
    topic: str | None
    kind: str
    text: str
    assignee: str | None
    due: str | None
    author_id: str
    author_name: str
    at: str
    version: int = 1
    edited_at: str | None = None
    edited_by: str | None = None
    source: dict[str, Any] | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "room": self.room, "topic": self.topic, "kind": self.kind,
                "text": self.text, "assignee": self.assignee, "due": self.due,
                "author": {"id": self.author_id, "name": self.author_name}, "at": self.at,
                "version": self.version, "edited_at": self.edited_at,
                "edited_by": self.edited_by, "source": self.source}


def _text(ctx: Context, text: str) -> str:
    text = text.strip()
    if not text:
        raise Invalid("text: must not be empty")
    if len(text) > ctx.limits.text_max:
        raise TooLarge(f"text: at most {ctx.limits.text_max} characters")
    return text


def _due(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise Invalid("due: a date as YYYY-MM-DD") from None


def may_write(s: EventState, me: Participant) -> bool:
    return me.is_moderator or s.minute_writers == "everyone" or me.id in s.minute_takers


def _entry(s: EventState, entry_id: str) -> MinuteEntry:
    e = s.minutes.get(entry_id)
    if e is None:
        raise NotFound(f"no minutes entry {entry_id!r}")
    return e  # type: ignore[no-any-return]


def _topic_for(s: EventState, room_id: str, asked: str | None) -> str | None:
    """A breakout's entries belong to its topic; in the plenary the writer may name one."""
    room = s.rooms[room_id]
    if room.kind is RoomKind.BREAKOUT and room.topic:
        return room.topic
    if asked is not None and asked not in s.topics:
        raise NotFound(f"topic: no topic {asked!r}")
    return asked


def _added(s: EventState, ctx: Context, me: Participant, room: str, kind: str, text: str,
           topic: str | None, assignee: str | None, due: str | None,
           source: dict[str, Any] | None = None) -> Entry:
    entry = {"id": ctx.make_id(), "room": room, "topic": topic, "kind": kind, "text": text,
             "assignee": assignee if kind == "action" else None,
             "due": due if kind == "action" else None,
             "author": {"id": me.id, "name": me.name}, "at": ctx.at, "version": 1,
             "edited_at": None, "edited_by": None, "source": source}
    return Entry("minutes.added", {"entry": entry}, ctx.at, room=room, audience=Audience.ROOM,
                 actor=me.id)


@register_decider(MinutesAdd)
def minutes_add(s: EventState, ctx: Context, me: Participant, cmd: MinutesAdd) -> list[Entry]:
    if cmd.room not in s.rooms:
        raise NotFound(f"room: no room {cmd.room!r}")
    if not me.is_moderator and s.room_of(me.id) != cmd.room:
        raise Forbidden("you can only write minutes for the room you are in")
    if not may_write(s, me):
        raise Forbidden("only moderators and minute-takers write the minutes now")
    text = _text(ctx, cmd.text)
    topic = _topic_for(s, cmd.room, cmd.topic)
    return [_added(s, ctx, me, cmd.room, cmd.kind, text, topic, cmd.assignee or None,
                   _due(cmd.due))]


@register_decider(MinutesEdit)
def minutes_edit(s: EventState, ctx: Context, me: Participant, cmd: MinutesEdit) -> list[Entry]:
    cur = _entry(s, cmd.entry)
    if cur.author_id != me.id and not me.is_moderator:
        raise Forbidden("only its author or a moderator edits an entry")
    if cur.author_id == me.id and not may_write(s, me):
        raise Forbidden("only moderators and minute-takers write the minutes now")
    if cmd.version != cur.version:
        raise Conflict("someone else changed this entry meanwhile", current=cur.public())
    kind = cmd.kind or cur.kind
    updated = cur.public()
    updated.update({
        "kind": kind,
        "text": _text(ctx, cmd.text) if cmd.text is not None else cur.text,
        "assignee": (cmd.assignee if cmd.assignee is not None else cur.assignee) or None,
        "due": _due(cmd.due) if cmd.due is not None else cur.due,
        "version": cur.version + 1, "edited_at": ctx.at,
        "edited_by": {"id": me.id, "name": me.name},
    })
    if kind != "action":
        updated["assignee"] = updated["due"] = None
    return [Entry("minutes.edited", {"entry": updated}, ctx.at, room=cur.room,
                  audience=Audience.ROOM, actor=me.id)]


@register_decider(MinutesDelete)
def minutes_delete(s: EventState, ctx: Context, me: Participant, cmd: MinutesDelete
                   ) -> list[Entry]:
    cur = _entry(s, cmd.entry)
    if cur.author_id != me.id and not me.is_moderator:
        raise Forbidden("only its author or a moderator deletes an entry")
    return [Entry("minutes.deleted", {"entry": cur.id}, ctx.at, room=cur.room,
                  audience=Audience.ROOM, actor=me.id)]


@register_decider(MinutesFromChat)
def minutes_from_chat(s: EventState, ctx: Context, me: Participant, cmd: MinutesFromChat
                      ) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators turn chat lines into minutes")
    room = s.chat_rooms.get(cmd.message)
    msg = next((m for m in s.chat.get(room or "", ()) if m.id == cmd.message), None)
    if room is None or msg is None:
        raise NotFound(f"no chat message {cmd.message!r}")
    source = {"chat": msg.id, "author": {"id": msg.author_id, "name": msg.author_name}}
    return [_added(s, ctx, me, room, cmd.kind, msg.text, _topic_for(s, room, None), None,
                   None, source)]


@register_decider(MinutesRestrict)
def minutes_restrict(s: EventState, ctx: Context, me: Participant, cmd: MinutesRestrict
                     ) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators decide who writes the minutes")
    unknown = [t for t in cmd.takers if t not in s.participants]
    if unknown:
        raise NotFound(f"takers: no participant {unknown[0]!r}")
    return [Entry("minutes.restricted", {"writers": cmd.writers, "takers": list(cmd.takers)},
                  ctx.at, actor=me.id)]


@register_apply("minutes.added")
def _apply_added(s: EventState, e: Entry) -> None:
    d = e.data["entry"]
    s.minutes[d["id"]] = MinuteEntry(
        d["id"], d["room"], d["topic"], d["kind"], d["text"], d["assignee"], d["due"],
        d["author"]["id"], d["author"]["name"], d["at"], d["version"], source=d.get("source"))


@register_apply("minutes.edited")
def _apply_edited(s: EventState, e: Entry) -> None:
    d = e.data["entry"]
    cur = s.minutes.get(d["id"])
    if cur is None:
        return
    cur.kind, cur.text, cur.assignee, cur.due = d["kind"], d["text"], d["assignee"], d["due"]
    cur.version, cur.edited_at, cur.edited_by = d["version"], d["edited_at"], d["edited_by"]


@register_apply("minutes.deleted")
def _apply_deleted(s: EventState, e: Entry) -> None:
    s.minutes.pop(e.data["entry"], None)


@register_apply("minutes.restricted")
def _apply_restricted(s: EventState, e: Entry) -> None:
    s.minute_writers = e.data["writers"]
    s.minute_takers = set(e.data["takers"])


def sort_key(m: MinuteEntry) -> tuple[int, str]:
    return (KIND_ORDER.index(m.kind), m.at)


def minutes_view(s: EventState, pid: str) -> list[dict[str, Any]]:
    """The minutes of my room, decisions and actions first."""
    room = s.room_of(pid)
    return [m.public() for m in sorted(s.minutes.values(), key=sort_key) if m.room == room]


_part_minutes = state_part("minutes")(minutes_view)
_part_minutes_access = state_part("minutes_access")(lambda s, pid: {
    "writers": s.minute_writers, "takers": sorted(s.minute_takers),
    "may_write": may_write(s, s.participants[pid])})
