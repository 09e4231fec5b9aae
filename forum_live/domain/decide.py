"""The dispatcher: (state, context, actor, command) -> new entries, or a DomainError."""

from __future__ import annotations

from typing import Callable, TypeVar

from . import chat, setup
from .commands import ChatDelete, ChatSend, Command, EventEnd, HandLower, HandRaise
from .context import Context
from .entries import Entry
from .errors import Forbidden, Invalid
from .features import declare
from .model import EventState, EventStatus, Participant

Decider = Callable[[EventState, Context, Participant, Command], list[Entry]]

for _model, _fn in ((ChatSend, chat.chat_send), (ChatDelete, chat.chat_delete),
                   (HandRaise, chat.hand_raise), (HandLower, chat.hand_lower)):
    declare(_fn, "decider", _model)


def _event_end(s: EventState, ctx: Context, me: Participant, cmd: EventEnd) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators end the event")
    return setup.end_event(s, ctx, me.id)


declare(_event_end, "decider", EventEnd)


C = TypeVar("C", bound=Command)
TypedDecider = Callable[[EventState, Context, Participant, C], list[Entry]]


def register_decider(model: type[C]) -> Callable[[TypedDecider[C]], TypedDecider[C]]:
    def deco(fn: TypedDecider[C]) -> TypedDecider[C]:
        return declare(fn, "decider", model)
    return deco


def decide(state: EventState, ctx: Context, actor: str, cmd: Command) -> list[Entry]:
    me = state.participants.get(actor)
    if me is None:
        raise Forbidden("you are not part of this event")
    fn = state.features.deciders.get(type(cmd))
    if fn is None:
        raise Invalid(f"type: {cmd.type!r} cannot be sent here")
    if not me.admitted:
        raise Forbidden("you are waiting for a moderator to let you in"
                        if me.standing.value == "waiting" else "you are no longer part of this event")
    if state.status is EventStatus.ENDED and not me.is_moderator:
        raise Forbidden("the event has ended")
    return fn(state, ctx, me, cmd)
