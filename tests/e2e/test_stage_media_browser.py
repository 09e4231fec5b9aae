"""Video on the stage in real Chromium with fake devices: a camera shows large on the
others' stage with the person's name (tiles never showed names: the participants are a
Map), a tile can be shown large and small again, and a muted person is marked as such.
Microphone moderation: a moderator mutes a person, asks them to unmute (they get the
prompt with the button, and only they switch it on), mutes everyone at once, and locks the
microphones (a muted person cannot unmute until asked)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.support.browser import media_page
from tests.support.live import LiveServer, create_event

pytestmark = pytest.mark.browser


async def test_camera_tile_named_pinned_and_muted(
        server: LiveServer, media_browser: Browser) -> None:
    async with server.http() as http:
        event = await create_event(http, title="Forum Bühne")
    pages = []
    for name, url in (("Mara Moderation", event["moderator_url"]), ("Paul Plenum", event["participant_url"])):
        page = await media_page(media_browser, url, name,
                                viewport={"width": 1280, "height": 800})
        await page.locator("#media-join").click()
        await page.locator("#media-connect").click()
        await expect(page.locator("#media-mute")).to_be_visible()
        pages.append(page)
    mara, paul = pages
    await mara.get_by_role("button", name="Kamera").click()
    await expect(mara.locator("#media-camera")).to_have_attribute("aria-pressed", "true")
    # Paul's stage shows Mara's camera large, with her name.
    large = paul.locator("#stage-focus .media__tile")
    await expect(large.locator(".media__name")).to_have_text("Mara Moderation")
    await expect(paul.locator("#stage-empty")).to_be_hidden()
    # Mara sees herself in the strip, named.
    await expect(mara.locator("#media-tiles .media__tile--self .media__name")).to_have_text("Sie")
    # Pin and unpin.
    await large.get_by_role("button", name="Groß zeigen: Mara Moderation").click()
    await expect(paul.locator("#stage-focus").get_by_role(
        "button", name="Klein zeigen: Mara Moderation")).to_have_attribute("aria-pressed", "true")
    # Muting shows on the tile and in the list of people, not only on her button.
    await mara.get_by_role("button", name="Stummschalten", exact=True).click()
    await expect(mara.locator("#media-mute")).to_have_attribute("aria-pressed", "true")
    await expect(large.locator(".media__muted")).to_contain_text("stumm")
    await expect(paul.locator("#people-list li", has_text="Mara Moderation")).to_contain_text("stumm")

    # Mara mutes Paul; Paul's own button shows it.
    paul_row = mara.locator("#people-list li", has_text="Paul Plenum")
    await paul_row.locator("summary").click()
    await paul_row.get_by_role("button", name="Stummschalten").click()
    await expect(paul.locator("#media-mute")).to_have_attribute("aria-pressed", "true")
    await expect(paul_row).to_contain_text("stumm")
    # Asked to unmute, Paul is prompted in view and switches it on himself.
    await paul_row.locator("summary").click()
    await paul_row.get_by_role("button", name="Um Einschalten des Mikrofons bitten").click()
    prompt = paul.locator("#floor-alert")
    await expect(prompt).to_contain_text("Mara Moderation bittet Sie, Ihr Mikrofon einzuschalten.")
    await expect(prompt).to_be_in_viewport()
    await prompt.get_by_role("button", name="Mikrofon einschalten").click()
    await expect(paul.locator("#media-mute")).to_have_attribute("aria-pressed", "false")
    await expect(paul_row).not_to_contain_text("stumm")
    # Everyone at once.
    await mara.get_by_role("button", name="Alle stummschalten").click()
    await expect(paul.locator("#media-mute")).to_have_attribute("aria-pressed", "true")
    # Locked microphones: Paul cannot unmute on his own until he is asked.
    await mara.get_by_role("button", name="Mikrofone sperren").click()
    await expect(mara.locator("#mic-lock")).to_have_attribute("aria-pressed", "true")
    await expect(paul.locator("#media-status")).to_have_text("Die Moderation hat die Mikrofone gesperrt.")
    await paul.get_by_role("button", name="Stummschaltung aufheben").click()
    await expect(paul.locator("#media-error")).to_contain_text("Heben Sie die Hand")
    await expect(paul.locator("#media-mute")).to_have_attribute("aria-pressed", "true")
    await paul_row.locator("summary").click()
    await paul_row.get_by_role("button", name="Um Einschalten des Mikrofons bitten").click()
    await prompt.get_by_role("button", name="Mikrofon einschalten").click()
    await expect(paul.locator("#media-mute")).to_have_attribute("aria-pressed", "false")
    await expect(paul_row).not_to_contain_text("stumm")
    await mara.get_by_role("button", name="Mikrofone freigeben").click()
    await expect(mara.locator("#mic-lock")).to_have_attribute("aria-pressed", "false")
