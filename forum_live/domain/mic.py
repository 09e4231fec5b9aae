"""Microphone moderation beside media.mute / media.mute_all (domain/media.py), as in
BigBlueButton: a moderator asks one person to unmute (only that person and the moderators
hear of it; the person's own page offers to join the audio or to unmute), and locks the
microphones of a room: then only moderators, whoever has the floor and whoever was asked
switch theirs on (media.mute asks `may_unmute`). Unmuting stays the person's own act:
nobody switches another's microphone on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .commands import Command, Id, register_command
from .context import Context
from .decide import register_decider
from .entries import Audience, Entry
from .errors import Forbidden, Invalid, NotFound
from .features import state_part
from .media import _muted as muted_entry, media_state
from .model import EventState, Participant, register_apply


@register_command
class MediaAskUnmute(Command):
    type: Literal["media.ask_unmute"]
    participant: Id


@register_decider(MediaAskUnmute)
def ask_unmute(s: EventState, ctx: Context, me: Participant, cmd: MediaAskUnmute) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators ask someone to unmute")
    target = s.participants.get(cmd.participant)
    if target is None or not target.admitted:
        raise NotFound("participant: no such participant")
    if target.id == me.id:
        raise Invalid("participant: unmute yourself")
    return [Entry("media.unmute_asked", {"participant": target.id, "by": me.id, "name": me.name},
                  ctx.at, audience=Audience.PARTICIPANT, to=target.id, actor=me.id)]


# -- locked microphones ---------------------------------------------------------------------
@dataclass
class MicState:
    locked: set[str] = field(default_factory=set)  # rooms whose microphones are locked
    allowed: dict[str, set[str]] = field(default_factory=dict)  # room -> asked to speak


def mic_state(s: EventState) -> MicState:
    part = s.__dict__.get("mic_state")
    if not isinstance(part, MicState):
        part = MicState()
        s.__dict__["mic_state"] = part
    return part


def may_unmute(s: EventState, me: Participant) -> bool:
    """In a room with locked microphones only moderators, whoever has the floor and whoever
    a moderator asked to unmute switch their microphone on."""
    room = s.room_of(me.id)
    part = mic_state(s)
    if me.is_moderator or room not in part.locked or me.id in part.allowed.get(room, set()):
        return True
    holder = s.floor.get(room)
    return holder is not None and getattr(holder, "participant", None) == me.id


@register_command
class MediaLock(Command):
    """Moderators: lock (or free) the microphones of their room; locking mutes everyone
    but the moderators and whoever has the floor."""
    type: Literal["media.lock"]
    locked: bool


@register_decider(MediaLock)
def media_lock(s: EventState, ctx: Context, me: Participant, cmd: MediaLock) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators lock the microphones")
    room = s.room_of(me.id)
    part = mic_state(s)
    if (room in part.locked) == cmd.locked:
        return []
    out = [Entry("media.locked", {"room": room, "locked": cmd.locked, "by": me.id}, ctx.at,
                 room=room, audience=Audience.ROOM, actor=me.id)]
    if cmd.locked:
        holder = s.floor.get(room)
        speaker = getattr(holder, "participant", None)
        muted = media_state(s).muted
        out += [muted_entry(p.id, me.id, True, ctx.at) for p in s.online()
                if s.room_of(p.id) == room and not p.is_moderator and p.id != speaker
                and p.id not in muted]
    return out


@register_apply("media.locked")
def _locked(s: EventState, e: Entry) -> None:
    part = mic_state(s)
    room = e.data["room"]
    part.allowed.pop(room, None)
    if e.data.get("locked"):
        part.locked.add(room)
    else:
        part.locked.discard(room)


@register_apply("media.unmute_asked")
def _asked(s: EventState, e: Entry) -> None:
    pid = e.data["participant"]
    room = s.room_of(pid)
    part = mic_state(s)
    if room in part.locked:
        part.allowed.setdefault(room, set()).add(pid)


def mic_view(s: EventState, pid: str) -> dict[str, bool]:
    room = s.room_of(pid)
    part = mic_state(s)
    return {"locked": room in part.locked, "allowed": pid in part.allowed.get(room, set())}


_part_mic = state_part("mic")(mic_view)
