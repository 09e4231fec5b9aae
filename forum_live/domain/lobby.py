"""The waiting room and the moderator's tools over people: admit, decline, send back,
remove, promote; and locking a room's chat. Everything is journaled."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .commands import Command, Id, register_command
from .context import Context
from .decide import register_decider
from .entries import Audience, Entry
from .errors import Conflict, Forbidden, NotFound
from .model import EventState, Participant, Role, Standing, register_apply
from .setup import presence
from .features import state_part

Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]


@register_command
class LobbyAdmit(Command):
    type: Literal["lobby.admit"]
    participants: Annotated[list[Id], Field(max_length=5000)] | None = None
    all: bool = False


@register_command
class LobbyDecline(Command):
    type: Literal["lobby.decline"]
    participant: Id
    reason: Reason | None = None


@register_command
class LobbyReturn(Command):
    """Send an admitted participant back to the waiting room."""
    type: Literal["lobby.return"]
    participant: Id


@register_command
class LobbyConfigure(Command):
    type: Literal["lobby.configure"]
    enabled: bool
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


@register_command
class ParticipantRemove(Command):
    type: Literal["participant.remove"]
    participant: Id
    reason: Reason | None = None


@register_command
class ParticipantRole(Command):
    type: Literal["participant.promote"]
    participant: Id
    role: Literal["participant", "moderator"]


@register_command
class ChatLock(Command):
    type: Literal["chat.lock"]
    room: Id
    locked: bool


def _mod(me: Participant) -> None:
    if not me.is_moderator:
        raise Forbidden("only moderators do this")


def _person(s: EventState, pid: str) -> Participant:
    p = s.participants.get(pid)
    if p is None:
        raise NotFound(f"no participant {pid!r}")
    return p


def _to(kind: str, p: Participant, ctx: Context, actor: str, **data: Any) -> Entry:
    """An entry about one person: they see it (even while waiting), and the moderators."""
    return Entry(kind, {"participant": p.id, "name": p.name, **data}, ctx.at,
                 audience=Audience.PARTICIPANT, to=p.id, actor=actor)


@register_decider(LobbyAdmit)
def lobby_admit(s: EventState, ctx: Context, me: Participant, cmd: LobbyAdmit) -> list[Entry]:
    _mod(me)
    waiting = [p for p in s.participants.values() if p.standing is Standing.WAITING]
    if not cmd.all:
        wanted = set(cmd.participants or [])
        for pid in wanted:
            if _person(s, pid).standing is not Standing.WAITING:
                raise Conflict(f"{pid!r} is not waiting")
        waiting = [p for p in waiting if p.id in wanted]
    return [_to("lobby.admitted", p, ctx, me.id) for p in waiting]


@register_decider(LobbyDecline)
def lobby_decline(s: EventState, ctx: Context, me: Participant, cmd: LobbyDecline
                  ) -> list[Entry]:
    _mod(me)
    p = _person(s, cmd.participant)
    if p.standing is not Standing.WAITING:
        raise Conflict("only someone waiting can be declined")
    return [_to("lobby.declined", p, ctx, me.id, reason=cmd.reason)]


@register_decider(LobbyReturn)
def lobby_return(s: EventState, ctx: Context, me: Participant, cmd: LobbyReturn) -> list[Entry]:
    _mod(me)
    p = _person(s, cmd.participant)
    if not p.admitted or p.is_moderator:
        raise Conflict("only an admitted participant can be sent to the waiting room")
    return presence(s, ctx, p.id, False) + [_to("lobby.returned", p, ctx, me.id)]


@register_decider(LobbyConfigure)
def lobby_configure(s: EventState, ctx: Context, me: Participant, cmd: LobbyConfigure
                    ) -> list[Entry]:
    _mod(me)
    return [Entry("lobby.configured", {"enabled": cmd.enabled, "note": cmd.note}, ctx.at,
                  audience=Audience.MODERATORS, actor=me.id)]


@register_decider(ParticipantRemove)
def participant_remove(s: EventState, ctx: Context, me: Participant, cmd: ParticipantRemove
                       ) -> list[Entry]:
    _mod(me)
    p = _person(s, cmd.participant)
    if p.id == me.id:
        raise Conflict("you cannot remove yourself")
    if p.standing is Standing.REMOVED:
        raise Conflict("already removed")
    left = presence(s, ctx, p.id, False)
    # Event-wide, and (model.PERSONAL) seen by the removed person too, even if waiting.
    return left + [Entry("participant.removed", {"participant": p.id, "name": p.name,
                                                  "reason": cmd.reason}, ctx.at, actor=me.id)]


@register_decider(ParticipantRole)
def participant_role(s: EventState, ctx: Context, me: Participant, cmd: ParticipantRole
                     ) -> list[Entry]:
    _mod(me)
    p = _person(s, cmd.participant)
    if p.id == me.id:
        raise Conflict("ask another moderator to change your own role")
    if p.role.value == cmd.role:
        return []
    if not p.admitted:
        raise Conflict("admit them first")
    return [Entry("participant.role", {"participant": p.id, "name": p.name, "role": cmd.role},
                  ctx.at, actor=me.id)]


@register_decider(ChatLock)
def chat_lock(s: EventState, ctx: Context, me: Participant, cmd: ChatLock) -> list[Entry]:
    _mod(me)
    if cmd.room not in s.rooms:
        raise NotFound(f"no room {cmd.room!r}")
    if (cmd.room in s.chat_locked) == cmd.locked:
        return []
    return [Entry("chat.locked", {"locked": cmd.locked}, ctx.at, room=cmd.room, actor=me.id)]


# ---- the fold -------------------------------------------------------------------------
def _standing(standing: Standing):  # type: ignore[no-untyped-def]
    def apply(s: EventState, e: Entry) -> None:
        p = s.participants.get(e.data["participant"])
        if p is not None:
            p.standing = standing
    return apply


register_apply("lobby.admitted")(_standing(Standing.ADMITTED))
register_apply("lobby.declined")(_standing(Standing.DECLINED))
register_apply("lobby.returned")(_standing(Standing.WAITING))
register_apply("participant.removed")(_standing(Standing.REMOVED))


@register_apply("lobby.configured")
def _configured(s: EventState, e: Entry) -> None:
    s.lobby = e.data["enabled"]
    if e.data.get("note") is not None:
        s.lobby_note = e.data["note"]


@register_apply("participant.role")
def _role(s: EventState, e: Entry) -> None:
    p = s.participants.get(e.data["participant"])
    if p is not None:
        p.role = Role(e.data["role"])
        (s.moderators.add if p.is_moderator else s.moderators.discard)(p.id)


@register_apply("chat.locked")
def _locked(s: EventState, e: Entry) -> None:
    room = e.room or s.plenary_room
    (s.chat_locked.add if e.data["locked"] else s.chat_locked.discard)(room)


def lobby_view(s: EventState, pid: str) -> dict[str, Any]:
    me = s.participants[pid]
    view: dict[str, Any] = {"enabled": s.lobby, "note": s.lobby_note,
                            "standing": me.standing.value}
    if me.is_moderator:
        view["waiting"] = [p.public() for p in s.participants.values()
                           if p.standing is Standing.WAITING]
    return view


_part_lobby = state_part("lobby")(lobby_view)
_part_chat_locked = state_part("chat_locked")(lambda s, pid: sorted(s.chat_locked))
