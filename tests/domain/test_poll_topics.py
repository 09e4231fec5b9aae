"""Issue 16, pure: which agenda topic a poll belongs to (named, the agenda step's, the
topic its breakout rooms share, none), and the minutes model per topic: its polls, and
each page of its slides with when it was shown, until when and where."""

from __future__ import annotations

import pytest

from forum_live.domain import slides
from forum_live.domain.errors import NotFound
from forum_live.export import model

from tests.support.domain import Scenario


def test_a_poll_belongs_to_a_topic_and_the_minutes_print_it_there() -> None:
    sc = Scenario.event(topics=("Mobilität", "Wohnen"))
    mobility, housing = sc.topics
    mod = sc.person("Moderatorin", moderator=True)
    anna = sc.person("Anna")

    def opened(out: list) -> dict:  # type: ignore[type-arg]
        return next(e.data["poll"] for e in out if e.kind == "poll.opened")

    with pytest.raises(NotFound):
        sc.do(mod, "poll.create", scope="event", question="?", kind="text", topic="nope")
    named = opened(sc.do(mod, "poll.create", scope="event", question="Takt?", kind="text",
                         topic=mobility))
    general = opened(sc.do(mod, "poll.create", scope="event", question="Forum?", kind="text"))
    sc.do(mod, "agenda.set", steps=[{"kind": "poll", "topic": housing, "polls": [
        {"question": "Miete?", "kind": "single", "options": ["hoch", "ok"]}]}])
    step = opened(sc.do(mod, "agenda.next"))
    assert (named["topic"], general["topic"], step["topic"]) == (mobility, None, housing)
    sc.do(mod, "agenda.next")  # leaves the step: its poll closes

    sc.do(mod, "breakouts.open", assign="auto", rooms=[{"topic": mobility}, {"topic": housing}])
    mixed = opened(sc.do(mod, "poll.create", scope="all_breakouts", question="Raum?",
                         kind="text"))
    room = sc.state.room_of(anna)
    own = opened(sc.do(mod, "poll.create", scope="room", room=room, question="Hier?",
                       kind="text"))
    assert mixed["topic"] is None  # rooms of two topics: no one topic
    assert own["topic"] == sc.state.rooms[room].topic
    for p in (named, general, mixed, own):
        sc.do(mod, "poll.close", poll=p["id"])

    m = model.build(sc.state)
    topics = {t["id"]: t for t in m["topics"]}
    assert topics[mobility]["polls"] == [named["id"]] + (
        [own["id"]] if own["topic"] == mobility else [])
    assert step["id"] in topics[housing]["polls"]
    assert {p["id"]: p["topic"] for p in m["polls"]}[general["id"]] is None


def test_each_page_shown_with_from_until_and_room() -> None:
    sc = Scenario.event(topics=("Mobilität",))
    [topic] = sc.topics
    mod = sc.person("Moderatorin", moderator=True)
    sc.commit(slides.added(sc.state, sc.ctx(), "deck1", topic, "Impuls", 4, mod))
    sc.do(mod, "slides.show", slides="deck1", page=1)
    sc.tick(120)
    sc.do(mod, "slides.show", slides="deck1", page=3)
    sc.tick(60)
    sc.do(mod, "slides.show", slides=None)
    sc.tick(60)
    sc.do(mod, "slides.show", slides="deck1", page=4)
    [deck] = model.build(sc.state)["topics"][0]["slides"]
    assert deck["title"] == "Impuls" and deck["pages"] == 4
    got = [(x["page"], x["room"]) for x in deck["shown"]]
    assert got == [(1, None), (3, None), (4, None)]
    first, third, fourth = deck["shown"]
    assert first["to"] == third["from"] and third["to"] < fourth["from"]  # taken off between
    assert fourth["to"] is None  # still on the stage, the event not ended
