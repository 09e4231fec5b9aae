"""The organizer's desk in Chromium (issue 17): from creating a forum to downloading its
approved minutes; the next forum of the series; the run of show prepared on the desk."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.support.browser import Console, open_page
from tests.support.live import ORGANIZER, Client, LiveServer, auth, join

pytestmark = pytest.mark.browser


async def test_organizer_creates_runs_approves_and_downloads(
        server: LiveServer, browser: Browser, console: Console) -> None:
    context, page = await open_page(browser, console, f"{server.base}/organizer",
                                    accept_downloads=True)
    page.on("dialog", lambda d: d.accept())  # the confirmations
    await page.get_by_label("Zugangsschlüssel für Veranstaltende").fill(ORGANIZER)
    await page.get_by_role("button", name="Schlüssel verwenden").click()

    # create: the form clears after success, and a second click makes no duplicate
    await page.locator("#ev-title").fill("Forum Süd")
    await page.get_by_label("Thema 1", exact=True).fill("Geodaten")
    submit = page.get_by_role("button", name="Forum anlegen")
    await submit.click()
    await expect(page.locator("#created")).to_be_visible()
    await expect(page.locator("#ev-title")).to_have_value("")
    await expect(page.get_by_label("Thema 1", exact=True)).to_have_value("")
    await submit.click()
    await expect(page.locator("#create-error")).to_contain_text("Titel")
    item = page.locator("#events-list li.event-item", has_text="Forum Süd")
    await expect(item).to_have_count(1)
    await expect(item.locator(".event-item__status")).to_contain_text("geplant")
    async with server.http() as http:
        events = (await http.get("/api/events", headers=auth())).json()
    assert [e["title"] for e in events].count("Forum Süd") == 1
    ev = next(e for e in events if e["title"] == "Forum Süd")
    event = {**ev, "moderator_key": ev["moderator_url"].split("#key=")[1]}

    # edit before the start: title and topics
    await item.get_by_text("Titel, Datum und Themen bearbeiten").click()
    await item.locator("input[id$='-title']").first.fill("Forum Süd 2026")
    await item.get_by_label("Themen (eines pro Zeile)").fill("Geodaten\nMobilität")
    await item.get_by_role("button", name="Änderungen speichern").click()
    item = page.locator("#events-list li.event-item", has_text="Forum Süd 2026")
    await expect(item).to_have_count(1)

    # someone takes part and writes an action: the desk shows the forum live
    async with server.http() as http:
        mod = await join(http, event, "Moderatorin", moderator=True)
    m = await Client.connect(server, event["id"], mod["token"])
    r = await m.request("minutes.add", room=m.ready["state"]["my_room"],  # type: ignore[index]
                        kind="action", text="Karte veröffentlichen", assignee="Frau Kraus")
    assert r["type"] == "ok"
    await page.get_by_role("button", name="Liste aktualisieren").click()
    await expect(item.locator(".event-item__status")).to_contain_text("läuft – 1 online")
    await expect(item.get_by_text("Titel, Datum und Themen bearbeiten")).to_have_count(0)

    # end (confirmed), approve, download
    await item.get_by_role("button", name="Forum beenden").click()
    await expect(item.locator(".event-item__status")).to_contain_text("beendet")
    await item.get_by_role("button", name="Protokoll freigeben").click()
    await expect(item.locator(".event-item__status")).to_contain_text(
        "Protokoll: freigegeben (Version 1)")
    async with page.expect_download() as info:
        await item.get_by_role("link", name="Markdown").click()
    download = await info.value
    text = Path(await download.path()).read_text(encoding="utf-8")
    assert "Forum Süd 2026" in text and "Karte veröffentlichen" in text
    assert "Freigegeben" in text
    async with page.expect_download() as info:
        await item.get_by_role("link", name="PDF").click()
    pdf = await info.value
    assert Path(await pdf.path()).read_bytes()[:5] == b"%PDF-"

    # the next forum of the series: topics taken over, the action carried forward
    await item.get_by_role("button", name="Nächstes Forum der Reihe anlegen").click()
    await expect(page.locator("#create-follows")).to_be_visible()
    await page.locator("#ev-title").fill("Forum Süd – Teil 2")
    await page.get_by_role("button", name="Forum anlegen").click()
    await expect(page.locator("#created")).to_contain_text("1 Aufgaben")
    await expect(page.locator("#create-follows")).to_be_hidden()
    second = page.locator("#events-list li.event-item", has_text="Forum Süd – Teil 2")
    await expect(second).to_contain_text("Teil einer Forenreihe")
    # the overview of the series, as a document: the action and where it came from; a
    # plain link (the session cookie of the desk goes with it), no token in it
    overview_link = second.locator(".event-item__series").get_by_role("link", name="Markdown")
    href = await overview_link.get_attribute("href")
    assert href and href.startswith("/api/series/") and "token" not in href
    assert ORGANIZER not in href
    async with page.expect_download() as info:
        await overview_link.click()
    overview = Path(await (await info.value).path()).read_text(encoding="utf-8")
    assert "Karte veröffentlichen" in overview and "Forum Süd – Teil 2" in overview
    await second.get_by_text("Übersicht der Forenreihe anzeigen").click()
    await expect(second.locator(".series-forums li")).to_have_count(2)
    await expect(second.locator(".series-item--action")).to_contain_text("Karte veröffentlichen")

    # delete (confirmed)
    await second.get_by_role("button", name="Löschen").click()
    await expect(second).to_have_count(0)
    await m.close()
    await context.close()
    console.check()


async def test_english_desk_downloads_english_minutes(
        server: LiveServer, browser: Browser, console: Console) -> None:
    """On the desk in English the minutes and the series overview come in English (its
    links asked for the German files, while the review page in English offered English)."""
    async with server.http() as http:
        r = await http.post("/api/events", headers=auth(),
                            json={"title": "Forum Nord", "topics": [{"title": "Geodaten"}]})
        first = r.json()
        r = await http.post("/api/events", headers=auth(),
                            json={"title": "Forum Nord 2", "follows": first["id"]})
        assert r.status_code == 201, r.text
    context, page = await open_page(browser, console, f"{server.base}/organizer?lang=en",
                                    accept_downloads=True)
    await page.get_by_label("Organizer access key").fill(ORGANIZER)
    await page.get_by_role("button", name="Use this key").click()
    item = page.locator("#events-list li.event-item", has_text="Forum Nord 2")
    await expect(item).to_have_count(1)
    async with page.expect_download() as info:
        await item.locator(".event-item__exports").get_by_role("link", name="Markdown").click()
    text = Path(await (await info.value).path()).read_text(encoding="utf-8")
    assert text.startswith("# Minutes: Forum Nord 2"), text[:200]
    async with page.expect_download() as info:
        await item.locator(".event-item__series").get_by_role("link", name="Markdown").click()
    overview = Path(await (await info.value).path()).read_text(encoding="utf-8")
    assert "Forum Nord 2" in overview and "Forenreihe" not in overview, overview[:300]
    await context.close()
    console.check()
