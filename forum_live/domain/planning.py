"""Preparing a forum before it starts (the organizer's desk, issue 17): title, date,
description and topics may change until the forum has started, journaled as one
`event.edited` entry with the event as it is now."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from .commands import Body, Id, ShortText
from .context import Context
from .entries import Audience, Entry
from .errors import Conflict, Invalid
from .model import EventState, EventStatus, Topic, register_apply


class TopicEdit(Body):
    id: Id | None = None  # an existing topic keeps its id (and its slides); none: a new one
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    speaker: ShortText | None = None
    description: Annotated[str, StringConstraints(max_length=4000)] | None = None


class EventEdit(Body):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=200)] | None = None
    description: Annotated[str, StringConstraints(max_length=4000)] | None = None
    starts_at: Annotated[str, StringConstraints(max_length=64)] | None = None
    topics: Annotated[list[TopicEdit], Field(max_length=50)] | None = None


def started(s: EventState) -> bool:
    """Has the forum begun: someone was present, or it has ended."""
    return s.status is EventStatus.ENDED or any(p.present for p in s.participants.values())


def edit(s: EventState, ctx: Context, body: EventEdit) -> list[Entry]:
    if started(s):
        raise Conflict("the forum has started: its title, date and topics stay as they are")
    given = body.model_fields_set
    event: dict[str, Any] = {"title": s.title, "description": s.description,
                             "starts_at": s.starts_at,
                             "topics": [t.public() for t in s.topics.values()]}
    if "title" in given and body.title:
        event["title"] = body.title
    if "description" in given:
        event["description"] = body.description or None
    if "starts_at" in given:
        event["starts_at"] = body.starts_at or None
    if body.topics is not None:
        topics = []
        for i, t in enumerate(body.topics):
            if t.id is not None and t.id not in s.topics:
                raise Invalid(f"topics.{i}.id: no topic {t.id!r}")
            topics.append({"id": t.id or ctx.make_id(), "title": t.title, "speaker": t.speaker,
                           "description": t.description})
        event["topics"] = topics
    return [Entry("event.edited", {"event": event}, ctx.at, audience=Audience.EVENT)]


@register_apply("event.edited")
def _edited(s: EventState, e: Entry) -> None:
    d = e.data["event"]
    s.title, s.description, s.starts_at = d["title"], d.get("description"), d.get("starts_at")
    s.topics = {t["id"]: Topic(t["id"], t["title"], t.get("speaker"), t.get("description"))
                for t in d["topics"]}
