"""Series over the real server (contract §8, issue 17): the next forum with `follows`,
carry-forward, updates in the new forum over the socket, GET /api/series/{id}; the desk,
editing before the start and preparing the run of show over HTTP."""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
from typing import Any, AsyncIterator

import httpx

from tests.support.live import ORGANIZER, Client, LiveServer, auth, create_event, join


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
        assert "assignee_id" not in karte  # who she is here, a moderator confirms
        # a name is only a name: anyone may join as "Frau Kraus"
        namesake = await join(http, f2, "Frau Kraus")
        cn = await Client.connect(server, f2["id"], namesake["token"])
        assert (await cn.request("carried.update", item=karte["id"],
                                 status="done"))["code"] == "forbidden"
        r = await c2.request("carried.update", item=karte["id"],
                             assignee_id=kraus["participant"]["id"])
        assert r["type"] == "ok", r
        assert (await cn.request("carried.update", item=karte["id"],
                                 status="done"))["code"] == "forbidden"
        await cn.close()
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
        confirmed, done = actions["Karte"]["history"]
        assert confirmed["by"]["name"] == "Moderator"
        assert confirmed["assignee_id"] == kraus["participant"]["id"]
        assert done["by"]["name"] == "Frau Kraus" and done["status"] == "done"
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


async def test_series_page_access(server: LiveServer) -> None:
    """GET /series/{id}: the organizer and whoever took part in a forum of the series (by
    the cookie of `POST /api/events/{id}/session`); a participant of another forum and
    nobody see exactly what an unknown series shows. No token in the URL, ever."""
    async with server.http() as http:
        f1 = await create_event(http, "Forum Eins", topics=[{"title": "Geodaten"}])
        m1 = await join(http, f1, "Moderatorin", moderator=True)
        early = await join(http, f1, "Frau Früh")  # took part in the first forum only
        c1 = await Client.connect(server, f1["id"], m1["token"])
        geo = f1["topics"][0]["id"]
        for text, kind, extra in (("Karte veröffentlichen", "action", {"assignee": "Frau Kraus"}),
                                  ("Wir tagen im Herbst", "decision", {})):
            r = await c1.request("minutes.add", room=f1["plenary_room"], kind=kind, text=text,
                                 topic=geo, **extra)
            assert r["type"] == "ok", r
        await c1.close()
        assert (await http.post(f"/api/events/{f1['id']}/end", headers=auth())).status_code == 200
        f2 = await follow(http, f1["id"], title="Forum Zwei")
        kraus = await join(http, f2, "Frau Kraus")
        other = await create_event(http, "Anderes Forum")
        stranger = await join(http, other, "Fremd")
    sid = f1["id"]
    page = f"/series/{sid}"

    @contextlib.asynccontextmanager
    async def session(token: str, event: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
        async with server.http() as client:  # a browser of its own: its own cookie jar
            r = await client.post(f"/api/events/{event['id']}/session",
                                  headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 204, r.text
            yield client

    def same(a: httpx.Response, b: httpx.Response, a_id: str, b_id: str) -> None:
        """Alike but for the id in the address (the language links repeat it)."""
        assert (a.status_code, a.text.replace(a_id, "ID")) == (b.status_code,
                                                                b.text.replace(b_id, "ID"))

    # the organizer, with the cookie the desk opens for every forum
    async with session(ORGANIZER, f2) as org:
        r = await org.get(page)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        assert '<html lang="de">' in r.text and "Forenreihe: Forum Eins" in r.text
        for title in ("Forum Eins", "Forum Zwei", "Karte veröffentlichen", "Wir tagen im Herbst",
                      "Thema: Geodaten", "weitergeführt in: Forum Zwei", "Frau Kraus"):
            assert title in r.text, title
        links = re.findall(r'href="(/api/series/[^"]+)"', r.text)
        assert sorted(link.split("?")[0].rsplit(".", 1)[1] for link in links) == [
            "docx", "json", "md", "pdf"]
        for link in links:
            assert "token" not in link
        got = await org.get(next(x for x in links if ".md" in x))
        assert got.status_code == 200 and "Karte veröffentlichen" in got.text
        en = await org.get(page, params={"lang": "en"})
        assert '<html lang="en">' in en.text and "carried on in: Forum Zwei" in en.text
        unknown = await org.get("/series/nope?lang=de")  # the organizer too: no such series
        assert unknown.status_code == 404 and "Forenreihe nicht gefunden" in unknown.text
    async with server.http() as org:  # or the organizer token as a header
        assert (await org.get(page, headers=auth())).status_code == 200

    # participants of a forum of the series: of the later one and of the first
    for token, event in ((kraus["token"], f2), (early["token"], f1)):
        async with session(token, event) as client:
            r = await client.get(page)
            assert r.status_code == 200 and "Karte veröffentlichen" in r.text
            # the review page of a forum that follows another links to the series page
            review = await client.get(f"/events/{event['id']}/review")
            assert (f'href="{page}?lang=de"' in review.text) == (event is f2)
            assert (await client.get(f"/api/series/{sid}")).status_code == 200
            got = await client.get(f"/api/series/{sid}/overview.json")
            assert got.status_code == 200 and got.json()["id"] == sid
            # "not me": the series cookie goes with the forum's
            assert (await client.delete(f"/api/events/{event['id']}/session")).status_code == 204
            assert (await client.get(page)).status_code == 404

    # nobody, and a participant of another forum, see what an unknown series shows
    async with server.http() as nobody:
        none = await nobody.get(page)
        unknown = await nobody.get("/series/nope")
        assert none.status_code == 404 and "Karte" not in none.text
        same(none, unknown, sid, "nope")
        # a token in the address opens nothing (and is not how the page is opened)
        same(await nobody.get(page, params={"token": kraus["token"]}),
             await nobody.get("/series/nope", params={"token": kraus["token"]}), sid, "nope")
    async with session(stranger["token"], other) as client:
        r = await client.get(page)
        same(r, await client.get("/series/nope"), sid, "nope")
        r = await client.get(page, headers={"Authorization": f"Bearer {stranger['token']}"})
        same(r, unknown, sid, "nope")
        assert (await client.get(f"/api/series/{sid}")).status_code == 401
        assert (await client.get(f"/series/{other['id']}")).status_code == 200  # their own
    # a forged or expired cookie is no token either
    async with server.http() as client:
        client.cookies.set("forum_token", "x" * 40, path=page)
        same(await client.get(page), unknown, sid, "nope")


async def test_series_topics_in_the_forums_order(server: LiveServer) -> None:
    """The overview lists topics as the forums define them (the first forum's order, then
    the topics a later forum adds), not in the order decisions happened to name them;
    entries without a topic come last. Page, Markdown, DOCX and JSON alike."""
    async with server.http() as http:
        f1 = await create_event(http, "Forum 1", topics=[{"title": "Geodaten"},
                                                         {"title": "Mobilität"}])
        f2 = await follow(http, f1["id"], title="Forum 2",
                          topics=[{"title": "Energie"}, {"title": "mobilität"}])
        geo, mob = (t["id"] for t in f1["topics"])
        energy = f2["topics"][0]["id"]
        # the decisions come in the opposite order: forum 2's new topic first, no topic next
        for event, topic, text in ((f2, energy, "Solardach prüfen"),
                                   (f1, None, "Nächstes Treffen im Mai"),
                                   (f1, mob, "Busspur einrichten"),
                                   (f1, geo, "Karte veröffentlichen")):
            m = await join(http, event, "Moderatorin", moderator=True)
            c = await Client.connect(server, event["id"], m["token"])
            r = await c.request("minutes.add", room=event["plenary_room"], kind="decision",
                                text=text, **({"topic": topic} if topic else {}))
            assert r["type"] == "ok", r
            await c.close()
        expected = ["Geodaten", "Mobilität", "Energie"]
        view = (await http.get(f"/api/series/{f1['id']}", headers=auth())).json()
        assert view["topics"] == expected
        got = (await http.get(f"/api/series/{f1['id']}/overview.json", headers=auth())).json()
        assert got["topics"] == expected
        md = (await http.get(f"/api/series/{f1['id']}/overview.md", headers=auth())).text
        assert re.findall(r"^## Thema: (.+)$", md, re.M) == [*expected, "Ohne Thema"]
        docx = await http.get(f"/api/series/{f1['id']}/overview.docx", headers=auth())
        with zipfile.ZipFile(io.BytesIO(docx.content)) as z:
            text = z.read("word/document.xml").decode()
        assert re.findall(r"Thema: ([^<]+)<", text) == [*expected, "Ohne Thema"]
        page = await http.get(f"/series/{f1['id']}", headers=auth())
        assert page.status_code == 200
        assert re.findall(r'<h2 id="series-topic-\d+">Thema: ([^<]+)</h2>', page.text) == [
            *expected, "Ohne Thema"]
        section = page.text.split("Thema: Mobilität")[1].split("Thema: Energie")[0]
        assert "Busspur einrichten" in section  # the topic's entries stay under it
