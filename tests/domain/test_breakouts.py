"""Breakout rooms without I/O: assignment, capacity, isolation rules and the timer."""

from __future__ import annotations

import pytest

from forum_live.domain import breakouts
from forum_live.domain.errors import Conflict, Forbidden, NotFound

from tests.support.domain import Scenario


def open_rooms(sc: Scenario, mod: str, **body: object) -> list[str]:
    entries = sc.do(mod, "breakouts.open", **body)
    return [r["id"] for r in entries[0].data["rooms"]]


def rooms_of(sc: Scenario, pids: list[str]) -> dict[str, str]:
    return {p: sc.state.room_of(p) for p in pids}


def test_one_room_per_topic_by_default_with_topic_titles() -> None:
    sc = Scenario.event()
    mod = sc.person("Moderatorin", moderator=True)
    entries = sc.do(mod, "breakouts.open", assign="self")
    rooms = entries[0].data["rooms"]
    assert [r["topic"] for r in rooms] == sc.topics
    assert [r["title"] for r in rooms] == ["Arbeiten 4.0", "Geodaten", "Smart Mobility"]
    assert sc.state.breakout is not None and sc.state.breakout.number == 1


def test_per_topic_makes_several_rooms_each() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    ids = open_rooms(sc, mod, per_topic=2, assign="self")
    assert len(ids) == 6
    assert sc.state.rooms[ids[1]].title == "Arbeiten 4.0 (2)"


def test_auto_balances_and_leaves_moderators_in_the_plenary() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    people = [sc.person(f"P{i}") for i in range(10)]
    ids = open_rooms(sc, mod, assign="auto")
    counts = breakouts.occupancy(sc.state, ids)
    assert sorted(counts.values()) == [3, 3, 4]
    assert sc.state.room_of(mod) == sc.state.plenary_room
    assert all(sc.state.room_of(p) in ids for p in people)


def test_auto_respects_capacity_and_keeps_the_rest_in_the_plenary() -> None:
    sc = Scenario.event(topics=("A", "B"))
    mod = sc.person("M", moderator=True)
    people = [sc.person(f"P{i}") for i in range(5)]
    ids = open_rooms(sc, mod, assign="auto",
                     rooms=[{"topic": sc.topics[0], "capacity": 1},
                            {"topic": sc.topics[1], "capacity": 2}])
    assert breakouts.occupancy(sc.state, ids) == {ids[0]: 1, ids[1]: 2}
    in_plenary = [p for p in people if sc.state.room_of(p) == sc.state.plenary_room]
    assert len(in_plenary) == 2


def test_late_joiner_goes_to_the_least_full_room_in_auto_mode() -> None:
    sc = Scenario.event(topics=("A", "B"))
    mod = sc.person("M", moderator=True)
    for i in range(3):
        sc.person(f"P{i}")
    ids = open_rooms(sc, mod, assign="auto")
    counts = breakouts.occupancy(sc.state, ids)
    emptier = min(ids, key=lambda r: counts[r])
    late = sc.person("Late")
    assert sc.state.room_of(late) == emptier


def test_self_mode_capacity_holds_and_participants_cannot_enter_in_auto_mode() -> None:
    sc = Scenario.event(topics=("A",))
    mod = sc.person("M", moderator=True)
    a, b = sc.person("A"), sc.person("B")
    [room] = open_rooms(sc, mod, assign="self", rooms=[{"topic": sc.topics[0], "capacity": 1}])
    sc.do(a, "room.enter", room=room)
    with pytest.raises(Conflict):
        sc.do(b, "room.enter", room=room)
    sc.do(mod, "room.enter", room=room)  # moderators do not count against capacity
    assert sc.state.room_of(mod) == room
    sc.do(mod, "breakouts.close")
    [room2] = open_rooms(sc, mod, assign="auto", rooms=[{"topic": sc.topics[0]}])
    with pytest.raises(Forbidden):
        sc.do(b, "room.enter", room=sc.state.plenary_room)


def test_manual_assignments_and_moves_at_any_time() -> None:
    sc = Scenario.event(topics=("A", "B"))
    mod = sc.person("M", moderator=True)
    a, b = sc.person("A"), sc.person("B", online=False)
    ids = open_rooms(sc, mod, assign="manual", assignments={a: 1, b: 0})
    assert rooms_of(sc, [a, b]) == {a: ids[1], b: ids[0]}
    sc.do(mod, "breakouts.move", participant=a, room=ids[0])
    assert sc.state.room_of(a) == ids[0]
    with pytest.raises(Forbidden):
        sc.do(a, "breakouts.move", participant=b, room=ids[1])
    with pytest.raises(NotFound):
        sc.do(mod, "breakouts.move", participant="nobody", room=ids[1])


def test_help_flag_stays_until_a_moderator_enters() -> None:
    sc = Scenario.event(topics=("A",))
    mod = sc.person("M", moderator=True)
    a = sc.person("A")
    [room] = open_rooms(sc, mod, assign="auto")
    [req] = sc.do(a, "breakouts.help")
    assert req.audience.value == "moderators"
    assert sc.state.breakout and room in sc.state.breakout.help
    assert sc.do(a, "breakouts.help") == []  # flagged once
    entries = sc.do(mod, "room.enter", room=room)
    assert [e.kind for e in entries] == ["participant.moved", "help.cleared"]
    assert sc.state.breakout and not sc.state.breakout.help


def test_help_is_only_for_people_in_a_breakout() -> None:
    sc = Scenario.event(topics=("A",))
    mod = sc.person("M", moderator=True)
    a = sc.person("A")
    open_rooms(sc, mod, assign="self")
    with pytest.raises(Forbidden):
        sc.do(a, "breakouts.help")


def test_moving_lowers_the_movers_hand() -> None:
    sc = Scenario.event(topics=("A",))
    mod = sc.person("M", moderator=True)
    a = sc.person("A")
    sc.do(a, "hand.raise")
    open_rooms(sc, mod, assign="auto")
    assert sc.state.hand_of(a) is None


def test_timer_warns_then_closes_and_brings_everyone_back() -> None:
    sc = Scenario.event(topics=("A", "B"))
    mod = sc.person("M", moderator=True)
    people = [sc.person(f"P{i}") for i in range(4)]
    ids = open_rooms(sc, mod, assign="auto", duration_s=600)
    sc.do(mod, "room.enter", room=ids[0])
    assert breakouts.due(sc.state, sc.ctx(), 60) == []
    sc.tick(539)
    assert breakouts.due(sc.state, sc.ctx(), 60) == []
    sc.tick(2)
    [warn] = sc.commit(breakouts.due(sc.state, sc.ctx(), 60))
    assert warn.kind == "breakouts.warning" and warn.data["seconds_left"] == 59
    assert breakouts.due(sc.state, sc.ctx(), 60) == []  # warned once
    sc.tick(60)
    closing = sc.commit(breakouts.due(sc.state, sc.ctx(), 60))
    assert closing[0].kind == "breakouts.closed"
    assert all(sc.state.room_of(p) == sc.state.plenary_room for p in [*people, mod])
    assert sc.state.breakout is None and not any(sc.state.rooms[r].open for r in ids)


def test_extend_and_close_early() -> None:
    sc = Scenario.event(topics=("A",))
    mod = sc.person("M", moderator=True)
    sc.person("A")
    open_rooms(sc, mod, assign="auto", duration_s=120)
    sc.tick(70)
    sc.commit(breakouts.due(sc.state, sc.ctx(), 60))  # warning
    sc.do(mod, "breakouts.extend", seconds=300)
    assert sc.state.breakout and not sc.state.breakout.warned
    sc.tick(100)
    assert breakouts.due(sc.state, sc.ctx(), 60) == []  # no longer due
    sc.do(mod, "breakouts.close")
    with pytest.raises(Conflict):
        sc.do(mod, "breakouts.close")


def test_restart_catch_up_closes_a_round_that_fell_due_while_down() -> None:
    sc = Scenario.event(topics=("A",))
    mod = sc.person("M", moderator=True)
    a = sc.person("A")
    open_rooms(sc, mod, assign="auto", duration_s=60)
    sc.tick(3600)  # the server was down for an hour
    state = sc.rebuilt()
    entries = breakouts.due(state, sc.ctx(), 60)
    assert entries[0].kind == "breakouts.closed"
    sc.commit(entries)
    assert sc.state.room_of(a) == sc.state.plenary_room


def test_second_round_keeps_the_history_of_the_first() -> None:
    sc = Scenario.event(topics=("A", "B"))
    mod = sc.person("M", moderator=True)
    a = sc.person("A")
    first = open_rooms(sc, mod, assign="auto")
    sc.do(mod, "breakouts.close")
    second = open_rooms(sc, mod, assign="self")
    assert set(first).isdisjoint(second)
    assert [r.number for r in sc.state.rounds] == [1, 2]
    moves = [e for e in sc.journal if e.kind == "participant.moved" and e.data["participant"] == a]
    assert moves[0].data["to"] in first
    assert moves[1].data == {"participant": a, "from": moves[0].data["to"],
                             "to": sc.state.plenary_room, "reason": "closed"}


def test_only_moderators_open_broadcast_and_close() -> None:
    sc = Scenario.event()
    sc.person("M", moderator=True)
    a = sc.person("A")
    for kind, body in [("breakouts.open", {"assign": "self"}), ("breakouts.broadcast",
                       {"text": "Noch 5 Minuten"}), ("breakouts.close", {})]:
        with pytest.raises(Forbidden):
            sc.do(a, kind, **body)


def test_rebuild_from_journal_gives_the_same_rooms_and_members() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    people = [sc.person(f"P{i}") for i in range(7)]
    open_rooms(sc, mod, assign="auto", duration_s=900)
    fresh = sc.rebuilt()
    assert {p: fresh.room_of(p) for p in people} == {p: sc.state.room_of(p) for p in people}
    assert breakouts.breakout_view(fresh, mod) == breakouts.breakout_view(sc.state, mod)


def test_in_a_large_audience_moves_go_to_the_mover_and_moderators() -> None:
    sc = Scenario.event(topics=("A", "B"), presence_broadcast_max=4)
    mod = sc.person("M", moderator=True)
    people = [sc.person(f"P{i}") for i in range(5)]
    entries = sc.do(mod, "breakouts.open", assign="auto")
    moves = [e for e in entries if e.kind == "participant.moved"]
    assert len(moves) == 5
    for m in moves:
        mover = m.data["participant"]
        assert sc.state.visible(m, mover) and sc.state.visible(m, mod)
        assert not any(sc.state.visible(m, p) for p in people if p != mover)
    small = Scenario.event(topics=("A",))
    smod = small.person("M", moderator=True)
    a, b = small.person("A"), small.person("B")
    [_, move_a, _] = small.do(smod, "breakouts.open", assign="auto")
    assert small.state.visible(move_a, b)  # below the size everyone sees every move
    assert a
