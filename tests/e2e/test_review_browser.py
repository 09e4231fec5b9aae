"""Issue 16 in the browser: after the event a participant proposes a correction on the
review page, the moderator accepts it, the organizer approves; the record and the status
follow each step. axe-core finds nothing on the review page nor in the HTML export
(contrast included)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.browser import Console, open_page
from tests.support.live import ORGANIZER, Client, LiveServer, auth, create_event, join

pytestmark = pytest.mark.browser

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
DECISION = "Das Forum tagt wieder im Herbst."
BETTER = "Das Forum tagt wieder am 12. Oktober in Selb."


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(AXE)
    result = await page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map((v) => ({id: v.id, nodes: v.nodes.map((n) => n.target.join(' '))}))",
        AXE_TAGS)
    return list(result)


async def test_propose_accept_approve(server: LiveServer, browser: Browser,
                                      console: Console) -> None:
    async with server.http() as http:
        ev = await create_event(http, topics=[{"title": "Mobilität"}])
        mod = await join(http, ev, "Mona Moderation", moderator=True)
        anna = await join(http, ev, "Anna Alt")
    cm = await Client.connect(server, ev["id"], mod["token"])
    ca = await Client.connect(server, ev["id"], anna["token"])
    r = await cm.request("minutes.add", room=ev["plenary_room"], kind="decision", text=DECISION)
    assert r["type"] == "ok"
    await cm.close()
    await ca.close()
    async with server.http() as http:
        assert (await http.post(f"/api/events/{ev['id']}/end", headers=auth())).status_code == 200
        html = (await http.get(f"/api/events/{ev['id']}/minutes.html", headers=auth())).text
    review = f"{server.base}/events/{ev['id']}/review?token="

    # the participant proposes a correction of the decision
    _, page = await open_page(browser, console, review + anna["token"])
    await expect(page.locator("#m-status")).to_contain_text("Entwurf")
    assert await axe_violations(page) == []
    await page.get_by_role("button", name=f"Eintrag anmerken: {DECISION}").click()
    form = page.locator(".rv-form--remark")
    await form.get_by_label("Korrektur vorschlagen").check()
    await form.get_by_label("Neue Fassung des Eintrags").fill(BETTER)
    await form.get_by_label("Begründung (freiwillig)").fill("So beschlossen")
    assert await axe_violations(page) == []
    await form.get_by_role("button", name="Absenden").click()
    await expect(page.locator("#rv-proposals")).to_contain_text(BETTER)
    await expect(page.locator("#rv-proposals")).to_contain_text("offen")
    await expect(page.locator("#rv-proposals button")).to_have_count(0)  # not hers to decide

    # the moderator accepts it: the record says it now
    _, mpage = await open_page(browser, console, review + mod["token"])
    await mpage.locator("#rv-proposals").get_by_role("button", name="Übernehmen").click()
    await expect(mpage.locator("#rv-proposals")).to_contain_text("übernommen")
    await expect(mpage.locator("#m-decisions")).to_contain_text(BETTER)
    assert await axe_violations(mpage) == []

    # the organizer approves; the page and every download say so
    _, opage = await open_page(browser, console, review + ORGANIZER)
    await opage.get_by_label("Freigegeben durch (Name und Funktion)").fill("Dr. Landrat")
    assert await axe_violations(opage) == []
    await opage.get_by_role("button", name="Diese Fassung freigeben").click()
    await expect(opage.locator("#m-status")).to_contain_text("Freigegeben am")
    await expect(opage.locator("#m-status")).to_contain_text("durch Dr. Landrat")
    await expect(opage.locator("#rv-versions")).to_contain_text("Version 1")
    await page.reload()
    await expect(page.locator("#m-status")).to_contain_text("Freigegeben am")

    # the HTML export itself: no contrast or other violation
    export = await page.context.new_page()  # about:blank: no CSP of ours, its own <style>
    await export.set_content(html)
    assert await export.evaluate("getComputedStyle(document.querySelector('.m-meta')).color")\
        == "rgb(85, 85, 85)"  # the embedded style sheet applies
    assert await axe_violations(export) == []
    console.check()


async def test_play_a_recording_from_an_entry(server: LiveServer, browser: Browser,
                                              console: Console) -> None:
    """A note written while the plenary was recorded: on the review page its "Anhören ab"
    puts the room's recording at that moment; the recording seeks (HTTP Range)."""
    from forum_live.media.recorder import recorded_length
    from tests.support.media import Peer, Sig

    async with server.http() as http:
        ev = await create_event(http, topics=[{"title": "Mobilität"}])
        mod = await join(http, ev, "Mona Moderation", moderator=True)
    sig = await Sig.connect(server.ws_base, ev["id"], mod["token"])
    peer = Peer(sig, 440.0, record_audio=False)
    await peer.join(video_slots=False)
    assert (await sig.request("recording.start"))["type"] == "ok"
    started = await sig.wait_event(lambda e: e["type"] == "recording.started")
    audio = server.settings.recordings_dir / started["file"]
    for _ in range(600):  # a note two seconds into the recording
        if audio.exists() and (recorded_length(audio) or 0) >= 2.0:
            break
        await asyncio.sleep(0.05)
    r = await sig.request("minutes.add", room=ev["plenary_room"], kind="note",
                          text="Hier wurde über den Busfahrplan gesprochen")
    assert r["type"] == "ok"
    for _ in range(600):
        if (recorded_length(audio) or 0) >= 4.0:
            break
        await asyncio.sleep(0.05)
    assert (await sig.request("recording.stop"))["type"] == "ok"
    await peer.close()
    await sig.close()

    _, page = await open_page(browser, console,
                              f"{server.base}/events/{ev['id']}/review?token={mod['token']}")
    player = page.locator(f"#rec-{started['id']}")
    await expect(player).to_have_count(1)
    button = page.locator(".rv-listen")
    await expect(button).to_have_text(re.compile(r"Anhören ab 0:0[2-4]"))
    await page.wait_for_function(
        "(id) => document.getElementById(id).readyState >= 1", arg=f"rec-{started['id']}")
    assert await player.evaluate("(a) => a.duration") >= 3.5
    await button.click()
    seconds = int((await button.text_content() or "").rsplit(":", 1)[1])
    await page.wait_for_function(
        "([id, t]) => Math.abs(document.getElementById(id).currentTime - t) < 1.5",
        arg=[f"rec-{started['id']}", seconds])
    assert await axe_violations(page) == []
    console.allow(r"play\(\)")  # headless Chromium may refuse to start playing
    console.check()
