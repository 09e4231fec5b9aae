"""The meeting screen in real Chromium: at 1280x800 the page itself does not scroll (top
bar, stage, side panel with tabs, control bar); alerts stay in view while the chat is
scrolled; tabs count what is new; the keyboard lands somewhere after joining and voting;
checkboxes sit beside their labels; the moderator's participant list is not cut off; the
person given the floor is asked to join audio; "not you?" asks first; the ended event is
read-only with one notice linking to the minutes; on a phone the stage is on top and the
control bar stays reachable; axe-core finds nothing (wcag2a/aa, 21a/aa, 22aa) on the
participant's and the moderator's page in their main states."""

from __future__ import annotations

import re
import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.axe import axe_violations
from tests.support.browser import Console, join, open_page, say
from tests.support.live import Client, LiveServer, create_event, join as api_join

pytestmark = pytest.mark.browser


async def page_fits(page: Page) -> None:
    """The document does not scroll: everything lives in its own scrolling part."""
    sizes = await page.evaluate("[document.scrollingElement.scrollHeight, innerHeight,"
                                " document.scrollingElement.scrollWidth, innerWidth]")
    assert sizes[0] <= sizes[1] and sizes[2] <= sizes[3], sizes


async def in_view(page: Page, selector: str) -> None:
    """The element's box lies inside the viewport (not scrolled away)."""
    box = await page.locator(selector).bounding_box()
    size = page.viewport_size
    assert box and size, (box, size)
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], (selector, box, size)
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], (selector, box, size)


async def tab(page: Page, name: str) -> None:
    await page.get_by_role("tab", name=re.compile(f"^{name}")).click()
    await expect(page.get_by_role("tab", name=re.compile(f"^{name}"))).to_have_attribute(
        "aria-selected", "true")


async def test_meeting_layout_alerts_tabs_focus_and_ended_state(
        server: LiveServer, browser: Browser, console: Console) -> None:
    async with server.http() as http:
        event = await create_event(http, title="Forum Bühne",
                                   topics=[{"title": "Geodaten", "speaker": "Dr. Geo"}])
        others = [await api_join(http, event, f"Gast {i}") for i in range(2)]
        helper = await api_join(http, event, "Hilde Helfer", moderator=True)
    clients = [await Client.connect(server, event["id"], p["token"]) for p in others]
    hilde = await Client.connect(server, event["id"], helper["token"])
    room = event["plenary_room"]
    try:
        _, anna = await open_page(browser, console, event["participant_url"])
        _, mod = await open_page(browser, console, event["moderator_url"])
        await expect(anna.locator("#join")).to_be_visible()
        assert await axe_violations(anna) == []  # the join form
        await join(anna, "Anna Alt")
        # Joining leaves the keyboard on the event's name, not on the page body.
        await expect(anna.locator("#event-title")).to_be_focused()
        await join(mod, "Mona Moderation")
        await expect(mod.locator("#event-title")).to_be_focused()

        # The meeting layout: nothing of the page scrolls; the bars are in view.
        for page in (anna, mod):
            await page_fits(page)
            for part in ("#event-title", "#conn-status", "#top-room", "#media-box", "#side-tabs",
                         "#controlbar", "#hand-toggle", "#media-join"):
                await in_view(page, part)
        await expect(anna.locator("#top-room")).to_have_text("Plenum")

        # A checkbox sits on the line of its label (the `..check` rule was broken).
        await tab(anna, "Fragen")
        box = await anna.locator("#qa-anonymous").bounding_box()
        label = await anna.locator("label[for=qa-anonymous]").bounding_box()
        assert box and label and box["x"] + box["width"] <= label["x"], (box, label)
        assert box["y"] < label["y"] + label["height"] and label["y"] < box["y"] + box["height"], (box, label)

        # Tabs: what is new elsewhere is counted on its tab; opening the tab clears it.
        await clients[0].request("chat.send", room=room, text="Hallo aus dem Plenum")
        chat_tab = anna.get_by_role("tab", name=re.compile("^Chat"))
        await expect(chat_tab.locator(".tab__badge")).to_have_text("1")
        await expect(chat_tab).to_have_accessible_name("Chat 1 neu")
        await tab(anna, "Chat")
        await expect(chat_tab.locator(".tab__badge")).to_be_hidden()

        # A long chat, scrolled to its end: the alerts still show in view.
        for i in range(14):
            await clients[i % 2].request("chat.send", room=room, text=f"Beitrag Nummer {i}")
        await expect(anna.locator("#chat-lines .chat-line")).to_have_count(15)
        await anna.locator("#chat-lines .chat-line").last.scroll_into_view_if_needed()
        await hilde.request("poll.create", scope="event", question="Welches Projekt zuerst?", kind="single",
                            options=["Radwege", "Marktplatz"], anonymous=False, results="live")
        await expect(anna.locator("#poll-alert")).to_contain_text("Neue Abstimmung: Welches Projekt zuerst?")
        await in_view(anna, "#poll-alert")
        await expect(anna.get_by_text("Neue Abstimmung: Welches Projekt zuerst?")).to_have_count(1)  # said once
        await expect(anna.get_by_role("tab", name=re.compile("^Abstimmungen")).locator(".tab__badge")).to_have_text("1")
        await page_fits(anna)

        # The alert leads to the poll; after voting the keyboard stays on the card.
        await anna.get_by_role("button", name="Zur Abstimmung").click()
        await expect(anna.get_by_role("tab", name=re.compile("^Abstimmungen"))).to_have_attribute("aria-selected", "true")
        card = anna.locator(".poll-card").first
        await card.get_by_label("Radwege", exact=True).check()
        await card.get_by_role("button", name="Stimme abgeben").press("Enter")
        await expect(anna.locator(".poll-counted")).to_be_focused()

        # The floor: Anna raises her hand from the control bar, the moderator gives it; Anna
        # is told, in view, to join the audio, with the button to do it.
        await tab(anna, "Chat")
        await anna.locator("#chat-lines .chat-line").last.scroll_into_view_if_needed()
        await anna.get_by_role("button", name="Hand heben").click()
        await tab(mod, "Wortmeldungen")
        await mod.get_by_role("button", name="Anna Alt das Wort erteilen").click()
        alert = anna.locator("#floor-alert")
        await expect(alert).to_contain_text("Sie haben das Wort. Bitte treten Sie dem Audio bei")
        await expect(alert.get_by_role("button", name="Jetzt Audio beitreten")).to_be_visible()
        assert await alert.get_attribute("role") == "alert"
        await in_view(anna, "#floor-alert")
        await page_fits(anna)

        # The moderator's list of people is not a box of its own that cuts the last one off.
        await tab(mod, "Teilnehmende")
        people = mod.locator("#people-list > li")
        await expect(people).to_have_count(5)
        assert await mod.evaluate("getComputedStyle(document.querySelector('#people-list')).overflowY") == "visible"
        last = mod.locator("#people-list > li").last.locator(".person__actions summary")
        await last.scroll_into_view_if_needed()
        await in_view(mod, "#people-list > li:last-child .person__actions summary")
        await page_fits(mod)

        # axe-core: nothing on either page in these states (poll voted, floor given, queue,
        # a supported question, chat lines with "into the minutes", the room picker).
        await tab(anna, "Abstimmungen")
        for page in (anna, mod):
            assert await axe_violations(page) == []
        await anna.evaluate("document.body.append(Object.assign(document.createElement('img'),"
                            " {id: 'axe-probe', src: '/static/img/hand.svg'}))")
        assert "image-alt" in [v["id"] for v in await axe_violations(anna)]  # axe does run
        await anna.evaluate("document.querySelector('#axe-probe').remove()")
        await clients[1].request("question.ask", text="Wann kommt der Glasfaserausbau?")
        await tab(anna, "Fragen")
        await anna.get_by_role("button", name=re.compile("^Frage unterstützen")).click()
        await expect(anna.get_by_role("button", name=re.compile("^Unterstützt – zurücknehmen"))).to_be_visible()
        await tab(mod, "Chat")
        await expect(mod.locator(".chat-line__minutes").first).to_be_visible()
        await hilde.request("breakouts.open", assign="self")
        await expect(anna.get_by_role("button", name="Raum 1 wählen: Geodaten")).to_be_visible()
        for page in (anna, mod):
            assert await axe_violations(page) == []
        await tab(mod, "Protokoll")
        assert await axe_violations(mod) == []
        await hilde.request("breakouts.close")

        # The event ends: read-only for Anna, one notice with the way to the minutes.
        mod.once("dialog", lambda d: d.accept())
        await mod.get_by_role("button", name="Veranstaltung beenden").click()
        ended = anna.locator("#event-ended")
        await expect(ended).to_be_visible()
        await expect(anna.get_by_text("Die Veranstaltung ist beendet. Vielen Dank für Ihre Teilnahme!")).to_have_count(1)
        link = ended.get_by_role("link", name="Zum Protokoll der Veranstaltung")
        assert "/review" in (await link.get_attribute("href") or "")
        for gone in ("#controlbar", "#chat-form", "#qa-form", "#floor-alert", "#poll-alert"):
            await expect(anna.locator(gone)).to_be_hidden()
        await tab(anna, "Abstimmungen")
        await expect(anna.locator(".poll-card form")).to_have_count(0)
        await expect(anna.locator(".poll-card .badge").first).to_have_text("geschlossen")
        await in_view(anna, "#event-ended")
        assert await axe_violations(anna) == []
        console.check()
    finally:
        for c in (*clients, hilde):
            await c.close()


@pytest.mark.parametrize("size", [{"width": 390, "height": 844}, {"width": 640, "height": 400}],
                         ids=["phone", "zoom200"])  # 640x400 is 1280x800 at 200 % zoom
async def test_phone_stage_on_top_and_controls_reachable(
        server: LiveServer, browser: Browser, console: Console, size: dict[str, int]) -> None:
    async with server.http() as http:
        event = await create_event(http, title="Forum Telefon")
        mona = await api_join(http, event, "Mona Moderation", moderator=True)
    m = await Client.connect(server, event["id"], mona["token"])
    try:
        _, page = await open_page(browser, console, event["participant_url"], viewport=size,
                                  is_mobile=size["width"] < 600, has_touch=size["width"] < 600)
        await join(page, "Paul Telefon")
        stage = await page.locator("#media-box").bounding_box()
        tabs = await page.locator("#side-tabs").bounding_box()
        assert stage and tabs and stage["y"] + stage["height"] <= tabs["y"], (stage, tabs)
        await in_view(page, "#controlbar")
        for i in range(8):
            await say(page, f"Zeile {i}")
        await page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
        await in_view(page, "#controlbar")
        await m.request("breakouts.open", assign="auto")
        await m.request("breakouts.broadcast", text="Noch fünf Minuten")
        await expect(page.locator("#broadcast-box")).to_contain_text("Noch fünf Minuten")
        # No sideways scrolling (on a phone the layout viewport would widen: compare with
        # the device's width); every tab and its panel can be reached.
        width = await page.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
        assert width[0] <= size["width"] and width[1] == size["width"], width
        for name, inside in (("Teilnehmende", "#people-list"), ("Fragen", "#qa-input"),
                             ("Protokoll", "#minutes-title"), ("Chat", "#chat-input")):
            await tab(page, name)
            await page.locator(inside).scroll_into_view_if_needed()
            await expect(page.locator(inside)).to_be_in_viewport()
        console.check()
    finally:
        await m.close()


async def boxes_overlap(page: Page, a: str, b: str) -> bool:
    """Whether the boxes of two elements share more than a hairline."""
    one = await page.locator(a).bounding_box()
    two = await page.locator(b).bounding_box()
    assert one and two, (a, b, one, two)
    return (min(one["x"] + one["width"], two["x"] + two["width"]) - max(one["x"], two["x"]) > 1
            and min(one["y"] + one["height"], two["y"] + two["height"]) - max(one["y"], two["y"]) > 1)


async def test_top_bar_words_and_tab_counts_stay_readable(
        server: LiveServer, browser: Browser, console: Console) -> None:
    """The moderator at 1280x800 in a timed breakout round, with a longer name: the room
    chip beside the clock keeps "Plenum" whole (it broke into "Plenu|m", four lines high),
    nothing in the top bar overlaps, and the counts on the tabs sit beside their labels
    instead of covering "Teilnehmende"."""
    async with server.http() as http:
        event = await create_event(http, title="Forum Süd")
        helper = await api_join(http, event, "Hilde Helfer", moderator=True)
        guest = await api_join(http, event, "Gustav Gast")
    hilde = await Client.connect(server, event["id"], helper["token"])
    try:
        _, mod = await open_page(browser, console, event["moderator_url"])
        await join(mod, "Mona Moderation-Schulze")
        await hilde.request("breakouts.open", assign="self", duration_s=900)
        await expect(mod.locator("#top-time")).to_be_visible()
        await expect(mod.locator("#top-room")).to_have_text("Plenum")
        gustav = await Client.connect(server, event["id"], guest["token"])
        await gustav.request("hand.raise")
        await hilde.request("poll.create", scope="event", question="Weiter so?", kind="single",
                            options=["Ja", "Nein"], anonymous=False, results="live")
        for name in ("Teilnehmende", "Wortmeldungen", "Abstimmungen"):
            badge = mod.get_by_role("tab", name=re.compile(f"^{name}")).locator(".tab__badge")
            await expect(badge).to_be_visible()
        await page_fits(mod)
        for part in ("#top-room", "#top-time", "#conn-status", "#event-title"):
            await in_view(mod, part)
        # one line: the text of the room chip lies on a single line
        lines = await mod.locator("#top-room").evaluate(
            "el => { const r = document.createRange(); r.selectNodeContents(el);"
            " return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size; }")
        assert lines == 1, lines
        bar = ["#event-title", "#top-room", "#top-time", "#conn-status", "#me-box", ".lang-switch"]
        for i, one in enumerate(bar):
            for two in bar[i + 1:]:
                assert not await boxes_overlap(mod, one, two), (one, two)
        for key in ("people", "hands", "polls"):
            assert not await boxes_overlap(mod, f"#tab-{key} .tab__label", f"#tab-{key} .tab__badge"), key
        await gustav.close()
        console.check()
    finally:
        await hilde.close()
