"""A prepared forum run by "Nächster Punkt" alone, over the real server (issue 17): the
organizer prepares the run of show over HTTP; the moderator sends nothing but agenda.next;
everyone sees where the forum stands, and the platform does every step."""

from __future__ import annotations

from tests.support.live import Client, LiveServer, auth, connected, create_event, join


async def test_a_prepared_forum_runs_by_next_alone(server: LiveServer) -> None:
    async with server.http() as http:
        ev = await create_event(http, "Forum", topics=[{"title": "Geodaten", "speaker": "Anna"},
                                                       {"title": "Mobilität"}])
        steps = [
            {"kind": "welcome", "title": "Begrüßung", "planned_at": "2026-10-01T09:00:00Z"},
            {"kind": "impulse", "topic": ev["topics"][0]["id"], "floor_s": 600},
            {"kind": "breakout", "assign": "auto", "duration_s": 1200,
             "polls": [{"question": "Wie dringend?", "kind": "rating", "scale": [1, 5]}]},
            {"kind": "report", "speakers": ["Ben", "Anna"], "floor_s": 120},
            {"kind": "poll", "polls": [{"question": "Weiter so?", "kind": "single",
                                        "options": ["Ja", "Nein"]}]},
            {"kind": "break", "duration_s": 600},
        ]
        r = await http.put(f"/api/events/{ev['id']}/agenda", headers=auth(), json={"steps": steps})
        assert r.status_code == 200, r.text
        mod = await join(http, ev, "Moderatorin", moderator=True)
        anna = await join(http, ev, "Anna")
        ben = await join(http, ev, "Ben")
    m, a, b = await connected(server, ev, mod, anna, ben)
    agenda = a.ready["state"]["agenda"]  # type: ignore[index]
    ids = [s["id"] for s in agenda["steps"]]
    assert agenda["current"] is None and agenda["next"] == ids[0]
    pid = {"Anna": anna["participant"]["id"], "Ben": ben["participant"]["id"]}

    async def next_point(step: int) -> None:
        reply = await m.request("agenda.next")
        assert reply["type"] == "ok", reply
        await b.wait_for(lambda e: e["type"] == "agenda.advanced" and e["to"] == ids[step]
                         and e not in seen)
        seen.extend(b.of("agenda.advanced"))

    seen: list[dict] = []  # type: ignore[type-arg]
    await next_point(0)  # welcome
    await next_point(1)  # impulse: Anna (the topic's speaker) gets the floor for 10 min
    given = await b.wait_for(lambda e: e["type"] == "floor.given")
    assert (given["participant"], given["limit_s"]) == (pid["Anna"], 600)
    await next_point(2)  # breakout: rooms open, everyone placed, the poll in every room
    opened = await b.wait_for(lambda e: e["type"] == "breakouts.opened")
    assert opened["ends_at"] is not None
    moved = await b.wait_for(lambda e: e["type"] == "participant.moved"
                             and e["participant"] == pid["Ben"])
    assert moved["to"] in {r["id"] for r in opened["rooms"]}
    poll = await b.wait_for(lambda e: e["type"] == "poll.opened")
    assert poll["poll"]["question"] == "Wie dringend?"
    await next_point(3)  # report: rooms close, Ben first
    await b.wait_for(lambda e: e["type"] == "participant.moved" and e["participant"] == pid["Ben"]
                     and e["to"] == ev["plenary_room"])
    await b.wait_for(lambda e: e["type"] == "floor.given" and e["participant"] == pid["Ben"])
    r = await m.request("agenda.next")  # then Anna, in the same step
    assert r["type"] == "ok"
    await a.wait_for(lambda e: e["type"] == "floor.given" and e["participant"] == pid["Anna"]
                     and e["limit_s"] == 120)
    await next_point(4)  # the prepared poll for everyone
    await a.wait_for(lambda e: e["type"] == "poll.opened" and e["poll"]["question"] == "Weiter so?")
    await next_point(5)  # break: the plenary's countdown
    timer = await a.wait_for(lambda e: e["type"] == "timer.started")
    assert timer["timer"]["title"] == "Pause"
    r = await m.request("agenda.next")  # the end
    assert r["type"] == "ok"
    await a.wait_for(lambda e: e["type"] == "agenda.advanced" and e["to"] is None)
    # a participant cannot advance; a fresh view shows every step done
    assert (await a.request("agenda.next"))["code"] == "forbidden"
    late = await Client.connect(server, ev["id"], anna["token"])
    done = late.ready["state"]["agenda"]  # type: ignore[index]
    assert [s["status"] for s in done["steps"]] == ["done"] * 6
    assert done["current"] is None and done["next"] is None
    async with server.http() as http:
        md = (await http.get(f"/api/events/{ev['id']}/minutes.md", headers=auth())).text
    assert "## Ablauf" in md and "Breakout-Runde" in md and "Impuls: Geodaten" in md
    for c in (m, a, b, late):
        await c.close()


async def test_a_step_without_a_title_is_named_in_the_language_of_the_reader(
        server: LiveServer) -> None:
    """An untitled step is called "Impuls: Geodaten" by the server; the state marks the title
    as made (auto_title) and the English minutes say "Impulse: Geodaten" (they said the
    German words in an English document). A step still running when the forum ends is done
    in its minutes (they said "running" ever after)."""
    async with server.http() as http:
        ev = await create_event(http, "Forum", topics=[{"title": "Geodaten"}])
        steps = [{"kind": "welcome", "title": "Guten Morgen"},
                 {"kind": "impulse", "topic": ev["topics"][0]["id"]},
                 {"kind": "break", "duration_s": 600}]
        r = await http.put(f"/api/events/{ev['id']}/agenda", headers=auth(), json={"steps": steps})
        assert r.status_code == 200, r.text
        mod = await join(http, ev, "Moderatorin", moderator=True)
    m = await Client.connect(server, ev["id"], mod["token"])
    shown = [(s["title"], s["auto_title"]) for s in m.ready["state"]["agenda"]["steps"]]  # type: ignore[index]
    assert shown == [("Guten Morgen", False), ("Impuls: Geodaten", True), ("Pause", True)]
    for _ in range(2):
        assert (await m.request("agenda.next"))["type"] == "ok"
    await m.close()
    async with server.http() as http:
        assert (await http.post(f"/api/events/{ev['id']}/end", headers=auth())).status_code == 200
        en = (await http.get(f"/api/events/{ev['id']}/minutes.md?lang=en", headers=auth())).text
        de = (await http.get(f"/api/events/{ev['id']}/minutes.md", headers=auth())).text
    assert "| Impulse: Geodaten |" in en and "| Break |" in en and "| Guten Morgen |" in en, en
    assert "Impuls:" not in en and "| Pause |" not in en, en
    # the impulse still running at the end is done in the minutes of the ended forum
    assert "| running |" not in en and "| done |" in en, en
    assert "| Impuls: Geodaten |" in de and "| Pause |" in de and "| Guten Morgen |" in de, de
