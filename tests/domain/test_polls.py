"""Polls without I/O: every kind and scope, revote and conflict rules, the throttle."""

from __future__ import annotations

import pytest

from forum_live.domain import polls
from forum_live.domain.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from tests.support.domain import Scenario


def make(sc: Scenario, mod: str, **body: object) -> str:
    [opened] = sc.do(mod, "poll.create", **body)
    return str(opened.data["poll"]["id"])


def res(sc: Scenario, poll_id: str) -> dict[str, object]:
    """The live tally (what the next results step would show; for anonymous polls
    `polls.results` shows only the last step that went out, issue 13)."""
    return polls.tally(sc.state, sc.state.polls[poll_id], final=False)


@pytest.fixture
def sc() -> Scenario:
    return Scenario.event()


def test_single_choice_counts_and_named_revote_replaces(sc: Scenario) -> None:
    mod = sc.person("M", moderator=True)
    a, b = sc.person("A"), sc.person("B")
    p = make(sc, mod, question="Welches Projekt zuerst?", kind="single",
             options=["Mobiler Marktplatz", "Geodatenplattform", "Coworking"])
    sc.do(a, "poll.vote", poll=p, choice=0)
    sc.do(b, "poll.vote", poll=p, choice=0)
    assert res(sc, p)["counts"] == [2, 0, 0]
    sc.do(b, "poll.vote", poll=p, choice=2)  # changed her mind
    r = res(sc, p)
    assert r["counts"] == [1, 0, 1] and r["total"] == 2


def test_anonymous_second_vote_is_a_conflict_and_entries_are_sealed(sc: Scenario) -> None:
    mod = sc.person("M", moderator=True)
    a = sc.person("A")
    p = make(sc, mod, question="Q", kind="single", options=["ja", "nein"], anonymous=True)
    entries = sc.do(a, "poll.vote", poll=p, choice=1)
    assert all(e.sealed for e in entries)
    voter, ballot = entries
    assert "participant" in voter.data and "keys" not in voter.data
    assert "participant" not in ballot.data and ballot.actor is None and ballot.data["keys"] == ["1"]
    with pytest.raises(Conflict):
        sc.do(a, "poll.vote", poll=p, choice=0)
    assert res(sc, p)["counts"] == [0, 1]


def test_multiple_choice_with_a_maximum(sc: Scenario) -> None:
    mod = sc.person("M", moderator=True)
    a = sc.person("A")
    p = make(sc, mod, question="Q", kind="multiple", options=["a", "b", "c", "d"], max_choices=2)
    with pytest.raises(Invalid):
        sc.do(a, "poll.vote", poll=p, choices=[0, 1, 2])
    with pytest.raises(Invalid):
        sc.do(a, "poll.vote", poll=p, choices=[1, 1])
    with pytest.raises(Invalid):
        sc.do(a, "poll.vote", poll=p, choices=[4])
    sc.do(a, "poll.vote", poll=p, choices=[3, 1])
    assert res(sc, p)["counts"] == [0, 1, 0, 1]


def test_rating_distribution_mean_and_scale(sc: Scenario) -> None:
    mod = sc.person("M", moderator=True)
    people = [sc.person(f"P{i}") for i in range(4)]
    p = make(sc, mod, question="Wie bewerten Sie den Marktplatz?", kind="rating")
    for who, value in zip(people, [5, 4, 4, 1]):
        sc.do(who, "poll.vote", poll=p, rating=value)
    r = res(sc, p)
    assert r["counts"] == [1, 0, 0, 2, 1] and r["mean"] == 3.5 and r["scale"] == [1, 5]
    with pytest.raises(Invalid):
        sc.do(people[0], "poll.vote", poll=p, rating=6)
    q = make(sc, mod, question="Q", kind="rating", scale=[0, 10])
    sc.do(people[0], "poll.vote", poll=q, rating=10)
    assert res(sc, q)["counts"][-1] == 1


def test_text_answers_word_cloud_and_limits(sc: Scenario) -> None:
    mod = sc.person("M", moderator=True)
    a, b = sc.person("A"), sc.person("B")
    p = make(sc, mod, question="Ein Wort zur Mobilität?", kind="text", anonymous=True)
    sc.do(a, "poll.vote", poll=p, text="Rufbus am Abend")
    sc.do(b, "poll.vote", poll=p, text="Rufbus und Radwege")
    r = res(sc, p)
    assert r["answers"] == ["Rufbus am Abend", "Rufbus und Radwege"]
    assert ["rufbus", 2] in r["words"]
    c = sc.person("C")
    with pytest.raises(Invalid):
        sc.do(c, "poll.vote", poll=p, text="   ")
    with pytest.raises(TooLarge):
        sc.do(c, "poll.vote", poll=p, text="x" * 281)


def test_bad_votes_count_nothing(sc: Scenario) -> None:
    mod = sc.person("M", moderator=True)
    a = sc.person("A")
    p = make(sc, mod, question="Q", kind="single", options=["x", "y"])
    with pytest.raises(NotFound):
        sc.do(a, "poll.vote", poll="nope", choice=0)
    with pytest.raises(Invalid):
        sc.do(a, "poll.vote", poll=p, choice=2)
    with pytest.raises(Invalid):
        sc.do(a, "poll.vote", poll=p)
    assert res(sc, p)["total"] == 0
    sc.do(mod, "poll.close", poll=p)
    with pytest.raises(Conflict):
        sc.do(a, "poll.vote", poll=p, choice=0)


def test_room_scope_and_all_breakouts_scope(sc: Scenario) -> None:
    mod = sc.person("M", moderator=True)
    people = [sc.person(f"P{i}") for i in range(6)]
    [opened, *_] = sc.do(mod, "breakouts.open", assign="auto")
    rooms = [r["id"] for r in opened.data["rooms"]]
    first = [p for p in people if sc.state.room_of(p) == rooms[0]]
    other = [p for p in people if sc.state.room_of(p) != rooms[0]]
    p = make(sc, mod, scope="room", room=rooms[0], question="Q", kind="single",
             options=["x", "y"])
    with pytest.raises(Forbidden):
        sc.do(other[0], "poll.vote", poll=p, choice=0)
    sc.do(first[0], "poll.vote", poll=p, choice=1)
    everywhere = make(sc, mod, scope="all_breakouts", question="Q2", kind="single",
                      options=["x", "y"])
    for who in people:
        sc.do(who, "poll.vote", poll=everywhere, choice=0 if who in first else 1)
    r = res(sc, everywhere)
    assert r["counts"] == [len(first), len(other)]
    assert r["per_room"][rooms[0]]["counts"] == [len(first), 0]  # type: ignore[index]
    assert sum(v["counts"][1] for v in r["per_room"].values()) == len(other)  # type: ignore[union-attr]


def test_only_moderators_create_close_and_show(sc: Scenario) -> None:
    mod = sc.person("M", moderator=True)
    a = sc.person("A")
    with pytest.raises(Forbidden):
        sc.do(a, "poll.create", question="Q", kind="single", options=["x", "y"])
    p = make(sc, mod, question="Q", kind="single", options=["x", "y"], results="on_close")
    with pytest.raises(Forbidden):
        sc.do(a, "poll.close", poll=p)
    with pytest.raises(Conflict):
        sc.do(mod, "poll.show", poll=p)
    closed, final = sc.do(mod, "poll.close", poll=p)
    assert final.kind == "poll.results" and final.data["final"] is True
    [shown] = sc.do(mod, "poll.show", poll=p)
    assert shown.data["shown"] is True


def test_on_close_results_reach_only_moderators_while_open(sc: Scenario) -> None:
    mod = sc.person("M", moderator=True)
    a = sc.person("A")
    p = make(sc, mod, question="Q", kind="single", options=["x", "y"], results="on_close")
    poll = sc.state.polls[p]
    live = polls.results_entry(sc.state, sc.ctx(), poll, final=False)
    assert live.audience.value == "moderators"
    view_a = polls.poll_view(sc.state, a)[0]
    assert "results" not in view_a
    assert "results" in polls.poll_view(sc.state, mod)[0]


def test_invalid_poll_definitions(sc: Scenario) -> None:
    mod = sc.person("M", moderator=True)
    with pytest.raises(Invalid):
        sc.do(mod, "poll.create", question="Q", kind="single", options=["nur eine"])
    with pytest.raises(Invalid):
        sc.do(mod, "poll.create", question="Q", kind="single", options=["a", "A"])
    with pytest.raises(Invalid):
        sc.do(mod, "poll.create", question="Q", kind="rating", scale=[5, 1])
    with pytest.raises(Conflict):
        sc.do(mod, "poll.create", scope="all_breakouts", question="Q", kind="text")


def test_throttle_coalesces_to_one_update_per_interval() -> None:
    t = polls.ResultsThrottle(interval=0.25)
    sent = []
    now = 0.0
    for _ in range(1000):  # 1000 votes over one second
        t.mark("p", now)
        sent += [(now, p) for p in t.take(now)]
        now += 0.001
    assert 4 <= len(sent) <= 5
    gaps = [b[0] - a[0] for a, b in zip(sent, sent[1:])]
    assert all(g >= 0.25 - 1e-9 for g in gaps)
    assert t.next_due() is not None  # the last votes are still owed an update
    assert t.take(now + 1) == ["p"]


def test_throttle_forget_after_close() -> None:
    t = polls.ResultsThrottle(interval=1.0)
    t.mark("p", 0.0)
    t.forget("p", 0.1)
    assert t.next_due() is None and t.take(5.0) == []


def test_rebuild_gives_the_same_named_results(sc: Scenario) -> None:
    mod = sc.person("M", moderator=True)
    people = [sc.person(f"P{i}") for i in range(5)]
    p = make(sc, mod, question="Q", kind="multiple", options=["a", "b", "c"])
    for i, who in enumerate(people):
        sc.do(who, "poll.vote", poll=p, choices=[i % 3])
    sc.do(people[0], "poll.vote", poll=p, choices=[2])
    fresh = sc.rebuilt()
    assert polls.results(fresh, fresh.polls[p], False) == res(sc, p)
