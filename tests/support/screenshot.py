"""The demo forum the screenshot scripts (tests/e2e/make_screenshot*.py) photograph: a
server of its own in a temporary directory, the forum with its three topics, a few people
connected over the socket, and a headless Chromium."""

from __future__ import annotations

import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from playwright.async_api import Browser, async_playwright

from tests.support.browser import ARGS, CHROMIUM
from tests.support.live import Client, LiveServer, auth, join, start_server

TOPICS = [{"title": "Arbeiten 4.0: Wie wollen wir morgen arbeiten?", "speaker": "Dr. Petra Hansen"},
          {"title": "Geodaten im ländlichen Raum", "speaker": "Jens Albers"},
          {"title": "Smart Mobility im ländlichen Raum"}]


@asynccontextmanager
async def demo_forum(people: list[tuple[str, str, bool]], **event: Any
                     ) -> AsyncIterator[tuple[LiveServer, dict[str, Any], dict[str, Client],
                                              Browser]]:
    """The server, the forum (`event` adds fields to its creation), the socket client of
    each of `people` (name, organization, moderator?) by name, and the browser; all of it
    closed and stopped afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        server = await start_server(Path(tmp))
        try:
            async with server.http() as http:
                r = await http.post("/api/events", headers=auth(), json={
                    "title": "Regionales Digitalisierungszentrum – Diskussionsforum 1",
                    "starts_at": "2025-03-12T17:00:00+01:00", "topics": TOPICS, **event})
                forum = r.json()
                clients = {}
                for name, org, mod in people:
                    j = await join(http, forum, name, moderator=mod, organization=org)
                    clients[name] = await Client.connect(server, forum["id"], j["token"])
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM,
                                                   headless=True, args=ARGS)
                yield server, forum, clients, browser
                await browser.close()
            for client in clients.values():
                await client.close()
        finally:
            await server.stop()
