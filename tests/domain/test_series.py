"""Series and carry-forward (contract §8, issue 17), without I/O: three forums of one
series as folds of their journals."""

from __future__ import annotations

import itertools

import pytest

from forum_live.domain import series
from forum_live.domain.errors import Forbidden, NotFound

from tests.support.domain import Scenario

TOPICS = ("Arbeiten 4.0", "Geodaten", "Smart Mobility")


def forum(n: int, prev: Scenario | None = None, topics: tuple[str, ...] = TOPICS) -> Scenario:
    sc = Scenario(_ids=itertools.count(n * 1000))
    sc.state.id = f"ev{n}"
    sc.tick(n * 86400 * 60)
    sc.create(title=f"Forum {n}", topics=topics)
    if prev is not None:
        sc.commit(series.carry(sc.state, sc.ctx(), prev.state))
    return sc


def first_forum() -> tuple[Scenario, dict[str, str]]:
    sc = forum(1)
    mod = sc.person("Moderatorin", moderator=True)
    geo = sc.topics[1]
    ids = {}
    for name, kind, extra in (("karte", "action", {"assignee": "Frau Kraus", "due": "2026-06-30"}),
                              ("bericht", "action", {"assignee": "Herr Lenz"}),
                              ("frage", "question", {}), ("beschluss", "decision", {})):
        e = sc.do(mod, "minutes.add", room=sc.state.plenary_room, kind=kind, text=name,
                  topic=geo, **extra)
        ids[name] = e[0].data["entry"]["id"]
    return sc, ids


def test_actions_and_open_questions_are_carried_to_their_topic() -> None:
    f1, ids = first_forum()
    f2 = forum(2, f1)
    part = series.series_state(f2.state)
    assert part.series_id == "ev1" and part.follows == "ev1"
    view = series.carried_view(f2.state)
    assert [a["id"] for a in view["actions"]] == [ids["karte"], ids["bericht"]]
    assert [q["id"] for q in view["questions"]] == [ids["frage"]]
    geo2 = f2.topics[1]
    assert {a["topic"] for a in view["actions"]} == {geo2}
    karte = view["actions"][0]
    assert (karte["assignee"], karte["due"], karte["status"]) == ("Frau Kraus", "2026-06-30",
                                                                   "open")
    assert karte["from_event"] == "ev1"
    # journaled once, at creation, in the new event; the state is its fold
    assert [e.kind for e in f2.journal] == ["event.created", "carried.added"]
    assert series.carried_view(f2.rebuilt()) == view


def test_a_topic_that_is_gone_carries_its_items_without_topic() -> None:
    f1, ids = first_forum()
    f2 = forum(2, f1, topics=("Neues Thema",))
    assert {a["topic"] for a in series.carried_view(f2.state)["actions"]} == {None}
    assert series.carried_view(f2.state)["actions"][0]["topic_title"] == "Geodaten"


def test_done_in_forum_2_is_done_in_the_series_and_untouched_carries_on_to_forum_3() -> None:
    f1, ids = first_forum()
    f2 = forum(2, f1)
    mod = f2.person("Moderator 2", moderator=True)
    f2.do(mod, "carried.update", item=ids["karte"], status="done", note="Karte ist online")
    f2.do(mod, "carried.update", item=ids["bericht"], assignee="Frau Berg", due="2026-09-01")
    f2.do(mod, "carried.answer", item=ids["frage"], answer="Ja, ab Herbst")
    new = f2.do(mod, "minutes.add", room=f2.state.plenary_room, kind="action", text="neu",
                assignee="Herr Nau")[0].data["entry"]["id"]
    f3 = forum(3, f2)
    carried3 = series.carried_view(f3.state)
    assert [a["id"] for a in carried3["actions"]] == [ids["bericht"], new]
    bericht = carried3["actions"][0]
    assert (bericht["assignee"], bericht["due"]) == ("Frau Berg", "2026-09-01")
    assert carried3["questions"] == []  # answered in forum 2
    assert series.series_state(f3.state).series_id == "ev1"

    view = series.series_view([f3.state, f1.state, f2.state])
    assert view["id"] == "ev1"
    assert [e["id"] for e in view["events"]] == ["ev1", "ev2", "ev3"]
    actions = {a["id"]: a for a in view["actions"]}
    assert actions[ids["karte"]]["status"] == "done"
    assert actions[ids["karte"]]["events"] == ["ev1", "ev2"]
    assert [h["note"] for h in actions[ids["karte"]]["history"]] == ["Karte ist online"]
    assert actions[ids["bericht"]]["status"] == "open"
    assert actions[ids["bericht"]]["events"] == ["ev1", "ev2", "ev3"]
    assert actions[ids["bericht"]]["assignee"] == "Frau Berg"
    assert actions[new]["from_event"] == "ev2"
    assert {q["id"]: q["status"] for q in view["questions"]} == {ids["frage"]: "answered"}
    assert [d["text"] for d in view["decisions"]] == ["beschluss"]


def test_the_assignee_may_mark_own_action_done_others_may_not() -> None:
    f1, ids = first_forum()
    f2 = forum(2, f1)
    kraus = f2.person("Frau Kraus")
    other = f2.person("Herr Anders")
    mod = f2.person("Moderator", moderator=True)
    f2.do(mod, "carried.update", item=ids["karte"], assignee_id=kraus)
    with pytest.raises(Forbidden):
        f2.do(other, "carried.update", item=ids["karte"], status="done")
    with pytest.raises(Forbidden):
        f2.do(kraus, "carried.answer", item=ids["frage"], answer="x")
    f2.do(kraus, "carried.update", item=ids["karte"], status="done")
    assert series.series_state(f2.state).items[ids["karte"]]["status"] == "done"
    with pytest.raises(Forbidden):  # a participant learns nothing of items not theirs
        f2.do(kraus, "carried.update", item="nope", status="done")
    with pytest.raises(NotFound):
        f2.do(mod, "carried.update", item="nope", status="done")


def test_the_name_alone_makes_nobody_the_assignee() -> None:
    """Anyone may join as "Frau Kraus": only the person a moderator of this forum chose
    from its participants acts as the assignee, and only in this forum."""
    f1, ids = first_forum()
    f2 = forum(2, f1)
    kraus = f2.person("Frau Kraus")
    namesake = f2.person("frau kraus ")
    mod = f2.person("Moderator", moderator=True)
    assert "assignee_id" not in series.series_state(f2.state).items[ids["karte"]]
    with pytest.raises(Forbidden):  # not confirmed yet: the name is not enough
        f2.do(kraus, "carried.update", item=ids["karte"], status="done")
    with pytest.raises(Forbidden):  # only moderators confirm
        f2.do(kraus, "carried.update", item=ids["karte"], assignee_id=kraus)
    with pytest.raises(NotFound):  # a participant of this forum, admitted
        f2.do(mod, "carried.update", item=ids["karte"], assignee_id="someone-elsewhere")
    [e] = f2.do(mod, "carried.update", item=ids["karte"], assignee_id=kraus)
    assert e.data["change"]["assignee_id"] == kraus and "assignee" not in e.data["change"]
    item = series.series_state(f2.state).items[ids["karte"]]
    assert (item["assignee"], item["assignee_id"]) == ("Frau Kraus", kraus)
    with pytest.raises(Forbidden):  # the same name, another person
        f2.do(namesake, "carried.update", item=ids["karte"], status="done")
    f2.do(kraus, "carried.update", item=ids["karte"], note="fast fertig")
    # confirming someone of another name names them; a new name alone undoes it
    lenz = f2.person("Herr Lenz")
    f2.do(mod, "carried.update", item=ids["bericht"], assignee_id=lenz)
    f2.do(lenz, "carried.update", item=ids["bericht"], due="2026-10-01")
    f2.do(mod, "carried.update", item=ids["bericht"], assignee="Frau Berg")
    bericht = series.series_state(f2.state).items[ids["bericht"]]
    assert (bericht["assignee"], bericht["assignee_id"]) == ("Frau Berg", None)
    with pytest.raises(Forbidden):
        f2.do(lenz, "carried.update", item=ids["bericht"], status="done")
    f2.do(mod, "carried.update", item=ids["karte"], assignee_id="")  # taken back
    with pytest.raises(Forbidden):
        f2.do(kraus, "carried.update", item=ids["karte"], status="done")
    f2.do(mod, "carried.update", item=ids["karte"], assignee_id=kraus)
    assert series.carried_view(f2.rebuilt()) == series.carried_view(f2.state)

    # the next forum: the name travels, the confirmation does not (ids are per forum)
    f3 = forum(3, f2)
    karte = series.series_state(f3.state).items[ids["karte"]]
    assert karte["assignee"] == "Frau Kraus" and "assignee_id" not in karte
    kraus3 = f3.person("Frau Kraus")
    with pytest.raises(Forbidden):
        f3.do(kraus3, "carried.update", item=ids["karte"], status="done")
    mod3 = f3.person("Moderatorin", moderator=True)
    f3.do(mod3, "carried.update", item=ids["karte"], assignee_id=kraus3)
    f3.do(kraus3, "carried.update", item=ids["karte"], status="done")
    view = series.series_view([f1.state, f2.state, f3.state])
    karte_view = next(a for a in view["actions"] if a["id"] == ids["karte"])
    assert karte_view["status"] == "done"
    assert [h["by"]["name"] for h in karte_view["history"]][-1] == "Frau Kraus"
