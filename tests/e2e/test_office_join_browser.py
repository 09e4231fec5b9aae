"""A whole office behind one address (issue 13): 60 people who open the link within the
same few seconds all get in. Over the join limit the server answers 429 with Retry-After;
the join page (session.js `joinPatiently`, the code behind the form) waits and tries
again by itself and says that it is busy."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from playwright.async_api import Browser, expect

from forum_live.config import Limits
from tests.support.browser import Console, open_page
from tests.support.live import create_event, start_server

# Runs inside a page: `n` people join at once through the page's own join logic.
STORM = """async ([eventId, key, n, prefix]) => {
  const { joinPatiently } = await import("/static/js/session.js");
  let busy = 0;
  const t0 = performance.now();
  const joined = await Promise.all(Array.from({ length: n }, (_, i) =>
    joinPatiently(eventId, key, `${prefix}${i}`, "Landratsamt", () => { busy += 1; })
      .then((r) => r.participant.id)));
  return { joined, busy, ms: performance.now() - t0 };
}"""


async def test_sixty_people_behind_one_address_all_get_in(tmp_path: Any, browser: Browser,
                                                          console: Console) -> None:
    # tighter than the defaults (burst 60), so that 40 of the 60 must wait and retry
    server = await start_server(tmp_path / "d", join_rate=10.0, join_burst=20)
    try:
        async with server.http() as http:
            ev = await create_event(http)
        context, first = await open_page(browser, console,
                                         f"{server.base}/e/{ev['id']}#key={ev['participant_key']}")
        pages = [first, await context.new_page(), await context.new_page()]
        for p in pages[1:]:
            console.watch(p)
            await p.goto(f"{server.base}/e/{ev['id']}#key={ev['participant_key']}")
        started = time.monotonic()
        outcomes = await asyncio.gather(*(
            p.evaluate(STORM, [ev["id"], ev["participant_key"], 20, f"Büro{n}-"])
            for n, p in enumerate(pages)))
        elapsed = time.monotonic() - started
        joined = [pid for o in outcomes for pid in o["joined"]]
        assert len(joined) == len(set(joined)) == 60
        assert sum(o["busy"] for o in outcomes) >= 40  # the waiting was real
        rt = server.forum.runtimes[ev["id"]]
        assert sum(1 for p in rt.state.participants.values()
                   if p.name.startswith("Büro")) == 60
        print(f"60 joins from one address: {elapsed:.1f} s, "
              f"{sum(o['busy'] for o in outcomes)} busy answers")
        # 429s are expected network errors in the console of this test
        console.allow(r"status of 429")
        console.check()
        await context.close()
    finally:
        await server.stop()


async def test_the_join_page_says_it_is_busy_and_gets_in(tmp_path: Any, browser: Browser,
                                                          console: Console) -> None:
    server = await start_server(tmp_path / "d", join_rate=0.25, join_burst=2)
    try:
        async with server.http() as http:
            ev = await create_event(http)
            context, page = await open_page(
                browser, console, f"{server.base}/e/{ev['id']}#key={ev['participant_key']}")
            await expect(page.locator("#join")).to_be_visible()
            for i in range(2):  # two colleagues took the last places of the burst
                r = await http.post(f"/api/events/{ev['id']}/join",
                                    json={"name": f"K{i}", "key": ev["participant_key"]})
                assert r.status_code == 200
            r = await http.post(f"/api/events/{ev['id']}/join",
                                json={"name": "K3", "key": ev["participant_key"]})
            assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        await page.get_by_label("Ihr Name").fill("Geduldig")
        await page.get_by_role("button", name="Teilnehmen").click()
        await expect(page.locator("#join-error")).to_contain_text(
            "Sie werden automatisch angemeldet")
        await expect(page.locator("#conn-status")).to_have_attribute(
            "data-state", "connected", timeout=20000)
        await expect(page.locator("#me-name")).to_have_text("Geduldig")
        console.allow(r"status of 429")
        console.check()
        await context.close()
    finally:
        await server.stop()


async def test_default_limits_let_an_office_in_and_stop_a_flood(tmp_path: Any) -> None:
    server = await start_server(tmp_path / "d", join_rate=Limits().join_rate,
                                join_burst=Limits().join_burst)
    try:
        async with server.http() as http:
            ev = await create_event(http)
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:
            async def one(i: int) -> httpx.Response:
                return await http.post(f"/api/events/{ev['id']}/join",
                                       json={"name": f"P{i}", "key": ev["participant_key"]})
            office = await asyncio.gather(*(one(i) for i in range(60)))
            assert [r.status_code for r in office] == [200] * 60
            flood = await asyncio.gather(*(one(i) for i in range(60, 260)))
            refused = [r for r in flood if r.status_code == 429]
            assert len(refused) >= 190  # a few refilled tokens at 3 a second
            assert all(1 <= int(r.headers["retry-after"]) <= 60 for r in refused)
    finally:
        await server.stop()
