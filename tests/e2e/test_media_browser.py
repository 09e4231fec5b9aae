"""Two Chromium pages with fake devices join audio through the server's mixer; a
moderator records the room; the file plays and the state lists it."""

from __future__ import annotations

import asyncio

import av
import pytest
from playwright.async_api import Browser, expect

from tests.support.browser import media_page
from tests.support.live import LiveServer, create_event

pytestmark = pytest.mark.browser


async def test_two_pages_join_audio_and_a_recording(
        server: LiveServer, media_browser: Browser) -> None:
    async with server.http() as http:
        event = await create_event(http, title="Forum Audio")
    media = server.app.state.media
    pages = []
    for name, url in (("Mara", event["moderator_url"]), ("Paul", event["participant_url"])):
        page = await media_page(media_browser, url, name)
        await page.locator("#media-join").click()
        await expect(page.locator("#media-setup")).to_be_visible()
        await page.locator("#media-connect").click()
        await expect(page.locator("#media-mute")).to_be_visible()
        pages.append(page)
    mixer = None
    for _ in range(100):
        mixer = media.mixers.get((event["id"], event["plenary_room"]))
        if mixer and len(mixer.inputs) == 2 and all(
                i.received > 20 for i in mixer.inputs.values()):
            break
        await asyncio.sleep(0.1)
    assert mixer and len(mixer.inputs) == 2 and len(mixer.outputs) == 2
    assert all(i.received > 20 for i in mixer.inputs.values())

    mod = pages[0]
    await mod.locator("#media-record").click()
    await expect(pages[1].locator("#media-recording")).to_be_visible()
    await asyncio.sleep(2.5)
    await mod.locator("#media-record").click()
    await expect(pages[1].locator("#media-recording")).to_be_hidden()
    rt = await server.forum.runtime(event["id"])
    from forum_live.domain.media import recordings_public
    recs = recordings_public(rt.state)
    assert len(recs) == 1 and not recs[0]["active"] and recs[0]["duration_s"] >= 2
    with av.open(str(server.settings.recordings_dir / recs[0]["file"])) as c:
        secs = sum(f.samples for f in c.decode(audio=0)) / 48000
    assert abs(secs - recs[0]["duration_s"]) <= 1.0
    await pages[1].locator("#media-leave").click()
    await expect(pages[1].locator("#media-join")).to_be_visible()
