"""Minutes without I/O: capture, versions and conflicts, permissions, automatic entries."""

from __future__ import annotations

import pytest

from forum_live.domain import setup
from forum_live.domain.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from forum_live.export import model
from tests.support.domain import Scenario


def add(sc: Scenario, who: str, room: str, text: str, **body: object) -> dict:  # type: ignore[type-arg]
    [e] = sc.do(who, "minutes.add", room=room, text=text, **body)
    return e.data["entry"]  # type: ignore[no-any-return]


def test_entries_in_a_breakout_belong_to_its_topic() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    a = sc.person("A")
    [opened, *_] = sc.do(mod, "breakouts.open", assign="auto")
    room = sc.state.room_of(a)
    topic = sc.state.rooms[room].topic
    entry = add(sc, a, room, "Homeoffice-Pauschale prüfen", kind="decision")
    assert entry["topic"] == topic and entry["version"] == 1
    with pytest.raises(Forbidden):  # not the room a is in
        add(sc, a, sc.state.plenary_room, "x")


def test_two_editors_at_once_one_gets_the_conflict_with_the_current_entry() -> None:
    sc = Scenario.event()
    a, b = sc.person("A"), sc.person("B", moderator=True)
    e = add(sc, a, sc.state.plenary_room, "Erster Entwurf")
    sc.do(a, "minutes.edit", entry=e["id"], version=1, text="Fassung von A")
    with pytest.raises(Conflict) as err:
        sc.do(b, "minutes.edit", entry=e["id"], version=1, text="Fassung von B")
    assert err.value.extra["current"]["text"] == "Fassung von A"
    assert err.value.extra["current"]["version"] == 2
    sc.do(b, "minutes.edit", entry=e["id"], version=2, text="Gemeinsame Fassung")
    assert sc.state.minutes[e["id"]].text == "Gemeinsame Fassung"
    assert sc.state.minutes[e["id"]].version == 3


def test_only_author_or_moderator_edits_and_deletes() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    a, b = sc.person("A"), sc.person("B")
    e = add(sc, a, sc.state.plenary_room, "Notiz")
    with pytest.raises(Forbidden):
        sc.do(b, "minutes.edit", entry=e["id"], version=1, text="übernommen")
    with pytest.raises(Forbidden):
        sc.do(b, "minutes.delete", entry=e["id"])
    sc.do(mod, "minutes.delete", entry=e["id"])
    with pytest.raises(NotFound):
        sc.do(a, "minutes.edit", entry=e["id"], version=1, text="zu spät")


def test_actions_keep_assignee_and_due_date_and_validate_them() -> None:
    sc = Scenario.event()
    a = sc.person("A")
    e = add(sc, a, sc.state.plenary_room, "Förderantrag stellen", kind="action",
            assignee="Kreisverwaltung", due="2026-04-30")
    assert (e["assignee"], e["due"]) == ("Kreisverwaltung", "2026-04-30")
    with pytest.raises(Invalid):
        add(sc, a, sc.state.plenary_room, "x", kind="action", due="morgen")
    with pytest.raises(TooLarge):
        add(sc, a, sc.state.plenary_room, "x" * 2001)
    n = add(sc, a, sc.state.plenary_room, "nur Notiz", assignee="ignoriert")
    assert n["assignee"] is None


def test_restricting_writers_to_moderators_and_named_takers() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    a, taker = sc.person("A"), sc.person("Protokoll")
    with pytest.raises(Forbidden):
        sc.do(a, "minutes.restrict", writers="moderators", takers=[])
    sc.do(mod, "minutes.restrict", writers="moderators", takers=[taker])
    with pytest.raises(Forbidden):
        add(sc, a, sc.state.plenary_room, "darf ich nicht")
    add(sc, taker, sc.state.plenary_room, "darf ich")
    add(sc, mod, sc.state.plenary_room, "darf ich auch")


def test_a_moderator_turns_a_chat_line_into_a_minutes_entry() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    a = sc.person("A")
    [chat] = sc.do(a, "chat.send", room=sc.state.plenary_room, text="Wir brauchen Glasfaser")
    mid = chat.data["message"]["id"]
    with pytest.raises(Forbidden):
        sc.do(a, "minutes.from_chat", message=mid)
    [e] = sc.do(mod, "minutes.from_chat", message=mid, kind="decision")
    entry = e.data["entry"]
    assert entry["text"] == "Wir brauchen Glasfaser" and entry["kind"] == "decision"
    assert entry["source"]["author"]["name"] == "A"


def test_after_the_event_ends_only_moderators_correct_the_minutes() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    a = sc.person("A")
    e = add(sc, a, sc.state.plenary_room, "Notiz")
    sc.do(mod, "event.end")
    with pytest.raises(Forbidden):
        sc.do(a, "minutes.edit", entry=e["id"], version=1, text="später")
    sc.do(mod, "minutes.edit", entry=e["id"], version=1, text="korrigiert")
    assert sc.state.minutes[e["id"]].text == "korrigiert"


def test_automatic_entries_from_a_scripted_journal() -> None:
    """Two breakout rounds, three polls, people coming and going: the model says so."""
    sc = Scenario.event(topics=("Arbeiten 4.0", "Geodaten"))
    mod = sc.person("Moderatorin", moderator=True)
    anna, bernd, clara = sc.person("Anna"), sc.person("Bernd"), sc.person("Clara")
    sc.tick(60)
    sc.do(mod, "breakouts.open", assign="auto")
    first_rooms = {p: sc.state.room_of(p) for p in (anna, bernd, clara)}
    sc.tick(15 * 60)
    sc.do(mod, "breakouts.close")
    sc.commit(setup.presence(sc.state, sc.ctx(), clara, False))  # Clara leaves
    sc.tick(5 * 60)
    sc.do(mod, "breakouts.open", assign="self")
    rooms = [r.id for r in sc.state.rooms.values() if r.open and r.kind.value == "breakout"]
    sc.do(anna, "room.enter", room=rooms[1])
    sc.tick(10 * 60)
    sc.do(mod, "breakouts.close")
    ids = []
    for q, anon in (("Q1", False), ("Q2", True), ("Q3", False)):
        [o] = sc.do(mod, "poll.create", scope="event", question=q, kind="single",
                    options=["ja", "nein"], anonymous=anon)
        ids.append(o.data["poll"]["id"])
    for pid in ids:
        sc.do(anna, "poll.vote", poll=pid, choice=0)
        sc.do(bernd, "poll.vote", poll=pid, choice=1)
    sc.do(mod, "poll.close", poll=ids[0])
    sc.do(mod, "poll.close", poll=ids[1])  # Q3 stays open: not in the minutes
    sc.tick(60)
    sc.do(mod, "event.end")
    m = model.build(sc.rebuilt())
    r1, r2 = m["breakout_rounds"]
    assert (r1["duration_min"], r2["duration_min"]) == (15, 10)
    placed = {name for room in r1["rooms"] for name in room["members"]}
    assert placed == {"Anna", "Bernd", "Clara"}
    assert r2["rooms"][1]["members"] == ["Anna"] and r2["rooms"][0]["members"] == []
    assert [p["question"] for p in m["polls"]] == ["Q1", "Q2"]
    q1, q2 = m["polls"]
    assert [o["count"] for o in q1["options"]] == [1, 1]
    assert {v["name"] for v in q1["votes"]} == {"Anna", "Bernd"}
    assert "votes" not in q2  # anonymous: no names
    people = {a["name"]: a for a in m["attendance"]}
    assert people["Clara"]["last_seen"] is not None and people["Clara"]["minutes"] == 16
    assert people["Anna"]["minutes"] == 32  # present from the start until the end
    assert all(r["auto"] for r in m["breakout_rounds"])
    assert first_rooms[anna] in {room["id"] for room in r1["rooms"]}
