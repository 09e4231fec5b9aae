"""Minutes in the browser: entries grouped by kind, two people editing the same entry at
once (the second gets the conflict view with both versions and merges them; the final text
is what they chose, and the review page shows it), a chat line taken into the minutes by a
moderator, and the warning before ending the event with unsaved edits."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from tests.support.browser import Console, joined, line, say
from tests.support.live import LiveServer, new_event

pytestmark = pytest.mark.browser


def entry(page: Page, text: str):  # type: ignore[no-untyped-def]
    return page.locator("#minutes-groups .minute", has_text=text)


async def add(page: Page, kind: str, text: str, assignee: str = "", due: str = "") -> None:
    form = page.locator(".minutes__add")
    await form.get_by_label("Art").select_option(label=kind)
    await form.get_by_label("Text").fill(text)
    if assignee:
        await form.get_by_label("Wer kümmert sich?").fill(assignee)
    if due:
        await form.get_by_label("Bis wann?").fill(due)
    await form.get_by_role("button", name="Eintragen").click()
    await expect(form.get_by_label("Text")).to_have_value("")


async def test_concurrent_edit_conflict_merge_and_review(
        server: LiveServer, browser: Browser, console: Console) -> None:
    event = await new_event(server, title="Forum Protokoll")
    anna = await joined(browser, console, event["participant_url"], "Anna Alt")
    mod = await joined(browser, console, event["moderator_url"], "Mona Moderation")

    await expect(anna.locator("#minutes")).to_contain_text("Noch keine Einträge")
    await add(anna, "Notiz", "Busverbindungen abends fehlen")
    await add(anna, "Beschluss", "Wir starten mit dem Marktplatz.")
    await add(anna, "Aufgabe", "Förderantrag vorbereiten", assignee="Landkreis", due="2025-05-30")
    # Grouped by kind, decisions and actions on top; live for the other person too.
    for page in (anna, mod):
        groups = page.locator("#minutes-groups .minutes__group h3")
        await expect(groups).to_have_text(["Beschlüsse", "Aufgaben", "Notizen"])
        await expect(entry(page, "Förderantrag vorbereiten")).to_contain_text("Wer: Landkreis")
        await expect(entry(page, "Förderantrag vorbereiten")).to_contain_text("Bis wann: 30.05.2025")

    # Both open the decision for editing at the same time.
    decision = "Wir starten mit dem Marktplatz."
    await entry(anna, decision).get_by_role("button", name=f"Eintrag bearbeiten: {decision}").click()
    await entry(mod, decision).get_by_role("button", name=f"Eintrag bearbeiten: {decision}").click()
    anna_box = anna.locator(".minute-edit").get_by_label("Text")
    mod_box = mod.locator(".minute-edit").get_by_label("Text")
    await expect(anna_box).to_be_focused()
    await anna_box.fill("Wir starten mit dem Marktplatz im Mai.")
    await mod_box.fill("Wir starten mit den Radwegen.")
    await anna.locator(".minute-edit").get_by_role("button", name="Speichern").click()
    await expect(entry(anna, "Wir starten mit dem Marktplatz im Mai.")).to_contain_text("bearbeitet von Anna Alt")
    # The moderator, still typing, is told without losing a character.
    await expect(mod.locator(".minute-edit__note")).to_contain_text("Anna Alt hat diesen Eintrag gerade geändert")
    await expect(mod_box).to_have_value("Wir starten mit den Radwegen.")

    # Saving the stale version: the conflict view shows both versions.
    await mod.locator(".minute-edit").get_by_role("button", name="Speichern").click()
    conflict = mod.locator(".minute-conflict")
    await expect(conflict).to_be_visible()
    await expect(conflict.get_by_role("heading", name="Zwei Fassungen dieses Eintrags")).to_be_focused()
    await expect(conflict.locator(".minute-version--mine")).to_contain_text("Wir starten mit den Radwegen.")
    await expect(conflict.locator(".minute-version--current")).to_contain_text("Wir starten mit dem Marktplatz im Mai.")
    await expect(conflict.locator(".minute-version--current")).to_contain_text("Anna Alt")
    # Anna's text stands everywhere until the moderator decides.
    await expect(entry(anna, "Wir starten mit dem Marktplatz im Mai.")).to_have_count(1)

    # Merge: both texts land in the editor; the moderator writes the final one and saves.
    await conflict.get_by_role("button", name="Beide zusammenführen").click()
    await expect(mod_box).to_have_value("Wir starten mit dem Marktplatz im Mai.\nWir starten mit den Radwegen.")
    final = "Wir starten im Mai mit dem Marktplatz, danach folgen die Radwege."
    await mod_box.fill(final)
    await mod.locator(".minute-edit").get_by_role("button", name="Speichern").click()
    for page in (anna, mod):
        await expect(entry(page, final)).to_contain_text("bearbeitet von Mona Moderation")
        await expect(page.locator(".minute-edit")).to_have_count(0)
        await expect(entry(page, "Radwegen.")).to_have_count(0)
    group = anna.locator(".minutes__group--decision .minute")
    await expect(group).to_have_count(1)
    await expect(group.locator(".minute__text")).to_have_text(final)

    # The review page (linked from the panel; my access goes with the event's cookie or,
    # on old links, the token) shows the final text.
    href = await anna.locator("#minutes-review").get_attribute("href")
    assert href and href.startswith(f"/events/{event['id']}/review")
    review = await anna.context.new_page()
    console.watch(review)
    response = await review.goto(server.base + href)
    assert response is not None and response.status == 200, response and response.status
    await expect(review.locator("#review-record")).to_contain_text(final)
    await expect(review.locator("#review-record")).not_to_contain_text("Wir starten mit den Radwegen.")
    await review.close()

    # A moderator turns a chat line into a minutes entry with one click.
    await say(anna, "Können wir das Bürgerbüro einbinden?")
    await line(mod, "Bürgerbüro").get_by_role(
        "button", name="Nachricht von Anna Alt ins Protokoll übernehmen").click()
    for page in (anna, mod):
        await expect(entry(page, "Können wir das Bürgerbüro einbinden?")).to_contain_text(
            "aus dem Chat, geschrieben von Anna Alt")
    await expect(line(mod, "Bürgerbüro").locator(".chat-line__minutes")).to_have_text("Im Protokoll")
    await expect(line(anna, "Bürgerbüro").locator(".chat-line__minutes")).to_have_count(0)

    # Ending the event with an unsaved edit warns first.
    note = "Busverbindungen abends fehlen"
    await entry(mod, note).get_by_role("button", name=f"Eintrag bearbeiten: {note}").click()
    await mod.locator(".minute-edit").get_by_label("Text").fill("Busverbindungen abends und am Wochenende fehlen")
    messages: list[str] = []

    async def dismiss(d: Dialog) -> None:
        messages.append(d.message)
        await d.dismiss()
    mod.once("dialog", dismiss)
    await mod.get_by_role("button", name="Veranstaltung beenden").click()
    await expect(mod.locator(".minute-edit")).to_have_count(1)
    assert messages and "ungespeicherte" in messages[0], messages
    await expect(anna.locator("#event-ended")).to_be_hidden()
    await mod.locator(".minute-edit").get_by_role("button", name="Speichern").click()
    await expect(entry(anna, "am Wochenende")).to_have_count(1)

    async def accept(d: Dialog) -> None:
        messages.append(d.message)
        await d.accept()
    mod.once("dialog", accept)
    await mod.get_by_role("button", name="Veranstaltung beenden").click()
    await expect(anna.locator("#event-ended")).to_be_visible()
    assert "ungespeicherte" not in messages[-1]
    await expect(anna.locator(".minutes__add")).to_be_hidden()
    await expect(anna.locator("#minutes")).to_contain_text("Die Veranstaltung ist beendet")
    await expect(mod.get_by_role("button", name="Veranstaltung beenden")).to_be_hidden()
    console.check()
