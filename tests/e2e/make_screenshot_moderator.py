"""Regenerate docs/screenshot-moderator.png: a moderator's view (1280x800) with breakout
rooms open (one per topic, people in them, a call for help pinned in view) and a live poll
with votes in the side panel.

    python -m tests.e2e.make_screenshot_moderator [OUT.png]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.support.browser import join as join_page
from tests.support.screenshot import demo_forum

PEOPLE = [("Ursula Brandt", "Bürgerverein Lindenau", 0), ("Maria Schulte", "Landkreis Oberfeld", 2),
          ("Heinrich Vogt", "Gemeinderat Lindenau", 2), ("Jens Albers", "Geoportal Nord", 1),
          ("Aylin Demir", "Volkshochschule", 0)]


async def main(out: Path) -> None:
    async with demo_forum([(name, org, False) for name, org, _ in PEOPLE]) as (
            _, event, clients, browser):
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(event["moderator_url"])
        await join_page(page, "Dr. Petra Hansen", "Hochschule Nordheide")
        await page.locator("#breakouts").get_by_label("Dauer der Runde in Minuten").fill("20")
        await page.get_by_role("button", name="Räume öffnen").click()
        await page.wait_for_selector(".bo-room:nth-child(3)")
        rooms = [r["id"] for r in (await clients["Ursula Brandt"].request(
            "state.sync"))["state"]["breakouts"]["rooms"]]
        for name, _, i in PEOPLE:
            await clients[name].request("room.enter", room=rooms[i])
        await clients["Maria Schulte"].request("breakouts.help")
        await page.get_by_role("tab", name="Abstimmungen").click()
        polls = page.locator("#polls")
        await polls.get_by_text("Neue Abstimmung").click()
        await polls.get_by_label("Frage").fill("Welches Projekt soll der Landkreis zuerst angehen?")
        await polls.get_by_label("Antwort 1", exact=True).fill("Digitaler Marktplatz")
        await polls.get_by_label("Antwort 2", exact=True).fill("Rufbus per App")
        await polls.get_by_role("button", name="Weitere Antwort hinzufügen").click()
        await polls.get_by_label("Antwort 3", exact=True).fill("Offene Geodaten")
        await polls.get_by_label("Wer stimmt ab?").select_option("event")
        await polls.get_by_role("button", name="Abstimmung starten").click()
        await page.wait_for_selector(".poll-card")
        poll = (await clients["Ursula Brandt"].request("state.sync"))["state"]["polls"][0]["poll"]["id"]
        for (name, _, _), choice in zip(PEOPLE, (0, 1, 1, 2)):
            await clients[name].request("poll.vote", poll=poll, choice=choice)
        await page.wait_for_selector(".poll-participation:has-text('4 von')")
        await page.evaluate("document.activeElement.blur()")
        await page.evaluate("""() => {
          document.querySelector('#stage-col').scrollTop = 0;  // the cockpit is on top
          document.querySelector('#panel-polls').scrollTop = 0;
        }""")
        await page.wait_for_timeout(600)
        await page.screenshot(path=str(out))
        if len(sys.argv) > 2:
            await page.screenshot(path=sys.argv[2], full_page=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot-moderator.png")))
