"""Impulse slides (contract §10): decks uploaded as PDF for a topic (rendered to images by
forum_live/slides.py, which journals `slides.added`), and the page shown in a room.

`slides.show {slides, page}` (moderators, and whoever has the floor in that room) causes
`slides.shown {slides, page, by}` for everyone in the room; `slides: null` takes the slides
off the stage. Both are journal entries, so a late joiner, a reconnect and the minutes see
which page was shown when. The `ready` state carries the decks and what is shown in the
client's room."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field

from .commands import Command, Id, register_command
from .context import Context
from .decide import register_decider
from .entries import Audience, Entry
from .errors import Forbidden, Invalid, NotFound
from .model import EventState, Participant, register_apply
from .features import state_part


@register_command
class SlidesShow(Command):
    type: Literal["slides.show"]
    slides: Id | None
    page: Annotated[int, Field(ge=1, le=10_000)] = 1


@dataclass
class Deck:
    id: str
    topic: str | None
    title: str
    pages: int
    added_at: str

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "topic": self.topic, "title": self.title, "pages": self.pages,
                "added_at": self.added_at}


@dataclass
class Shown:
    slides: str
    page: int
    by: str | None
    at: str

    def public(self) -> dict[str, Any]:
        return {"slides": self.slides, "page": self.page, "by": self.by, "at": self.at}


@dataclass
class SlideState:
    decks: dict[str, Deck] = field(default_factory=dict)
    shown: dict[str, Shown] = field(default_factory=dict)  # room -> the page on its stage
    # every slides.shown in journal order: {"room", "slides" (None: taken off), "page",
    # "at"}, so the minutes say which page was shown when
    history: list[dict[str, Any]] = field(default_factory=list)


def slide_state(s: EventState) -> SlideState:
    """This capability's part of the event state (kept beside the core's fields)."""
    part = s.__dict__.get("slide_state")
    if not isinstance(part, SlideState):
        part = SlideState()
        s.__dict__["slide_state"] = part
    return part


def added(s: EventState, ctx: Context, deck_id: str, topic: str | None, title: str,
          pages: int, actor: str | None) -> list[Entry]:
    """The entry for a deck the server has just rendered (called by the upload)."""
    if topic is not None and topic not in s.topics:
        raise NotFound(f"topic: no topic {topic!r} in this event")
    deck = Deck(deck_id, topic, title, pages, ctx.at)
    return [Entry("slides.added", {"slides": deck.public()}, ctx.at, audience=Audience.EVENT,
                  actor=actor)]


def may_present(s: EventState, me: Participant, room: str) -> bool:
    if me.is_moderator:
        return True
    holder = s.floor.get(room)
    return holder is not None and getattr(holder, "participant", None) == me.id


@register_decider(SlidesShow)
def slides_show(s: EventState, ctx: Context, me: Participant, cmd: SlidesShow) -> list[Entry]:
    room = s.room_of(me.id)
    if not may_present(s, me, room):
        raise Forbidden("only moderators and whoever has the floor show slides")
    part = slide_state(s)
    if cmd.slides is None:
        if room not in part.shown:
            return []
        data: dict[str, Any] = {"slides": None, "page": None, "by": me.id}
    else:
        deck = part.decks.get(cmd.slides)
        if deck is None:
            raise NotFound(f"slides: no slides {cmd.slides!r}")
        if cmd.page > deck.pages:
            raise Invalid(f"page: these slides have {deck.pages} pages")
        now = part.shown.get(room)
        if now is not None and now.slides == deck.id and now.page == cmd.page:
            return []  # already on the stage: nothing new to tell
        data = {"slides": deck.id, "page": cmd.page, "by": me.id}
    return [Entry("slides.shown", data, ctx.at, room=room, audience=Audience.ROOM, actor=me.id)]


@register_apply("slides.added")
def _added(s: EventState, e: Entry) -> None:
    d = e.data["slides"]
    slide_state(s).decks[d["id"]] = Deck(d["id"], d.get("topic"), d.get("title") or "",
                                         int(d["pages"]), d.get("added_at") or e.at)


@register_apply("slides.shown")
def _shown(s: EventState, e: Entry) -> None:
    room = e.room or s.plenary_room
    part = slide_state(s)
    part.history.append({"room": room, "slides": e.data.get("slides"),
                         "page": e.data.get("page"), "at": e.at})
    if e.data.get("slides") is None:
        part.shown.pop(room, None)
    else:
        part.shown[room] = Shown(e.data["slides"], int(e.data["page"]), e.data.get("by"), e.at)


def slides_view(s: EventState, pid: str) -> dict[str, Any]:
    part = slide_state(s)
    shown = part.shown.get(s.room_of(pid))
    return {"decks": [d.public() for d in part.decks.values()],
            "shown": shown.public() if shown else None}


_part_slides = state_part("slides")(slides_view)
