"""Chat and the hand queue, decided without a server: who may do what, and what it does."""

from __future__ import annotations

import pytest

from forum_live.domain.commands import ChatDelete, ChatSend, HandLower, HandRaise
from forum_live.domain.entries import Audience, Entry
from forum_live.domain.errors import Forbidden, NotFound
from forum_live.domain.model import Role, Room, RoomKind

from tests.support.domain import World


def test_a_participant_chats_in_the_plenary(world: World) -> None:
    anna = world.join("Anna")
    [e] = world.do(anna, ChatSend(type="chat.send", room=world.state.plenary_room, text=" Hallo "))
    assert e.kind == "chat.message" and e.room == world.state.plenary_room
    assert e.audience is Audience.ROOM
    assert e.data["message"]["text"] == "Hallo"  # trimmed
    assert e.data["message"]["author"] == {"id": anna, "name": "Anna"}
    assert [m.text for m in world.state.chat[world.state.plenary_room]] == ["Hallo"]


def test_a_participant_cannot_delete_chat(world: World) -> None:
    anna = world.join("Anna")
    [e] = world.do(anna, ChatSend(type="chat.send", room=world.state.plenary_room, text="x"))
    with pytest.raises(Forbidden):
        world.do(anna, ChatDelete(type="chat.delete", message=e.data["message"]["id"]))
    assert len(world.state.chat[world.state.plenary_room]) == 1


def test_a_moderator_deletes_chat_and_the_line_disappears(world: World) -> None:
    anna = world.join("Anna")
    mod = world.join("Mia", Role.MODERATOR)
    [e] = world.do(anna, ChatSend(type="chat.send", room=world.state.plenary_room, text="x"))
    mid = e.data["message"]["id"]
    [d] = world.do(mod, ChatDelete(type="chat.delete", message=mid))
    assert d.kind == "chat.deleted" and d.data["message"] == mid
    assert d.room == world.state.plenary_room
    assert list(world.state.chat[world.state.plenary_room]) == []
    with pytest.raises(NotFound):  # a second delete finds nothing
        world.do(mod, ChatDelete(type="chat.delete", message=mid))


def _add_breakout(world: World) -> str:
    """A second room, added through the fold as a later capability would."""
    world.state.rooms["r2"] = Room("r2", "Raum 2", RoomKind.BREAKOUT)
    return "r2"


def test_chat_into_another_room_is_refused(world: World) -> None:
    anna = world.join("Anna")
    room = _add_breakout(world)
    with pytest.raises(Forbidden):
        world.do(anna, ChatSend(type="chat.send", room=room, text="hi"))
    with pytest.raises(NotFound):
        world.do(anna, ChatSend(type="chat.send", room="nope", text="hi"))
    assert world.state.chat_count == 0


def test_someone_not_registered_can_do_nothing(world: World) -> None:
    with pytest.raises(Forbidden):
        world.do("stranger", ChatSend(type="chat.send", room=world.state.plenary_room, text="x"))
    with pytest.raises(Forbidden):
        world.do("stranger", HandRaise(type="hand.raise"))


def test_the_hand_queue_keeps_raise_order_and_a_second_raise_is_a_noop(world: World) -> None:
    a, b, c = world.join("A"), world.join("B"), world.join("C")
    for pid in (b, a, c):
        [e] = world.do(pid, HandRaise(type="hand.raise"))
        assert e.kind == "hand.raised" and e.data["participant"] == pid
    assert world.do(b, HandRaise(type="hand.raise")) == []
    assert [h.participant for h in world.state.hands] == [b, a, c]
    [e] = world.do(a, HandLower(type="hand.lower"))
    assert e.kind == "hand.lowered" and e.data["participant"] == a
    assert [h.participant for h in world.state.hands] == [b, c]
    # raising again puts you at the end
    world.do(a, HandRaise(type="hand.raise"))
    assert [h.participant for h in world.state.hands] == [b, c, a]


def test_lowering_someone_elses_hand_needs_a_moderator(world: World) -> None:
    a, b = world.join("A"), world.join("B")
    mod = world.join("M", Role.MODERATOR)
    world.do(a, HandRaise(type="hand.raise"))
    with pytest.raises(Forbidden):
        world.do(b, HandLower(type="hand.lower", participant=a))
    assert [h.participant for h in world.state.hands] == [a]
    [e] = world.do(mod, HandLower(type="hand.lower", participant=a))
    assert e.data["participant"] == a and e.actor == mod
    assert world.state.hands == []
    # lowering a hand that is not raised changes nothing; an unknown person is not found
    assert world.do(mod, HandLower(type="hand.lower", participant=a)) == []
    with pytest.raises(NotFound):
        world.do(mod, HandLower(type="hand.lower", participant="ghost"))


def test_leaving_takes_the_hand_out_of_the_queue(world: World) -> None:
    from forum_live.domain import setup

    a, b = world.join("A"), world.join("B")
    world.do(a, HandRaise(type="hand.raise"))
    world.do(b, HandRaise(type="hand.raise"))
    entries: list[Entry] = world.commit(setup.presence(world.state, world.ctx(), a, False))
    assert [e.kind for e in entries] == ["participant.left", "hand.lowered"]
    assert [h.participant for h in world.state.hands] == [b]
    assert not world.state.participants[a].online
    # presence is idempotent: no second "left"
    assert setup.presence(world.state, world.ctx(), a, False) == []


def test_in_a_large_audience_presence_goes_to_moderators_only() -> None:
    from forum_live.domain.entries import Audience
    from forum_live.domain.views import ready_state
    from tests.support.domain import Scenario

    sc = Scenario.event(presence_broadcast_max=3)
    sc.state.presence_broadcast_max = 3
    mod = sc.person("M", moderator=True)
    a, b = sc.person("A"), sc.person("B")
    assert [e.audience for e in sc.journal if e.kind == "participant.joined"] == [
        Audience.EVENT] * 3
    c = sc.person("C")  # the fourth: from now on the crowd is quiet
    joined_c = [e for e in sc.journal if e.kind == "participant.joined"][-1]
    assert joined_c.audience is Audience.MODERATORS and joined_c.data["online"] == 4
    assert sc.state.visible(joined_c, mod) and not sc.state.visible(joined_c, a)
    listed = {p["name"] for p in ready_state(sc.state, c)["participants"]}
    assert listed == {"M", "C"}  # moderators and me
    assert ready_state(sc.state, c)["online_count"] == 4
    assert {p["name"] for p in ready_state(sc.state, mod)["participants"]} == {"M", "A", "B", "C"}
    assert b
