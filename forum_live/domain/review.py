"""Review and approval of the minutes after the event (contract §7), as councils do it.

The people who were there comment on an entry or propose a correction; the moderators
accept (the correction becomes a journaled `minutes.edited`) or reject each proposal; the
organizer approves a version, which is then frozen: the approval entry carries the whole
minutes model as it was, so the journal alone says what version N is, forever. A later
correction makes the minutes a draft again until the next approval, whose entry lists
what changed since the version before.

Pure like the rest of the domain: the HTTP layer (transport/minutes_http.py) asks these
functions for entries and commits them. Review state hangs off EventState as
`state.review` (created on first use), so the core model needs no field for it.
Every entry here is `internal`: live sockets do not need it; the review page reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .context import Context
from .entries import Audience, Entry
from .errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from .model import EventState, Participant, register_apply

HEADER_FIELDS = ("organizer", "distribution", "location")
HEADER_MAX = 500


@dataclass
class Comment:
    id: str
    entry: str | None  # a minutes entry, or None for the minutes as a whole
    author: dict[str, Any]  # {"id", "name"}; id None for the organizer
    text: str
    at: str

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "entry": self.entry, "author": self.author, "text": self.text,
                "at": self.at}


@dataclass
class Proposal:
    id: str
    entry: str
    author: dict[str, Any]
    text: str  # the proposed wording of the entry
    reason: str | None
    at: str
    before: str  # the wording when it was proposed
    status: str = "open"  # "accepted" | "rejected"
    decided_by: dict[str, Any] | None = None
    decided_at: str | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "entry": self.entry, "author": self.author, "text": self.text,
                "reason": self.reason, "at": self.at, "before": self.before,
                "status": self.status, "decided_by": self.decided_by,
                "decided_at": self.decided_at}


@dataclass
class Version:
    number: int
    approved_at: str
    approved_by: str
    note: str | None
    model: dict[str, Any]  # the frozen minutes model of this version
    # lang -> format -> SHA-256 of the bytes rendered at approval (kept by the store's
    # minutes_files); empty for a version approved before the bytes were kept
    files: dict[str, dict[str, str]] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {"version": self.number, "status": "approved", "approved_at": self.approved_at,
                "approved_by": self.approved_by, "note": self.note}


@dataclass
class ReviewState:
    comments: dict[str, Comment] = field(default_factory=dict)
    proposals: dict[str, Proposal] = field(default_factory=dict)
    versions: list[Version] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)  # Q&A question id -> answer
    header: dict[str, str] = field(default_factory=dict)  # organizer, distribution, location


def review_state(s: EventState) -> ReviewState:
    r = s.__dict__.get("review")
    if r is None:
        r = s.__dict__["review"] = ReviewState()
    assert isinstance(r, ReviewState)
    return r


# -- who ----------------------------------------------------------------------------------
ORGANIZER = {"id": None, "name": None}  # the organizer has no participant record


def was_there(p: Participant) -> bool:
    """Took part: was present at some time (a link alone is not enough to comment)."""
    return bool(p.present)


def _who(p: Participant | None) -> dict[str, Any]:
    return {"id": p.id, "name": p.name} if p is not None else dict(ORGANIZER)


def _may_review(p: Participant | None) -> None:
    if p is not None and not p.is_moderator and not was_there(p):
        raise Forbidden("only people who took part comment on the minutes")


def _may_decide(p: Participant | None) -> None:
    if p is not None and not p.is_moderator:
        raise Forbidden("only moderators accept or reject corrections")


def _text(ctx: Context, text: str | None, name: str = "text") -> str:
    t = (text or "").strip()
    if not t:
        raise Invalid(f"{name}: must not be empty")
    if len(t) > ctx.limits.text_max:
        raise TooLarge(f"{name}: at most {ctx.limits.text_max} characters")
    return t


def _minutes_entry(s: EventState, entry: str) -> Any:
    m = s.minutes.get(entry)
    if m is None:
        raise NotFound(f"entry: no minutes entry {entry!r}")
    return m


# -- decisions ----------------------------------------------------------------------------
def comment(s: EventState, ctx: Context, who: Participant | None, entry: str | None,
            text: str) -> list[Entry]:
    _may_review(who)
    if entry is not None:
        _minutes_entry(s, entry)
    c = Comment(ctx.make_id(), entry, _who(who), _text(ctx, text), ctx.at)
    return [Entry("review.commented", {"comment": c.public()}, ctx.at,
                  audience=Audience.INTERNAL, actor=who.id if who else None)]


def propose(s: EventState, ctx: Context, who: Participant | None, entry: str, text: str,
            reason: str | None) -> list[Entry]:
    _may_review(who)
    cur = _minutes_entry(s, entry)
    new = _text(ctx, text)
    if new == cur.text:
        raise Invalid("text: the same as the entry now")
    why = (reason or "").strip()[: ctx.limits.text_max] or None
    p = Proposal(ctx.make_id(), entry, _who(who), new, why, ctx.at, cur.text)
    return [Entry("review.proposed", {"proposal": p.public()}, ctx.at,
                  audience=Audience.INTERNAL, actor=who.id if who else None)]


def decide_proposal(s: EventState, ctx: Context, who: Participant | None, proposal: str,
                    accept: bool) -> list[Entry]:
    """Accepting makes the proposed wording the entry's text (a journaled edit)."""
    _may_decide(who)
    p = review_state(s).proposals.get(proposal)
    if p is None:
        raise NotFound(f"proposal: no proposal {proposal!r}")
    if p.status != "open":
        raise Conflict(f"this proposal was already {p.status}")
    by = _who(who)
    out = [Entry("review.decided", {"proposal": p.id, "status": "accepted" if accept
                                    else "rejected", "by": by}, ctx.at,
                 audience=Audience.INTERNAL, actor=who.id if who else None)]
    if accept:
        cur = s.minutes.get(p.entry)
        if cur is None:
            raise Conflict("the entry was deleted meanwhile")
        updated = cur.public()
        updated.update({"text": p.text, "version": cur.version + 1, "edited_at": ctx.at,
                        "edited_by": {"id": p.author["id"], "name": p.author["name"]},
                        "review": {"proposal": p.id}})
        out.append(Entry("minutes.edited", {"entry": updated}, ctx.at, room=cur.room,
                         audience=Audience.ROOM, actor=who.id if who else None))
    return out


def answer(s: EventState, ctx: Context, who: Participant | None, question: str,
           text: str) -> list[Entry]:
    """The moderation writes down how a Q&A question was answered."""
    _may_decide(who)
    if question not in s.questions:
        raise NotFound(f"question: no question {question!r}")
    return [Entry("review.answered", {"question": question, "text": _text(ctx, text)},
                  ctx.at, audience=Audience.INTERNAL, actor=who.id if who else None)]


def set_header(s: EventState, ctx: Context, values: dict[str, str | None]) -> list[Entry]:
    """Organizer: what the head of the Protokoll says beyond what the journal knows."""
    data: dict[str, str] = {}
    for k, v in values.items():
        if k not in HEADER_FIELDS or v is None:
            continue
        v = v.strip()
        if len(v) > HEADER_MAX:
            raise TooLarge(f"{k}: at most {HEADER_MAX} characters")
        data[k] = v
    if not data:
        raise Invalid("one of organizer, distribution, location is needed")
    return [Entry("review.header", {"header": data}, ctx.at, audience=Audience.INTERNAL)]


def approve(s: EventState, ctx: Context, by: str, note: str | None,
            model: dict[str, Any], changes: list[dict[str, Any]],
            files: dict[str, dict[str, str]] | None = None) -> list[Entry]:
    """Freeze `model` (the current minutes, built by the caller) as the next version.
    `files` names the SHA-256 of every format's bytes rendered from the frozen model
    (lang -> format -> digest); the caller renders them and keeps the bytes in the
    store before the entry is committed (see transport/minutes_http.py)."""
    rv = review_state(s)
    if rv.versions and not changes and _same(rv.versions[-1].model, model):
        raise Conflict(f"nothing changed since version {rv.versions[-1].number}")
    number = len(rv.versions) + 1
    frozen = dict(model)
    frozen["approval"] = {"status": "approved", "version": number, "approved_at": ctx.at,
                          "approved_by": by, "note": (note or "").strip() or None,
                          "changes": changes}
    data: dict[str, Any] = {"version": number, "approved_by": by,
                            "note": frozen["approval"]["note"], "model": frozen}
    if files:
        data["files"] = files
    return [Entry("minutes.approved", data, ctx.at, audience=Audience.INTERNAL)]


def same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two minutes models say the same (their approval parts aside)."""
    return _same(a, b)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def strip(m: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in m.items() if k != "approval"}
    return strip(a) == strip(b)


def pending_changes(s: EventState, current: dict[str, Any]) -> list[dict[str, Any]]:
    """What the current minutes change against the last approved version."""
    rv = review_state(s)
    if not rv.versions:
        return []
    return diff(rv.versions[-1].model, current)


def _all_entries(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    lists = [model.get("plenary") or [], model.get("other_rooms") or []]
    for t in model.get("topics") or []:
        lists.append(t.get("entries") or [])
        lists += [r.get("entries") or [] for r in t.get("rooms") or []]
    for items in lists:
        for e in items:
            out[e["id"]] = e
    return out


def _fields(e: dict[str, Any]) -> tuple[Any, ...]:
    return (e.get("kind"), e.get("text"), e.get("assignee"), e.get("due"))


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Entries added, changed or removed between two models, in reading order of `after`."""
    a, b = _all_entries(before), _all_entries(after)
    out: list[dict[str, Any]] = []
    for eid, e in b.items():
        old = a.get(eid)
        if old is None:
            out.append({"change": "added", "entry": eid, "kind": e["kind"], "before": None,
                        "after": e["text"]})
        elif _fields(old) != _fields(e):
            out.append({"change": "changed", "entry": eid, "kind": e["kind"],
                        "before": old["text"], "after": e["text"]})
    for eid, e in a.items():
        if eid not in b:
            out.append({"change": "removed", "entry": eid, "kind": e["kind"],
                        "before": e["text"], "after": None})
    for key in ("answered_questions",):
        qa, qb = ({q["id"]: q for q in m.get(key) or []} for m in (before, after))
        for qid, q in qb.items():
            if qa.get(qid, {}).get("answer") != q.get("answer"):
                out.append({"change": "answered", "entry": qid, "kind": "question",
                            "before": qa.get(qid, {}).get("answer"), "after": q.get("answer")})
    return out


# -- the fold -----------------------------------------------------------------------------
@register_apply("review.commented")
def _commented(s: EventState, e: Entry) -> None:
    d = e.data["comment"]
    review_state(s).comments[d["id"]] = Comment(d["id"], d["entry"], d["author"], d["text"],
                                                d["at"])


@register_apply("review.proposed")
def _proposed(s: EventState, e: Entry) -> None:
    d = e.data["proposal"]
    review_state(s).proposals[d["id"]] = Proposal(
        d["id"], d["entry"], d["author"], d["text"], d["reason"], d["at"], d["before"])


@register_apply("review.decided")
def _decided(s: EventState, e: Entry) -> None:
    p = review_state(s).proposals.get(e.data["proposal"])
    if p is not None:
        p.status, p.decided_by, p.decided_at = e.data["status"], e.data["by"], e.at


@register_apply("review.answered")
def _answered(s: EventState, e: Entry) -> None:
    review_state(s).answers[e.data["question"]] = e.data["text"]


@register_apply("review.header")
def _header(s: EventState, e: Entry) -> None:
    review_state(s).header.update(e.data["header"])


@register_apply("minutes.approved")
def _approved(s: EventState, e: Entry) -> None:
    rv = review_state(s)
    rv.versions.append(Version(e.data["version"], e.at, e.data["approved_by"],
                               e.data.get("note"), e.data["model"],
                               dict(e.data.get("files") or {})))


def review_view(s: EventState) -> dict[str, Any]:
    """What the review page shows beside the minutes."""
    rv = review_state(s)
    return {"comments": [c.public() for c in rv.comments.values()],
            "proposals": [p.public() for p in rv.proposals.values()],
            "versions": [v.public() for v in rv.versions],
            "answers": dict(rv.answers), "header": dict(rv.header)}
