"""The series page (GET /series/{id}, issue 17) in Chromium: in the second forum the
moderator confirms who the assignee of a carried action is (chosen from the participants),
she marks it done herself, then opens the page of the series from the meeting screen and
sees both forums and the action carried forward with its history. The organizer opens it
from the desk; a stranger sees "not found". axe-core finds nothing on any of them."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.test_review_browser import axe_violations
from tests.support.browser import Console, join, open_page
from tests.support.live import moderator_in, ORGANIZER, LiveServer, auth, create_event

pytestmark = pytest.mark.browser

ACTION = "Karte veröffentlichen"


async def check_series_page(page: Page) -> None:
    await expect(page.locator("h1")).to_have_text("Forenreihe: Forum 1")
    forums = page.locator("#series-forums tbody tr")
    await expect(forums).to_have_count(2)
    await expect(forums.nth(0)).to_contain_text("Forum 1")
    await expect(forums.nth(0)).to_contain_text("beendet")
    await expect(forums.nth(1)).to_contain_text("Forum 2")
    topic = page.locator(".series-topic", has=page.get_by_role("heading", name="Thema: Geodaten"))
    await expect(topic.locator(".series-decisions")).to_contain_text("Wir tagen im Herbst")
    row = topic.locator(".series-actions tbody tr", has_text=ACTION)
    await expect(row).to_contain_text("Frau Kraus")
    await expect(row).to_contain_text("erledigt")
    await expect(row).to_contain_text("weitergeführt in: Forum 2")
    await expect(row.locator(".series-history li")).to_have_count(2)  # confirmed, done
    await expect(row.locator(".series-history")).to_contain_text("(Frau Kraus)")
    for fmt in ("PDF", "DOCX", "Markdown", "JSON"):
        link = page.get_by_role("navigation", name="Übersicht herunterladen").get_by_role(
            "link", name=fmt, exact=True)
        href = await link.get_attribute("href")
        assert href and href.startswith("/api/series/") and "token" not in href
    assert await axe_violations(page) == []


async def test_series_page_from_the_meeting_screen_and_the_desk(
        server: LiveServer, browser: Browser, console: Console) -> None:
    async with server.http() as http:
        first = await create_event(http, title="Forum 1", topics=[{"title": "Geodaten"}])
        m = await moderator_in(server, http, first)
        for kind, text, extra in (("action", ACTION, {"assignee": "Frau Kraus",
                                                      "due": "2026-06-30"}),
                                  ("decision", "Wir tagen im Herbst", {})):
            r2 = await m.request("minutes.add", room=first["plenary_room"], kind=kind, text=text,
                                 topic=first["topics"][0]["id"], **extra)
            assert r2["type"] == "ok", r2
        await m.close()
        assert (await http.post(f"/api/events/{first['id']}/end",
                                headers=auth())).status_code == 200
        r = await http.post("/api/events", headers=auth(),
                            json={"title": "Forum 2", "follows": first["id"]})
        second = r.json()

    # the second forum: the name alone makes her nobody's assignee yet
    mod_ctx, mod = await open_page(browser, console, second["moderator_url"])
    await join(mod, "Mona Moderation")
    kraus_ctx, kraus = await open_page(browser, console, second["participant_url"])
    await join(kraus, "Frau Kraus")
    mine = kraus.locator("#carried .carried-item", has_text=ACTION)
    await expect(mine).to_contain_text("Zuständigkeit noch nicht bestätigt")
    await expect(mine.get_by_role("button")).to_have_count(0)

    # the moderator confirms who she is, from the participants of this forum
    item = mod.locator("#carried .carried-item", has_text=ACTION)
    await item.get_by_text("Zuständigkeit bestätigen, neu zuweisen oder Termin verschieben").click()
    await item.get_by_label("Zuständige Person (aus der Teilnehmerliste)").select_option(
        label="Frau Kraus")
    await item.get_by_role("button", name="Speichern").click()
    meta = item.locator(".carried-item__meta")
    await expect(meta).to_contain_text("bestätigt")
    await expect(meta).not_to_contain_text("nicht bestätigt")

    # now she marks it done herself
    await mine.get_by_role("button", name=f"„{ACTION}“ als erledigt markieren").click()
    await expect(mine).to_contain_text("erledigt")
    assert await axe_violations(kraus) == []

    # ... and opens the page of the series (the event's cookie opens it: no token in it)
    link = kraus.locator("#carried").get_by_role("link", name="Seite der Forenreihe öffnen")
    assert await link.get_attribute("href") == f"/series/{first['id']}?lang=de"
    async with kraus_ctx.expect_page() as info:
        await link.click()
    page = await info.value
    console.watch(page)
    await check_series_page(page)
    await page.get_by_role("link", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("h1")).to_have_text("Series of forums: Forum 1")
    await expect(page.locator(".series-actions")).to_contain_text("carried on in: Forum 2")
    assert await axe_violations(page) == []

    # the organizer, from the desk
    org_ctx, org = await open_page(browser, console, f"{server.base}/organizer")
    await org.get_by_label("Zugangsschlüssel für Veranstaltende").fill(ORGANIZER)
    await org.get_by_role("button", name="Schlüssel verwenden").click()
    desk_item = org.locator("#events-list li.event-item", has_text="Forum 2")
    async with org_ctx.expect_page() as info:
        await desk_item.get_by_role("link", name="Seite der Forenreihe öffnen").click()
    opage = await info.value
    console.watch(opage)
    await check_series_page(opage)

    # someone else: exactly "not found"
    _, stranger = await open_page(browser, console, f"{server.base}/series/{first['id']}")
    console.allow("status of 404")  # the page's own status, logged by Chromium
    await expect(stranger.locator("h1")).to_have_text("Forenreihe nicht gefunden")
    await expect(stranger.locator("body")).not_to_contain_text(ACTION)
    assert await axe_violations(stranger) == []
    for ctx in (mod_ctx, kraus_ctx, org_ctx):
        await ctx.close()
    console.check()
