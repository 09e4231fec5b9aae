"""Live polls in the browser: the moderator creates a single-choice live poll through the
form, two participants vote and both see the bars move (numbers and percentages), the
moderator sees who voted what, closes the poll and the final result shows for everyone; a
vote that reaches the server after the close is refused with a visible message."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.axe import axe_violations
from tests.support.browser import Console, join, joined
from tests.support.live import LiveServer, new_event

pytestmark = pytest.mark.browser

# Lets a test hold back the poll events a page receives (to vote on a poll the page still
# believes open), and release them later.
HOLD_POLL_EVENTS = """
window.__hold = false;
window.__held = [];
window.__release = () => { window.__hold = false; const h = window.__held; window.__held = []; h.forEach((f) => f()); };
const desc = Object.getOwnPropertyDescriptor(WebSocket.prototype, "onmessage");
Object.defineProperty(WebSocket.prototype, "onmessage", {
  configurable: true,
  get() { return desc.get.call(this); },
  set(fn) {
    desc.set.call(this, fn && ((ev) => {
      if (window.__hold && /"type":\\s*"poll\\./.test(String(ev.data))) window.__held.push(() => fn.call(this, ev));
      else fn.call(this, ev);
    }));
  },
});
"""


async def open_holding_page(browser: Browser, console: Console, url: str) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(8000)
    await context.add_init_script(HOLD_POLL_EVENTS)
    page = await context.new_page()
    console.watch(page)
    await page.goto(url)
    return page


def bar(page: Page, option: str):  # type: ignore[no-untyped-def]
    return page.locator(".poll-card .poll-bar", has_text=option)


async def vote(page: Page, option: str) -> None:
    card = page.locator(".poll-card").first
    await card.get_by_label(option, exact=True).check()
    await card.get_by_role("button", name="Stimme abgeben").click()


async def test_single_choice_live_poll(server: LiveServer, browser: Browser, console: Console) -> None:
    event = await new_event(server, title="Forum Abstimmung")
    mod = await joined(browser, console, event["moderator_url"], "Mona Moderation")
    anna = await joined(browser, console, event["participant_url"], "Anna Alt")
    bernd = await joined(browser, console, event["participant_url"], "Bernd Berg")
    carla = await open_holding_page(browser, console, event["participant_url"])
    await join(carla, "Carla Chor")

    # Participants see no polls section until there is a poll; the moderator has the form.
    await expect(anna.locator("#polls")).to_be_hidden()
    polls = mod.locator("#polls")
    await polls.get_by_text("Neue Abstimmung").click()
    await polls.get_by_label("Frage").fill("Welches Projekt zuerst?")
    await polls.get_by_label("Eine Antwort").check()
    await polls.get_by_label("Antwort 1", exact=True).fill("Marktplatz")
    await polls.get_by_label("Antwort 2", exact=True).fill("Radwege")
    await polls.get_by_role("button", name="Weitere Antwort hinzufügen").click()
    await polls.get_by_label("Antwort 3", exact=True).fill("Funkmasten")
    await polls.get_by_role("button", name="Antwort 3 entfernen").click()
    await polls.get_by_role("button", name="Weitere Antwort hinzufügen").click()
    await polls.get_by_label("Antwort 3", exact=True).fill("Glasfaser")
    await polls.get_by_label("Sofort, während abgestimmt wird").check()
    await polls.get_by_role("button", name="Abstimmung starten").click()

    # A card for everyone: a labelled radio group in a fieldset, big tap targets.
    for page in (anna, bernd, carla, mod):
        card = page.locator(".poll-card")
        await expect(card).to_have_count(1)
        await expect(card.locator("fieldset legend")).to_have_text("Welches Projekt zuerst?")
        await expect(card.get_by_role("radio")).to_have_count(3)
        await expect(card.locator(".poll-participation")).to_have_text("Noch hat niemand abgestimmt.")
    box = await anna.locator(".poll-card .choice").first.bounding_box()
    assert box and box["height"] >= 44, box

    # Submitting without a choice is caught politely.
    await anna.locator(".poll-card").get_by_role("button", name="Stimme abgeben").click()
    await expect(anna.locator(".poll-card .form-error")).to_have_text("Bitte wählen Sie eine Antwort aus.")

    await vote(anna, "Radwege")
    await expect(anna.locator(".poll-counted")).to_contain_text("Ihre Stimme wurde gezählt.")
    for page in (anna, bernd):
        await expect(bar(page, "Radwege").locator(".poll-bar__num")).to_have_text("1 Stimme · 100 %")
        await expect(bar(page, "Marktplatz").locator(".poll-bar__num")).to_have_text("0 Stimmen · 0 %")
        # three who may vote: the moderator is not counted among the voters
        await expect(page.locator(".poll-participation")).to_have_text("1 von 3 haben abgestimmt")

    await vote(bernd, "Marktplatz")
    await expect(bernd.locator(".poll-counted")).to_contain_text("Ihre Stimme wurde gezählt.")
    for page in (anna, bernd, mod):
        await expect(bar(page, "Radwege").locator(".poll-bar__num")).to_have_text("1 Stimme · 50 %")
        await expect(bar(page, "Marktplatz").locator(".poll-bar__num")).to_have_text("1 Stimme · 50 %")
        await expect(page.locator(".poll-participation")).to_have_text("2 von 3 haben abgestimmt")
    # The bar's width follows the share (a CSS custom property set from JS).
    share = await anna.locator(".poll-bar", has_text="Radwege").locator(".poll-bar__fill").evaluate(
        "el => el.style.getPropertyValue('--share')")
    assert share == "50%"

    # Named poll: the moderator sees who voted what; participants do not.
    await mod.get_by_text("Wer hat wie abgestimmt (2)").click()
    await expect(mod.locator(".poll-votes")).to_contain_text("Anna Alt: Radwege")
    await expect(mod.locator(".poll-votes")).to_contain_text("Bernd Berg: Marktplatz")
    await expect(anna.locator(".poll-votes")).to_have_count(0)

    # Carla's page holds back poll events from now on: it still shows the poll as open.
    await carla.evaluate("window.__hold = true")
    await mod.get_by_role("button", name="Abstimmung schließen: Welches Projekt zuerst?").click()
    for page in (anna, bernd, mod):
        card = page.locator(".poll-card")
        await expect(card.locator(".poll-results__title")).to_have_text("Endergebnis")
        await expect(card.locator(".poll-card__head .badge")).to_have_text("geschlossen")
        await expect(bar(page, "Radwege").locator(".poll-bar__num")).to_have_text("1 Stimme · 50 %")
        await expect(card.get_by_role("radio")).to_have_count(0)
    await expect(mod.locator(".poll-card")).to_contain_text("Die Abstimmung ist geschlossen.")

    # A vote after the close is refused, visibly.
    await vote(carla, "Glasfaser")
    err = carla.locator(".poll-card .form-error")
    await expect(err).to_have_text("Die Abstimmung ist bereits geschlossen – Ihre Stimme wurde nicht mehr gezählt.")
    await carla.evaluate("window.__release()")
    await expect(carla.locator(".poll-results__title")).to_have_text("Endergebnis")
    await expect(err).to_be_visible()
    await expect(bar(carla, "Glasfaser").locator(".poll-bar__num")).to_have_text("0 Stimmen · 0 %")

    # "Show results again" brings the final result back to everyone's attention; its name
    # holds the words it shows (axe label-content-name-mismatch, WCAG 2.5.3: the button said
    # "Ergebnis erneut zeigen", its name "Ergebnis erneut allen zeigen: …")
    show_again = mod.get_by_role("button", name="Ergebnis erneut allen zeigen: Welches Projekt zuerst?")
    await expect(show_again).to_have_text("Ergebnis erneut allen zeigen")
    assert await axe_violations(mod) == []
    await show_again.click()
    await expect(anna.locator("#live-notice")).to_contain_text("Die Moderation zeigt das Ergebnis")
    await expect(anna.locator(".poll-card--shown")).to_have_count(1)
    console.check()
