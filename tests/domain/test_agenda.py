"""The run of show without I/O: every step kind done by "Nächster Punkt" with the entries
the manual commands make, skip, reorder, add live, and a restart in the middle of a step."""

from __future__ import annotations

from typing import Any

import pytest

from forum_live.domain import agenda, slides
from forum_live.domain.errors import Conflict, Forbidden

from tests.support.domain import Scenario


def kinds(entries: list[Any]) -> list[str]:
    return [e.kind for e in entries]


def setup_forum() -> tuple[Scenario, str, dict[str, str]]:
    sc = Scenario.event()
    mod = sc.person("Moderatorin", moderator=True)
    people = {n: sc.person(n) for n in ("Anna", "Ben", "Cem", "Dora")}
    return sc, mod, people


def plan(sc: Scenario, mod: str, *steps: dict[str, Any]) -> list[str]:
    e = sc.do(mod, "agenda.set", steps=list(steps))
    return [st["id"] for st in e[0].data["steps"]]


def test_welcome_then_impulse_gives_the_floor_with_time_and_shows_the_slides() -> None:
    sc, mod, people = setup_forum()
    topic = sc.topics[0]
    sc.commit(slides.added(sc.state, sc.ctx(), "deck1", topic, "Impuls", 4, mod))
    ids = plan(sc, mod, {"kind": "welcome", "title": "Begrüßung"},
               {"kind": "impulse", "topic": topic, "speaker": "Anna", "floor_s": 600})
    out = sc.do(mod, "agenda.next")
    assert kinds(out) == ["agenda.advanced"]
    assert agenda.agenda_view(sc.state)["current"] == ids[0]
    assert agenda.agenda_view(sc.state)["next"] == ids[1]
    out = sc.do(mod, "agenda.next")
    assert kinds(out) == ["agenda.advanced", "floor.given", "slides.shown"]
    given = out[1].data
    assert (given["participant"], given["limit_s"]) == (people["Anna"], 600)
    assert out[2].data["slides"] == "deck1"
    view = agenda.agenda_view(sc.state)
    assert [s["status"] for s in view["steps"]] == ["done", "running"]
    assert view["steps"][1]["title"] == "Impuls: Arbeiten 4.0"
    # leaving the impulse ends the turn and clears the stage
    out = sc.do(mod, "agenda.next")
    assert kinds(out) == ["agenda.advanced", "floor.ended", "slides.shown"]
    assert agenda.agenda_view(sc.state)["current"] is None
    with pytest.raises(Conflict):
        sc.do(mod, "agenda.next")


def test_breakout_step_opens_rooms_starts_the_clock_and_launches_its_polls() -> None:
    sc, mod, people = setup_forum()
    plan(sc, mod, {"kind": "breakout", "per_topic": 1, "assign": "auto", "duration_s": 1200,
                   "polls": [{"question": "Wie dringend?", "kind": "rating",
                              "scale": [1, 5]}]},
         {"kind": "report", "speakers": ["Ben", "Cem"], "floor_s": 120})
    out = sc.do(mod, "agenda.next")
    assert kinds(out)[:2] == ["agenda.advanced", "breakouts.opened"]
    assert kinds(out).count("participant.moved") == 4
    assert kinds(out)[-1] == "poll.opened"
    rnd = sc.state.breakout
    assert rnd is not None and rnd.ends_at is not None and len(rnd.rooms) == 3
    poll = out[-1].data["poll"]
    assert poll["scope"] == "all_breakouts" and poll["rooms"] == rnd.rooms
    assert all(sc.state.room_of(p) in rnd.rooms for p in people.values())
    # report-back: the rooms close, everyone is back, the poll closes, speakers in order
    out = sc.do(mod, "agenda.next")
    k = kinds(out)
    assert k[0] == "agenda.advanced" and "breakouts.closed" in k and "poll.closed" in k
    assert k[-1] == "floor.given" and out[-1].data["participant"] == people["Ben"]
    assert all(sc.state.room_of(p) == sc.state.plenary_room for p in people.values())
    out = sc.do(mod, "agenda.next")
    assert kinds(out) == ["agenda.advanced", "floor.ended", "floor.given"]
    assert out[-1].data["participant"] == people["Cem"]
    assert agenda.agenda_view(sc.state)["steps"][1]["speaker"] == 1
    out = sc.do(mod, "agenda.next")
    assert kinds(out) == ["agenda.advanced", "floor.ended"]
    assert [s["status"] for s in agenda.agenda_view(sc.state)["steps"]] == ["done", "done"]


def test_poll_step_and_break_step() -> None:
    sc, mod, _ = setup_forum()
    plan(sc, mod, {"kind": "poll", "polls": [{"question": "Weiter so?", "kind": "single",
                                              "options": ["Ja", "Nein"]}]},
         {"kind": "break", "duration_s": 900})
    out = sc.do(mod, "agenda.next")
    assert kinds(out) == ["agenda.advanced", "poll.opened"]
    assert out[1].data["poll"]["scope"] == "event"
    out = sc.do(mod, "agenda.next")
    assert kinds(out)[0] == "agenda.advanced" and "poll.closed" in kinds(out)
    assert kinds(out)[-1] == "timer.started"
    timer = out[-1].data["timer"]
    assert timer["room"] == sc.state.plenary_room and timer["title"] == "Pause"
    sc.tick(901)
    from forum_live.domain import clock
    assert kinds(clock.due(sc.state, sc.ctx())) == ["timer.finished"]
    out = sc.do(mod, "agenda.next")
    assert kinds(out) == ["agenda.advanced", "timer.stopped"]


def test_skip_reorder_and_add_live() -> None:
    sc, mod, people = setup_forum()
    a, b, c = plan(sc, mod, {"kind": "welcome", "title": "A"}, {"kind": "welcome", "title": "B"},
                   {"kind": "welcome", "title": "C"})
    with pytest.raises(Forbidden):
        sc.do(people["Anna"], "agenda.next")
    sc.do(mod, "agenda.next")  # A
    sc.do(mod, "agenda.skip", step=b)
    with pytest.raises(Conflict):
        sc.do(mod, "agenda.skip", step=a)  # done already
    d = sc.do(mod, "agenda.add", step={"kind": "welcome", "title": "D"}, position=1)[0]
    d_id = d.data["step"]["id"]
    sc.do(mod, "agenda.move", step=c, position=0)  # cannot go before what has run
    titles = [s["title"] for s in agenda.agenda_view(sc.state)["steps"]]
    assert titles == ["A", "C", "D", "B"]
    assert agenda.agenda_view(sc.state)["next"] == c
    sc.do(mod, "agenda.next")
    assert agenda.agenda_view(sc.state)["current"] == c
    sc.do(mod, "agenda.next")
    assert agenda.agenda_view(sc.state)["current"] == d_id
    with pytest.raises(Conflict):
        sc.do(mod, "agenda.set", steps=[])
    statuses = {s["title"]: s["status"] for s in agenda.agenda_view(sc.state)["steps"]}
    assert statuses == {"A": "done", "C": "done", "D": "running", "B": "skipped"}


def test_restart_in_the_middle_of_a_breakout_step_goes_on_where_it_was() -> None:
    sc, mod, people = setup_forum()
    plan(sc, mod, {"kind": "breakout", "assign": "auto", "duration_s": 600,
                   "polls": [{"question": "Q", "kind": "text"}]},
         {"kind": "break", "duration_s": 300})
    sc.do(mod, "agenda.next")
    sc.tick(120)
    before = agenda.agenda_view(sc.state)
    rebuilt = sc.rebuilt()
    assert agenda.agenda_view(rebuilt) == before
    assert agenda.agenda_state(rebuilt).steps[0].made == agenda.agenda_state(sc.state).steps[0].made
    # go on from the rebuilt state: the rooms and the poll end, the break starts
    sc.state = rebuilt
    out = sc.do(mod, "agenda.next")
    k = kinds(out)
    assert "breakouts.closed" in k and "poll.closed" in k and k[-1] == "timer.started"
    assert sc.state.breakout is None
    assert agenda.agenda_view(sc.state) == agenda.agenda_view(sc.rebuilt())


def test_a_prepared_poll_launches_with_one_action_whenever() -> None:
    sc, mod, people = setup_forum()
    [step] = plan(sc, mod, {"kind": "poll", "polls": [
        {"question": "Eins?", "kind": "text"},
        {"question": "Zwei?", "kind": "single", "options": ["a", "b"], "anonymous": True}]})
    out = sc.do(mod, "agenda.poll", step=step, poll=1)
    assert kinds(out) == ["poll.opened"]
    poll = out[0].data["poll"]
    assert (poll["question"], poll["scope"], poll["anonymous"]) == ("Zwei?", "event", True)
    with pytest.raises(Forbidden):
        sc.do(people["Anna"], "agenda.poll", step=step)
    from forum_live.domain.errors import NotFound
    with pytest.raises(NotFound):
        sc.do(mod, "agenda.poll", step=step, poll=2)
