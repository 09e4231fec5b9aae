"""Questions to the plenary with upvotes (Slido-style). A question may be anonymous to
everyone else; the server still knows its author (the journal's actor) for rate limits and
to show the author their own question."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .commands import Command, Id, register_command
from .context import Context
from .decide import register_decider
from .entries import Audience, Entry
from .errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from .model import EventState, Participant, register_apply
from .features import state_part

Status = Literal["pending", "open", "answered", "archived"]


@register_command
class QuestionAsk(Command):
    type: Literal["question.ask"]
    text: str
    anonymous: bool = False


@register_command
class QuestionVote(Command):
    type: Literal["question.vote"]
    question: Id


@register_command
class QuestionUnvote(Command):
    type: Literal["question.unvote"]
    question: Id


@register_command
class QuestionSet(Command):
    """Moderators: approve (pending -> open), answer, archive, or reopen a question."""
    type: Literal["question.set"]
    question: Id
    status: Literal["open", "answered", "archived"]


@register_command
class QaConfigure(Command):
    type: Literal["qa.configure"]
    premoderation: bool


@register_command
class QuestionsToMinutes(Command):
    """Moderators: the answered questions, in the order they were answered, as one
    minutes entry of the plenary."""
    type: Literal["questions.to_minutes"]


@dataclass
class Question:
    id: str
    text: str
    author_id: str
    author_name: str | None  # None when anonymous
    at: str
    status: str
    voters: set[str] = field(default_factory=set)
    answered_at: str | None = None

    def public(self) -> dict[str, Any]:
        author = ({"id": self.author_id, "name": self.author_name}
                  if self.author_name is not None else None)
        return {"id": self.id, "text": self.text, "author": author, "at": self.at,
                "status": self.status, "votes": len(self.voters),
                "answered_at": self.answered_at}


def _q(s: EventState, qid: str) -> Question:
    q = s.questions.get(qid)
    if q is None:
        raise NotFound(f"no question {qid!r}")
    return q  # type: ignore[no-any-return]


def _visible_to_all(q: Question) -> bool:
    return q.status != "pending"


def _frame(q: Question, kind: str, ctx: Context, actor: str, data: dict[str, Any]) -> Entry:
    """Pending questions go to their author and the moderators; the rest to everyone."""
    if _visible_to_all(q):
        return Entry(kind, data, ctx.at, actor=actor)
    return Entry(kind, data, ctx.at, audience=Audience.PARTICIPANT, to=q.author_id, actor=actor)


@register_decider(QuestionAsk)
def question_ask(s: EventState, ctx: Context, me: Participant, cmd: QuestionAsk) -> list[Entry]:
    text = cmd.text.strip()
    if not text:
        raise Invalid("text: must not be empty")
    if len(text) > ctx.limits.question_max:
        raise TooLarge(f"text: at most {ctx.limits.question_max} characters")
    status = "pending" if s.premoderation and not me.is_moderator else "open"
    q = Question(ctx.make_id(), text, me.id, None if cmd.anonymous else me.name, ctx.at, status)
    return [_frame(q, "question.asked", ctx, me.id, {"question": q.public()})]


@register_decider(QuestionVote)
def question_vote(s: EventState, ctx: Context, me: Participant, cmd: QuestionVote
                  ) -> list[Entry]:
    q = _q(s, cmd.question)
    if q.status != "open":
        raise Conflict("only open questions take votes")
    if me.id in q.voters:
        raise Conflict("you have already voted for this question")
    return [_frame(q, "question.voted", ctx, me.id,
                   {"question": q.id, "votes": len(q.voters) + 1, "delta": 1})]


@register_decider(QuestionUnvote)
def question_unvote(s: EventState, ctx: Context, me: Participant, cmd: QuestionUnvote
                    ) -> list[Entry]:
    q = _q(s, cmd.question)
    if me.id not in q.voters:
        raise Conflict("you have not voted for this question")
    return [_frame(q, "question.voted", ctx, me.id,
                   {"question": q.id, "votes": len(q.voters) - 1, "delta": -1})]


@register_decider(QuestionSet)
def question_set(s: EventState, ctx: Context, me: Participant, cmd: QuestionSet) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators moderate questions")
    q = _q(s, cmd.question)
    if q.status == cmd.status:
        return []
    after = Question(q.id, q.text, q.author_id, q.author_name, q.at, cmd.status, set(q.voters),
                     ctx.at if cmd.status == "answered" else q.answered_at)
    # Approval publishes the whole question to everyone for the first time.
    return [_frame(after, "question.updated", ctx, me.id, {"question": after.public()})]


@register_decider(QaConfigure)
def qa_configure(s: EventState, ctx: Context, me: Participant, cmd: QaConfigure) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators configure Q&A")
    return [Entry("qa.configured", {"premoderation": cmd.premoderation}, ctx.at, actor=me.id)]


@register_decider(QuestionsToMinutes)
def questions_to_minutes(s: EventState, ctx: Context, me: Participant, cmd: QuestionsToMinutes
                         ) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators write Q&A into the minutes")
    answered = sorted((q for q in s.questions.values() if q.status == "answered"),
                      key=lambda q: q.answered_at or "")
    if not answered:
        raise Conflict("no answered questions yet")
    lines = [f"{i}. {q.text} ({len(q.voters)})" for i, q in enumerate(answered, 1)]
    text = "\n".join(lines)[: ctx.limits.text_max]
    entry = {"id": ctx.make_id(), "room": s.plenary_room, "topic": None, "kind": "question",
             "text": text, "assignee": None, "due": None,
             "author": {"id": me.id, "name": me.name}, "at": ctx.at, "version": 1,
             "edited_at": None, "edited_by": None, "source": {"qa": [q.id for q in answered]}}
    return [Entry("minutes.added", {"entry": entry}, ctx.at, room=s.plenary_room,
                  audience=Audience.ROOM, actor=me.id)]


@register_apply("question.asked")
def _asked(s: EventState, e: Entry) -> None:
    d = e.data["question"]
    author = d["author"]
    s.questions[d["id"]] = Question(d["id"], d["text"], e.actor or "",
                                    author["name"] if author else None, d["at"], d["status"])


@register_apply("question.voted")
def _voted(s: EventState, e: Entry) -> None:
    q = s.questions.get(e.data["question"])
    if q is not None and e.actor:
        (q.voters.add if e.data["delta"] > 0 else q.voters.discard)(e.actor)


@register_apply("question.updated")
def _updated(s: EventState, e: Entry) -> None:
    d = e.data["question"]
    q = s.questions.get(d["id"])
    if q is not None:
        q.status, q.answered_at = d["status"], d["answered_at"]


@register_apply("qa.configured")
def _configured(s: EventState, e: Entry) -> None:
    s.premoderation = e.data["premoderation"]


def qa_view(s: EventState, pid: str) -> dict[str, Any]:
    me = s.participants[pid]
    items = []
    for q in s.questions.values():
        if q.status == "pending" and not me.is_moderator and q.author_id != pid:
            continue
        item = q.public()
        item["mine"] = q.author_id == pid
        item["voted"] = pid in q.voters
        items.append(item)
    return {"premoderation": s.premoderation, "questions": items}


_part_qa = state_part("qa")(qa_view)
