"""A moderator listens in on a breakout room from the plenary (the cockpit's "Mithören"):
the people in that room see it, pinned in view among the alerts and announced politely,
also with the chat scrolled and after a reload, with the moderator marked in the people
list; it goes away when the listening stops; axe finds nothing."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.support.axe import axe_violations
from tests.support.browser import Console, join, open_page
from tests.support.live import Client, LiveServer, create_event, join as api_join

pytestmark = pytest.mark.browser


async def test_room_members_see_that_the_moderation_listens_in(
        server: LiveServer, browser: Browser, console: Console) -> None:
    async with server.http() as http:
        event = await create_event(http, title="Forum Mithören",
                                   topics=[{"title": "Geodaten"}, {"title": "Mobilität"}])
        helper = await api_join(http, event, "Hilde Helfer", moderator=True)
        talkers = [await api_join(http, event, name) for name in ("Carl Chor", "Dora Dach")]
    hilde = await Client.connect(server, event["id"], helper["token"])
    clients = [await Client.connect(server, event["id"], p["token"]) for p in talkers]
    try:
        _, anna = await open_page(browser, console, event["participant_url"])
        await join(anna, "Anna Alt")
        _, mona = await open_page(browser, console, event["moderator_url"])
        await join(mona, "Mona Moderation")
        people = (await hilde.request("state.sync"))["state"]["participants"]
        anna_id = next(p["id"] for p in people if p["name"] == "Anna Alt")
        opened = await hilde.request("breakouts.open", assign="manual", assignments={
            anna_id: 0, **{p["participant"]["id"]: 0 for p in talkers}})
        assert opened["type"] == "ok", opened
        room = (await hilde.wait_for(lambda e: e["type"] == "breakouts.opened"))["rooms"][0]["id"]
        await expect(anna.locator("#room-banner-text")).to_have_text(re.compile("Sie sind in Raum 1"))
        notice = anna.locator("#listen-notice")
        await expect(notice).to_be_hidden()

        # Mona listens in on room 1 from the plenary: Anna is told, calmly and in view.
        await mona.get_by_role("button", name="Mithören in Raum 1: Geodaten").click()
        await expect(notice).to_have_text("Die Moderation hört zu: Mona Moderation")
        assert await notice.get_attribute("role") == "status"
        await expect(notice).to_be_in_viewport(ratio=1)
        await expect(mona.locator("#listen-notice")).to_be_hidden()  # she is not in room 1

        # A long chat in the room, scrolled to its end: the notice is still in view.
        for i in range(16):
            sent = await clients[i % 2].request("chat.send", room=room, text=f"Beitrag {i}")
            assert sent["type"] == "ok", sent
        await expect(anna.locator("#chat-lines .chat-line")).to_have_count(16)
        await anna.locator("#chat-lines .chat-line").last.scroll_into_view_if_needed()
        await anna.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
        await expect(notice).to_be_in_viewport(ratio=1)

        # The people list marks Mona as listening.
        await anna.get_by_role("tab", name=re.compile("^Teilnehmende")).click()
        mona_row = anna.locator("#people-list > li", has_text="Mona Moderation")
        await expect(mona_row.locator(".person__listening")).to_have_text("hört zu")
        assert await axe_violations(anna) == []

        # A reload (like a late joiner) shows it at once from the state it starts with.
        await anna.reload()
        await expect(anna.locator("#conn-status")).to_have_attribute("data-state", "connected")
        await expect(notice).to_have_text("Die Moderation hört zu: Mona Moderation")
        await expect(notice).to_be_in_viewport(ratio=1)
        assert await axe_violations(anna) == []

        # Mona stops: the notice and the mark are gone, and Anna hears that it ended.
        await mona.get_by_role("button", name="Mithören beenden (Raum 1: Geodaten)").click()
        await expect(notice).to_be_hidden()
        await expect(anna.locator("#live-notice")).to_have_text("Die Moderation hört nicht mehr zu.")
        await anna.get_by_role("tab", name=re.compile("^Teilnehmende")).click()
        await expect(anna.locator("#people-list .person__listening")).to_have_count(0)
        assert await axe_violations(anna) == []
        console.check()
    finally:
        for c in (hilde, *clients):
            await c.close()
