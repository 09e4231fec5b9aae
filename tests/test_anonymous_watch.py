"""Anonymity by watching (issue 13): live results of an anonymous poll move only in steps
of at least k ballots (the `anonymous_step` limit) or at close, a fresh state shows no more
than the last step, and per-room results of anonymous polls show only rooms with at least
k ballots. An observer who knows when each person voted recovers no choice."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from forum_live.domain import polls
from tests.support.domain import Scenario
from tests.support.live import Client, create_event, join, start_server

N = 13  # voters: steps of 5, 5 and the last 3 at close


async def test_an_observer_who_knows_every_voting_time_recovers_no_choice(
        tmp_path: Path) -> None:
    server = await start_server(tmp_path / "d", results_interval_s=0.05)
    try:
        async with server.http() as http:
            ev = await create_event(http)
            mod = await join(http, ev, "Moderatorin", moderator=True)
            eve = await join(http, ev, "Eve")  # the observer, also a participant
            people = [await join(http, ev, f"P{i}") for i in range(N)]
        cm = await Client.connect(server, ev["id"], mod["token"])
        observer = await Client.connect(server, ev["id"], eve["token"])
        await cm.request("poll.create", scope="event", question="Wer?", kind="single",
                         options=["A", "B", "C"], anonymous=True, results="live")
        poll = (await cm.wait_for(lambda e: e["type"] == "poll.opened"))["poll"]["id"]
        voters = [await Client.connect(server, ev["id"], p["token"]) for p in people]
        choice = [i % 3 for i in range(N)]  # any 3 in a row differ: no step is unanimous
        voted_at: list[float] = []
        for i, c in enumerate(voters):
            assert (await c.request("poll.vote", poll=poll, choice=choice[i]))["type"] == "ok"
            voted_at.append(time.monotonic())
            # the observer watches, and asks for a fresh state now and then
            sync = await observer.request("state.sync")
            shown = next(p for p in sync["state"]["polls"] if p["poll"]["id"] == poll)
            assert shown["results"]["total"] % 5 == 0, shown["results"]  # only whole steps
        seen: list[tuple[float, dict]] = []  # (when the observer saw it, results)

        def note(frame: dict) -> None:
            if frame.get("type") == "poll.results" and frame["poll"] == poll:
                seen.append((time.monotonic(), frame))

        for e in observer.events:
            note(e)
        assert (await cm.request("poll.close", poll=poll))["type"] == "ok"
        final = await observer.wait_for(lambda e: e["type"] == "poll.results"
                                        and e["poll"] == poll and e["final"])
        note(final)
        # The observer lines every change up with who voted since the last one.
        steps: list[tuple[list[int], Counter[int]]] = []
        before: Counter[int] = Counter()
        done = 0
        unique = {id(f): (at, f) for at, f in seen}.values()
        for at, frame in sorted(unique, key=lambda x: x[1]["total"]):
            counts = Counter({k: n for k, n in enumerate(frame["counts"]) if n})
            group = [i for i in range(done, frame["total"])]
            if frame["final"]:
                group = list(range(done, N))
            delta = counts - before
            if not group:
                continue
            steps.append((group, delta))
            assert sum(delta.values()) == len(group)
            done, before = done + len(group), counts
        assert done == N
        for group, delta in steps[:-1]:
            assert len(group) >= 5, steps  # every live change covers at least k voters
        for group, delta in steps:
            for i in group:  # what the observer can say about voter i: one of `delta`
                assert len(delta) >= 2, (i, delta)  # never a single choice
        assert before == Counter({k: n for k, n in enumerate(final["counts"]) if n})
        for c in (cm, observer, *voters):
            await c.close()
    finally:
        await server.stop()


def _poll(room_ballots: dict[str, int]) -> polls.Poll:
    p = polls.Poll("p1", "all_breakouts", None, list(room_ballots), "?", "single", ["a", "b"],
                   None, None, True, "live", "m", "t")
    for room, n in room_ballots.items():
        p.counts[room] = Counter({"0": n})
        p.room_ballots[room] = n
    return p


def test_per_room_results_only_for_rooms_with_k_ballots() -> None:
    assert polls.shown_rooms(_poll({"r1": 6, "r2": 5, "r3": 7}), ["r1", "r2", "r3"], 5) == [
        "r1", "r2", "r3"]
    # a room with one person is hidden; so is the next smallest, else total - shown = it
    assert polls.shown_rooms(_poll({"r1": 1, "r2": 5, "r3": 7}), ["r1", "r2", "r3"], 5) == [
        "r3"]
    # hidden rooms that together hold k or more ballots are hidden as they are
    assert polls.shown_rooms(_poll({"r1": 2, "r2": 3, "r3": 7}), ["r1", "r2", "r3"], 5) == [
        "r3"]
    assert polls.shown_rooms(_poll({"r1": 1, "r2": 6}), ["r1", "r2"], 5) == []
    assert polls.shown_rooms(_poll({"r1": 0, "r2": 6}), ["r1", "r2"], 5) == ["r2"]


def test_anonymous_all_breakouts_poll_shows_rooms_only_at_close_and_with_k() -> None:
    sc = Scenario.event()
    mod = sc.person("M", moderator=True)
    people = [sc.person(f"P{i}") for i in range(12)]
    [opened, *_] = sc.do(mod, "breakouts.open", assign="auto")
    rooms = [r["id"] for r in opened.data["rooms"]]
    # one person alone in the last room, the others spread over the rest
    alone = rooms[-1]
    for p in people:
        target = alone if p == people[0] else rooms[people.index(p) % (len(rooms) - 1)]
        if sc.state.room_of(p) != target:
            sc.do(mod, "breakouts.move", participant=p, room=target)
    [poll_opened] = sc.do(mod, "poll.create", scope="all_breakouts", question="Q",
                          kind="single", options=["x", "y"], anonymous=True)
    pid = poll_opened.data["poll"]["id"]
    for i, p in enumerate(people):
        sc.do(p, "poll.vote", poll=pid, choice=i % 2)
    poll = sc.state.polls[pid]
    live = polls.results_entry(sc.state, sc.ctx(), poll, final=False).data
    assert "per_room" not in live  # never while it runs
    closed = sc.do(mod, "poll.close", poll=pid)
    final = next(e.data for e in closed if e.kind == "poll.results")
    n = Counter(sc.state.room_of(p) for p in people)
    shown = final.get("per_room", {})
    assert alone not in shown  # one voter: hidden
    assert all(n[r] >= 5 for r in shown)
    hidden = [r for r in rooms if r not in shown]
    assert sum(n[r] for r in hidden) == 0 or sum(n[r] for r in hidden) >= 5
    assert final["per_room_min"] == 5 and final["counts"] == [6, 6]
    # the ready state and the exports show exactly what went out
    assert polls.results(sc.state, poll, final=True) == final
