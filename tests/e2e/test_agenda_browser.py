"""The run of show on the meeting screen (issue 17): the moderator prepares three steps
live (a welcome, a poll, a break) and runs them with "Nächster Punkt" alone; a participant
sees where the forum stands, the poll and the break's countdown. In a forum that follows
another, the moderator marks a carried action done."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.axe import axe_violations
from tests.support.browser import Console, joined, open_page
from tests.support.live import moderator_in, LiveServer, auth, create_event, new_event, Client

pytestmark = pytest.mark.browser


async def add_step(page: Page, kind: str, title: str, minutes: str = "", question: str = "",
                   options: str = "") -> None:
    run = page.locator("#run")
    details = run.locator(".run-add-details")
    if await details.get_attribute("open") is None:
        await run.get_by_text("Punkt hinzufügen", exact=True).first.click()
    await run.get_by_label("Art").select_option(kind)
    await run.get_by_label("Titel (optional)").fill(title)
    await run.get_by_label("Dauer oder Redezeit (Minuten)").fill(minutes)
    await run.get_by_label("Vorbereitete Umfrage: Frage").fill(question)
    await run.get_by_label("Antworten (durch Komma getrennt; leer: freie Antwort)").fill(options)
    await run.get_by_role("button", name="Punkt hinzufügen").click()
    await expect(run.locator(".run-step", has_text=title)).to_have_count(1)


async def test_moderator_prepares_and_runs_three_steps(
        server: LiveServer, browser: Browser, console: Console) -> None:
    event = await new_event(server, title="Forum Ablauf")
    mod = await joined(browser, console, event["moderator_url"], "Mona Moderation")
    anna = await joined(browser, console, event["participant_url"], "Anna Alt")

    await add_step(mod, "welcome", "Begrüßung und Vorstellung")
    await add_step(mod, "poll", "Stimmungsbild", question="Wie geht es weiter?",
                   options="Schneller, Langsamer")
    await add_step(mod, "break", "Kaffeepause", minutes="10")
    # the participant sees the plan, but no controls
    await expect(anna.locator("#run .run-step")).to_have_count(3)
    await expect(anna.locator("#run-next")).to_be_hidden()
    await expect(anna.locator("#run .run-step__poll")).to_have_count(0)
    await expect(anna.locator("#run-now")).to_contain_text("Als Nächstes: Begrüßung")

    # a prepared poll may also go out with one action, whatever step is on
    await add_step(mod, "welcome", "Blitzlicht", question="Ein Wort?")
    await mod.get_by_role("button", name="Umfrage „Ein Wort?“ jetzt starten").click()
    await expect(anna.locator(".poll-card", has_text="Ein Wort?")).to_have_count(1)
    await mod.locator("#run .run-step", has_text="Blitzlicht").get_by_role(
        "button", name="Überspringen").click()
    await expect(anna.locator("#run .run-step--skipped")).to_have_count(1)

    nxt = mod.get_by_role("button", name="Nächster Punkt")
    await nxt.click()
    await expect(anna.locator("#run-now")).to_contain_text("Jetzt: Begrüßung und Vorstellung")
    await expect(anna.locator("#run-now")).to_contain_text("Als Nächstes: Stimmungsbild")
    await expect(anna.locator("#run .run-step[aria-current=step]")).to_contain_text("Begrüßung")
    await nxt.click()
    await expect(anna.locator("#run-now")).to_contain_text("Jetzt: Stimmungsbild")
    await expect(anna.locator(".poll-card", has_text="Wie geht es weiter?")).to_have_count(1)
    await nxt.click()
    await expect(anna.locator("#run-now")).to_contain_text("Jetzt: Kaffeepause")
    await expect(anna.locator(".timer", has_text="Kaffeepause")).to_have_count(1)
    await expect(anna.locator("#run .run-step--done")).to_have_count(2)
    await nxt.click()
    await expect(anna.locator("#run-now")).to_contain_text("Das war der letzte Punkt.")
    await expect(mod.locator("#run .run-step--done")).to_have_count(3)
    console.check()


async def test_moderator_marks_a_carried_action_done(
        server: LiveServer, browser: Browser, console: Console) -> None:
    async with server.http() as http:
        first = await create_event(http, title="Forum 1", topics=[{"title": "Geodaten"}])
        m = await moderator_in(server, http, first)
        await m.request("minutes.add", room=first["plenary_room"], kind="action",
                        text="Karte veröffentlichen", assignee="Frau Kraus",
                        topic=first["topics"][0]["id"])
        await m.close()
        r = await http.post("/api/events", headers=auth(),
                            json={"title": "Forum 2", "follows": first["id"]})
        second = r.json()
    mod = await joined(browser, console, second["moderator_url"], "Mona Moderation",
                       accept_downloads=True)
    item = mod.locator("#carried .carried-item", has_text="Karte veröffentlichen")
    await expect(item).to_contain_text("offen")
    await item.get_by_role("button", name="„Karte veröffentlichen“ als erledigt markieren").click()
    await expect(item).to_contain_text("erledigt")
    async with server.http() as http:
        series = (await http.get(f"/api/series/{first['id']}", headers=auth())).json()
    assert series["actions"][0]["status"] == "done"
    async with mod.expect_download() as info:
        await mod.locator("#carried").get_by_role("link", name="Markdown").click()
    overview = Path(await (await info.value).path()).read_text(encoding="utf-8")
    assert "| Frau Kraus | Karte veröffentlichen |" in overview and "erledigt" in overview
    href = await mod.locator("#carried").get_by_role("link", name="Markdown").get_attribute("href")
    assert href and "token" not in href  # the page's session cookie, not a secret in a URL
    await mod.locator("#carried").get_by_text("Übersicht der Forenreihe anzeigen").click()
    view = mod.locator("#series-view")
    await expect(view.locator(".series-forums")).to_contain_text("Forum 1")
    await expect(view.locator(".series-item--done")).to_contain_text("Karte veröffentlichen")
    console.check()


async def test_untitled_steps_in_english(server: LiveServer, browser: Browser,
                                         console: Console) -> None:
    """An English participant reads "Now: Impulse: Geodaten" and "Next: Break", not the
    German names the server made for steps without a title of their own."""
    async with server.http() as http:
        ev = await create_event(http, title="Forum Ablauf", topics=[{"title": "Geodaten"}])
        steps = [{"kind": "impulse", "topic": ev["topics"][0]["id"]},
                 {"kind": "break", "duration_s": 600}, {"kind": "welcome", "title": "Schluss"}]
        r = await http.put(f"/api/events/{ev['id']}/agenda", headers=auth(), json={"steps": steps})
        assert r.status_code == 200, r.text
        r = await http.post(f"/api/events/{ev['id']}/join",
                            json={"name": "M", "key": ev["moderator_key"]})
    m = await Client.connect(server, ev["id"], r.json()["token"])
    try:
        assert (await m.request("agenda.next"))["type"] == "ok"
        _, anna = await open_page(browser, console,
                                  ev["participant_url"].replace("#", "?lang=en#"))
        await anna.get_by_label("Your name").fill("Anna Alt")
        await anna.get_by_role("button", name="Join").click()
        await expect(anna.locator("#run-now")).to_contain_text("Now: Impulse: Geodaten")
        await expect(anna.locator("#run-now")).to_contain_text("Next: Break")
        await expect(anna.locator("#run .run-step__title")).to_have_text(
            ["Impulse: Geodaten", "Break", "Schluss"])
        # the moderator's controls in English: a name that holds the visible words (axe
        # label-content-name-mismatch: "Move up" was named "Move “Schluss” up one place")
        _, mod = await open_page(browser, console,
                                 ev["moderator_url"].replace("#", "?lang=en#"))
        await mod.get_by_label("Your name").fill("Mona Moderation")
        await mod.get_by_role("button", name="Join").click()
        await expect(mod.get_by_role("button", name="Move up “Schluss” one place")).to_have_text("Move up")
        assert await axe_violations(mod) == []
        console.check()
    finally:
        await m.close()
