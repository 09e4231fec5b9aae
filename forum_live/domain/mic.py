"""Microphone moderation beside media.mute / media.mute_all (domain/media.py): a moderator
asks one person to unmute (BigBlueButton's "ask to unmute"). Only that person (and the
moderators) hear of it; the person's own client offers to join the audio or to unmute.
Unmuting stays the person's own act: nobody switches another's microphone on."""

from __future__ import annotations

from typing import Literal

from .commands import Command, Id, register_command
from .context import Context
from .decide import register_decider
from .entries import Audience, Entry
from .errors import Forbidden, Invalid, NotFound
from .model import EventState, Participant


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
