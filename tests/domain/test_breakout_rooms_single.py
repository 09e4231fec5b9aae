"""One breakout room closed or extended on its own (BigBlueButton's per-room controls),
without I/O: the other rooms go on, the clock closes each room at its own time."""

from __future__ import annotations

import pytest

from forum_live.domain import breakouts
from forum_live.domain.errors import Conflict, Forbidden, NotFound
from forum_live.domain.media import listen_entries, listeners
from forum_live.domain.views import ready_state

from tests.support.domain import Scenario


def setup_rooms(duration_s: int | None = 600) -> tuple[Scenario, str, list[str], list[str]]:
    sc = Scenario.event()  # three topics -> three rooms
    mod = sc.person("Moderatorin", moderator=True)
    people = [sc.person(f"P{i}") for i in range(6)]
    body: dict[str, object] = {"assign": "auto"}
    if duration_s:
        body["duration_s"] = duration_s
    rooms = [r["id"] for r in sc.do(mod, "breakouts.open", **body)[0].data["rooms"]]
    return sc, mod, rooms, people


def in_room(sc: Scenario, room: str) -> set[str]:
    return {p.id for p in sc.state.participants.values() if sc.state.room_of(p.id) == room}


def test_closing_one_room_brings_only_its_people_back() -> None:
    sc, mod, rooms, people = setup_rooms()
    a, b, c = rooms
    in_a, in_b = in_room(sc, a), in_room(sc, b)
    assert len(in_a) == 2
    entries = sc.do(mod, "breakouts.close_room", room=a)
    assert entries[0].kind == "breakouts.room_closed" and entries[0].data["room"] == a
    moved = [e for e in entries if e.kind == "participant.moved"]
    assert {e.data["participant"] for e in moved} == in_a
    assert all(e.data["to"] == sc.state.plenary_room and e.data["reason"] == "closed"
               for e in moved)
    assert in_room(sc, b) == in_b and sc.state.breakout is not None
    assert not sc.state.rooms[a].open and sc.state.rooms[b].open
    with pytest.raises(Conflict):
        sc.do(mod, "breakouts.close_room", room=a)
    with pytest.raises(NotFound):
        sc.do(mod, "breakouts.close_room", room=sc.state.plenary_room)
    with pytest.raises(Forbidden):
        sc.do(people[0], "breakouts.close_room", room=b)
    # nobody is placed into a closed room: a late joiner goes to b or c
    late = sc.person("Spät")
    assert sc.state.room_of(late) in (b, c)
    with pytest.raises(Exception):
        sc.do(mod, "breakouts.move", participant=people[0], room=a)
    view = breakouts.breakout_view(sc.state, mod)
    assert [r["open"] for r in view["rooms"]] == [False, True, True]  # type: ignore[index]
    # the last open room closes the round
    sc.do(mod, "breakouts.close_room", room=b)
    last = sc.do(mod, "breakouts.close_room", room=c)
    assert last[0].kind == "breakouts.closed" and sc.state.breakout is None
    assert all(sc.state.room_of(p) == sc.state.plenary_room for p in people)
    assert sc.rebuilt().rooms.keys() == sc.state.rooms.keys()


def test_extending_one_room_leaves_the_others_on_time_and_the_clock_closes_each() -> None:
    sc, mod, rooms, people = setup_rooms(600)
    a, b, c = rooms
    round_end = sc.state.breakout.ends_at  # type: ignore[union-attr]
    [ext] = sc.do(mod, "breakouts.extend", seconds=300, room=a)
    assert ext.kind == "breakouts.room_extended" and ext.data["room"] == a
    view = breakouts.breakout_view(sc.state, mod)
    ends = {r["id"]: r["ends_at"] for r in view["rooms"]}  # type: ignore[union-attr]
    assert ends[b] == ends[c] == round_end and ends[a] > round_end
    assert view["ends_at"] == round_end
    in_a = in_room(sc, a)
    sc.tick(541)  # the round's one-minute warning: the rooms on the round's time
    [warn] = sc.commit(breakouts.due(sc.state, sc.ctx(), 60))
    assert warn.kind == "breakouts.warning" and "room" not in warn.data
    assert breakouts.due(sc.state, sc.ctx(), 60) == []
    sc.tick(60)  # b and c end, a goes on
    closing = sc.commit(breakouts.due(sc.state, sc.ctx(), 60))
    assert [e.data["room"] for e in closing if e.kind == "breakouts.room_closed"] == [b, c]
    assert all(e.data["reason"] == "time" for e in closing if e.kind == "breakouts.room_closed")
    assert sc.state.breakout is not None and in_room(sc, a) == in_a
    assert in_room(sc, b) == set() and in_room(sc, c) == set()
    sc.tick(240)  # a's own warning, to a's room only
    [warn_a] = sc.commit(breakouts.due(sc.state, sc.ctx(), 60))
    assert warn_a.data["room"] == a and warn_a.room == a and warn_a.audience.value == "room"
    assert breakouts.due(sc.state, sc.ctx(), 60) == []
    sc.tick(60)
    done = sc.commit(breakouts.due(sc.state, sc.ctx(), 60))
    assert done[0].kind == "breakouts.closed" and done[0].data["reason"] == "time"
    assert sc.state.breakout is None
    assert breakouts.next_deadline(sc.state, 60) is None


def test_extending_the_round_moves_a_room_extended_alone_too() -> None:
    sc, mod, rooms, _ = setup_rooms(600)
    a, b, _c = rooms
    sc.do(mod, "breakouts.extend", seconds=120, room=a)
    before = sc.state.breakout.room_ends[a]  # type: ignore[union-attr]
    [ext] = sc.do(mod, "breakouts.extend", seconds=300)
    assert ext.data["rooms"][a] > before
    rebuilt = sc.rebuilt()
    assert rebuilt.breakout.room_ends == sc.state.breakout.room_ends  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        sc.do(mod, "breakouts.extend", seconds=60, room="nope")
    sc.do(mod, "breakouts.close_room", room=b)
    with pytest.raises(Conflict):
        sc.do(mod, "breakouts.extend", seconds=60, room=b)


def test_a_room_extended_without_a_round_timer_gets_its_own_end() -> None:
    sc, mod, rooms, _ = setup_rooms(None)
    a = rooms[0]
    sc.do(mod, "breakouts.extend", seconds=120, room=a)
    assert breakouts.next_deadline(sc.state, 60) is not None
    sc.tick(121)
    closing = sc.commit(breakouts.due(sc.state, sc.ctx(), 60))
    assert [e.kind for e in closing][0] == "breakouts.room_closed"
    assert sc.state.breakout is not None and not sc.state.rooms[a].open


def test_who_listens_in_is_told_to_that_room_only_and_folds_the_same() -> None:
    sc, mod, rooms, people = setup_rooms()
    a, b, _ = rooms
    [started] = sc.commit(listen_entries(sc.state, sc.ctx(), mod, a))
    assert (started.kind, started.room, started.audience.value) == ("breakouts.listening", a, "room")
    assert started.data == {"room": a, "participant": mod, "name": "Moderatorin", "listening": True}
    assert sc.commit(listen_entries(sc.state, sc.ctx(), mod, a)) == []  # asked again: nothing
    member_a, member_b = next(iter(in_room(sc, a))), next(iter(in_room(sc, b)))
    assert sc.state.visible(started, member_a) and not sc.state.visible(started, member_b)
    # moderators see it wherever they are (their cockpit shows who listens where), but
    # their own room's `listening` is only about their own room
    assert sc.state.visible(started, mod)
    assert ready_state(sc.state, mod)["listening"] == []
    assert {r["id"]: r["listening"] for r in ready_state(sc.state, mod)["breakouts"]["rooms"]}[a] \
        == [{"participant": mod, "name": "Moderatorin"}]
    assert "listening" not in ready_state(sc.state, member_b)["breakouts"]["rooms"][0]
    assert ready_state(sc.state, member_a)["listening"] == [{"participant": mod, "name": "Moderatorin"}]
    assert ready_state(sc.state, member_b)["listening"] == []
    # to room b: a is told it ended, b that it began, in one decision
    ended, began = sc.commit(listen_entries(sc.state, sc.ctx(), mod, b))
    assert (ended.room, ended.data["listening"], ended.data["reason"]) == (a, False, "switched")
    assert (began.room, began.data["listening"]) == (b, True)
    assert listeners(sc.state, a) == [] and listeners(sc.state, b)[0]["participant"] == mod
    assert listeners(sc.rebuilt(), b) == listeners(sc.state, b)
    [stopped] = sc.commit(listen_entries(sc.state, sc.ctx(), mod, None, "closed"))
    assert stopped.data["reason"] == "closed" and stopped.actor is None
    assert listeners(sc.state, b) == [] and listeners(sc.rebuilt(), b) == []
