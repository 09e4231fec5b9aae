"""The state is the fold of the journal: replaying the same entries gives the same state."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from forum_live.domain import setup
from forum_live.domain.commands import ChatDelete, ChatSend, HandLower, HandRaise
from forum_live.domain.entries import Entry
from forum_live.domain.model import EventState, Role
from forum_live.domain.views import event_summary, ready_state

from tests.support.domain import World


def snapshot(s: EventState) -> Any:
    """Everything the state holds, as plain JSON."""
    return json.loads(json.dumps(asdict(s), sort_keys=True,
                                 default=lambda o: list(o) if hasattr(o, "__iter__") else str(o)))


def busy_world() -> World:
    w = World()
    w.create(topics=("Arbeiten 4.0", "Geodaten", "Smart Mobility"))
    a, b = w.join("Anna"), w.join("Bernd")
    mod = w.join("Mia", Role.MODERATOR)
    room = w.state.plenary_room
    ids = []
    for i in range(5):
        [e] = w.do(a if i % 2 else b, ChatSend(type="chat.send", room=room, text=f"line {i}"))
        ids.append(e.data["message"]["id"])
    w.do(mod, ChatDelete(type="chat.delete", message=ids[2]))
    w.do(a, HandRaise(type="hand.raise"))
    w.do(b, HandRaise(type="hand.raise"))
    w.do(mod, HandLower(type="hand.lower", participant=a))
    w.commit(setup.presence(w.state, w.ctx(), b, False))
    return w


def rebuild(journal: list[Entry]) -> EventState:
    fresh = EventState(id="ev1")
    for e in journal:
        # through the storage row, as a restart would read it
        fresh.apply(Entry.from_row(e.to_row()))
    return fresh


def test_rebuilding_from_the_journal_gives_the_same_state() -> None:
    w = busy_world()
    again = rebuild(w.journal)
    assert snapshot(again) == snapshot(w.state)
    for pid in w.state.participants:
        assert ready_state(again, pid) == ready_state(w.state, pid)
    assert event_summary(again) == event_summary(w.state)


def test_the_fold_reflects_what_happened() -> None:
    w = busy_world()
    s = rebuild(w.journal)
    assert s.title == "Forum"
    assert [t.title for t in s.topics.values()] == ["Arbeiten 4.0", "Geodaten", "Smart Mobility"]
    assert [m.text for m in s.chat[s.plenary_room]] == ["line 0", "line 1", "line 3", "line 4"]
    assert s.hands == []  # Anna lowered by the moderator, Bernd's went when he left
    assert sorted(p.name for p in s.online()) == ["Anna", "Mia"]
    assert s.seq == len(w.journal) == w.journal[-1].seq


def test_the_same_decisions_on_the_same_clock_give_the_same_journal() -> None:
    one, two = busy_world(), busy_world()
    assert [e.to_row() for e in one.journal] == [e.to_row() for e in two.journal]
    assert [e.frame() for e in one.journal] == [e.frame() for e in two.journal]


def test_a_prefix_of_the_journal_is_the_state_at_that_point() -> None:
    w = busy_world()
    for cut in range(1, len(w.journal) + 1):
        s = rebuild(w.journal[:cut])
        assert s.seq == cut


def test_chat_history_is_bounded_but_the_count_is_not() -> None:
    w = World()
    w.create()
    a = w.join("A")
    room = w.state.plenary_room
    for i in range(w.state.chat_history + 5):
        w.do(a, ChatSend(type="chat.send", room=room, text=str(i)))
    assert len(w.state.chat[room]) == w.state.chat_history
    assert w.state.chat[room][-1].text == str(w.state.chat_history + 4)
    assert w.state.chat_count == w.state.chat_history + 5
    assert snapshot(rebuild(w.journal)) == snapshot(w.state)
