"""Live polls: single, multiple, rating and text; per room, across all breakouts, or the
whole event; named or anonymous; results live or on close.

Anonymous means unlinkable. A named vote is a journal entry (moderators see who voted
what). An anonymous vote is two sealed entries that never enter the journal: "this person
took part" and "this choice was made", kept apart by the store's ballot box. The live
state folds both, so counts survive a restart; nothing stored pairs voter and choice.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .commands import Command, Id, register_command
from .context import Context
from .decide import register_decider
from .entries import Audience, Entry
from .errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from .model import EventState, Participant, register_apply
from .features import state_part

Scope = Literal["room", "all_breakouts", "event"]
Kind = Literal["single", "multiple", "rating", "text"]
TOTAL = "*"  # the results key that sums all rooms
MAX_OPTIONS = 20


# ---- commands -------------------------------------------------------------------------
Option = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


@register_command
class PollCreate(Command):
    type: Literal["poll.create"]
    scope: Scope = "room"
    room: Id | None = None
    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=500)]
    kind: Kind
    options: Annotated[list[Option], Field(max_length=MAX_OPTIONS)] | None = None
    max_choices: Annotated[int, Field(ge=1, le=MAX_OPTIONS)] | None = None
    scale: Annotated[list[int], Field(min_length=2, max_length=2)] | None = None
    anonymous: bool = False
    results: Literal["live", "on_close"] = "live"
    topic: Id | None = None  # the agenda topic it belongs to (default: its rooms' topic)


@register_command
class PollVote(Command):
    type: Literal["poll.vote"]
    poll: Id
    choice: int | None = None
    choices: Annotated[list[int], Field(max_length=MAX_OPTIONS)] | None = None
    rating: int | None = None
    text: str | None = None


@register_command
class PollClose(Command):
    type: Literal["poll.close"]
    poll: Id


@register_command
class PollShow(Command):
    """Extension: show a closed poll's final results again (to its audience)."""
    type: Literal["poll.show"]
    poll: Id


# ---- state ----------------------------------------------------------------------------
@dataclass
class Poll:
    id: str
    scope: str
    room: str | None  # the room of a room poll
    rooms: list[str]  # where votes count: [room], the breakout rooms, or [] (everywhere)
    question: str
    kind: str
    options: list[str]
    scale: tuple[int, int] | None
    max_choices: int | None
    anonymous: bool
    results: str
    created_by: str
    created_at: str
    closed_at: str | None = None
    voters: set[str] = field(default_factory=set)
    counts: dict[str, Counter[str]] = field(default_factory=dict)  # room -> key -> n
    texts: dict[str, list[str]] = field(default_factory=dict)  # room -> answers
    ballots: dict[str, dict[str, Any]] = field(default_factory=dict)  # named: voter -> ballot
    room_ballots: Counter[str] = field(default_factory=Counter)  # anonymous: room -> ballots
    published: dict[str, Any] | None = None  # anonymous: the last journaled results
    topic: str | None = None  # the agenda topic (the minutes print it under that topic)

    @property
    def open(self) -> bool:
        return self.closed_at is None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "scope": self.scope, "room": self.room, "rooms": self.rooms,
                "question": self.question, "kind": self.kind, "options": self.options,
                "scale": list(self.scale) if self.scale else None,
                "max_choices": self.max_choices, "anonymous": self.anonymous,
                "results": self.results, "status": "open" if self.open else "closed",
                "topic": self.topic}

    def keys(self) -> list[str]:
        if self.kind == "rating" and self.scale:
            return [str(v) for v in range(self.scale[0], self.scale[1] + 1)]
        return [str(i) for i in range(len(self.options))]

    def add(self, room: str, keys: list[str], text: str | None, sign: int = 1) -> None:
        c = self.counts.setdefault(room, Counter())
        for k in keys:
            c[k] += sign
            if c[k] <= 0:
                del c[k]
        if text is not None:
            answers = self.texts.setdefault(room, [])
            if sign > 0:
                answers.append(text)
            elif text in answers:
                answers.remove(text)


# ---- helpers --------------------------------------------------------------------------
def _get(s: EventState, poll_id: str) -> Poll:
    poll = s.polls.get(poll_id)
    if poll is None:
        raise NotFound(f"no poll {poll_id!r}")
    return poll  # type: ignore[no-any-return]


def sees(s: EventState, poll: Poll, pid: str) -> bool:
    """Who sees (and may vote in) a poll: the members of its rooms, or everyone."""
    if poll.scope == "event":
        return True
    p = s.participants.get(pid)
    if poll.scope == "all_breakouts" and p is not None and p.is_moderator:
        return True
    return s.room_of(pid) in poll.rooms


def audience(poll: Poll) -> tuple[Audience, str | None]:
    if poll.scope == "room":
        return Audience.ROOM, poll.room
    return Audience.EVENT, None


def eligible(s: EventState, poll: Poll) -> int:
    """How many people online could vote now (the "of 31" in "18 of 31 voted"). The
    moderation runs the poll and is not counted, unless a moderator did vote."""
    return sum(1 for p in s.participants.values() if p.online and sees(s, poll, p.id)
               and (not p.is_moderator or p.id in poll.voters))


def ballot_keys(s: EventState, poll: Poll, cmd: PollVote, ctx: Context) -> tuple[list[str], str | None]:
    """Validate a vote against its poll: the count keys it adds, or its text answer."""
    n = len(poll.options)
    if poll.kind == "single":
        if cmd.choice is None:
            raise Invalid("choice: required for a single-choice poll")
        if not 0 <= cmd.choice < n:
            raise Invalid(f"choice: must be an option index from 0 to {n - 1}")
        return [str(cmd.choice)], None
    if poll.kind == "multiple":
        picked = cmd.choices if cmd.choices is not None else (
            [cmd.choice] if cmd.choice is not None else None)
        if not picked:
            raise Invalid("choices: pick at least one option")
        if len(set(picked)) != len(picked):
            raise Invalid("choices: each option at most once")
        if any(not 0 <= c < n for c in picked):
            raise Invalid(f"choices: option indexes go from 0 to {n - 1}")
        if poll.max_choices is not None and len(picked) > poll.max_choices:
            raise Invalid(f"choices: at most {poll.max_choices}")
        return [str(c) for c in sorted(picked)], None
    if poll.kind == "rating":
        lo, hi = poll.scale or (1, 5)
        if cmd.rating is None or not lo <= cmd.rating <= hi:
            raise Invalid(f"rating: a whole number from {lo} to {hi}")
        return [str(cmd.rating)], None
    text = (cmd.text or "").strip()
    if not text:
        raise Invalid("text: must not be empty")
    if len(text) > ctx.limits.poll_text_max:
        raise TooLarge(f"text: at most {ctx.limits.poll_text_max} characters")
    return [], text


WORD = re.compile(r"[\wÄÖÜäöüß-]{3,}", re.UNICODE)


def word_cloud(answers: list[str], top: int = 40) -> list[list[Any]]:
    words: Counter[str] = Counter()
    for a in answers:
        words.update(w.lower() for w in WORD.findall(a))
    return [[w, n] for w, n in words.most_common(top)]


ROOM_BALLOTS = "#n"  # the ballot box's per-room ballot count (store/batch.py)


def shown_rooms(poll: Poll, rooms: list[str], k: int) -> list[str]:
    """The rooms whose results an anonymous poll may show: each with at least k ballots,
    and the hidden ones together either none or at least k (else their sum would follow
    from the total minus the shown rooms)."""
    n = poll.room_ballots
    hidden = [r for r in rooms if n.get(r, 0) < k]
    shown = sorted((r for r in rooms if n.get(r, 0) >= k), key=lambda r: (n.get(r, 0), r))
    while shown and 0 < sum(n.get(r, 0) for r in hidden) < k:
        hidden.append(shown.pop(0))
    return [r for r in rooms if r in shown]


def results(s: EventState, poll: Poll, final: bool, k: int = 5) -> dict[str, Any]:
    """The results anyone may see now (the ready state, the exports). A named poll: its
    current counts. An anonymous poll: what was last journaled for it (`poll.results`,
    which moves in steps of at least k ballots, or at close), all zero before that;
    never the live counts, which may be fewer than k ballots ahead."""
    if not poll.anonymous:
        return tally(s, poll, final, k)
    if poll.published is not None and (poll.open or poll.published.get("final")):
        return dict(poll.published)
    if not poll.open:  # closed, but its final results are not journaled yet
        return tally(s, poll, True, k)
    empty = Poll(poll.id, poll.scope, poll.room, poll.rooms, poll.question, poll.kind,
                 poll.options, poll.scale, poll.max_choices, poll.anonymous, poll.results,
                 poll.created_by, poll.created_at, poll.closed_at)
    return tally(s, empty, final, k)


def tally(s: EventState, poll: Poll, final: bool, k: int = 5) -> dict[str, Any]:
    """The full results (never a delta): a client that missed an update loses nothing.

    Anonymous polls show per-room results only in the final results, and only for rooms
    that `shown_rooms` lets through (k = the `anonymous_step` limit)."""
    keys = poll.keys()
    rooms = poll.rooms if poll.scope == "all_breakouts" else []
    if poll.anonymous and rooms:
        rooms = shown_rooms(poll, rooms, k) if final else []
    total: Counter[str] = Counter()
    for c in poll.counts.values():
        total.update(c)
    answers = [a for r in sorted(poll.texts) for a in poll.texts[r]]
    body: dict[str, Any] = {
        "poll": poll.id, "kind": poll.kind, "final": final, "total": len(poll.voters),
        "eligible": eligible(s, poll),
        "counts": [total.get(k, 0) for k in keys] if poll.kind != "text" else [],
    }
    if poll.kind == "rating":
        n = sum(total.values())
        body["scale"] = list(poll.scale) if poll.scale else [1, 5]
        body["mean"] = round(sum(int(k) * v for k, v in total.items()) / n, 2) if n else None
    if poll.kind == "text":
        body["answers"] = sorted(answers, key=str.lower)  # not in arrival order
        body["words"] = word_cloud(answers)
    if poll.anonymous and poll.scope == "all_breakouts":
        body["per_room_min"] = k  # rooms with fewer ballots are not shown on their own
    if rooms:
        body["per_room"] = {
            r: ({"counts": [poll.counts.get(r, Counter()).get(k, 0) for k in keys]}
                if poll.kind != "text" else {"answers": sorted(poll.texts.get(r, []))})
            for r in rooms}
    return body


def results_entry(s: EventState, ctx: Context, poll: Poll, final: bool,
                  shown: bool = False) -> Entry:
    """poll.results to the poll's audience; while an on_close poll runs, moderators only."""
    aud, room = audience(poll)
    if not final and poll.results == "on_close":
        aud = Audience.MODERATORS
    data = tally(s, poll, final, ctx.limits.anonymous_step)
    if shown:
        data["shown"] = True
    return Entry("poll.results", data, ctx.at, room=room, audience=aud)


# ---- decisions ------------------------------------------------------------------------
@register_decider(PollCreate)
def poll_create(s: EventState, ctx: Context, me: Participant, cmd: PollCreate) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators create polls")
    room = None
    rooms: list[str] = []
    if cmd.scope == "room":
        room = cmd.room or s.room_of(me.id)
        if room not in s.rooms or not s.rooms[room].open:
            raise NotFound(f"room: no open room {room!r}")
        rooms = [room]
    elif cmd.scope == "all_breakouts":
        rnd = s.breakout
        if rnd is None:
            raise Conflict("scope: no breakout rooms are open")
        rooms = list(rnd.rooms)
    options: list[str] = list(cmd.options or [])
    scale = None
    if cmd.kind in ("single", "multiple"):
        if len(options) < 2:
            raise Invalid("options: at least two")
        if len({o.lower() for o in options}) != len(options):
            raise Invalid("options: each option once")
    elif cmd.kind == "rating":
        lo, hi = cmd.scale or (1, 5)
        if not (-10 <= lo < hi <= 10 and hi - lo <= 10):
            raise Invalid("scale: two whole numbers, low < high, at most 11 steps")
        scale = [lo, hi]
        options = []
    else:
        options = []
    if cmd.max_choices is not None and cmd.kind != "multiple":
        raise Invalid("max_choices: only for multiple-choice polls")
    if sum(1 for p in s.polls.values() if p.open) >= ctx.limits.open_polls_max:
        raise Conflict(f"at most {ctx.limits.open_polls_max} open polls at once")
    topic = cmd.topic
    if topic is not None and topic not in s.topics:
        raise NotFound(f"topic: no topic {topic!r} in this event")
    if topic is None:  # a poll of breakout rooms belongs to their topic, if they share one
        shared = {s.rooms[r].topic for r in rooms if r in s.rooms}
        topic = shared.pop() if len(shared) == 1 else None
    poll = {"id": ctx.make_id(), "scope": cmd.scope, "room": room, "rooms": rooms,
            "question": cmd.question, "kind": cmd.kind, "options": options, "scale": scale,
            "max_choices": cmd.max_choices, "anonymous": cmd.anonymous,
            "results": cmd.results, "status": "open", "topic": topic}
    aud, aroom = Audience.ROOM if room else Audience.EVENT, room
    return [Entry("poll.opened", {"poll": poll}, ctx.at, room=aroom, audience=aud,
                  actor=me.id)]


@register_decider(PollVote)
def poll_vote(s: EventState, ctx: Context, me: Participant, cmd: PollVote) -> list[Entry]:
    poll = _get(s, cmd.poll)
    if not sees(s, poll, me.id) or (poll.scope == "all_breakouts" and me.is_moderator):
        raise Forbidden("this poll belongs to another room")
    if not poll.open:
        raise Conflict("this poll is closed")
    keys, text = ballot_keys(s, poll, cmd, ctx)
    room = s.room_of(me.id) if poll.scope != "event" else TOTAL
    if poll.anonymous:
        if me.id in poll.voters:
            raise Conflict("you have already voted in this anonymous poll")
        # Two sealed entries: who took part, and what was chosen. Never paired.
        return [Entry("poll.voter", {"poll": poll.id, "participant": me.id}, "", sealed=True,
                      audience=Audience.INTERNAL),
                Entry("poll.ballot", {"poll": poll.id, "room": room, "keys": keys,
                                      "text": text}, "", sealed=True,
                      audience=Audience.INTERNAL)]
    ballot = {"room": room, "keys": keys, "text": text}
    return [Entry("poll.voted", {"poll": poll.id, "participant": me.id, "name": me.name,
                                 **ballot}, ctx.at, audience=Audience.MODERATORS,
                  actor=me.id)]


@register_decider(PollClose)
def poll_close(s: EventState, ctx: Context, me: Participant, cmd: PollClose) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators close polls")
    poll = _get(s, cmd.poll)
    if not poll.open:
        raise Conflict("this poll is already closed")
    aud, room = audience(poll)
    closed = Entry("poll.closed", {"poll": poll.id}, ctx.at, room=room, audience=aud,
                   actor=me.id)
    final = results_entry(s, ctx, poll, final=True)
    return [closed, final]


@register_decider(PollShow)
def poll_show(s: EventState, ctx: Context, me: Participant, cmd: PollShow) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators show poll results")
    poll = _get(s, cmd.poll)
    if poll.open:
        raise Conflict("close the poll before showing its final results")
    return [results_entry(s, ctx, poll, final=True, shown=True)]


# ---- the fold -------------------------------------------------------------------------
@register_apply("poll.opened")
def _opened(s: EventState, e: Entry) -> None:
    d = e.data["poll"]
    s.polls[d["id"]] = Poll(d["id"], d["scope"], d["room"], d["rooms"], d["question"],
                            d["kind"], d["options"], tuple(d["scale"]) if d["scale"] else None,
                            d.get("max_choices"), d["anonymous"], d["results"],
                            e.actor or "", e.at, topic=d.get("topic"))


@register_apply("poll.voted")
def _voted(s: EventState, e: Entry) -> None:
    poll = s.polls.get(e.data["poll"])
    if poll is None:
        return
    pid = e.data["participant"]
    old = poll.ballots.get(pid)
    if old is not None:  # a revote replaces the earlier vote
        poll.add(old["room"], old["keys"], old["text"], sign=-1)
    ballot = {"room": e.data["room"], "keys": e.data["keys"], "text": e.data["text"]}
    poll.ballots[pid] = ballot
    poll.voters.add(pid)
    poll.add(ballot["room"], ballot["keys"], ballot["text"])


@register_apply("poll.voter")
def _voter(s: EventState, e: Entry) -> None:
    poll = s.polls.get(e.data["poll"])
    if poll is not None:
        poll.voters.add(e.data["participant"])


@register_apply("poll.ballot")
def _ballot(s: EventState, e: Entry) -> None:
    poll = s.polls.get(e.data["poll"])
    if poll is not None:
        poll.add(e.data["room"], e.data.get("keys") or [], e.data.get("text"))
        poll.room_ballots[e.data["room"]] += 1


@register_apply("poll.tally")
def _tally(s: EventState, e: Entry) -> None:
    """Counts of anonymous polls, read back from the ballot box at start."""
    poll = s.polls.get(e.data["poll"])
    if poll is None:
        return
    if e.data["key"] == ROOM_BALLOTS:
        poll.room_ballots[e.data["room"]] += e.data["n"]
    else:
        poll.counts.setdefault(e.data["room"], Counter())[e.data["key"]] += e.data["n"]


@register_apply("poll.results")
def _results(s: EventState, e: Entry) -> None:
    """What an anonymous poll has shown: the ready state shows that, not the live counts,
    which may be fewer than k ballots ahead (issue 13)."""
    poll = s.polls.get(e.data["poll"])
    if poll is not None and poll.anonymous:
        poll.published = e.data


@register_apply("poll.closed")
def _closed(s: EventState, e: Entry) -> None:
    poll = s.polls.get(e.data["poll"])
    if poll is not None:
        poll.closed_at = e.at


def poll_view(s: EventState, pid: str) -> list[dict[str, Any]]:
    """The polls part of the ready state: what this person sees, with results when due."""
    me = s.participants.get(pid)
    out = []
    for poll in s.polls.values():
        if not sees(s, poll, pid):
            continue
        item: dict[str, Any] = {"poll": poll.public(), "voted": pid in poll.voters}
        if not poll.anonymous and pid in poll.ballots:
            b = poll.ballots[pid]
            item["my_vote"] = {"keys": b["keys"], "text": b["text"]}
        if not poll.open or poll.results == "live" or (me and me.is_moderator):
            item["results"] = results(s, poll, final=not poll.open)
        if me and me.is_moderator and not poll.anonymous:
            item["votes"] = [{"participant": v, "name": s.participants[v].name
                              if v in s.participants else v, **b}
                             for v, b in poll.ballots.items()]
        out.append(item)
    return out


_part_polls = state_part("polls")(poll_view)


# ---- coalescing -----------------------------------------------------------------------
@dataclass
class ResultsThrottle:
    """At most one results update per poll per `interval` seconds, whatever the vote rate.

    Pure: the caller passes the clock. `mark` says when the next update is due; `take`
    hands out the polls that are due now.
    """

    interval: float
    dirty: dict[str, float] = field(default_factory=dict)  # poll -> due time
    last: dict[str, float] = field(default_factory=dict)  # poll -> time of last update

    def mark(self, poll: str, now: float) -> float:
        if poll not in self.dirty:
            self.dirty[poll] = max(now, self.last.get(poll, -1e18) + self.interval)
        return self.dirty[poll]

    def next_due(self) -> float | None:
        return min(self.dirty.values()) if self.dirty else None

    def take(self, now: float) -> list[str]:
        due = [p for p, t in self.dirty.items() if t <= now]
        for p in due:
            del self.dirty[p]
            self.last[p] = now
        return due

    def forget(self, poll: str, now: float) -> None:
        """A final update went out by other means (close): nothing pending."""
        self.dirty.pop(poll, None)
        self.last[poll] = now
