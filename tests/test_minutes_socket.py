"""Minutes over the real server: live updates, conflicts, room isolation, restarts."""

from __future__ import annotations

from pathlib import Path

from tests.support.live import Client, LiveServer, create_event, join, start_server


async def test_concurrent_edits_conflict_and_everyone_sees_the_result(server: LiveServer) -> None:
    async with server.http() as http:
        ev = await create_event(http)
        a, b = await join(http, ev, "Anna"), await join(http, ev, "Bernd", moderator=True)
    ca = await Client.connect(server, ev["id"], a["token"])
    cb = await Client.connect(server, ev["id"], b["token"])
    room = ev["plenary_room"]
    r = await ca.request("minutes.add", room=room, kind="decision",
                         text="Wir starten mit dem mobilen Marktplatz")
    assert r["type"] == "ok"
    added = await cb.wait_for(lambda e: e["type"] == "minutes.added")
    entry = added["entry"]
    assert entry["author"]["name"] == "Anna" and entry["version"] == 1
    first = await ca.request("minutes.edit", entry=entry["id"], version=1,
                             text="Wir starten 2026 mit dem mobilen Marktplatz")
    second = await cb.request("minutes.edit", entry=entry["id"], version=1,
                              text="Start: mobiler Marktplatz")
    assert first["type"] == "ok"
    assert second["code"] == "conflict"
    assert second["current"]["text"] == "Wir starten 2026 mit dem mobilen Marktplatz"
    resolved = await cb.request("minutes.edit", entry=entry["id"],
                                version=second["current"]["version"],
                                text="Start 2026: mobiler Marktplatz")
    assert resolved["type"] == "ok"
    final = await ca.wait_for(lambda e: e["type"] == "minutes.edited"
                              and e["entry"]["version"] == 3)
    assert final["entry"]["text"] == "Start 2026: mobiler Marktplatz"
    assert final["entry"]["edited_by"]["name"] == "Bernd"


async def test_minutes_of_a_breakout_stay_in_it_and_survive_a_restart(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "d")
    async with server.http() as http:
        ev = await create_event(http, topics=[{"title": "Geodaten"}, {"title": "Mobilität"}])
        mod = await join(http, ev, "M", moderator=True)
        parts = [await join(http, ev, f"P{i}") for i in range(4)]
    cm = await Client.connect(server, ev["id"], mod["token"])
    clients = [await Client.connect(server, ev["id"], p["token"]) for p in parts]
    await cm.request("breakouts.open", assign="auto")
    rt = server.forum.runtimes[ev["id"]]
    for c in clients:
        await c.wait_for(lambda e: e["type"] == "participant.moved")
    writer = parts[0]["participant"]["id"]
    room = rt.state.room_of(writer)
    r = await clients[0].request("minutes.add", room=room, kind="action",
                                 text="Geodatenportal prüfen", assignee="Herr Bauer",
                                 due="2026-06-30")
    assert r["type"] == "ok"
    for c, p in zip(clients, parts):
        await c.request("ping")
        same = rt.state.room_of(p["participant"]["id"]) == room
        assert bool(c.of("minutes.added")) == same
    await server.stop()
    server = await start_server(tmp_path / "d")
    try:
        again = await Client.connect(server, ev["id"], parts[0]["token"])
        minutes = again.ready["state"]["minutes"]  # type: ignore[index]
        assert [(m["text"], m["assignee"], m["due"]) for m in minutes] == [
            ("Geodatenportal prüfen", "Herr Bauer", "2026-06-30")]
        topic_titles = {t["id"]: t["title"] for t in ev["topics"]}
        assert topic_titles[minutes[0]["topic"]] == rt.state.rooms[room].title
    finally:
        await server.stop()
