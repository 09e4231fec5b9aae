"""Series of forums and the carry-forward ("Wiedervorlage", contract §8, issue 17).

A forum created with `"follows": EVENT_ID` joins that event's series. Right after its
`event.created`, one `carried.added` entry names the series and carries every action and
every open question of the earlier forums that is still open forward to its topic (matched
by the topic's title). In the new forum a moderator (or the assignee) marks an action
done, reassigns it or moves its date (`carried.update`), and says how a question was
answered (`carried.answer`); each change is one `carried.updated` entry with the item's
new state and its history. An action keeps its id across the whole series (the id of the
minutes entry that first wrote it down), so the series view can follow it.

Who "the assignee" is: a name is only a name (anyone may join under it), so the name
alone grants nothing. A moderator of the forum confirms who the assignee is by choosing
that person from the forum's participants (`assignee_id`); from then on that participant,
and only they, may update the action as its assignee. Participant ids belong to one forum,
so carrying an action forward keeps the name and drops the confirmation: in the next
forum a moderator confirms the person again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import StringConstraints

from .commands import Command, Id, register_command
from .context import Context
from .decide import register_decider
from .entries import Audience, Entry
from .errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from .features import state_part
from .minutes import Assignee, Due, _due
from .model import EventState, EventStatus, Participant, register_apply

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


@register_command
class CarriedUpdate(Command):
    """An action carried forward: done (or open again), another assignee, a new date.
    `assignee_id` (moderators): the participant of this forum who is the assignee (their
    name becomes the assignee unless `assignee` is given too); "" takes it back."""
    type: Literal["carried.update"]
    item: Id
    status: Literal["open", "done"] | None = None
    assignee: Assignee | None = None
    assignee_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    due: Due | None = None
    note: Note | None = None


@register_command
class CarriedAnswer(Command):
    """A question carried forward: how it was answered (empty: open again)."""
    type: Literal["carried.answer"]
    item: Id
    answer: Note


@dataclass
class SeriesState:
    series_id: str | None = None  # None: the event is the first of its own series
    follows: str | None = None
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> carried item


def series_state(s: EventState) -> SeriesState:
    """This capability's part of the event state (kept beside the core's fields)."""
    part = s.__dict__.get("series_state")
    if not isinstance(part, SeriesState):
        part = SeriesState()
        s.__dict__["series_state"] = part
    return part


def series_id(s: EventState) -> str:
    """The id of the event's series: that of the first forum (its own id if it is one)."""
    return series_state(s).series_id or s.id


def _topic_title(s: EventState, topic: str | None) -> str | None:
    t = s.topics.get(topic) if topic else None
    return t.title if t else None


def still_open(prev: EventState) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What a forum hands on to the next: its own actions and open questions (from the
    minutes, and questions of its Q&A still open) and whatever it had carried forward that
    is still open. Each item with `topic_title` (topics are matched by title)."""
    actions: list[dict[str, Any]] = []
    questions: list[dict[str, Any]] = []
    for item in series_state(prev).items.values():
        if item["status"] != "open":
            continue
        item = {**item, "topic_title": _topic_title(prev, item.get("topic"))
                or item.get("topic_title")}
        item.pop("assignee_id", None)  # a participant of that forum: confirmed again here
        (actions if item["kind"] == "action" else questions).append(item)
    for m in sorted(prev.minutes.values(), key=lambda m: m.at):
        if m.kind not in ("action", "question"):
            continue
        if m.source and "qa" in m.source:
            continue
        item = {"id": m.id, "kind": m.kind, "text": m.text, "assignee": m.assignee,
                "due": m.due, "topic_title": _topic_title(prev, m.topic),
                "from_event": prev.id, "from_title": prev.title, "from_at": m.at,
                "status": "open", "answer": None, "history": []}
        (actions if m.kind == "action" else questions).append(item)
    for q in sorted(prev.questions.values(), key=lambda q: q.at):
        if q.status != "open":
            continue
        questions.append({"id": q.id, "kind": "question", "text": q.text, "assignee": None,
                          "due": None, "topic_title": None, "from_event": prev.id,
                          "from_title": prev.title, "from_at": q.at, "status": "open",
                          "answer": None, "history": []})
    return actions, questions


def carry(s: EventState, ctx: Context, prev: EventState) -> list[Entry]:
    """The new forum's `carried.added`: its series and what the forum before hands on,
    each item placed under this forum's topic of the same title (or none)."""
    by_title = {t.title.strip().casefold(): t.id for t in s.topics.values()}
    actions, questions = still_open(prev)
    out = []
    for item in actions + questions:
        title = item.pop("topic_title", None)
        topic = by_title.get(title.strip().casefold()) if title else None
        out.append({**item, "topic": topic, "topic_title": title})
    data = {"series_id": series_id(prev), "follows": prev.id,
            "actions": [i for i in out if i["kind"] == "action"],
            "questions": [i for i in out if i["kind"] == "question"]}
    return [Entry("carried.added", data, ctx.at, audience=Audience.EVENT)]


def _item(s: EventState, item_id: str, kind: str) -> dict[str, Any]:
    item = series_state(s).items.get(item_id)
    if item is None or item["kind"] != kind:
        raise NotFound(f"item: no carried {kind} {item_id!r}")
    return item


def _is_assignee(me: Participant, item: dict[str, Any]) -> bool:
    """The participant a moderator of this forum confirmed as the assignee; never a name."""
    confirmed = item.get("assignee_id")
    return bool(confirmed) and confirmed == me.id


def _updated(s: EventState, ctx: Context, me: Participant, item: dict[str, Any],
             change: dict[str, Any]) -> list[Entry]:
    new = {**item, **{k: v for k, v in change.items() if k != "note"}}
    record = {"event": s.id, "event_title": s.title, "at": ctx.at,
              "by": {"id": me.id, "name": me.name}, **change}
    new["history"] = [*item.get("history", []), record]
    return [Entry("carried.updated", {"item": new, "change": record}, ctx.at,
                  audience=Audience.EVENT, actor=me.id)]


@register_decider(CarriedUpdate)
def carried_update(s: EventState, ctx: Context, me: Participant, cmd: CarriedUpdate
                   ) -> list[Entry]:
    found = series_state(s).items.get(cmd.item)
    if not me.is_moderator and (found is None or not _is_assignee(me, found)):
        raise Forbidden("only moderators and the assignee update an action")
    item = _item(s, cmd.item, "action")
    if s.status is EventStatus.ENDED and not me.is_moderator:
        raise Forbidden("the event has ended")
    change: dict[str, Any] = {}
    if cmd.status is not None and cmd.status != item["status"]:
        change["status"] = cmd.status
    name = cmd.assignee
    if cmd.assignee_id is not None:
        if not me.is_moderator:
            raise Forbidden("only moderators confirm who the assignee is")
        person = s.participants.get(cmd.assignee_id) if cmd.assignee_id else None
        if cmd.assignee_id and (person is None or not person.admitted):
            raise NotFound(f"assignee_id: no participant {cmd.assignee_id!r} in this forum")
        if (person.id if person else None) != item.get("assignee_id"):
            change["assignee_id"] = person.id if person else None
        if person is not None and name is None:
            name = person.name
    elif name is not None and item.get("assignee_id") and \
            (name or None) != item.get("assignee"):
        change["assignee_id"] = None  # another name: nobody is confirmed any more
    if name is not None and (name or None) != item.get("assignee"):
        change["assignee"] = name or None
    if cmd.due is not None and _due(cmd.due) != item.get("due"):
        change["due"] = _due(cmd.due)
    if cmd.note:
        if len(cmd.note) > ctx.limits.text_max:
            raise TooLarge(f"note: at most {ctx.limits.text_max} characters")
        change["note"] = cmd.note
    if not change:
        raise Invalid("nothing to change: give status, assignee, assignee_id, due or a note")
    return _updated(s, ctx, me, item, change)


@register_decider(CarriedAnswer)
def carried_answer(s: EventState, ctx: Context, me: Participant, cmd: CarriedAnswer
                   ) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators record how a question was answered")
    item = _item(s, cmd.item, "question")
    if len(cmd.answer) > ctx.limits.text_max:
        raise TooLarge(f"answer: at most {ctx.limits.text_max} characters")
    answer = cmd.answer or None
    if answer == item.get("answer"):
        raise Conflict("the question already has this answer")
    status = "answered" if answer else "open"
    return _updated(s, ctx, me, item, {"answer": answer, "status": status})


@register_apply("carried.added")
def _added(s: EventState, e: Entry) -> None:
    part = series_state(s)
    part.series_id = e.data.get("series_id")
    part.follows = e.data.get("follows")
    for item in [*e.data.get("actions", []), *e.data.get("questions", [])]:
        part.items[item["id"]] = dict(item)


@register_apply("carried.updated")
def _updated_fold(s: EventState, e: Entry) -> None:
    item = e.data["item"]
    part = series_state(s)
    if item["id"] in part.items:
        part.items[item["id"]] = dict(item)


def carried_view(s: EventState) -> dict[str, Any]:
    part = series_state(s)
    items = list(part.items.values())
    return {"series_id": series_id(s), "follows": part.follows,
            "actions": [i for i in items if i["kind"] == "action"],
            "questions": [i for i in items if i["kind"] == "question"]}


_part_carried = state_part("carried")(lambda s, pid: carried_view(s))


# ---- the series view (GET /api/series/{id}) --------------------------------------------
def topic_key(title: str) -> str:
    """Topics of a series are the same topic when their titles are (as carry-forward
    matches them): case and surrounding spaces do not count."""
    return title.strip().casefold()


def series_topics(states: list[EventState]) -> list[str]:
    """The topic titles in the order the forums define them: the first forum's topics in
    its order, then the topics each later forum adds, in its order (not the order in which
    decisions or actions happen to name them)."""
    titles: dict[str, str] = {}
    for s in states:
        for t in s.topics.values():
            titles.setdefault(topic_key(t.title), t.title)
    return list(titles.values())


def series_view(states: list[EventState], statuses: dict[str, str] | None = None
                ) -> dict[str, Any]:
    """Every forum of one series (in the order they were created), its topics (in the
    forums' order), and every action, decision and question across it with its current
    status and history: an action is followed from the forum that wrote it down through
    every forum it was carried to."""
    states = sorted(states, key=lambda s: s.created_at)
    statuses = statuses or {}
    actions: dict[str, dict[str, Any]] = {}
    questions: dict[str, dict[str, Any]] = {}
    decisions: list[dict[str, Any]] = []
    for s in states:
        for m in sorted(s.minutes.values(), key=lambda m: m.at):
            base = {"id": m.id, "text": m.text, "topic": _topic_title(s, m.topic),
                    "from_event": s.id, "from_title": s.title, "at": m.at}
            if m.kind == "decision":
                decisions.append(base)
            elif m.kind == "action":
                actions[m.id] = {**base, "assignee": m.assignee, "due": m.due,
                                 "status": "open", "history": [], "events": [s.id]}
            elif m.kind == "question" and not (m.source and "qa" in m.source):
                questions[m.id] = {**base, "status": "open", "answer": None, "history": [],
                                   "events": [s.id]}
        for item in series_state(s).items.values():
            target = actions if item["kind"] == "action" else questions
            cur = target.setdefault(item["id"], {
                "id": item["id"], "text": item["text"], "topic": item.get("topic_title"),
                "from_event": item.get("from_event"), "from_title": item.get("from_title"),
                "at": item.get("from_at"), "status": "open", "history": [], "events": []})
            cur["status"] = item["status"]
            if item["kind"] == "action":
                cur["assignee"], cur["due"] = item.get("assignee"), item.get("due")
            else:
                cur["answer"] = item.get("answer")
            seen = {(h["event"], h["at"]) for h in cur["history"]}
            cur["history"] += [h for h in item.get("history", [])
                               if (h["event"], h["at"]) not in seen]
            if s.id not in cur["events"]:
                cur["events"].append(s.id)
    first = states[0] if states else None
    return {
        "id": series_id(first) if first else None,
        "title": (first.series or first.title) if first else None,
        "events": [{"id": s.id, "title": s.title, "starts_at": s.starts_at,
                    "created_at": s.created_at,
                    "status": statuses.get(s.id, s.status.value)} for s in states],
        "topics": series_topics(states),
        "actions": list(actions.values()),
        "questions": list(questions.values()),
        "decisions": decisions,
    }
