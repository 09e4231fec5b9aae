"""Impulse slides in the browser: a moderator uploads a PDF for a topic and puts it on the
stage; a participant's stage follows every page turn (buttons and arrow keys), with the
slide's text for screen readers and the page announced; the participant browses back on
their own and returns to the live page; a late joiner sees the current page; the page does
not scroll and axe-core finds nothing."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.axe import axe_violations
from tests.support.browser import Console, join, open_page
from tests.support.live import LiveServer, create_event
from tests.support.pdf import make_pdf

pytestmark = pytest.mark.browser


async def on_page(page: Page, n: int, total: int, text: str) -> None:
    await expect(page.locator("#slides-where")).to_have_text(f"Folie {n} von {total}")
    await expect(page.locator("#slides-view")).to_have_attribute("data-page", str(n))
    await expect(page.locator("#slides-text")).to_have_text(text)
    await expect(page.locator("#slides-img")).to_have_attribute(
        "alt", f"Folie {n} von {total} zu Geodaten")
    assert await page.evaluate("document.querySelector('#slides-img').naturalWidth") > 0


async def test_upload_present_follow_browse_and_late_join(
        server: LiveServer, browser: Browser, console: Console) -> None:
    async with server.http() as http:
        event = await create_event(http, title="Forum Folien", topics=[{"title": "Geodaten", "speaker": "Dr. Geo"}])
    _, mod = await open_page(browser, console, event["moderator_url"])
    _, anna = await open_page(browser, console, event["participant_url"])
    await join(mod, "Mona Moderation")
    await join(anna, "Anna Alt")
    await expect(anna.locator("#slides-upload")).to_be_hidden()

    await mod.get_by_label("PDF für „Geodaten“").set_input_files(files=[{
        "name": "geodaten.pdf", "mimeType": "application/pdf",
        "buffer": make_pdf(["Folie eins", "Folie zwei", "Folie drei"])}])
    await mod.get_by_role("button", name="Hochladen").click()
    await expect(mod.locator("#slides-upload")).to_contain_text("3 Folien hochgeladen.")
    await mod.get_by_role("button", name="Folien zeigen: Geodaten").click()

    for page in (mod, anna):
        await expect(page.locator("#slides-view")).to_be_visible()
        await on_page(page, 1, 3, "Folie eins")
    # the presenter scrolled down to the upload; the slide they put on the stage is in view
    # as a whole (its top stayed cut off by the column's scrolling)
    await expect(mod.locator("#slides-img")).to_be_in_viewport(ratio=1)
    assert await anna.locator("#slides-where").get_attribute("aria-live") == "polite"

    # The presenter turns pages with the button and the arrow key; everyone follows.
    await mod.get_by_role("button", name="Nächste Folie").click()
    await on_page(anna, 2, 3, "Folie zwei")
    await mod.locator("#slides-next").press("ArrowRight")
    await on_page(anna, 3, 3, "Folie drei")
    await on_page(mod, 3, 3, "Folie drei")

    # Anna browses back on her own (the key too) and returns to the live page.
    await anna.get_by_role("button", name="Vorige Folie").click()
    await expect(anna.locator("#slides-where")).to_have_text(
        "Folie 2 von 3 – Sie blättern selbst, live ist Folie 3")
    await anna.locator("#slides-prev").press("ArrowLeft")
    await expect(anna.locator("#slides-view")).to_have_attribute("data-page", "1")
    await on_page(mod, 3, 3, "Folie drei")  # nobody else moved
    await anna.get_by_role("button", name="Zurück zur Live-Folie").click()
    await on_page(anna, 3, 3, "Folie drei")
    await expect(anna.locator("#slides-live")).to_be_hidden()

    # The page stays one screen; axe finds nothing with the slides on the stage.
    for page in (mod, anna):
        sizes = await page.evaluate("[document.scrollingElement.scrollHeight, innerHeight]")
        assert sizes[0] <= sizes[1], sizes
        assert await axe_violations(page) == []

    # A late joiner sees the page on the stage now.
    _, bernd = await open_page(browser, console, event["participant_url"])
    await join(bernd, "Bernd Berg")
    await on_page(bernd, 3, 3, "Folie drei")

    # Taken off the stage: gone everywhere.
    await mod.get_by_role("button", name="Folien ausblenden").click()
    for page in (anna, bernd):
        await expect(page.locator("#slides-view")).to_be_hidden()
    console.check()
