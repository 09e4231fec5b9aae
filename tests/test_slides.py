"""Impulse slides (contract §10) over HTTP and the socket: upload by the organizer or a
moderator, pages as PNG and their text for anyone admitted, clear errors for what is not a
PDF, a broken one, too many pages or too many bytes; `slides.show` by moderators and
whoever has the floor, followed by everyone in the room, carried by `ready` for a late
joiner, and kept in the journal across a restart."""

from __future__ import annotations

from pathlib import Path

from tests.support.live import Client, LiveServer, auth, connected, create_event, join, start_server
from tests.support.pdf import make_pdf

PDF = {"Content-Type": "application/pdf"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **PDF}


async def test_upload_pages_text_and_errors(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "data", slides_max_bytes=20_000, slides_max_pages=5)
    try:
        async with server.http() as http:
            event = await create_event(http, topics=[{"title": "Geodaten"}])
            topic = event["topics"][0]["id"]
            mod = await join(http, event, "Mona", moderator=True)
            anna = await join(http, event, "Anna")
            url = f"/api/events/{event['id']}/slides?topic={topic}"

            r = await http.post(url, headers={**auth(), **PDF},
                                content=make_pdf(["Folie eins", "Folie zwei", "Folie drei"]))
            assert r.status_code == 201, r.text
            deck = r.json()
            assert deck["topic"] == topic and deck["pages"] == 3 and deck["id"]
            r = await http.post(url, headers=bearer(mod["token"]), content=make_pdf(["Nur eine"]))
            assert r.status_code == 201 and r.json()["pages"] == 1

            # Anyone admitted sees the pages (PNG) and their text; nobody else does.
            page = f"/api/events/{event['id']}/slides/{deck['id']}/pages"
            r = await http.get(f"{page}/2", headers={"Authorization": f"Bearer {anna['token']}"})
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
            assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
            r = await http.get(f"{page}/2/text", headers={"Authorization": f"Bearer {anna['token']}"})
            assert r.status_code == 200 and r.json()["text"] == "Folie zwei"
            assert (await http.get(f"{page}/1")).status_code == 401
            r = await http.get(f"{page}/4", headers={"Authorization": f"Bearer {anna['token']}"})
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"

            # Participants do not upload; what is not a PDF, a broken one, too many pages:
            # 422; too many bytes: 413 — each with the JSON error body.
            r = await http.post(url, headers=bearer(anna["token"]), content=make_pdf(["x"]))
            assert r.status_code == 403, r.text
            for body, status, words in (
                    (b"GIF89a not a pdf", 422, "not a PDF"),
                    (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer <<>>\n%%EOF", 422, "PDF"),
                    (make_pdf(["x"])[:300], 422, "PDF"),
                    (make_pdf([f"Seite {i}" for i in range(6)]), 422, "at most 5 pages"),
                    (b"%PDF-1.4\n" + b"0" * 30_000, 413, "at most 20000 bytes")):
                r = await http.post(url, headers={**auth(), **PDF}, content=body)
                assert r.status_code == status, (body[:20], r.status_code, r.text)
                assert words in r.json()["error"]["message"], r.json()
            r = await http.post(f"/api/events/{event['id']}/slides?topic=nope",
                                headers={**auth(), **PDF}, content=make_pdf(["x"]))
            assert r.status_code == 404
            assert (await http.post(url, headers=PDF, content=make_pdf(["x"]))).status_code == 401
    finally:
        await server.stop()


async def test_show_follow_late_joiner_and_restart(tmp_path: Path) -> None:
    server: LiveServer = await start_server(tmp_path / "data")
    async with server.http() as http:
        event = await create_event(http, topics=[{"title": "Geodaten"}])
        topic = event["topics"][0]["id"]
        r = await http.post(f"/api/events/{event['id']}/slides?topic={topic}",
                            headers={**auth(), **PDF}, content=make_pdf(["A", "B", "C"]))
        deck = r.json()["id"]
        mod_j = await join(http, event, "Mona", moderator=True)
        anna_j = await join(http, event, "Anna")
        bernd_j = await join(http, event, "Bernd")
    mod, anna, bernd = await connected(server, event, mod_j, anna_j, bernd_j)
    try:
        assert [d["id"] for d in anna.ready["state"]["slides"]["decks"]] == [deck]
        assert anna.ready["state"]["slides"]["shown"] is None

        assert (await mod.request("slides.show", slides=deck, page=2))["type"] == "ok"
        for c in (anna, bernd, mod):
            shown = await c.wait_for(lambda e: e["type"] == "slides.shown")
            assert (shown["slides"], shown["page"], shown["by"]) == (deck, 2, mod_j["participant"]["id"])
            assert shown["room"] == event["plenary_room"]

        # Participants turn pages only while they have the floor.
        r = await anna.request("slides.show", slides=deck, page=3)
        assert r["type"] == "error" and r["code"] == "forbidden"
        await anna.request("hand.raise")
        assert (await mod.request("floor.give", participant=anna_j["participant"]["id"]))["type"] == "ok"
        assert (await anna.request("slides.show", slides=deck, page=3))["type"] == "ok"
        await bernd.wait_for(lambda e: e["type"] == "slides.shown" and e["page"] == 3)
        r = await anna.request("slides.show", slides=deck, page=4)
        assert r["type"] == "error" and r["code"] == "invalid"
        r = await mod.request("slides.show", slides="nope", page=1)
        assert r["type"] == "error" and r["code"] == "not_found"

        # A late joiner (and a reconnect) gets the page on the stage with `ready`.
        late = await Client.connect(server, event["id"], bernd_j["token"])
        assert late.ready["state"]["slides"]["shown"]["page"] == 3
        await late.close()
    finally:
        for c in (mod, anna, bernd):
            await c.close()
    # The journal keeps it across a restart; the slides are taken off the stage again.
    await server.stop()
    server = await start_server(tmp_path / "data")
    try:
        c = await Client.connect(server, event["id"], mod_j["token"])
        assert c.ready["state"]["slides"]["shown"]["slides"] == deck
        assert c.ready["state"]["slides"]["shown"]["page"] == 3
        assert (await c.request("slides.show", slides=None))["type"] == "ok"
        off = await c.wait_for(lambda e: e["type"] == "slides.shown")
        assert off["slides"] is None
        await c.close()
        async with server.http() as http:
            r = await http.get(f"/api/events/{event['id']}/slides/{deck}/pages/1",
                               headers={"Authorization": f"Bearer {anna_j['token']}"})
            assert r.status_code == 200
    finally:
        await server.stop()
