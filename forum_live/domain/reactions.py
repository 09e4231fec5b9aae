"""Reactions: short-lived emoji (applause, agree, disagree, slower please). Never chat:
they are counted, batched into one `reactions` event per room and interval, and tallied
per minute for the minutes' appendix."""

from __future__ import annotations

from typing import Literal

from .commands import Command, register_command
from .context import Context
from .entries import Audience, Entry
from .errors import Forbidden
from .model import EventState, register_apply

KINDS = ("applause", "agree", "disagree", "slower")


@register_command
class ReactionSend(Command):
    type: Literal["reaction.send"]
    kind: Literal["applause", "agree", "disagree", "slower"]


def check(s: EventState, pid: str) -> str:
    """The room the reaction goes to; waiting or removed people cannot react."""
    p = s.participants.get(pid)
    if p is None or not p.admitted:
        raise Forbidden("you cannot react here")
    return s.room_of(pid)


def batch_entry(ctx: Context, room: str, counts: dict[str, int]) -> Entry:
    return Entry("reactions", {"counts": counts, "minute": ctx.at[:16]}, ctx.at, room=room,
                 audience=Audience.ROOM)


@register_apply("reactions")
def _reactions(s: EventState, e: Entry) -> None:
    tally = s.reactions.setdefault(e.data["minute"], {})
    for kind, n in e.data["counts"].items():
        tally[kind] = tally.get(kind, 0) + int(n)
