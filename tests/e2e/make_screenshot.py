"""Regenerate docs/screenshot.png (a participant's meeting screen at 1280x800: the impulse
slides on the stage, the chat in the side panel, the control bar) and
docs/screenshot-phone.png (the same forum on a phone).

    python -m tests.e2e.make_screenshot [OUT.png [PHONE.png]]

Starts its own server in a temporary directory; a few people join over the socket, chat and
raise hands, the moderator uploads slides and turns to page 2; one person joins in Chromium
and is photographed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.support.browser import join as join_page
from tests.support.live import auth
from tests.support.pdf import make_pdf
from tests.support.screenshot import demo_forum

SLIDES = ["Arbeiten 4.0: Wie wollen wir morgen arbeiten?", "Drei Trends: mobil, flexibel, vernetzt",
          "Was heißt das für den ländlichen Raum?"]


async def main(out: Path, phone_out: Path) -> None:
    people = [("Dr. Petra Hansen", "Hochschule Nordheide", True),
              ("Ursula Brandt", "Bürgerverein Lindenau", False),
              ("Maria Schulte", "Landkreis Oberfeld", False)]
    description = "Impulse und Aussprache zur Digitalisierung im ländlichen Raum"
    async with demo_forum(people, description=description) as (server, event, clients, browser):
        async with server.http() as http:
            r = await http.post(f"/api/events/{event['id']}/slides?topic={event['topics'][0]['id']}",
                                headers={**auth(), "Content-Type": "application/pdf"},
                                content=make_pdf(SLIDES, size=(960, 540)))
            deck = r.json()["id"]
        await clients["Dr. Petra Hansen"].request("slides.show", slides=deck, page=2)
        room = event["plenary_room"]
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(event["participant_url"])
        await join_page(page, "Heinrich Vogt", "Gemeinderat Lindenau")
        for name, text in (
                ("Dr. Petra Hansen", "Herzlich willkommen! Fragen gern hier in den Chat."),
                ("Ursula Brandt", "Guten Abend in die Runde. Gibt es die Folien später zum Nachlesen?"),
                ("Dr. Petra Hansen", "Ja, die Folien stellen wir nach der Veranstaltung bereit."),
                ("Maria Schulte", "Bei uns im Landkreis fehlen vor allem gute Busverbindungen am "
                                  "Abend – das wäre ein Thema für Smart Mobility.")):
            await clients[name].request("chat.send", room=room, text=text)
        await page.fill("#chat-input", "Dem stimme ich zu – bei uns in Lindenau ist es genauso.")
        await page.keyboard.press("Enter")
        await clients["Maria Schulte"].request("hand.raise")
        await clients["Ursula Brandt"].request("hand.raise")
        await page.wait_for_selector("#hand-queue li:nth-child(2)")
        await page.wait_for_selector("#slides-view[data-page='2']")
        await page.evaluate("document.activeElement.blur()")
        await page.wait_for_timeout(300)
        await page.screenshot(path=str(out))
        phone = await browser.new_page(viewport={"width": 390, "height": 844},
                                       device_scale_factor=2, is_mobile=True, has_touch=True)
        await phone.goto(event["participant_url"])
        await join_page(phone, "Aylin Demir", "Volkshochschule")
        await phone.wait_for_selector("#slides-view[data-page='2']")
        await phone.evaluate("document.activeElement.blur()")
        await phone.wait_for_timeout(300)
        await phone.screenshot(path=str(phone_out))

if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png"),
                     Path(sys.argv[2] if len(sys.argv) > 2 else "docs/screenshot-phone.png")))
