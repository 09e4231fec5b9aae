"""Issue 16, pure (no server): the Protokoll head keeps the planned and the actual time
apart, recordings are named by room and local time, and review and approval are a fold of
the journal (the same after a replay)."""

from __future__ import annotations

import pytest

from forum_live.domain import review, setup
from forum_live.domain.errors import Conflict, Forbidden
from forum_live.export import markdown, model, versions
from forum_live.export.view import prepare
from tests.support.domain import Scenario


def ended_forum(hours: float) -> tuple[Scenario, str, str]:
    sc = Scenario.event(topics=("Mobilität",))
    sc.state.starts_at = "2026-02-27T18:00:00Z"  # planned two days before it took place
    mod = sc.person("Moderation Meier", moderator=True)
    anna = sc.person("Anna Schmidt")
    sc.do(mod, "minutes.add", room=sc.state.plenary_room, kind="decision", text="Radweg bauen")
    sc.tick(hours * 3600)
    sc.commit(setup.end_event(sc.state, sc.ctx(), None))
    return sc, mod, anna


def test_head_keeps_planned_and_actual_apart() -> None:
    sc, _, _ = ended_forum(2)
    md = markdown.render(model.build(sc.state), "de")
    assert "- **Geplant:** 27.02.2026, 19:00 Uhr" in md
    assert "- **Beginn und Ende:** 01.03.2026, 10:00–12:00 Uhr" in md
    en = markdown.render(model.build(sc.state), "en")
    assert "- **Planned:** 27 Feb 2026, 19:00" in en
    assert "- **Begin and end:** 1 Mar 2026, 10:00–12:00" in en

    late, _, _ = ended_forum(15)  # 10:00 until 01:00 the next night: both dates
    md = markdown.render(model.build(late.state), "de")
    assert "- **Beginn und Ende:** 01.03.2026, 10:00–02.03.2026, 01:00 Uhr" in md


def test_recordings_are_named_by_room_and_local_time() -> None:
    sc, _, _ = ended_forum(1)
    m = model.build(sc.state)
    m["recordings"] = [{"id": "r1", "room": sc.state.plenary_room, "room_title": "Plenum",
                        "title": "Plenum 2026-03-01T09:05", "started_at": "2026-03-01T09:05:00Z",
                        "duration_s": 600.0, "file": "ev1/r/x.ogg"}]
    [rec] = prepare(m, "de")["recordings"]
    assert rec["title"] == "Plenum, 01.03.2026, 10:05" and rec["duration"] == "10 Min."
    assert "2026-03-01T" not in markdown.render(m, "de")


def test_review_is_a_fold_of_the_journal() -> None:
    sc, mod, anna = ended_forum(1)
    [entry] = list(sc.state.minutes)
    never = sc.person("Nie Dabei", online=False)
    with pytest.raises(Forbidden):
        review.comment(sc.state, sc.ctx(), sc.state.participants[never], entry, "x")
    sc.commit(review.comment(sc.state, sc.ctx(), sc.state.participants[anna], entry, "Datum?"))
    [proposed] = sc.commit(review.propose(sc.state, sc.ctx(), sc.state.participants[anna],
                                          entry, "Radweg bis 2027 bauen", None))
    pid = proposed.data["proposal"]["id"]
    with pytest.raises(Forbidden):
        review.decide_proposal(sc.state, sc.ctx(), sc.state.participants[anna], pid, True)
    sc.commit(review.decide_proposal(sc.state, sc.ctx(), sc.state.participants[mod], pid, True))
    assert sc.state.minutes[entry].text == "Radweg bis 2027 bauen"
    with pytest.raises(Conflict):
        review.decide_proposal(sc.state, sc.ctx(), None, pid, False)

    sc.tick(60)
    sc.commit(review.approve(sc.state, sc.ctx(), "Dr. Landrat", None, model.build(sc.state), []))
    with pytest.raises(Conflict):  # nothing changed since version 1
        review.approve(sc.state, sc.ctx(), "Dr. Landrat", None, model.build(sc.state), [])
    assert versions.current(sc.state)["approval"]["status"] == "approved"
    sc.tick(60)
    [again] = sc.commit(review.propose(sc.state, sc.ctx(), None, entry, "Radweg 2028", None))
    sc.commit(review.decide_proposal(sc.state, sc.ctx(), None, again.data["proposal"]["id"],
                                     True))
    now = versions.current(sc.state)
    assert now["approval"]["status"] == "draft" and now["approval"]["version"] == 2
    assert [(c["change"], c["before"], c["after"]) for c in now["approval"]["changes"]] == [
        ("changed", "Radweg bis 2027 bauen", "Radweg 2028")]
    assert [v["status"] for v in versions.listing(sc.state)] == ["approved", "draft"]

    fresh = sc.rebuilt()  # the journal alone: the same review, the same frozen version 1
    assert review.review_view(fresh) == review.review_view(sc.state)
    assert versions.frozen(fresh, 1) == versions.frozen(sc.state, 1)
    assert versions.frozen(fresh, 1)["approval"]["approved_by"] == "Dr. Landrat"
