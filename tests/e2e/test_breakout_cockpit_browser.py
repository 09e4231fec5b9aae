"""The moderator's breakout cockpit in the browser (issue 15): at 1280x800 every room is in
view at once without scrolling (who is where, a help call, time left per room); the
moderator listens in on one room from the plenary and reads its chat there (a second
moderator's cockpit shows who listens where), extends one room and closes another while
the rest go on; axe finds nothing."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.axe import axe_violations
from tests.support.browser import Console, joined, say
from tests.support.live import LiveServer, new_event

pytestmark = pytest.mark.browser

TOPICS = [{"title": "Arbeiten 4.0"}, {"title": "Geodaten"}, {"title": "Mobilität"},
          {"title": "Bildung"}]


async def fits(page: Page) -> bool:
    return bool(await page.evaluate(
        "document.scrollingElement.scrollHeight <= window.innerHeight"
        " && document.scrollingElement.scrollWidth <= window.innerWidth"))


async def test_cockpit_rooms_at_a_glance_listen_extend_and_close_one(
        server: LiveServer, browser: Browser, console: Console) -> None:
    event = await new_event(server, title="Forum Cockpit", topics=TOPICS)
    mod = await joined(browser, console, event["moderator_url"], "Mona Moderation")
    # a second moderator, in the plenary
    colleague = await joined(browser, console, event["moderator_url"], "Max Moderation")
    people: dict[str, Page] = {}
    for name in ("Anna Alt", "Bernd Berg", "Carla Chor", "Dora Dach"):
        people[name] = await joined(browser, console, event["participant_url"], name)
    panel = mod.locator("#breakouts")
    await panel.get_by_label("Automatisch gleichmäßig verteilen").check()
    await panel.get_by_label("Dauer der Runde in Minuten").fill("10")
    await mod.get_by_role("button", name="Räume öffnen").click()
    cards = mod.locator(".bo-room")
    await expect(cards).to_have_count(4)

    # Who is where: one person per room; find each person's room from their banner.
    room_of: dict[str, int] = {}
    for name, page in people.items():
        banner = page.locator("#room-banner-text")
        await expect(banner).to_have_text(re.compile(r"Sie sind in Raum \d"))
        room_of[name] = int(re.search(r"Raum (\d)", await banner.inner_text()).group(1))  # type: ignore[union-attr]
    assert sorted(room_of.values()) == [1, 2, 3, 4]
    by_room = {n: name for name, n in room_of.items()}
    for n in range(1, 5):
        await expect(cards.nth(n - 1).locator(".bo-room__members")).to_have_text(by_room[n])
        await expect(cards.nth(n - 1).locator(".bo-room__time")).to_contain_text(re.compile(r"noch (9|10):\d\d"))

    # A help call flags room 3 in place.
    await people[by_room[3]].get_by_role("button", name="Moderation rufen").click()
    await expect(cards.nth(2)).to_contain_text(f"Hilfe gerufen von {by_room[3]}")

    # At a glance: every room card wholly in view, and the page itself does not scroll.
    for i in range(4):
        await expect(cards.nth(i)).to_be_in_viewport(ratio=1)
    assert await fits(mod)

    # Listen in on room 1 from the plenary: its chat shows in its card, the moderator stays.
    await mod.get_by_role("button", name="Mithören in Raum 1: Arbeiten 4.0").click()
    stop = mod.get_by_role("button", name="Mithören beenden (Raum 1: Arbeiten 4.0)")
    await expect(stop).to_have_attribute("aria-pressed", "true")
    await say(people[by_room[1]], "Wir sind gleich fertig")
    await expect(cards.nth(0).locator(".bo-room__chat")).to_contain_text("Wir sind gleich fertig")
    await expect(mod.locator("#room-banner")).to_be_hidden()
    await expect(mod.locator("#chat-title")).to_have_text("Chat im Plenum")
    await expect(mod.locator("#chat-lines .chat-line", has_text="Wir sind gleich fertig")).to_have_count(0)

    # Her colleague's cockpit shows who listens in on room 1, also after a reload; her own
    # card says it her way ("Sie hören mit").
    heard_by = colleague.locator(".bo-room").nth(0).locator(".bo-room__listeners")
    await expect(heard_by).to_have_text("Hört zu: Mona Moderation")
    await expect(colleague.locator(".bo-room__listeners")).to_have_count(1)
    await expect(cards.nth(0).locator(".bo-room__listeners")).to_have_count(0)
    await colleague.reload()
    await expect(colleague.locator("#conn-status")).to_have_attribute("data-state", "connected")
    await expect(heard_by).to_have_text("Hört zu: Mona Moderation")
    assert await axe_violations(colleague) == []

    # Extend room 2 alone: its time grows, the others keep theirs.
    await mod.get_by_role("button", name="Raum 2 um 5 Minuten verlängern: Geodaten").click()
    await expect(cards.nth(1).locator(".bo-room__time")).to_contain_text(re.compile(r"noch 1[45]:\d\d"))
    await expect(cards.nth(2).locator(".bo-room__time")).to_contain_text(re.compile(r"noch (9|10):\d\d"))
    await expect(people[by_room[2]].locator("#room-banner-time")).to_contain_text(re.compile(r"Noch 1[45]:\d\d"))
    await expect(people[by_room[3]].locator("#room-banner-time")).to_contain_text(re.compile(r"Noch (9|10):\d\d"))

    assert await axe_violations(mod) == []

    # Close room 1 alone (after a confirmation): its person is back, the listening ends.
    mod.once("dialog", lambda d: d.accept())
    await mod.get_by_role("button", name="Raum 1 schließen: Arbeiten 4.0").click()
    await expect(cards.nth(0)).to_contain_text("Geschlossen")
    await expect(stop).to_have_count(0)
    await expect(colleague.locator(".bo-room__listeners")).to_have_count(0)
    first = people[by_room[1]]
    await expect(first.locator("#room-banner")).to_be_hidden()
    await expect(first.locator("#chat-title")).to_have_text("Chat im Plenum")
    await expect(first.locator("#live-notice")).to_contain_text("Ihr Raum wurde geschlossen")
    for n in (2, 3, 4):
        await expect(people[by_room[n]].locator("#room-banner-text")).to_have_text(
            re.compile(rf"Sie sind in Raum {n}"))
    await expect(mod.locator("#breakouts .bo-room:not(.bo-room--closed)")).to_have_count(3)
    assert await fits(mod)
    assert await axe_violations(mod) == []
    console.check()
