"""The moderators' per-person connection indicator in Chromium (fake devices): a
participant joins audio; the moderator's people list says the connection is good (from the
server's RTCPeerConnection stats, media.quality); when the participant leaves the audio the
tag goes; participants see no indicator. axe finds nothing in the list."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.support.axe import axe_violations
from tests.support.browser import media_page
from tests.support.live import create_event, start_server

pytestmark = pytest.mark.browser


async def test_moderator_sees_each_persons_connection(tmp_path: Path,
                                                     media_browser: Browser) -> None:
    server = await start_server(tmp_path / "data", media_quality_interval_s=0.5)
    try:
        async with server.http() as http:
            event = await create_event(http, title="Forum Verbindung")
        pages = {}
        for name, url in (("Mara Moderation", event["moderator_url"]),
                          ("Paul Peters", event["participant_url"])):
            pages[name] = await media_page(media_browser, url, name,
                                           viewport={"width": 1280, "height": 800})
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
        await server.stop()
