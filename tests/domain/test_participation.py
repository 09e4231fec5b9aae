"""Waiting room, speaker queue, Q&A, timers and moderator tools, without I/O."""

from __future__ import annotations

import pytest

from forum_live.domain import clock
from forum_live.domain.commands import EventIn, JoinIn, TopicIn
from forum_live.domain import setup
from forum_live.domain.errors import Conflict, Forbidden
from forum_live.domain.model import Role
from forum_live.domain.views import ready_state
from tests.support.domain import Scenario


def lobby_event() -> Scenario:
    sc = Scenario()
    sc.commit([setup.create_event(sc.ctx(), EventIn(title="Forum", lobby=True,
                                                     lobby_note="Gleich geht es los",
                                                     topics=[TopicIn(title="A")]))])
    return sc


def waiting(sc: Scenario, name: str) -> str:
    entries = sc.commit(setup.register(sc.state, sc.ctx(), JoinIn(name=name), Role.PARTICIPANT))
    assert entries[1].kind == "lobby.waiting"
    pid = str(entries[0].data["participant"]["id"])
    sc.commit(setup.presence(sc.state, sc.ctx(), pid, True))
    return pid


def test_waiting_people_see_nothing_but_what_concerns_them() -> None:
    sc = lobby_event()
    mod = sc.person("M", moderator=True)
    a = sc.person("A")  # admitted? no: the lobby is on, so a waits too
    assert sc.state.participants[a].standing.value == "waiting"
    w = waiting(sc, "W")
    assert not sc.state.participants[w].online  # not in anyone's list yet
    state = ready_state(sc.state, w)
    assert set(state) == {"event", "me", "lobby"}
    assert state["lobby"]["note"] == "Gleich geht es los"
    [line] = sc.do(mod, "chat.send", room=sc.state.plenary_room, text="geheim")
    assert not sc.state.visible(line, w)
    with pytest.raises(Forbidden):
        sc.do(w, "chat.send", room=sc.state.plenary_room, text="hallo?")
    [admitted] = sc.do(mod, "lobby.admit", participants=[w])
    assert sc.state.visible(admitted, w) and sc.state.visible(admitted, mod)
    assert not sc.state.visible(admitted, a)  # someone else's admission
    assert sc.state.visible(line, w)  # now inside


def test_admit_all_decline_and_send_back() -> None:
    sc = lobby_event()
    mod = sc.person("M", moderator=True)
    ws = [waiting(sc, f"W{i}") for i in range(3)]
    sc.do(mod, "lobby.decline", participant=ws[0], reason="nicht eingeladen")
    entries = sc.do(mod, "lobby.admit", all=True)
    assert {e.data["participant"] for e in entries} == set(ws[1:])
    with pytest.raises(Conflict):
        sc.do(mod, "lobby.admit", participants=[ws[0]])
    sc.commit(setup.presence(sc.state, sc.ctx(), ws[1], True))
    back = sc.do(mod, "lobby.return", participant=ws[1])
    assert [e.kind for e in back] == ["participant.left", "lobby.returned"]
    assert sc.state.participants[ws[1]].standing.value == "waiting"


def test_removed_people_cannot_act_and_everyone_is_told() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    a = sc.person("A")
    entries = sc.do(mod, "participant.remove", participant=a, reason="Störung")
    assert [e.kind for e in entries] == ["participant.left", "participant.removed"]
    with pytest.raises(Forbidden):
        sc.do(a, "hand.raise")
    with pytest.raises(Forbidden):
        sc.do(a, "participant.remove", participant=mod)


def test_speaker_queue_order_reorder_withdraw_and_time_limit() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    a, b, c = sc.person("A"), sc.person("B"), sc.person("C")
    for p in (a, b, c):
        sc.do(p, "hand.raise")
    assert [h.participant for h in sc.state.hands] == [a, b, c]
    sc.do(mod, "hand.move", participant=c, position=0)
    assert [h.participant for h in sc.state.hands] == [c, a, b]
    sc.do(a, "hand.lower")  # withdraw
    assert [h.participant for h in sc.state.hands] == [c, b]
    given = sc.do(mod, "floor.give", limit_s=60)
    assert given[-1].data["participant"] == c and given[-1].data["until"]
    assert [h.participant for h in sc.state.hands] == [b]
    sc.tick(59)
    assert clock.due(sc.state, sc.ctx()) == []
    sc.tick(2)
    [up] = sc.commit(clock.due(sc.state, sc.ctx()))
    assert up.kind == "floor.time_up"
    assert clock.due(sc.state, sc.ctx()) == []  # a gentle signal, once
    sc.tick(9)
    [ended] = sc.do(mod, "floor.end")
    assert ended.data["spoke_s"] == 70.0
    assert sc.state.participants[c].spoke_s == 70.0
    with pytest.raises(Forbidden):
        sc.do(a, "hand.move", participant=b, position=0)


def test_the_next_speaker_is_the_first_hand_and_the_turn_ends_for_the_next() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    a, b = sc.person("A"), sc.person("B")
    sc.do(a, "hand.raise")
    sc.do(b, "hand.raise")
    sc.do(mod, "floor.give")
    sc.tick(30)
    entries = sc.do(mod, "floor.give")  # next: ends A's turn, gives B the floor
    assert [e.kind for e in entries] == ["floor.ended", "hand.lowered", "floor.given"]
    assert sc.state.participants[a].spoke_s == 30.0
    with pytest.raises(Forbidden):
        sc.do(a, "floor.end")  # not A's turn anymore
    sc.do(b, "floor.end")  # the speaker may end their own turn


def test_questions_one_vote_each_unvote_and_anonymity() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    a, b, c = sc.person("A"), sc.person("B"), sc.person("C")
    [asked] = sc.do(a, "question.ask", text="Wann kommt der Rufbus?", anonymous=True)
    q = asked.data["question"]
    assert q["author"] is None and "A" not in str(asked.data)
    assert asked.actor == a  # the server still knows, for rate limits
    sc.do(b, "question.vote", question=q["id"])
    with pytest.raises(Conflict):
        sc.do(b, "question.vote", question=q["id"])
    sc.do(c, "question.vote", question=q["id"])
    sc.do(c, "question.unvote", question=q["id"])
    assert sc.state.questions[q["id"]].public()["votes"] == 1
    view_a = next(x for x in ready_state(sc.state, a)["qa"]["questions"])
    view_b = next(x for x in ready_state(sc.state, b)["qa"]["questions"])
    assert view_a["mine"] and not view_b["mine"] and view_b["voted"]
    sc.do(mod, "question.set", question=q["id"], status="answered")
    [minutes] = sc.do(mod, "questions.to_minutes")
    assert minutes.kind == "minutes.added" and "Rufbus" in minutes.data["entry"]["text"]


def test_premoderation_shows_a_question_to_its_author_and_moderators_only() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    a, b = sc.person("A"), sc.person("B")
    sc.do(mod, "qa.configure", premoderation=True)
    [asked] = sc.do(a, "question.ask", text="Darf ich fragen?")
    assert sc.state.visible(asked, a) and sc.state.visible(asked, mod)
    assert not sc.state.visible(asked, b)
    with pytest.raises(Conflict):
        sc.do(b, "question.vote", question=asked.data["question"]["id"])
    [approved] = sc.do(mod, "question.set", question=asked.data["question"]["id"],
                       status="open")
    assert sc.state.visible(approved, b)


def test_countdown_timer_finishes_on_the_server_clock_and_survives_rebuild() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    [started] = sc.do(mod, "timer.start", title="Kaffeepause", seconds=600)
    tid = started.data["timer"]["id"]
    sc.tick(599)
    assert clock.due(sc.rebuilt(), sc.ctx()) == []
    sc.tick(1)
    [done] = sc.commit(clock.due(sc.rebuilt(), sc.ctx()))
    assert done.kind == "timer.finished" and done.data["title"] == "Kaffeepause"
    [watch] = sc.do(mod, "timer.start", title="Impuls Geodaten", mode="stopwatch")
    sc.tick(90)
    [stopped] = sc.do(mod, "timer.stop", timer=watch.data["timer"]["id"])
    assert stopped.data["elapsed_s"] == 90.0
    assert tid in sc.state.timers


def test_promote_and_lock_chat() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    a, b = sc.person("A"), sc.person("B")
    sc.do(mod, "chat.lock", room=sc.state.plenary_room, locked=True)
    with pytest.raises(Forbidden):
        sc.do(a, "chat.send", room=sc.state.plenary_room, text="darf ich?")
    sc.do(mod, "participant.promote", participant=a, role="moderator")
    sc.do(a, "chat.send", room=sc.state.plenary_room, text="jetzt ja")  # moderators may
    sc.do(a, "participant.promote", participant=b, role="moderator")
    sc.do(mod, "participant.promote", participant=a, role="participant")
    with pytest.raises(Forbidden):
        sc.do(a, "chat.lock", room=sc.state.plenary_room, locked=False)
    assert sc.rebuilt().participants[b].role.value == "moderator"


def test_speaking_time_reaches_the_attendance_of_the_minutes() -> None:
    from forum_live.export import markdown, model, tables

    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    a = sc.person("Anna")
    sc.do(a, "hand.raise")
    sc.do(mod, "floor.give")
    sc.tick(95)
    sc.do(mod, "floor.end")
    m = model.build(sc.state)
    anna = next(x for x in m["attendance"] if x["name"] == "Anna")
    assert anna["spoke_s"] == 95
    assert "| 1:35 |" in markdown.render(m, "de")
    assert ",95," in tables.attendance_csv(sc.state)
