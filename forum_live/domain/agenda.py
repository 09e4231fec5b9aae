"""The run of show (issue 17): agenda steps prepared before the forum and run by one
action, "Nächster Punkt" (`agenda.next`).

A step is a welcome, an impulse (topic, speaker, slides, floor time), a breakout round
(rooms per topic, assignment, duration, prepared polls for the rooms), a report-back
(speakers in order), a poll (prepared) or a break (a timer). Advancing journals
`agenda.advanced` and then exactly the entries the manual commands would have made: the
platform calls the deciders of breakouts, floor, polls, timers and slides, each against
the state as the entries before it leave it. Leaving a step ends what it started (the
floor, open rooms, its polls, its timer). Skipping, reordering and adding steps live are
journaled too; everything is a fold of the journal, so a restart in the middle of a step
goes on where it was.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Literal

from pydantic import Field, StringConstraints

from .breakouts import BreakoutsOpen, RoomSpec, _close, breakouts_open
from .commands import Body, Command, Id, register_command
from .context import Context
from .decide import register_decider
from .entries import Entry
from .errors import Conflict, Forbidden, Invalid, NotFound
from .features import state_part
from .floor import FloorGive, _end as floor_end_entries, floor_give
from .model import EventState, Participant, register_apply
from .polls import PollClose, PollCreate, poll_close, poll_create
from .slides import SlidesShow, slide_state, slides_show
from .timers import TimerStart, TimerStop, timer_start, timer_stop

StepKind = Literal["welcome", "impulse", "breakout", "report", "poll", "break"]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
MAX_STEPS = 60
KIND_TITLES = {"welcome": "Begrüßung", "impulse": "Impuls", "breakout": "Breakout-Runde",
               "report": "Bericht aus den Räumen", "poll": "Umfrage", "break": "Pause"}


class PreparedPoll(Body):
    """A poll written before the forum: launched by its step with one action."""
    question: Title
    kind: Literal["single", "multiple", "rating", "text"]
    options: Annotated[list[Title], Field(max_length=20)] | None = None
    max_choices: Annotated[int, Field(ge=1, le=20)] | None = None
    scale: Annotated[list[int], Field(min_length=2, max_length=2)] | None = None
    anonymous: bool = False
    results: Literal["live", "on_close"] = "live"


class StepIn(Body):
    kind: StepKind
    title: Title | None = None
    planned_at: Annotated[str, StringConstraints(max_length=64)] | None = None
    duration_s: Annotated[int, Field(ge=1, le=24 * 3600)] | None = None
    topic: Id | None = None  # impulse: whose topic; breakout: only this topic's rooms
    speaker: Name | None = None  # impulse: who gets the floor (by name; default the topic's)
    slides: Id | None = None  # impulse: the deck shown (default the topic's first)
    floor_s: Annotated[int, Field(ge=10, le=3600)] | None = None  # impulse/report: floor time
    rooms: Annotated[list[RoomSpec], Field(min_length=1, max_length=50)] | None = None
    per_topic: Annotated[int, Field(ge=1, le=20)] | None = None
    assign: Literal["self", "auto", "manual"] = "auto"
    speakers: Annotated[list[Name], Field(max_length=50)] = []  # report: in this order
    polls: Annotated[list[PreparedPoll], Field(max_length=10)] = []


Steps = Annotated[list[StepIn], Field(max_length=MAX_STEPS)]


@register_command
class AgendaSet(Command):
    """The whole run of show (before its first step has started)."""
    type: Literal["agenda.set"]
    steps: Steps


@register_command
class AgendaAdd(Command):
    type: Literal["agenda.add"]
    step: StepIn
    position: Annotated[int, Field(ge=0, le=MAX_STEPS)] | None = None  # default: at the end


@register_command
class AgendaMove(Command):
    type: Literal["agenda.move"]
    step: Id
    position: Annotated[int, Field(ge=0, le=MAX_STEPS)]


@register_command
class AgendaSkip(Command):
    type: Literal["agenda.skip"]
    step: Id


@register_command
class AgendaNext(Command):
    """"Nächster Punkt": end the current step (or its current speaker) and run the next."""
    type: Literal["agenda.next"]


@register_command
class AgendaPoll(Command):
    """Launch one prepared poll of a step now, with one action (whatever step is running)."""
    type: Literal["agenda.poll"]
    step: Id
    poll: Annotated[int, Field(ge=0, le=9)] = 0


@dataclass
class Step:
    id: str
    plan: dict[str, Any]  # the StepIn as prepared
    status: str = "planned"  # planned | running | done | skipped
    started_at: str | None = None
    ended_at: str | None = None
    speaker: int = -1  # report-back: index of the current speaker
    made: dict[str, Any] = field(default_factory=dict)  # what the step started: polls, timer …

    @property
    def kind(self) -> str:
        return str(self.plan["kind"])

    def title(self, s: EventState) -> str:
        if self.plan.get("title"):
            return str(self.plan["title"])
        topic = s.topics.get(self.plan.get("topic") or "")
        base = KIND_TITLES[self.kind]
        return f"{base}: {topic.title}" if topic else base

    def public(self, s: EventState) -> dict[str, Any]:
        # auto_title: made from kind and topic (German), so a client shows its own words
        return {"id": self.id, **self.plan, "title": self.title(s),
                "auto_title": not self.plan.get("title"), "status": self.status,
                "started_at": self.started_at, "ended_at": self.ended_at,
                "speaker": self.speaker if self.speaker >= 0 else None}


@dataclass
class AgendaState:
    steps: list[Step] = field(default_factory=list)
    current: str | None = None

    def get(self, step_id: str) -> Step:
        for st in self.steps:
            if st.id == step_id:
                return st
        raise NotFound(f"step: no agenda step {step_id!r}")

    def next_planned(self) -> Step | None:
        return next((st for st in self.steps if st.status == "planned"), None)


def agenda_state(s: EventState) -> AgendaState:
    part = s.__dict__.get("agenda_state")
    if not isinstance(part, AgendaState):
        part = AgendaState()
        s.__dict__["agenda_state"] = part
    return part


def _moderator(me: Participant | None) -> None:
    if me is not None and not me.is_moderator:
        raise Forbidden("only moderators run the agenda")


def _check(s: EventState, step: StepIn) -> dict[str, Any]:
    if step.topic is not None and step.topic not in s.topics:
        raise NotFound(f"topic: no topic {step.topic!r}")
    if step.kind == "poll" and not step.polls:
        raise Invalid("polls: a poll step needs a prepared poll")
    if step.kind == "break" and not step.duration_s:
        raise Invalid("duration_s: a break needs its length")
    for i, poll in enumerate(step.polls):
        if poll.kind in ("single", "multiple") and len(poll.options or []) < 2:
            raise Invalid(f"polls.{i}.options: at least two")
    return step.model_dump(mode="json", exclude_none=True)


def plan(s: EventState, ctx: Context, steps: list[StepIn], actor: str | None) -> list[Entry]:
    """The run of show as prepared (organizer over HTTP, moderators by `agenda.set`)."""
    part = agenda_state(s)
    if any(st.status != "planned" for st in part.steps):
        raise Conflict("the agenda is running: add, move or skip steps instead")
    data = [{"id": ctx.make_id(), "plan": _check(s, st)} for st in steps]
    return [Entry("agenda.planned", {"steps": data}, ctx.at, actor=actor)]


@register_decider(AgendaSet)
def agenda_set(s: EventState, ctx: Context, me: Participant, cmd: AgendaSet) -> list[Entry]:
    _moderator(me)
    return plan(s, ctx, list(cmd.steps), me.id)


@register_decider(AgendaAdd)
def agenda_add(s: EventState, ctx: Context, me: Participant, cmd: AgendaAdd) -> list[Entry]:
    _moderator(me)
    part = agenda_state(s)
    if len(part.steps) >= MAX_STEPS:
        raise Conflict(f"at most {MAX_STEPS} steps")
    pos = len(part.steps) if cmd.position is None else min(cmd.position, len(part.steps))
    step = {"id": ctx.make_id(), "plan": _check(s, cmd.step)}
    return [Entry("agenda.added", {"step": step, "position": pos}, ctx.at, actor=me.id)]


@register_decider(AgendaMove)
def agenda_move(s: EventState, ctx: Context, me: Participant, cmd: AgendaMove) -> list[Entry]:
    _moderator(me)
    part = agenda_state(s)
    step = part.get(cmd.step)
    if step.status != "planned":
        raise Conflict("only a step still to come can be moved")
    order = [st.id for st in part.steps if st.id != step.id]
    # a step to come goes after everything that has already run
    first = max((i + 1 for i, sid in enumerate(order)
                 if part.get(sid).status in ("done", "running")),
                default=0)
    order.insert(max(first, min(cmd.position, len(order))), step.id)
    return [Entry("agenda.reordered", {"order": order}, ctx.at, actor=me.id)]


@register_decider(AgendaSkip)
def agenda_skip(s: EventState, ctx: Context, me: Participant, cmd: AgendaSkip) -> list[Entry]:
    _moderator(me)
    step = agenda_state(s).get(cmd.step)
    if step.status != "planned":
        raise Conflict("only a step still to come can be skipped")
    return [Entry("agenda.skipped", {"step": step.id}, ctx.at, actor=me.id)]


# ---- running a step --------------------------------------------------------------------
class _Run:
    """The entries of one advance, each decided against the state the ones before it
    leave (a private copy of the state, folded as we go)."""

    def __init__(self, s: EventState, ctx: Context, me: Participant) -> None:
        self.s, self.ctx, self.me_id = s, ctx, me.id
        self.trial: EventState | None = None
        self.out: list[Entry] = []

    @property
    def state(self) -> EventState:
        return self.trial if self.trial is not None else self.s

    @property
    def me(self) -> Participant:
        return self.state.participants[self.me_id]

    def add(self, entries: list[Entry]) -> list[Entry]:
        if entries:
            if self.trial is None:
                features = self.s.features
                self.trial = copy.deepcopy(self.s)
                self.trial.features = features
            for e in entries:
                self.trial.apply(e)
            self.out += entries
        return entries

    def do(self, fn: Callable[..., list[Entry]], cmd: Command) -> list[Entry]:
        return self.add(fn(self.state, self.ctx, self.me, cmd))


def _person(s: EventState, name: str | None) -> str | None:
    """The admitted participant of this name (online first), for the floor."""
    if not name:
        return None
    want = name.strip().casefold()
    found = [p for p in s.participants.values()
             if p.admitted and p.name.strip().casefold() == want]
    found.sort(key=lambda p: not p.online)
    return found[0].id if found else None


def _leave(run: _Run, step: Step) -> None:
    """End what the step started and is still going."""
    s = run.state
    made = step.made
    if step.kind in ("impulse", "report") and s.plenary_room in s.floor:
        run.add(floor_end_entries(s, run.ctx, s.plenary_room, run.me_id))
    if step.kind == "impulse" and s.plenary_room in slide_state(s).shown:
        run.do(slides_show, SlidesShow(type="slides.show", slides=None))
    if step.kind == "breakout" and s.breakout is not None and s.breakout.number == made.get(
            "round"):
        run.add(_close(s, run.ctx, run.me_id, "agenda"))
    for pid in made.get("polls", []):
        poll = run.state.polls.get(pid)
        if poll is not None and poll.open:
            run.do(poll_close, PollClose(type="poll.close", poll=pid))
    timer = made.get("timer")
    if timer and timer in run.state.timers:
        run.do(timer_stop, TimerStop(type="timer.stop", timer=timer))


def _launch_polls(run: _Run, step: Step, scope: str) -> list[str]:
    ids = []
    for p in step.plan.get("polls", []):
        room = run.state.plenary_room if scope == "room" else None
        cmd = PollCreate(type="poll.create", scope=scope, room=room, question=p["question"],  # type: ignore[arg-type]
                         kind=p["kind"], options=p.get("options"),
                         max_choices=p.get("max_choices"), scale=p.get("scale"),
                         anonymous=p.get("anonymous", False), results=p.get("results", "live"),
                         topic=step.plan.get("topic"))
        for e in run.do(poll_create, cmd):
            if e.kind == "poll.opened":
                ids.append(e.data["poll"]["id"])
    return ids


def _give_floor(run: _Run, name: str | None, limit_s: int | None) -> str | None:
    pid = _person(run.state, name)
    if pid is None:
        return None
    # the floor of the plenary: a moderator elsewhere gives it like one in the plenary
    run.do(floor_give, FloorGive(type="floor.give", participant=pid, limit_s=limit_s))
    return pid


def _start(run: _Run, step: Step) -> dict[str, Any]:
    """Do the step: the entries its manual commands would make. Returns what it made."""
    p = step.plan
    s = run.state
    made: dict[str, Any] = {}
    if step.kind == "impulse":
        topic = s.topics.get(p.get("topic") or "")
        speaker = p.get("speaker") or (topic.speaker if topic else None)
        made["speaker"] = _give_floor(run, speaker, p.get("floor_s") or p.get("duration_s"))
        deck = p.get("slides")
        if deck is None and topic is not None:
            deck = next((d.id for d in slide_state(s).decks.values() if d.topic == topic.id),
                        None)
        if deck is not None and run.state.room_of(run.me_id) == run.state.plenary_room:
            run.do(slides_show, SlidesShow(type="slides.show", slides=deck))
            made["slides"] = deck
    elif step.kind == "breakout":
        rooms = p.get("rooms")
        if rooms is None and p.get("topic"):
            rooms = [{"topic": p["topic"]}] * (p.get("per_topic") or 1)
        cmd = BreakoutsOpen(type="breakouts.open",
                            rooms=[RoomSpec.model_validate(r) for r in rooms] if rooms else None,
                            per_topic=p.get("per_topic"), assign=p.get("assign", "auto"),
                            duration_s=p.get("duration_s"))
        for e in run.do(breakouts_open, cmd):
            if e.kind == "breakouts.opened":
                made["round"] = e.data["round"]
        made["polls"] = _launch_polls(run, step, "all_breakouts")
    elif step.kind == "poll":
        made["polls"] = _launch_polls(run, step, "event")
    elif step.kind == "break":
        for e in run.do(timer_start, TimerStart(
                type="timer.start", room=run.state.plenary_room, title=step.title(s),
                mode="countdown", seconds=p["duration_s"])):
            made["timer"] = e.data["timer"]["id"]
    return made


@register_decider(AgendaNext)
def agenda_next(s: EventState, ctx: Context, me: Participant, cmd: AgendaNext) -> list[Entry]:
    _moderator(me)
    part = agenda_state(s)
    cur = part.get(part.current) if part.current else None
    run = _Run(s, ctx, me)
    marker = Entry("agenda.advanced", {}, ctx.at, actor=me.id)
    run.out.append(marker)  # first in the journal; the deciders below never read the agenda
    # a report-back goes through its speakers first
    if cur is not None and cur.kind == "report" and cur.speaker + 1 < len(
            cur.plan.get("speakers", [])):
        index = cur.speaker + 1
        name = cur.plan["speakers"][index]
        if s.plenary_room in run.state.floor:
            run.add(floor_end_entries(run.state, ctx, s.plenary_room, me.id))
        pid = _give_floor(run, name, cur.plan.get("floor_s"))
        marker.data.update({"from": cur.id, "to": cur.id, "speaker": index,
                            "speaker_name": name, "participant": pid})
        return run.out
    if cur is not None:
        _leave(run, cur)
    nxt = part.next_planned()
    marker.data.update({"from": cur.id if cur else None, "to": nxt.id if nxt else None})
    if nxt is None:
        if cur is None:
            raise Conflict("no agenda step is left")
        return run.out
    marker.data["made"] = _start(run, nxt)
    if nxt.kind == "report" and nxt.plan.get("speakers"):
        name = nxt.plan["speakers"][0]
        pid = _give_floor(run, name, nxt.plan.get("floor_s"))
        marker.data.update({"speaker": 0, "speaker_name": name, "participant": pid})
    return run.out


@register_decider(AgendaPoll)
def agenda_poll(s: EventState, ctx: Context, me: Participant, cmd: AgendaPoll) -> list[Entry]:
    _moderator(me)
    step = agenda_state(s).get(cmd.step)
    polls = step.plan.get("polls", [])
    if cmd.poll >= len(polls):
        raise NotFound(f"poll: step {step.id!r} has {len(polls)} prepared polls")
    one = Step(step.id, {**step.plan, "polls": [polls[cmd.poll]]})
    scope = "all_breakouts" if step.kind == "breakout" and s.breakout is not None else "event"
    run = _Run(s, ctx, me)
    _launch_polls(run, one, scope)
    return run.out


# ---- the fold --------------------------------------------------------------------------
@register_apply("agenda.planned")
def _planned(s: EventState, e: Entry) -> None:
    part = agenda_state(s)
    part.steps = [Step(d["id"], dict(d["plan"])) for d in e.data["steps"]]
    part.current = None


@register_apply("agenda.added")
def _added(s: EventState, e: Entry) -> None:
    d = e.data["step"]
    agenda_state(s).steps.insert(e.data["position"], Step(d["id"], dict(d["plan"])))


@register_apply("agenda.reordered")
def _reordered(s: EventState, e: Entry) -> None:
    part = agenda_state(s)
    by_id = {st.id: st for st in part.steps}
    order = [by_id[i] for i in e.data["order"] if i in by_id]
    part.steps = order + [st for st in part.steps if st.id not in e.data["order"]]


@register_apply("agenda.skipped")
def _skipped(s: EventState, e: Entry) -> None:
    for st in agenda_state(s).steps:
        if st.id == e.data["step"]:
            st.status = "skipped"


@register_apply("agenda.advanced")
def _advanced(s: EventState, e: Entry) -> None:
    part = agenda_state(s)
    d = e.data
    by_id = {st.id: st for st in part.steps}
    frm, to = by_id.get(d.get("from") or ""), by_id.get(d.get("to") or "")
    if frm is not None and frm is not to:
        frm.status, frm.ended_at = "done", e.at
    if to is not None:
        if frm is not to:
            to.status, to.started_at, to.made = "running", e.at, dict(d.get("made") or {})
        if d.get("speaker") is not None:
            to.speaker = int(d["speaker"])
    part.current = to.id if to is not None else None


def agenda_view(s: EventState) -> dict[str, Any]:
    part = agenda_state(s)
    cur = part.get(part.current) if part.current else None
    nxt = part.next_planned()
    return {"steps": [st.public(s) for st in part.steps],
            "current": cur.id if cur else None, "next": nxt.id if nxt else None}


_part_agenda = state_part("agenda")(lambda s, pid: agenda_view(s))
