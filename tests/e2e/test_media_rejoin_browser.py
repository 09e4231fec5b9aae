"""Audio comes back by itself after the server restarts (issue 14): two Chromium pages in
the audio, the server process killed with -9 (then stopped with SIGTERM), started again on
the same port and data: both pages join the media again without anyone clicking, with
the microphone state they had, and hear each other again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.browser import media_page
from tests.support.live import create_event
from tests.support.process import ServerProcess, spawn

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Keeps every RTCPeerConnection the app creates, so the test can read its stats.
SPY_PEERS = """
window.__pcs = [];
const OriginalPC = window.RTCPeerConnection;
window.RTCPeerConnection = class extends OriginalPC {
  constructor(...args) { super(...args); window.__pcs.push(this); }
};
"""

# The newest peer connection: its state, how many the page made, the audio it sent and
# received, and the energy of the received audio (what the person hears: the other's
# fake microphone, beeping, through the server's mix).
PEER_STATS = """async () => {
  const pc = window.__pcs[window.__pcs.length - 1];
  if (!pc) return null;
  const out = { made: window.__pcs.length, state: pc.connectionState, sent: 0, received: 0,
                energy: 0, micOn: null };
  for (const s of (await pc.getStats()).values()) {
    if (s.type === "outbound-rtp" && s.kind === "audio") out.sent += s.bytesSent || 0;
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      out.received += s.bytesReceived || 0;
      out.energy += s.totalAudioEnergy || 0;
    }
  }
  const sender = pc.getSenders().find((x) => x.track && x.track.kind === "audio");
  out.micOn = sender ? sender.track.enabled : null;
  return out;
}"""

DEADLINE_S = 120.0  # a deadline on a loaded CI machine, not a speed


async def stats(page: Page) -> dict[str, Any] | None:
    return await page.evaluate(PEER_STATS)  # type: ignore[no-any-return]


async def media_back(page: Page, made_before: int, hears: bool = True) -> dict[str, Any]:
    """Waits until the page has a newer peer connection than `made_before`, connected,
    sending its microphone and (`hears`) receiving audio with sound in it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    first: dict[str, Any] | None = None
    last: dict[str, Any] | None = None
    while loop.time() < deadline:
        last = await stats(page)
        if last and last["made"] > made_before and last["state"] == "connected":
            if first is None or first["made"] != last["made"]:
                first = last
            elif (last["sent"] > first["sent"] and last["received"] > first["received"]
                  and (not hears or last["energy"] > first["energy"])):
                return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"media did not come back: first {first}, last {last}")


async def in_audio(browser: Browser, url: str, name: str) -> Page:
    page = await media_page(browser, url, name, init_script=SPY_PEERS)
    await page.locator("#media-join").click()
    await expect(page.locator("#media-setup")).to_be_visible()
    await page.locator("#media-connect").click()
    await expect(page.locator("#media-mute")).to_be_visible()
    return page


async def test_audio_rejoins_by_itself_after_kill_9_and_sigterm(
        tmp_path: Path, media_browser: Browser) -> None:
    data = tmp_path / "data"
    sp: ServerProcess = await spawn(data)
    try:
        async with sp.http() as http:
            event = await create_event(http, title="Forum Neustart")
        mara = await in_audio(media_browser, event["moderator_url"], "Mara")
        paul = await in_audio(media_browser, event["participant_url"], "Paul")
        made = {}
        for page in (mara, paul):
            made[page] = (await media_back(page, 0))["made"]

        # kill -9: nothing is said to the pages; both come back with sound both ways
        sp.kill9()
        sp = await spawn(data, port=sp.port)
        for page in (mara, paul):
            made[page] = (await media_back(page, made[page]))["made"]
            await expect(page.locator("#media-status")).to_have_text("Audio verbunden")
            await expect(page.locator("#media-join")).to_be_hidden()
            await expect(page.locator("#media-error")).to_be_hidden()

        # Paul mutes; a clean stop (SIGTERM) and a start: he is in the audio again, still
        # muted (his microphone stays off), and hears Mara
        await paul.locator("#media-mute").click()
        await expect(paul.locator("#media-mute")).to_have_attribute("aria-pressed", "true")
        assert sp.terminate() in (0, -15)
        sp = await spawn(data, port=sp.port)
        back = await media_back(paul, made[paul])
        assert back["micOn"] is False
        await expect(paul.locator("#media-mute")).to_have_attribute("aria-pressed", "true")
        await media_back(mara, made[mara], hears=False)  # the only other one is muted
        for page in (mara, paul):
            await expect(page.locator("#media-status")).to_have_text("Audio verbunden")
            await expect(page.locator("#media-join")).to_be_hidden()
    finally:
        if sp.proc.poll() is None:
            sp.terminate()
