"""The browser app against a real server: joining, chat both ways, raised hands, reload
identity, the organizer page, reconnect with resume, and the English catalog.

Each test drives headless Chromium through Playwright's async API in the test's own loop.
Console errors are collected and must stay empty (a CSP violation would show up there).
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Dialog, expect

from tests.support.axe import axe_violations
from tests.support.browser import Console, hellos, join, joined, line, open_page, say
from tests.support.live import ORGANIZER, LiveServer, auth, new_event

pytestmark = pytest.mark.browser

async def test_two_participants_chat_raise_hand_and_reload(
        server: LiveServer, browser: Browser, console: Console) -> None:
    event = await new_event(server, title="Forum Testdorf",
                            topics=[{"title": "Geodaten", "speaker": "Dr. Geo"},
                                    {"title": "Mobilität"}])
    url = event["participant_url"]
    _, anna = await open_page(browser, console, url)
    _, bernd = await open_page(browser, console, url)

    # German is the default, with labelled controls.
    assert await anna.locator("html").get_attribute("lang") == "de"
    await join(anna, "Anna Alt", "Gemeinderat")
    await join(bernd, "Bernd Berg")

    # The live view: title, agenda with speaker, both people present, moderators none.
    await expect(anna.locator("#event-title")).to_have_text("Forum Testdorf")
    await expect(anna.locator("#agenda-list li")).to_have_count(2)
    await expect(anna.locator("#agenda-list")).to_contain_text("mit Dr. Geo")
    await expect(anna.locator("#people-list")).to_contain_text("Bernd Berg")
    await expect(bernd.locator("#people-list")).to_contain_text("Gemeinderat")
    await expect(anna.locator("#people-list .is-me")).to_contain_text("Anna Alt")

    # Chat both ways; the log is a polite live region; times are local HH:MM.
    log = anna.locator("#chat-log")
    assert await log.get_attribute("role") == "log"
    assert await log.get_attribute("aria-live") == "polite"
    await say(anna, "Guten Abend von Anna")
    await expect(line(bernd, "Guten Abend von Anna")).to_contain_text("Anna Alt")
    await say(bernd, "Hallo Anna, hier Bernd")
    await expect(line(anna, "Hallo Anna, hier Bernd")).to_contain_text("Bernd Berg")
    stamp = await anna.locator("#chat-lines .chat-line__time").first.inner_text()
    assert re.fullmatch(r"\d\d:\d\d", stamp), stamp
    # Participants get no moderator controls.
    await expect(anna.locator(".chat-line__delete")).to_have_count(0)

    # A raised hand shows in everyone's queue, in order; the toggle reflects it.
    await anna.get_by_role("button", name="Hand heben").click()
    await expect(bernd.locator("#hand-queue li")).to_have_count(1)
    await expect(bernd.locator("#hand-queue")).to_contain_text("Anna Alt")
    await expect(anna.locator("#hand-toggle")).to_have_attribute("aria-pressed", "true")
    await expect(anna.locator("#hand-toggle")).to_contain_text("Hand senken")
    await expect(bernd.locator(".hand__lower")).to_have_count(0)

    # A reload is the same person: no join form, same name as "me", history intact, once.
    await anna.reload()
    await expect(anna.locator("#conn-status")).to_have_attribute("data-state", "connected")
    await expect(anna.locator("#join")).to_be_hidden()
    await expect(anna.locator("#me-name")).to_have_text("Anna Alt")
    await expect(anna.locator("#people-list .is-me")).to_contain_text("Anna Alt")
    await expect(anna.locator("#chat-lines .chat-line")).to_have_count(2)
    await expect(line(anna, "Guten Abend von Anna")).to_have_count(1)
    await expect(line(anna, "Hallo Anna, hier Bernd")).to_have_count(1)
    await expect(line(anna, "Guten Abend von Anna")).to_have_class(re.compile("chat-line--mine"))
    # Bernd still knows exactly one Anna (a new identity would be a second entry).
    await expect(bernd.locator("#people-list li", has_text="Anna Alt")).to_have_count(1)
    await expect(bernd.locator("#people-list li.is-online", has_text="Anna Alt")).to_have_count(1)

    # Live chat still flows after the reload, once.
    await say(bernd, "Willkommen zurück")
    await expect(line(anna, "Willkommen zurück")).to_have_count(1)
    await expect(anna.locator("#chat-lines .chat-line")).to_have_count(3)

    # "Not you?" asks first (dismissed: nothing happens), then forgets the identity.
    questions: list[str] = []

    async def answer(d: Dialog, accept: bool) -> None:
        questions.append(d.message)
        await (d.accept() if accept else d.dismiss())
    anna.once("dialog", lambda d: answer(d, False))
    await anna.get_by_role("button", name="Nicht Sie? Neu anmelden").click()
    await expect(anna.locator("#live")).to_be_visible()
    await expect(anna.locator("#conn-status")).to_have_attribute("data-state", "connected")
    assert questions and "Wirklich abmelden?" in questions[0], questions
    anna.once("dialog", lambda d: answer(d, True))
    await anna.get_by_role("button", name="Nicht Sie? Neu anmelden").click()
    await expect(anna.locator("#join")).to_be_visible()
    await expect(anna.locator("#live")).to_be_hidden()
    console.check()


async def test_moderator_lowers_hands_and_deletes_chat_lines(
        server: LiveServer, browser: Browser, console: Console) -> None:
    event = await new_event(server)
    mod = await joined(browser, console, event["moderator_url"], "Mona Moderation")
    carla = await joined(browser, console, event["participant_url"], "Carla Chor")
    await expect(carla.locator("#people-list li", has_text="Mona Moderation")).to_contain_text(
        "Moderation")

    await say(carla, "Eine Frage bitte")
    await carla.get_by_role("button", name="Hand heben").click()
    await expect(mod.locator("#hand-queue li")).to_have_count(1)
    # the queue's move buttons say their visible word ("Hoch") in their name, so one can
    # speak what one sees (axe: label-content-name-mismatch, WCAG 2.5.3)
    await mod.get_by_role("tab", name=re.compile("^Wortmeldungen")).click()
    await expect(mod.get_by_role("button", name="Hoch: Carla Chor in der Reihe nach vorne")).to_be_visible()
    assert await axe_violations(mod) == []
    await mod.get_by_role("button", name="Hand von Carla Chor senken").click()
    await expect(carla.locator("#hand-queue li")).to_have_count(0)
    await expect(carla.locator("#hand-toggle")).to_have_attribute("aria-pressed", "false")

    mod.once("dialog", lambda d: d.accept())
    await line(mod, "Eine Frage bitte").get_by_role("button", name=re.compile("löschen$")).click()
    await expect(line(carla, "Eine Frage bitte")).to_have_count(0)
    await expect(line(mod, "Eine Frage bitte")).to_have_count(0)

    # Errors from the server are shown politely in the UI.
    await carla.evaluate("document.querySelector('#chat-input').removeAttribute('maxlength')")
    await carla.locator("#chat-input").fill("x" * 2001)
    await carla.locator("#chat-input").press("Enter")
    await expect(carla.locator("#chat-error")).to_contain_text("zu lang")
    await expect(carla.locator("#chat-input")).not_to_have_value("")
    console.check()


async def test_organizer_page_creates_a_forum_with_copyable_links(
        server: LiveServer, browser: Browser, console: Console) -> None:
    context, page = await open_page(browser, console, f"{server.base}/organizer",
                                    permissions=["clipboard-read", "clipboard-write"])
    # A wrong token is refused with a readable message.
    await page.get_by_label("Zugangsschlüssel für Veranstaltende").fill("wrong")
    await page.get_by_label("Titel des Forums").fill("Forum Nord")
    await page.get_by_role("button", name="Forum anlegen").click()
    await expect(page.locator("#create-error")).to_contain_text("Zugangsschlüssel")
    console.allow(r"401")

    await page.get_by_label("Zugangsschlüssel für Veranstaltende").fill(ORGANIZER)
    await page.get_by_role("button", name="Schlüssel verwenden").click()
    await page.get_by_label("Thema 1", exact=True).fill("Arbeiten 4.0")
    await page.get_by_label("Vortragende Person zu Thema 1 (optional)").fill("Frau Dr. Alt")
    await page.get_by_role("button", name="Weiteres Thema hinzufügen").click()
    await page.get_by_label("Thema 2", exact=True).fill("Geodaten")
    await page.get_by_role("button", name="Weiteres Thema hinzufügen").click()
    await page.get_by_role("button", name="Thema 3 entfernen").click()
    await page.get_by_role("button", name="Forum anlegen").click()

    created = page.locator("#created")
    await expect(created).to_be_visible()
    participant_url = await created.get_by_label("Link für Teilnehmende", exact=True).input_value()
    moderator_url = await created.get_by_label("Link für Moderierende", exact=True).input_value()
    assert re.fullmatch(rf"{re.escape(server.base)}/e/[\w-]+#key=[\w-]+", participant_url)

    assert moderator_url != participant_url and "/e/" in moderator_url

    await created.get_by_role("button", name="Link für Teilnehmende kopieren").click()
    await expect(created).to_contain_text("Der Link ist kopiert.")
    assert await page.evaluate("navigator.clipboard.readText()") == participant_url

    # The server has exactly what the form said; the list shows it with its links.
    event_id = participant_url.split("/e/")[1].split("?")[0]
    async with server.http() as http:
        r = await http.get(f"/api/events/{event_id}", headers=auth())
    assert r.status_code == 200
    body = r.json()
    assert body["title"] == "Forum Nord"
    assert [(t["title"], t["speaker"]) for t in body["topics"]] == [
        ("Arbeiten 4.0", "Frau Dr. Alt"), ("Geodaten", None)]
    item = page.locator("#events-list li", has_text="Forum Nord")
    await expect(item).to_have_count(1)
    assert await item.get_by_label("Link für Moderierende", exact=True).input_value() == moderator_url

    # The token stays for this browser window only: a reload still lists the forum.
    await page.reload()
    await expect(page.locator("#events-list li", has_text="Forum Nord")).to_have_count(1)
    await context.close()
    console.check()


async def test_reconnect_resumes_and_delivers_missed_lines_once(
        server: LiveServer, browser: Browser, console: Console) -> None:
    event = await new_event(server)
    anna = await joined(browser, console, event["participant_url"], "Anna Alt")
    bernd = await joined(browser, console, event["participant_url"], "Bernd Berg")
    await say(anna, "vorher")
    await expect(line(bernd, "vorher")).to_have_count(1)

    # 1. The server cuts Anna off as too slow (4408) and, for a moment, takes no sockets.
    rt = server.forum.runtimes[event["id"]]
    anna_id = next(p.id for p in rt.state.participants.values() if p.name == "Anna Alt")
    server.forum.closing = True
    for conn in [c for c in rt.hub.connections if c.pid == anna_id]:
        conn.kill(4408, "too slow: resume from your last seq")
    await expect(anna.locator("#conn-status")).to_have_attribute("data-state", "reconnecting")
    await expect(anna.locator("#conn-status")).to_contain_text("wiederhergestellt")
    await say(bernd, "verpasst eins")
    await say(bernd, "verpasst zwei")
    server.forum.closing = False
    await expect(anna.locator("#conn-status")).to_have_attribute("data-state", "connected",
                                                                 timeout=12000)
    for text in ("vorher", "verpasst eins", "verpasst zwei"):
        await expect(line(anna, text)).to_have_count(1)
    await expect(anna.locator("#chat-lines .chat-line")).to_have_count(3)
    sent = await hellos(anna)
    assert sent[-1]["resume_from"] > sent[0].get("resume_from", 0), sent

    # 2. The browser goes offline and back; lines sent meanwhile arrive exactly once.
    await anna.context.set_offline(True)
    await expect(anna.locator("#conn-status")).to_have_attribute("data-state", "offline")
    await say(bernd, "offline verpasst")
    await anna.context.set_offline(False)
    await expect(anna.locator("#conn-status")).to_have_attribute("data-state", "connected")
    await expect(line(anna, "offline verpasst")).to_have_count(1)
    await expect(anna.locator("#chat-lines .chat-line")).to_have_count(4)
    assert (await hellos(anna))[-1]["resume_from"] > sent[-1]["resume_from"]

    # Live traffic still flows both ways, once.
    await say(anna, "wieder da")
    await expect(line(bernd, "wieder da")).to_have_count(1)
    await expect(line(anna, "wieder da")).to_have_count(1)
    console.allow(r"WebSocket connection to .* failed")
    console.allow(r"ERR_INTERNET_DISCONNECTED")
    console.check()


async def test_english_catalog_with_lang_parameter(
        server: LiveServer, browser: Browser, console: Console) -> None:
    event = await new_event(server)
    url = event["participant_url"].replace("#", "?lang=en#")  # the key is in the fragment
    context, page = await open_page(browser, console, url)

    assert await page.locator("html").get_attribute("lang") == "en"
    await expect(page.get_by_label("Your name")).to_be_visible()
    await page.get_by_label("Your name").fill("Emma English")
    await page.get_by_role("button", name="Join", exact=True).click()
    await expect(page.locator("#conn-status")).to_contain_text("Connected")
    await expect(page.locator("#chat-title")).to_have_text("Plenary chat")
    await expect(page.get_by_role("button", name="Raise hand")).to_be_visible()
    await expect(page.locator("#people-list")).to_contain_text("(you)")

    # The switch keeps the invitation key and the choice sticks (cookie) without ?lang.
    switch = page.get_by_role("navigation", name="Choose language").get_by_role("link", name="Deutsch")
    assert "key=" in (await switch.get_attribute("href") or "")
    await switch.click()
    await expect(page.get_by_role("button", name="Hand heben")).to_be_visible()
    await page.goto(f"{server.base}/")
    await expect(page.locator("h1")).to_have_text("Willkommen bei forum-live")
    await page.goto(f"{server.base}/?lang=en")
    await expect(page.locator("h1")).to_have_text("Welcome to forum-live")
    # an unknown event looks like any event page without its key (issue 13: no probing)
    await page.goto(f"{server.base}/e/doesnotexist")
    await expect(page.locator("#page-notice")).to_contain_text("invitation link is incomplete")

    await context.close()
    console.check()
