"""GDPR (issue 9): the organizer erases an event with all its data and recordings, and
exports everything stored about one participant, without their anonymous ballots."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import websockets

from tests.support.live import Client, LiveServer, auth, connected, create_event, join


async def test_delete_event_erases_everything_and_closes_its_sockets(server: LiveServer) -> None:
    async with server.http() as http:
        ev = await create_event(http)
        keep = await create_event(http, title="Bleibt")
        mod = await join(http, ev, "Moderatorin", moderator=True)
        pat = await join(http, ev, "Pat")
        kept = await join(http, keep, "Anderswo")
    eid = ev["id"]
    cm, cp = await connected(server, ev, mod, pat)
    ck, = await connected(server, keep, kept)
    assert (await cp.request("chat.send", room=ev["plenary_room"], text="hallo"))["type"] == "ok"
    await cm.request("poll.create", scope="event", question="?", kind="text", anonymous=True)
    poll = (await cp.wait_for(lambda e: e["type"] == "poll.opened"))["poll"]["id"]
    assert (await cp.request("poll.vote", poll=poll, text="geheim"))["type"] == "ok"
    rec = server.settings.recordings_dir / eid / ev["plenary_room"]
    rec.mkdir(parents=True)
    (rec / "1.ogg").write_bytes(b"OggS")
    other_rec = server.settings.recordings_dir / keep["id"]
    other_rec.mkdir(parents=True)

    async with server.http() as http:
        r = await http.delete(f"/api/events/{eid}",
                              headers={"Authorization": f"Bearer {pat['token']}"})
        assert r.status_code == 401
        r = await http.delete(f"/api/events/{eid}", headers=auth())
        assert r.status_code == 200, r.text
        assert r.json() == {"deleted": eid}
    for c in (cm, cp):  # both told: closed with 1001
        try:
            while True:
                await c.recv(5)
        except websockets.ConnectionClosed as e:
            assert e.rcvd is not None and e.rcvd.code == 1001
    await asyncio.sleep(0.3)  # late presence must not write anything back
    await server.forum.store.flush()

    async with server.http() as http:
        h = auth()
        for method, path, body in [
                ("GET", f"/api/events/{eid}", None), ("DELETE", f"/api/events/{eid}", None),
                ("POST", f"/api/events/{eid}/end", None),
                ("GET", f"/api/events/{eid}/minutes.md", None),
                ("GET", f"/api/events/{eid}/polls.csv", None),
                ("GET", f"/api/events/{eid}/participants/{pat['participant']['id']}/export",
                 None)]:
            r = await http.request(method, path, headers=h, json=body)
            assert r.status_code == 404, (method, path, r.status_code, r.text)
            assert r.json()["error"]["code"] == "not_found"
        # joining and the event page answer as for any unknown event or wrong key (issue 13)
        r = await http.post(f"/api/events/{eid}/join", json={"name": "X",
                                                             "key": ev["participant_key"]})
        assert r.status_code == 403
        unknown = await http.get("/e/nosuchevent0")
        page = await http.get(f"/e/{eid}")
        assert page.text.replace(eid, "ID") == unknown.text.replace("nosuchevent0", "ID")
        listed = [e["id"] for e in (await http.get("/api/events", headers=h)).json()]
        assert eid not in listed and keep["id"] in listed
    async with websockets.connect(f"{server.ws_base}/ws/events/{eid}") as ws:
        await ws.send(json.dumps({"type": "hello", "token": pat["token"]}))
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as e:
            assert e.rcvd is not None and e.rcvd.code == 4404

    con = sqlite3.connect(server.settings.db_path)
    try:
        for table, col in [("events", "id"), ("journal", "event_id"),
                           ("poll_voters", "event_id"), ("poll_counts", "event_id"),
                           ("poll_texts", "event_id")]:
            n = con.execute(f"SELECT count(*) FROM {table} WHERE {col} = ?", (eid,)).fetchone()
            assert n == (0,), table
        assert con.execute("SELECT count(*) FROM journal WHERE event_id = ?",
                           (keep["id"],)).fetchone()[0] > 0
    finally:
        con.close()
    assert not (server.settings.recordings_dir / eid).exists()
    assert other_rec.exists()
    # the other event is untouched and alive
    assert (await ck.request("ping"))["type"] == "ok"
    await ck.close()


async def test_participant_export_holds_their_data_and_no_anonymous_ballot(
        server: LiveServer) -> None:
    async with server.http() as http:
        ev = await create_event(http)
        mod = await join(http, ev, "Moderatorin", moderator=True)
        pat = await join(http, ev, "Pat Muster", organization="Amt")
        other = await join(http, ev, "Jemand")
    eid, pid, room = ev["id"], pat["participant"]["id"], ev["plenary_room"]
    cm = await Client.connect(server, eid, mod["token"])
    cp = await Client.connect(server, eid, pat["token"])
    co = await Client.connect(server, eid, other["token"])
    first = (await cp.request("chat.send", room=room, text="erste Zeile"))["message"]
    await cp.request("chat.send", room=room, text="zweite Zeile")
    await co.request("chat.send", room=room, text="nicht von Pat")
    await cm.request("chat.delete", message=first)
    await cp.request("minutes.add", room=room, kind="action", text="Pat prüft das")
    entry = (await cp.wait_for(lambda e: e["type"] == "minutes.added"))["entry"]
    await cp.request("minutes.edit", entry=entry["id"], version=entry["version"],
                     text="Pat prüft das bis Freitag")
    await cm.request("poll.create", scope="event", question="Namentlich?", kind="single",
                     options=["ja", "nein"], anonymous=False)
    named = (await cp.wait_for(lambda e: e["type"] == "poll.opened"))["poll"]["id"]
    await cm.request("poll.create", scope="event", question="Geheim?", kind="text",
                     anonymous=True)
    secret = (await cp.wait_for(lambda e: e["type"] == "poll.opened"
                                and e["poll"]["id"] != named))["poll"]["id"]
    assert (await cp.request("poll.vote", poll=named, choice=1))["type"] == "ok"
    assert (await cp.request("poll.vote", poll=secret, text="streng geheim qq"))["type"] == "ok"
    assert (await cp.request("question.ask", text="Wann gibt es Kaffee?",
                             anonymous=False))["type"] == "ok"
    await cp.close()
    await cm.wait_for(lambda e: e["type"] == "participant.left")
    await server.forum.store.flush()

    path = f"/api/events/{eid}/participants/{pid}/export"
    async with server.http() as http:
        assert (await http.get(path)).status_code == 401
        assert (await http.get(path, headers={
            "Authorization": f"Bearer {mod['token']}"})).status_code == 401
        assert (await http.get(f"/api/events/{eid}/participants/nobody/export",
                               headers=auth())).status_code == 404
        r = await http.get(path, headers=auth())
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["participant"]["name"] == "Pat Muster"
    assert data["registration"]["organization"] == "Amt" and data["registration"]["registered_at"]
    assert len(data["presence"]) == 1 and data["presence"][0]["to"] is not None
    assert [(c["text"], c["deleted"]) for c in data["chat"]] == [("erste Zeile", True),
                                                                 ("zweite Zeile", False)]
    assert [m["text"] for m in data["minutes"]] == ["Pat prüft das bis Freitag"]
    assert [(v["poll"], [str(k) for k in v["keys"]]) for v in data["poll_votes"]] == [
        (named, ["1"])]
    assert [q["text"] for q in data["questions"]] == ["Wann gibt es Kaffee?"]
    assert data["anonymous_ballots"]["took_part_in"] == [secret]
    assert "unlinkable" in data["anonymous_ballots"]["note"] or "without any link" in \
        data["anonymous_ballots"]["note"]
    assert "streng geheim" not in r.text and "nicht von Pat" not in r.text
    for c in (cm, co):
        await c.close()
