"""The moderators' per-person connection indicator in Chromium (fake devices): a
participant joins audio; the moderator's people list says the connection is good (from the
server's RTCPeerConnection stats, media.quality); when the participant leaves the audio the
tag goes; participants see no indicator. axe finds nothing in the list."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from tests.conftest import chromium_path
from tests.support.axe import axe_violations
from tests.support.browser import MEDIA_ARGS, join as join_page
from tests.support.live import create_event, start_server

pytestmark = pytest.mark.browser


async def test_moderator_sees_each_persons_connection(tmp_path: Path) -> None:
    path = chromium_path()
    if path is None:
        pytest.skip("chromium is not installed at /usr/bin/chromium")
    server = await start_server(tmp_path / "data", media_quality_interval_s=0.5)
    try:
        async with server.http() as http:
            event = await create_event(http, title="Forum Verbindung")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=path, headless=True,
                                               args=MEDIA_ARGS)
            try:
                pages = {}
                for name, url in (("Mara Moderation", event["moderator_url"]),
                                  ("Paul Peters", event["participant_url"])):
                    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
                    ctx.set_default_timeout(10000)
                    page = await ctx.new_page()
                    await page.goto(url)
                    await join_page(page, name)
                    pages[name] = page
                mod, paul = pages["Mara Moderation"], pages["Paul Peters"]
                await paul.locator("#media-join").click()
                await paul.locator("#media-connect").click()
                await expect(paul.locator("#media-mute")).to_be_visible()
                await mod.get_by_role("tab", name="Teilnehmende").click()
                row = mod.locator("#people-list li", has_text="Paul Peters")
                await expect(row.locator(".person__conn")).to_have_text("Verbindung gut")
                await expect(mod.locator("#people-list li", has_text="Mara Moderation")
                             .locator(".person__conn")).to_have_count(0)  # no audio joined
                assert await axe_violations(mod) == []
                await paul.get_by_role("tab", name="Teilnehmende").click()
                await expect(paul.locator(".person__conn")).to_have_count(0)
            finally:
                await browser.close()
    finally:
        await server.stop()
