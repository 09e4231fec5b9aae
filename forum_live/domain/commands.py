"""Typed commands: what a client frame or an HTTP body may ask for.

Pydantic models (a pure data library, no I/O): shape and types are checked here; limits that
have their own wire code (`too_large`) and permissions are the domain's to decide.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .features import declare

Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ShortText = Annotated[str, StringConstraints(max_length=200)]


class Command(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)
    type: str
    ref: str | int | None = None


class Hello(Command):
    type: Literal["hello"]
    token: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    resume_from: Annotated[int, Field(ge=0)] | None = None


class ChatSend(Command):
    type: Literal["chat.send"]
    room: Id
    text: str


class ChatDelete(Command):
    type: Literal["chat.delete"]
    message: Id


class HandRaise(Command):
    type: Literal["hand.raise"]


class HandLower(Command):
    type: Literal["hand.lower"]
    participant: Id | None = None


class Ping(Command):
    type: Literal["ping"]


class EventEnd(Command):
    """Extension: a moderator ends the event (the organizer can via HTTP too)."""
    type: Literal["event.end"]


class StateSync(Command):
    """A query, not a change: the full state as of the reply's seq (used after a move)."""
    type: Literal["state.sync"]


# ---- HTTP bodies ------------------------------------------------------------------------
class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class TopicIn(Body):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    speaker: ShortText | None = None
    description: Annotated[str, StringConstraints(max_length=4000)] | None = None


class EventIn(Body):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=4000)] | None = None
    starts_at: Annotated[str, StringConstraints(max_length=64)] | None = None
    series: ShortText | None = None
    topics: Annotated[list[TopicIn], Field(max_length=50)] = []
    lobby: bool = False  # joiners wait in a waiting room until a moderator admits them
    lobby_note: Annotated[str, StringConstraints(max_length=1000)] | None = None
    follows: Id | None = None  # the event before in its series (§8): what it carries forward


class JoinIn(Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    organization: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = None
    key: Annotated[str, StringConstraints(max_length=200)] | None = None


C = TypeVar("C", bound=type[Command])


def register_command(model: C) -> C:
    """Declare a client frame (collected per app by features.Features.install)."""
    return declare(model, "command")


for _core in (Hello, ChatSend, ChatDelete, HandRaise, HandLower, Ping, StateSync, EventEnd):
    register_command(_core)
