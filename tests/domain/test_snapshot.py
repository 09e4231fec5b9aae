"""Snapshots (issue 12): fold(snapshot) + journal tail + ballot box is the full fold, at
any point of a realistic event; a snapshot holds nothing of the ballot box; one that does
not fit the code or the limits is not used."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from forum_live import snapshot
from forum_live.config import Limits
from forum_live.domain import breakouts, setup
from forum_live.domain.entries import Entry
from forum_live.domain.model import EventState
from forum_live.domain.views import ready_state
from tests.support.domain import Scenario

SECRET = "Geheime Antwort 4711"


class Recorded(Scenario):
    """A scenario that also keeps its sealed entries (the ballot box) and snapshots."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.sealed: list[Entry] = []
        self.snapshots: list[tuple[int, bytes]] = []

    def commit(self, entries: list[Entry]) -> list[Entry]:
        out = super().commit(entries)
        self.sealed += [e for e in entries if e.sealed]
        return out

    def snap(self) -> None:
        self.snapshots.append((self.state.seq, snapshot.encode(self.state, self.limits)))


def busy_event() -> Recorded:
    """Chat in the plenary and in breakout rooms, hands, minutes, questions, a countdown,
    named and anonymous polls (one still open, one closed), people coming and going;
    a snapshot after every phase."""
    sc = Recorded(limits=Limits(chat_history=50))
    sc.create(topics=("Arbeiten 4.0", "Geodaten", "Smart Mobility"))
    mod = sc.person("Mia", moderator=True)
    people = [sc.person(f"P{i}") for i in range(9)]
    plenary = sc.state.plenary_room
    sc.snap()
    for i in range(120):  # more lines than the chat history keeps
        sc.do(people[i % 9], "chat.send", room=plenary, text=f"Zeile {i}")
        sc.tick(1)
    sc.do(people[0], "hand.raise")
    sc.do(people[1], "hand.raise")
    sc.do(mod, "minutes.add", room=plenary, text="Begrüßung")
    sc.do(people[2], "question.ask", text="Wann kommt der Glasfaserausbau?")
    sc.snap()
    named = sc.do(mod, "poll.create", scope="event", question="Welches Projekt?",
                  kind="single", options=["A", "B", "C"])[0].data["poll"]["id"]
    anon = sc.do(mod, "poll.create", scope="event", question="Ihre Meinung?", kind="text",
                 anonymous=True)[0].data["poll"]["id"]
    anon2 = sc.do(mod, "poll.create", scope="event", question="Zufrieden?", kind="single",
                  options=["ja", "nein"], anonymous=True)[0].data["poll"]["id"]
    for i, p in enumerate(people[:6]):
        sc.do(p, "poll.vote", poll=named, choice=i % 3)
        sc.do(p, "poll.vote", poll=anon, text=SECRET if i == 3 else f"Antwort {i}")
        sc.do(p, "poll.vote", poll=anon2, choice=i % 2)
    sc.snap()  # a snapshot with ballots in the state
    sc.do(mod, "poll.close", poll=anon)
    sc.do(people[6], "poll.vote", poll=anon2, choice=1)  # after the snapshot
    rooms = [r["id"] for r in sc.do(mod, "breakouts.open", assign="auto",
                                    duration_s=600)[0].data["rooms"]]
    for i, p in enumerate(people):
        sc.do(p, "chat.send", room=sc.state.room_of(p), text=f"im Raum {i}")
    sc.do(mod, "minutes.add", room=rooms[0], text="Ergebnis Raum 1")
    sc.snap()  # a snapshot with a breakout deadline pending
    sc.do(people[7], "poll.vote", poll=anon2, choice=0)
    sc.tick(541)
    sc.commit(breakouts.due(sc.state, sc.ctx(), 60))  # the one-minute warning
    sc.tick(60)
    sc.commit(breakouts.due(sc.state, sc.ctx(), 60))  # the rooms close
    sc.commit(setup.presence(sc.state, sc.ctx(), people[8], False))
    sc.do(people[0], "chat.send", room=plenary, text="wieder im Plenum")
    sc.snap()  # at the head
    return sc


def stored(e: Entry) -> Entry:
    return Entry.from_row(e.to_row())  # as a reload reads it


def full_fold(sc: Recorded) -> EventState:
    s = EventState(id="ev1", chat_history=sc.limits.chat_history,
                   presence_broadcast_max=sc.limits.presence_broadcast_max)
    for e in sc.journal:
        s.apply(stored(e))
    for e in sc.sealed:
        s.apply(e)
    return s


def from_snapshot(sc: Recorded, seq: int, blob: bytes) -> EventState:
    fresh = EventState(id="ev1", chat_history=sc.limits.chat_history,
                       presence_broadcast_max=sc.limits.presence_broadcast_max)
    s = snapshot.decode(blob, seq, fresh, sc.limits)
    assert s is not None
    for e in sc.journal:
        if e.seq > seq:
            s.apply(stored(e))
    for e in sc.sealed:  # the whole ballot box, after the journal, as a load does
        s.apply(e)
    return s


def everything(s: EventState) -> dict[str, Any]:
    return {k: v for k, v in vars(s).items() if k != "features"}


@pytest.fixture(scope="module")
def sc() -> Recorded:
    return busy_event()


def test_the_state_pickles_and_a_snapshot_plus_tail_is_the_full_fold(sc: Recorded) -> None:
    assert len(sc.snapshots) == 5 and len(sc.journal) > 150 and sc.sealed
    for seq, blob in sc.snapshots:
        full = full_fold(sc)  # anew: views create some parts on first use
        again = from_snapshot(sc, seq, blob)
        assert again.seq == full.seq == sc.state.seq
        assert everything(again) == everything(full), f"snapshot at seq {seq}"
        for pid in sc.state.participants:
            assert ready_state(again, pid) == ready_state(full, pid) == \
                ready_state(sc.state, pid), f"snapshot at seq {seq}, {pid}"


def test_a_snapshot_holds_nothing_of_the_ballot_box(sc: Recorded) -> None:
    seq, blob = sc.snapshots[2]  # taken while the anonymous polls had ballots
    assert SECRET.encode() not in blob
    state = pickle.loads(blob)[-1]  # noqa: S301
    for poll in state.polls.values():
        if poll.anonymous:
            assert not poll.voters and not poll.counts and not poll.texts
            assert not poll.room_ballots
        else:
            assert poll.voters  # named votes are journaled: they stay
    # and encoding left the live state alone
    assert any(SECRET in t for p in sc.state.polls.values() if p.anonymous
               for texts in p.texts.values() for t in texts)


def test_a_snapshot_of_other_limits_or_code_is_not_used(sc: Recorded) -> None:
    seq, blob = sc.snapshots[-1]
    fresh = EventState(id="ev1")
    assert snapshot.decode(blob, seq, fresh, Limits(chat_history=200)) is None
    assert snapshot.decode(blob, seq - 1, fresh, sc.limits) is None  # not its seq
    assert snapshot.decode(blob, seq, EventState(id="other"), sc.limits) is None
    assert snapshot.decode(b"not a pickle", seq, fresh, sc.limits) is None
    fmt, _fp, shape, at, state = pickle.loads(blob)  # noqa: S301
    older_code = pickle.dumps((fmt, "0" * 16, shape, at, state))
    assert snapshot.decode(older_code, seq, fresh, sc.limits) is None
