"""Chat and raised hands: the plenary's conversation and its speaker queue."""

from __future__ import annotations

from .commands import ChatDelete, ChatSend, HandLower, HandRaise
from .context import Context
from .entries import Audience, Entry
from .errors import Forbidden, Invalid, NotFound, TooLarge
from .model import EventState, Participant


def chat_send(s: EventState, ctx: Context, me: Participant, cmd: ChatSend) -> list[Entry]:
    if cmd.room not in s.rooms:
        raise NotFound(f"no room {cmd.room!r}")
    if s.room_of(me.id) != cmd.room:
        raise Forbidden("you can only write in the room you are in")
    if cmd.room in s.chat_locked and not me.is_moderator:
        raise Forbidden("the chat of this room is locked")
    text = cmd.text.strip()
    if not text:
        raise Invalid("text: must not be empty")
    if len(text) > ctx.limits.text_max:
        raise TooLarge(f"text: at most {ctx.limits.text_max} characters")
    message = {"id": ctx.make_id(), "author": {"id": me.id, "name": me.name}, "text": text,
               "at": ctx.at}
    return [Entry("chat.message", {"message": message}, ctx.at, room=cmd.room,
                  audience=Audience.ROOM, actor=me.id)]


def chat_delete(s: EventState, ctx: Context, me: Participant, cmd: ChatDelete) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators delete chat messages")
    room = s.chat_rooms.get(cmd.message)
    if room is None:
        raise NotFound(f"no message {cmd.message!r}")
    return [Entry("chat.deleted", {"message": cmd.message}, ctx.at, room=room,
                  audience=Audience.ROOM, actor=me.id)]


def hand_raise(s: EventState, ctx: Context, me: Participant, cmd: HandRaise) -> list[Entry]:
    if s.hand_of(me.id) is not None:
        return []
    room = s.room_of(me.id)
    return [Entry("hand.raised", {"participant": me.id, "name": me.name}, ctx.at, room=room,
                  audience=Audience.EVENT, actor=me.id)]


def hand_lower(s: EventState, ctx: Context, me: Participant, cmd: HandLower) -> list[Entry]:
    target = cmd.participant or me.id
    if target != me.id and not me.is_moderator:
        raise Forbidden("only moderators lower someone else's hand")
    if target not in s.participants:
        raise NotFound(f"no participant {target!r}")
    hand = s.hand_of(target)
    if hand is None:
        return []
    return [Entry("hand.lowered", {"participant": target}, ctx.at, room=hand.room,
                  audience=Audience.EVENT, actor=me.id)]
