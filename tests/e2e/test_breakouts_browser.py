"""Breakout rooms in the browser: a moderator opens one room per topic in self mode through
the open dialog, three participants pick different rooms, each room's chat stays in that
room, a moderator entering a room gets its history, the broadcast reaches every room, a
call for help flags the room, and when the (short) timer runs out everyone is back in the
plenary view without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.browser import Console, joined, line, say, join, open_page
from tests.support.live import LiveServer, new_event, Client, auth, create_event, join as api_join
from tests.support.pdf import make_pdf

pytestmark = pytest.mark.browser

TOPICS = [{"title": "Arbeiten 4.0"}, {"title": "Geodaten"}, {"title": "Mobilität"}]


async def pick(page: Page, n: int, title: str) -> None:
    await page.get_by_role("button", name=f"Raum {n} wählen: {title}").click()
    await expect(page.locator("#room-banner-text")).to_have_text(f"Sie sind in Raum {n}: {title}")


async def test_self_mode_round_rooms_are_separate_and_close_by_time(
        server: LiveServer, browser: Browser, console: Console) -> None:
    event = await new_event(server, title="Forum Breakout", topics=TOPICS)
    mod = await joined(browser, console, event["moderator_url"], "Mona Moderation")
    people: dict[str, Page] = {}
    for name in ("Anna Alt", "Bernd Berg", "Carla Chor"):
        people[name] = await joined(browser, console, event["participant_url"], name)
    anna, bernd, carla = people.values()
    await say(anna, "Hallo Plenum")
    for page in (bernd, carla, mod):
        await expect(line(page, "Hallo Plenum")).to_have_count(1)

    # Participants see no moderator panel; the moderator sees the open dialog.
    await expect(anna.locator("#breakouts")).to_be_hidden()
    panel = mod.locator("#breakouts")
    await expect(panel.get_by_role("heading", name="Breakout-Räume öffnen")).to_be_visible()
    await expect(panel).to_contain_text("Es entstehen 3 Räume.")
    await panel.get_by_label("Räume pro Thema").fill("1")
    await panel.get_by_label("Alle wählen ihr Thema selbst").check()
    await panel.get_by_label("Dauer der Runde in Minuten").fill("0.2")  # 12 seconds
    await mod.get_by_role("button", name="Räume öffnen").click()

    cards = mod.locator(".bo-room")
    await expect(cards).to_have_count(3)
    await expect(cards.nth(0)).to_contain_text("Raum 1: Arbeiten 4.0")
    await expect(mod.locator(".bo-time")).to_contain_text(re.compile(r"Noch 0:\d\d Minuten"))

    # Self mode: a topic picker for each participant; the one-minute warning is prominent.
    for page in people.values():
        await expect(page.get_by_role("button", name="Raum 3 wählen: Mobilität")).to_be_enabled()
        await expect(page.locator("#breakout-warning")).to_be_visible()
        await expect(page.locator("#breakout-warning")).to_have_attribute("role", "alert")
    await pick(anna, 1, "Arbeiten 4.0")
    await pick(bernd, 2, "Geodaten")
    await pick(carla, 3, "Mobilität")
    await expect(anna.locator("#room-banner-time")).to_contain_text(re.compile(r"Noch 0:\d\d Minuten"))
    await expect(anna.locator("#chat-title")).to_have_text("Chat in Raum 1: Arbeiten 4.0")
    await expect(cards.nth(0).locator(".bo-room__members")).to_contain_text("Anna Alt")
    await expect(cards.nth(1).locator(".bo-room__members")).to_contain_text("Bernd Berg")
    await expect(cards.nth(2)).to_contain_text("1 Person")
    # The new room's chat replaced the plenary's (loaded with state.sync).
    await expect(line(anna, "Hallo Plenum")).to_have_count(0)
    await expect(anna.locator("#chat-empty")).to_be_visible()

    # Each room's chat is seen in that room only.
    await say(anna, "Nur für Raum eins")
    await say(bernd, "Nur für Raum zwei")
    await say(carla, "Nur für Raum drei")
    await expect(line(anna, "Nur für Raum eins")).to_have_count(1)
    await expect(line(bernd, "Nur für Raum zwei")).to_have_count(1)
    await expect(line(carla, "Nur für Raum drei")).to_have_count(1)
    for page, others in ((anna, ("zwei", "drei")), (bernd, ("eins", "drei")), (carla, ("eins", "zwei"))):
        for word in others:
            await expect(line(page, f"Nur für Raum {word}")).to_have_count(0)
        await expect(page.locator("#chat-lines .chat-line")).to_have_count(1)
    await expect(line(mod, "Nur für Raum")).to_have_count(0)

    # A call for help flags the room for the moderator, who enters it and sees its history.
    await carla.get_by_role("button", name="Moderation rufen").click()
    await expect(carla.locator("#help-note")).to_be_visible()
    await expect(cards.nth(2)).to_contain_text("Hilfe gerufen von Carla Chor")
    # ... and calls the moderator with an alert that stays in view until answered.
    await expect(mod.locator("#help-alert")).to_contain_text("Carla Chor ruft die Moderation in Raum 3.")
    await expect(mod.locator("#help-alert")).to_be_in_viewport()
    await expect(mod.locator("#help-alert").get_by_role("button", name="Raum 3 betreten")).to_be_visible()
    await mod.get_by_role("button", name="Raum 3 betreten: Mobilität").click()
    await expect(mod.locator("#help-alert")).to_be_hidden()
    await expect(mod.locator("#room-banner-text")).to_have_text("Sie sind in Raum 3: Mobilität")
    await expect(line(mod, "Nur für Raum drei")).to_have_count(1)
    await expect(cards.nth(2)).not_to_contain_text("Hilfe gerufen")
    await expect(carla.locator("#live-notice")).to_contain_text("Mona Moderation")

    # The broadcast reaches every room.
    await panel.get_by_label("Nachricht an alle Räume").fill("Noch zwei Minuten, bitte Ergebnisse notieren")
    await mod.get_by_role("button", name="An alle senden").click()
    for page in (*people.values(), mod):
        box = page.locator("#broadcast-box")
        await expect(box).to_be_visible()
        await expect(box).to_contain_text("Noch zwei Minuten, bitte Ergebnisse notieren")
        await expect(box).to_contain_text("von Mona Moderation")

    # The server's timer closes the rooms: everyone is back in the plenary, no reload.
    for page in (*people.values(), mod):
        await expect(page.locator("#room-banner")).to_be_hidden(timeout=20000)
        await expect(page.locator("#chat-title")).to_have_text("Chat im Plenum")
        await expect(line(page, "Hallo Plenum")).to_have_count(1)
        await expect(line(page, "Nur für Raum")).to_have_count(0)
        await expect(page.locator("#breakout-warning")).to_be_hidden()
    for page in people.values():
        await expect(page.locator("#breakouts")).to_be_hidden()
    await expect(mod.get_by_role("button", name="Räume öffnen")).to_be_visible()
    # No page was reloaded: the socket spy still holds the single first hello.
    for page in (*people.values(), mod):
        assert len([s for s in await page.evaluate("window.__sent") if '"hello"' in s]) == 1
    # Chat works again in the plenary.
    await say(bernd, "Zurück im Plenum")
    await expect(line(anna, "Zurück im Plenum")).to_have_count(1)
    console.check()


async def test_rooms_to_choose_and_the_room_banner_come_into_view_below_slides(
        server: LiveServer, browser: Browser, console: Console) -> None:
    """With impulse slides on the stage the room picker and, once chosen, the banner with
    "Moderation rufen" lie below the fold of the stage column: they are scrolled into view
    (the column stayed where it was, the help button out of sight at 1280x800)."""
    async with server.http() as http:
        event = await create_event(http, title="Forum Folien", topics=TOPICS)
        r = await http.post(f"/api/events/{event['id']}/slides?topic={event['topics'][0]['id']}",
                            headers={**auth(), "Content-Type": "application/pdf"},
                            content=make_pdf(["Folie eins", "Folie zwei"]))
        assert r.status_code == 201, r.text
        mona = await api_join(http, event, "Mona Moderation", moderator=True)
    m = await Client.connect(server, event["id"], mona["token"])
    try:
        assert (await m.request("slides.show", slides=r.json()["id"], page=1))["type"] == "ok"
        _, anna = await open_page(browser, console, event["participant_url"])
        await join(anna, "Anna Alt")
        await expect(anna.locator("#slides-view")).to_be_visible()
        await m.request("breakouts.open", assign="self", duration_s=900)
        choose = anna.get_by_role("button", name="Raum 3 wählen: Mobilität")
        await expect(choose).to_be_in_viewport()  # not only after scrolling by hand
        await choose.click()
        await expect(anna.locator("#room-banner-text")).to_have_text("Sie sind in Raum 3: Mobilität")
        await expect(anna.get_by_role("button", name="Moderation rufen")).to_be_in_viewport()
        sizes = await anna.evaluate("[document.scrollingElement.scrollHeight, innerHeight]")
        assert sizes[0] <= sizes[1], sizes  # the column scrolled, not the page
        console.check()
    finally:
        await m.close()
