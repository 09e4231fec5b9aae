"""The participation tools in the browser against a real server: the waiting room
(wait, admission, "let everyone in"), the speaker queue with a 60 s limit shown to all,
Q&A with votes from two others and the answered state, the chat lock, and removal (the
reason is shown, also after a reload, and the join form does not come back).

Headless Chromium through Playwright's async API, like tests/e2e/test_plenary_browser.py.
Console errors must stay empty (a CSP violation would show up there).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.axe import axe_violations
from tests.support.browser import Console, open_page as shared_open_page
from tests.support.live import Client, LiveServer, auth, join as api_join

pytestmark = pytest.mark.browser

NOTE = "Wir beginnen um 18 Uhr. Bitte halten Sie Ihre Fragen bereit."
QUESTION = "Wann kommt der Glasfaserausbau in unser Dorf?"


async def open_page(browser: Browser, console: Console, url: str) -> Page:
    _, page = await shared_open_page(browser, console, url,
                                     viewport={"width": 1280, "height": 900})
    return page


async def join(page: Page, name: str) -> None:
    await expect(page.locator("#join")).to_be_visible()
    await page.get_by_label("Ihr Name").fill(name)
    await page.get_by_role("button", name="Teilnehmen").click()
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "connected")


async def create_event(server: LiveServer, **extra: Any) -> dict[str, Any]:
    async with server.http() as http:
        r = await http.post("/api/events", headers=auth(),
                            json={"title": "Forum Glasfaser", "topics": [{"title": "Netzausbau"}],
                                  **extra})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def question(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#qa .qa-q", has_text=QUESTION)


async def test_waiting_room_floor_with_limit_and_questions(server: LiveServer, browser: Browser) -> None:
    console = Console()
    event = await create_event(server, lobby=True, lobby_note=NOTE)
    mod = await open_page(browser, console, event["moderator_url"])
    await join(mod, "Mona Moderation")
    await expect(mod.locator("#lobby-panel")).to_be_visible()
    await expect(mod.locator("#lobby-enabled")).to_be_checked()

    # Anna waits: a calm page with the title and the note, nothing of the event.
    anna = await open_page(browser, console, event["participant_url"])
    await join(anna, "Anna Alt")
    wait = anna.locator("#lobby-wait")
    await expect(wait).to_be_visible()
    await expect(wait).to_contain_text("Bitte warten Sie, die Moderation lässt Sie gleich herein")
    await expect(wait).to_contain_text(NOTE)
    await expect(anna.locator("#event-title")).to_have_text("Forum Glasfaser")
    for hidden in ("#live", "#chat", "#join", "#hands", "#qa", "#people"):
        await expect(anna.locator(hidden)).to_be_hidden()

    # Meanwhile the plenary talks; the waiting person receives none of it.
    await mod.locator("#chat-input").fill("Nur für Eingelassene")
    await mod.locator("#chat-input").press("Enter")
    await expect(mod.locator("#chat-lines")).to_contain_text("Nur für Eingelassene")

    # The moderator sees her waiting and lets her in.
    await expect(mod.locator("#lobby-list")).to_contain_text("Anna Alt")
    await mod.get_by_role("button", name="Anna Alt einlassen").click()
    await expect(anna.locator("#live")).to_be_visible()
    await expect(wait).to_be_hidden()
    await expect(anna.locator("#chat-lines")).to_contain_text("Nur für Eingelassene")
    await expect(mod.locator("#lobby-list li")).to_have_count(0)

    # Two more wait; "let everyone in" admits both (Bernd in a page, Carla a socket client).
    bernd = await open_page(browser, console, event["participant_url"])
    await join(bernd, "Bernd Berg")
    async with server.http() as http:
        carla = await api_join(http, event, "Carla Chor")
    await expect(mod.locator("#lobby-list li")).to_have_count(2)
    await mod.get_by_role("button", name="Alle einlassen").click()
    await expect(bernd.locator("#live")).to_be_visible()
    await expect(mod.locator("#lobby-empty")).to_be_visible()

    # Anna raises her hand; the moderator gives her the floor with a 60 s limit.
    await anna.get_by_role("button", name="Hand heben").click()
    await expect(mod.locator("#hand-queue li")).to_have_count(1)
    await mod.locator("#floor-limit").select_option(label="1 Min.")
    await mod.get_by_role("button", name="Anna Alt das Wort erteilen").click()
    countdown = re.compile(r"Noch (1:00|0:[0-5]\d) Redezeit")
    for page in (mod, bernd):
        await expect(page.locator("#floor-banner")).to_be_visible()
        await expect(page.locator("#floor-speaker")).to_have_text("Es spricht: Anna Alt")
        await expect(page.locator("#floor-time")).to_have_text(countdown)
    await expect(anna.locator("#floor-speaker")).to_have_text("Sie haben das Wort")
    await expect(anna.locator("#floor-time")).to_have_text(countdown)
    await expect(anna.locator("#hand-queue li")).to_have_count(0)
    # The countdown runs, and the speaker and moderators may end the turn; others may not.
    first = await bernd.locator("#floor-time").inner_text()
    await expect(bernd.locator("#floor-time")).not_to_have_text(first, timeout=20_000)
    await expect(anna.locator("#floor-end")).to_be_visible()
    await expect(mod.locator("#floor-end")).to_be_visible()
    await expect(bernd.locator("#floor-end")).to_be_hidden()

    # A question from Anna, upvoted by Bernd (page) and Carla (socket), answered by Mona.
    await anna.get_by_label("Ihre Frage").fill(QUESTION)
    await anna.get_by_role("button", name="Frage stellen").click()
    await expect(question(bernd)).to_contain_text("Anna Alt")
    await expect(question(mod)).to_have_count(1)
    vote = bernd.get_by_role("button", name=f"Frage unterstützen: {QUESTION[:57]}")
    await vote.click()
    await expect(question(bernd).locator(".qa-q__vote")).to_have_attribute("aria-pressed", "true")
    await expect(question(anna).locator(".qa-q__count")).to_have_text("1")
    client = await Client.connect(server, event["id"], carla["token"])
    try:
        asked = [q for q in client.ready["state"]["qa"]["questions"] if q["text"] == QUESTION]
        assert len(asked) == 1 and asked[0]["voted"] is False
        reply = await client.request("question.vote", question=asked[0]["id"])
        assert reply["type"] == "ok", reply
        again = await client.request("question.vote", question=asked[0]["id"])
        assert again["code"] == "conflict"  # one vote per person
    finally:
        await client.close()
    for page in (anna, bernd, mod):
        await expect(question(page).locator(".qa-q__count")).to_have_text("2")
    await mod.get_by_role("button", name=f"Als beantwortet markieren: {QUESTION[:57]}").click()
    for page in (anna, bernd, mod):
        answered = page.locator("#qa-answered .qa-q", has_text=QUESTION)
        await expect(answered).to_contain_text("beantwortet")
        await expect(answered.locator(".qa-q__count")).to_have_text("2")
        await expect(page.locator("#qa-list .qa-q")).to_have_count(0)

    # The speaker ends her turn; the banner goes away for everyone.
    await anna.locator("#floor-end").click()
    await expect(bernd.locator("#floor-banner")).to_be_hidden()
    console.check()


async def test_chat_lock_and_removal_show_the_reason_not_the_join_form(
        server: LiveServer, browser: Browser) -> None:
    console = Console()
    event = await create_event(server)
    mod = await open_page(browser, console, event["moderator_url"])
    await join(mod, "Mona Moderation")
    dora = await open_page(browser, console, event["participant_url"])
    await join(dora, "Dora Dorn")

    # Chat lock: participants are told and cannot type; unlocking gives the chat back.
    await mod.get_by_role("button", name="Chat sperren").click()
    await expect(dora.locator("#chat-locked")).to_have_text("Der Chat ist gesperrt.")
    await expect(dora.locator("#chat-input")).to_be_disabled()
    await mod.get_by_role("button", name="Chat wieder freigeben").click()
    await expect(dora.locator("#chat-input")).to_be_enabled()
    await expect(dora.locator("#chat-locked")).to_be_hidden()

    # Removal with a reason: a prompt for the reason, then a confirmation.
    async def answer(dialog: Any) -> None:
        if dialog.type == "prompt":
            await dialog.accept("Bitte bleiben Sie sachlich.")
        else:
            await dialog.accept()
    mod.on("dialog", answer)
    person = mod.locator("#people-list li", has_text="Dora Dorn")
    await person.locator("summary").click()
    await person.get_by_role("button", name="Aus der Veranstaltung entfernen").click()

    gone = dora.locator("#lobby-gone")
    await expect(gone).to_be_visible()
    await expect(gone).to_contain_text("aus der Veranstaltung entfernt")
    await expect(gone).to_contain_text("Bitte bleiben Sie sachlich.")
    await expect(dora.locator("#join")).to_be_hidden()
    await expect(dora.locator("#live")).to_be_hidden()
    await expect(mod.locator("#people-list")).not_to_contain_text("Dora Dorn")

    # A reload: the token is refused (4401), the reason stays, no join form.
    await dora.reload()
    await expect(gone).to_be_visible()
    await expect(gone).to_contain_text("Bitte bleiben Sie sachlich.")
    await expect(dora.locator("#join")).to_be_hidden()
    await expect(dora.locator("#live")).to_be_hidden()
    console.check()


async def test_english_waiting_room_button_says_its_name(server: LiveServer, browser: Browser) -> None:
    """The English moderator's "Let in" button is named "Let in Gustav Gast" (it was "Let
    Gustav Gast in": the visible words not in the name, axe label-content-name-mismatch)."""
    console = Console()
    event = await create_event(server, lobby=True)
    mod = await open_page(browser, console, event["moderator_url"].replace("#", "?lang=en#"))
    await mod.get_by_label("Your name").fill("Mona Moderation")
    await mod.get_by_role("button", name="Join").click()
    await expect(mod.locator("#conn-status")).to_have_attribute("data-state", "connected")
    async with server.http() as http:
        guest = await api_join(http, event, "Gustav Gast")
    gustav = await Client.connect(server, event["id"], guest["token"])
    try:
        await mod.get_by_role("tab", name=re.compile("^People")).click()
        button = mod.get_by_role("button", name="Let in Gustav Gast")
        await expect(button).to_have_text("Let in")
        assert await axe_violations(mod) == []
        await button.click()
        await expect(mod.locator("#lobby-list li")).to_have_count(0)
        console.check()
    finally:
        await gustav.close()
