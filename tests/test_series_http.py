"""Series over the real server (contract §8, issue 17): the next forum with `follows`,
carry-forward, updates in the new forum over the socket, GET /api/series/{id}; the desk,
editing before the start and preparing the run of show over HTTP."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import httpx

from tests.support.live import Client, LiveServer, auth, create_event, join


async def follow(http: httpx.AsyncClient, prev: str, **body: Any) -> dict[str, Any]:
    r = await http.post("/api/events", headers=auth(),
                        json={"title": body.pop("title", "Forum"), "follows": prev, **body})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_three_forums_of_a_series(server: LiveServer) -> None:
    async with server.http() as http:
        f1 = await create_event(http, "Forum 1", topics=[{"title": "Geodaten"},
                                                         {"title": "Mobilität"}])
        assert f1["series_id"] == f1["id"] and f1["carried"] == {"actions": 0, "questions": 0}
        m1 = await join(http, f1, "Moderatorin", moderator=True)
        c1 = await Client.connect(server, f1["id"], m1["token"])
        geo = f1["topics"][0]["id"]
        for text, kind, extra in (("Karte", "action", {"assignee": "Frau Kraus",
                                                       "due": "2026-06-30"}),
                                  ("Bericht", "action", {"assignee": "Herr Lenz"}),
                                  ("Wer zahlt?", "question", {})):
            r = await c1.request("minutes.add", room=f1["plenary_room"], kind=kind, text=text,
                                 topic=geo, **extra)
            assert r["type"] == "ok", r
        await c1.close()
        assert (await http.post(f"/api/events/{f1['id']}/end", headers=auth())).status_code == 200

        f2 = await follow(http, f1["id"], title="Forum 2", starts_at="2026-09-01T09:00")
        assert f2["series_id"] == f1["id"]
        assert f2["carried"] == {"actions": 2, "questions": 1}
        assert [t["title"] for t in f2["topics"]] == ["Geodaten", "Mobilität"]  # copied
        m2 = await join(http, f2, "Moderator", moderator=True)
        kraus = await join(http, f2, "Frau Kraus")
        c2 = await Client.connect(server, f2["id"], m2["token"])
        ck = await Client.connect(server, f2["id"], kraus["token"])
        carried = ck.ready["state"]["carried"]  # type: ignore[index]
        assert carried["series_id"] == f1["id"]
        karte, bericht = carried["actions"]
        assert karte["topic"] == f2["topics"][0]["id"] and karte["assignee"] == "Frau Kraus"
        # the assignee marks her own action done; the moderator moves the other's date
        assert (await ck.request("carried.update", item=karte["id"], status="done"))["type"] == "ok"
        assert (await ck.request("carried.update", item=bericht["id"],
                                 status="done"))["code"] == "forbidden"
        r = await c2.request("carried.update", item=bericht["id"], due="2026-12-01")
        assert r["type"] == "ok"
        question = carried["questions"][0]
        r = await c2.request("carried.answer", item=question["id"], answer="Der Landkreis")
        assert r["type"] == "ok"
        await c2.wait_for(lambda e: e["type"] == "carried.updated"
                          and e["item"]["id"] == question["id"])
        # the minutes of forum 2 show the state of the actions of the forum before
        md = await http.get(f"/api/events/{f2['id']}/minutes.md", headers=auth())
        assert md.status_code == 200
        assert "Stand der Aufgaben aus dem letzten Forum" in md.text
        assert "Karte" in md.text and "erledigt" in md.text
        html = await http.get(f"/api/events/{f2['id']}/minutes.html", headers=auth())
        assert "Stand der Aufgaben aus dem letzten Forum" in html.text
        assert "Der Landkreis" in html.text
        docx = await http.get(f"/api/events/{f2['id']}/minutes.docx", headers=auth())
        with zipfile.ZipFile(io.BytesIO(docx.content)) as z:
            assert "Stand der Aufgaben aus dem letzten Forum" in z.read(
                "word/document.xml").decode()
        await c2.close()
        await ck.close()

        f3 = await follow(http, f2["id"], title="Forum 3")
        assert f3["series_id"] == f1["id"]
        assert f3["carried"] == {"actions": 1, "questions": 0}

        r = await http.get(f"/api/series/{f1['id']}", headers=auth())
        assert r.status_code == 200, r.text
        view = r.json()
        assert [e["id"] for e in view["events"]] == [f1["id"], f2["id"], f3["id"]]
        assert [e["status"] for e in view["events"]] == ["ended", "live", "planned"]
        actions = {a["text"]: a for a in view["actions"]}
        assert actions["Karte"]["status"] == "done"
        assert actions["Karte"]["history"][0]["by"]["name"] == "Frau Kraus"
        assert actions["Bericht"]["status"] == "open"
        assert actions["Bericht"]["due"] == "2026-12-01"
        assert actions["Bericht"]["from_event"] == f1["id"]
        assert actions["Bericht"]["topic"] == "Geodaten"
        assert (await http.get(f"/api/series/{f1['id']}")).status_code == 401
        # read-only for whoever takes part in one of its forums, and as documents
        bearer = {"Authorization": f"Bearer {kraus['token']}"}
        r = await http.get(f"/api/series/{f1['id']}", headers=bearer)
        assert r.status_code == 200 and r.json()["actions"] == view["actions"]
        other = await create_event(http, "Anderes Forum")
        stranger = await join(http, other, "Fremd")
        r = await http.get(f"/api/series/{f1['id']}",
                           headers={"Authorization": f"Bearer {stranger['token']}"})
        assert r.status_code == 401
        md = await http.get(f"/api/series/{f1['id']}/overview.md", headers=bearer)
        assert md.status_code == 200 and "attachment" in md.headers["content-disposition"]
        assert "## Thema: Geodaten" in md.text and "| Frau Kraus | Karte |" in md.text
        assert "erledigt" in md.text and "Der Landkreis" in md.text
        for fmt, magic in (("pdf", b"%PDF-"), ("docx", b"PK")):
            r = await http.get(f"/api/series/{f1['id']}/overview.{fmt}", headers=auth())
            assert r.status_code == 200 and r.content.startswith(magic), fmt
        r = await http.get(f"/api/series/{f1['id']}/overview.json", headers=auth())
        assert r.json()["id"] == f1["id"]
        assert (await http.get("/api/series/nope", headers=auth())).status_code == 404
        r = await http.post("/api/events", headers=auth(), json={"title": "x", "follows": "nope"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_desk_edit_before_start_and_prepared_agenda(server: LiveServer) -> None:
    async with server.http() as http:
        ev = await create_event(http, "Entwurf", topics=[{"title": "A"}, {"title": "B"}])
        r = await http.patch(f"/api/events/{ev['id']}", headers=auth(), json={
            "title": "Forum Herbst", "starts_at": "2026-10-01T09:00",
            "topics": [{"id": ev["topics"][1]["id"], "title": "B neu"}, {"title": "C"}]})
        assert r.status_code == 200, r.text
        item = r.json()
        assert item["title"] == "Forum Herbst" and item["status"] == "planned"
        assert [t["title"] for t in item["topics"]] == ["B neu", "C"]
        assert item["topics"][0]["id"] == ev["topics"][1]["id"]
        steps = [{"kind": "welcome"}, {"kind": "breakout", "assign": "auto", "duration_s": 600},
                 {"kind": "poll", "polls": [{"question": "Gut?", "kind": "single",
                                             "options": ["ja", "nein"]}]}]
        r = await http.put(f"/api/events/{ev['id']}/agenda", headers=auth(), json={"steps": steps})
        assert r.status_code == 200, r.text
        assert [s["kind"] for s in r.json()["steps"]] == ["welcome", "breakout", "poll"]
        r = await http.put(f"/api/events/{ev['id']}/agenda", headers=auth(),
                           json={"steps": [{"kind": "poll"}]})
        assert r.status_code == 422  # a poll step needs its poll
        desk = (await http.get("/api/desk", headers=auth())).json()
        mine = next(d for d in desk if d["id"] == ev["id"])
        assert mine["agenda_steps"] == 3 and mine["minutes"]["status"] == "draft"
        assert mine["editable"] is True
        # once someone was there it has started: no more edits
        m = await join(http, ev, "Moderatorin", moderator=True)
        c = await Client.connect(server, ev["id"], m["token"])  # ready: present
        desk = (await http.get("/api/desk", headers=auth())).json()
        mine = next(d for d in desk if d["id"] == ev["id"])
        assert (mine["status"], mine["online"], mine["editable"]) == ("live", 1, False)
        r = await http.patch(f"/api/events/{ev['id']}", headers=auth(), json={"title": "zu spät"})
        assert r.status_code == 409
        assert (await http.get("/api/desk")).status_code == 401
        await c.close()
