"""Browser security (issue 9): hostile text in every place a person or organizer can type
is shown as text, never run, in real Chromium; the security headers on every page type;
the `lang` cookie's attributes; the socket refuses a foreign Origin.

The corpus (tests/support/xss.py) goes in through the real server — the organizer API,
joins, and socket clients of tests.support.live — into names and organizations, chat,
minutes (text, assignee), polls (question, options, text answers), Q&A, breakout room
titles, timer titles, the event's title/description/topics/speakers, a broadcast, the
waiting-room note and a removal reason. A moderator page, a participant page, the organizer
page, the review page and the series page then show it. On each page: no dialog opened, `window.__xss` was
never set, no CSP violation was reported (a payload that reached an HTML sink would have
been blocked by the CSP and reported: we want it never to get that far), no console error,
no element a payload would have made exists, and the payload text is visible, literally,
in the place it belongs (so the test proves the data was rendered at all).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from playwright.async_api import Browser, Page, expect

from tests.support.live import ORGANIZER, Client, LiveServer, auth, join
from tests.support.xss import FORBIDDEN_SELECTOR, LONG, SHORT

pytestmark = pytest.mark.browser


# Runs before any page script (Playwright injects it; the page CSP does not apply to it).
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
"""

N = len(SHORT)


def at(i: int) -> str:
    return SHORT[i % N]


EVENT = {
    "title": at(5),  # {{7*7}} ...: a template expression must stay text
    "description": " ".join(SHORT[8:12]),
    "topics": [{"title": at(i), "speaker": at(i + 1)} for i in (0, 2, 7, 14)],
    "lobby": True,
    "lobby_note": f"{at(1)} {at(13)}",
}
REASON = f"{at(3)} {at(4)}"
PAULA = f"Paula {at(2)}"


class Watch:
    """Dialogs, console errors and uncaught exceptions of every page of the test."""

    def __init__(self) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.pages: list[tuple[str, Page]] = []

    def attach(self, name: str, page: Page) -> None:
        self.pages.append((name, page))

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{name}: {dialog.type} {dialog.message!r}")
            asyncio.ensure_future(dialog.dismiss())

        page.on("dialog", on_dialog)
        page.on("console", lambda m: self.errors.append(f"{name}: {m.text}")
                if m.type == "error" or "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda e: self.errors.append(f"{name}: uncaught {e}"))

    async def check(self) -> None:
        for name, page in self.pages:
            if page.is_closed():
                continue
            assert await page.evaluate("typeof window.__xss") == "undefined", name
            assert await page.evaluate("window.__csp") == [], name
            made = await page.evaluate(
                "(sel) => Array.from(document.querySelectorAll(sel),"
                " (e) => e.outerHTML.slice(0, 120))", FORBIDDEN_SELECTOR)
            assert made == [], (name, made)
            # and no frame was created by anything (an iframe srcdoc payload would make one)
            assert len(page.frames) == 1, (name, [f.url for f in page.frames])
        assert self.dialogs == []
        assert self.errors == []


async def open_page(browser: Browser, watch: Watch, name: str, url: str) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(8000)
    await context.add_init_script(WATCH)
    page = await context.new_page()
    watch.attach(name, page)
    await page.goto(url)
    return page


async def shows(page: Page, selector: str, texts: list[str], visible: bool = True) -> None:
    """Wait until the element's rendered text (innerText; textContent when `visible` is
    False, for collapsed details) holds every one of `texts` literally."""
    prop = "innerText" if visible else "textContent"
    js = f"""([sel, texts]) => {{
        const el = document.querySelector(sel);
        if (!el) return false;
        const have = el.{prop};
        return texts.every((t) => have.includes(t));
    }}"""
    try:
        await page.wait_for_function(js, arg=[selector, texts], timeout=20_000)
    except Exception:
        have = await page.evaluate(
            f"(sel) => {{ const el = document.querySelector(sel); return el ? el.{prop} : null; }}",
            selector)
        missing = [t for t in texts if have is None or t not in have]
        raise AssertionError(f"{selector}: not shown as text: {missing!r}\n--- has:\n{have!r}")


async def join_in_page(page: Page, name: str, organization: str) -> None:
    await expect(page.locator("#join")).to_be_visible()
    await page.locator("#join-name").fill(name)
    await page.locator("#join-org").fill(organization)
    await page.locator("#join-submit").click()
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "connected")


async def test_the_corpus_is_inert_on_every_page(server: LiveServer, browser: Browser) -> None:
    watch = Watch()
    async with server.http() as http:
        r = await http.post("/api/events", headers=auth(), json=EVENT)
        assert r.status_code == 201, r.text
        ev = r.json()
        sock_mod = await join(http, ev, at(12), moderator=True, organization=at(6))
    plenary = ev["plenary_room"]
    topic_titles = [t["title"] for t in EVENT["topics"]]
    speakers = [t["speaker"] for t in EVENT["topics"]]
    m = await Client.connect(server, ev["id"], sock_mod["token"], close_timeout=0.5)
    clients: list[Client] = []
    try:
        # A moderator page (moderators never wait) and a participant page (waits first).
        mod = await open_page(browser, watch, "moderator", ev["moderator_url"])
        await join_in_page(mod, "Mona Moderation", at(9))
        part = await open_page(browser, watch, "participant", ev["participant_url"])
        await join_in_page(part, PAULA, at(0))
        await shows(part, "#lobby-wait-note", [EVENT["lobby_note"]])
        await shows(part, "#event-title", [EVENT["title"]])

        # One person per payload, named after it, from an organization named after another.
        async with server.http() as http:
            people = [await join(http, ev, at(i), organization=at(i + 3)) for i in range(N)]
        clients = list(await asyncio.gather(*(
            Client.connect(server, ev["id"], p["token"], close_timeout=0.5) for p in people)))
        await shows(mod, "#lobby-list", SHORT)  # the waiting room lists them by name
        assert (await m.request("lobby.admit", all=True))["type"] == "ok"
        await expect(part.locator("#live")).to_be_visible()
        for c in clients:
            await c.wait_for(lambda e: e["type"] == "lobby.admitted")

        # Everyone says, asks and is written down with hostile text.
        replies = await asyncio.gather(*(c.requests(
            {"type": "chat.send", "room": plenary, "text": at(i)},
            {"type": "question.ask", "text": at(i + 5)},
            {"type": "hand.raise"} if i < 3 else {"type": "ping"},
        ) for i, c in enumerate(clients)))
        assert all(r["type"] == "ok" for rs in replies for r in rs), replies
        frames: list[dict[str, Any]] = [
            {"type": "chat.send", "room": plenary, "text": LONG},
            {"type": "minutes.add", "room": plenary, "kind": "note", "text": LONG},
            *({"type": "minutes.add", "room": plenary, "kind": "action", "text": at(i),
               "assignee": at(i + 1)} for i in range(N)),
            {"type": "poll.create", "scope": "event", "question": at(7), "kind": "single",
             "options": SHORT, "anonymous": False, "results": "live"},
            {"type": "poll.create", "scope": "event", "question": at(3), "kind": "text",
             "anonymous": False, "results": "live"},
            *({"type": "timer.start", "room": plenary, "title": at(i), "mode": "countdown",
               "seconds": 900} for i in (0, 1, 10, 15)),
            {"type": "breakouts.open", "assign": "self",
             "rooms": [{"title": at(i)} for i in range(N)]},
            {"type": "floor.give", "participant": people[1]["participant"]["id"]},
        ]
        assert all(r["type"] == "ok" for r in await m.requests(*frames)), "setup refused"
        polls = [e["poll"] for e in m.of("poll.opened")]
        single, text_poll = polls
        votes = await asyncio.gather(*(c.requests(
            {"type": "poll.vote", "poll": single["id"], "choice": i},
            {"type": "poll.vote", "poll": text_poll["id"], "text": at(i + 7)},
        ) for i, c in enumerate(clients)))
        assert all(r["type"] == "ok" for rs in votes for r in rs), votes
        assert (await m.request("breakouts.broadcast", text=LONG))["type"] == "ok"

        # Both live pages show every payload as text, each in its place.
        names = [p["participant"]["name"] for p in people]
        assert names == SHORT  # the server keeps what was typed, byte for byte
        for page in (mod, part):
            await shows(page, "#event-title", [EVENT["title"]])
            await shows(page, "#event-meta", [EVENT["description"]])
            await shows(page, "#agenda-list", topic_titles + speakers)
            await shows(page, "#people-list", names)
            await shows(page, "#people-list", [at(i + 3) for i in range(N)], visible=False)
            await shows(page, "#chat-lines", SHORT + [LONG])
            await shows(page, "#qa-list", SHORT)
            await shows(page, "#minutes-groups", SHORT + [LONG])
            await shows(page, "#poll-list", SHORT)  # question, options, text answers
            await shows(page, "#timer-list", [at(0), at(1), at(10), at(15)])
            await shows(page, "#breakouts-body", SHORT)
            await shows(page, "#broadcast-text", [LONG])
            await shows(page, "#hand-queue", [at(0), at(2)])
            await shows(page, "#floor-speaker", [at(1)])
        await shows(mod, "#people-list", [at(9), at(0)], visible=False)  # the pages' own orgs
        await shows(part, "#me-name", [PAULA])
        await watch.check()

        # The organizer page: the event list, and a forum created through its form.
        org = await open_page(browser, watch, "organizer", f"{server.base}/organizer")
        await org.locator("#org-token").fill(ORGANIZER)
        await org.locator("#org-token").press("Enter")
        await shows(org, "#events-list", [EVENT["title"]])
        await org.locator("#ev-title").fill(at(0))
        await org.locator("#ev-description").fill(at(1))
        await org.locator(".topic-row__title").first.fill(at(8))
        await org.locator(".topic-row__speaker").first.fill(at(13))
        await org.locator("#create-form [type=submit]").click()
        await shows(org, "#created-name", [at(0)])
        await shows(org, "#events-list", [at(0), EVENT["title"]])

        # The review page: the whole record, server-rendered, and its search.
        review = await open_page(browser, watch, "review",
                                 f"{server.base}/events/{ev['id']}/review?token={ORGANIZER}")
        await shows(review, "#review-record",
                    [EVENT["title"], *topic_titles, *speakers, LONG, *SHORT])
        await review.locator("#review-search").fill(at(0))
        await expect(review.locator("#review-search-status")).not_to_be_empty()
        await review.locator("#review-search").fill(at(7))
        await review.locator("#review-search").fill("")

        # The series page: every action of the series with its assignee, server-rendered
        # (the organizer's cookie, as the desk sets it).
        series = await open_page(browser, watch, "series", "about:blank")
        r = await series.context.request.post(
            f"{server.base}/api/events/{ev['id']}/session", headers=auth())
        assert r.status == 204, await r.text()
        await series.goto(f"{server.base}/series/{ev['series_id']}")
        await shows(series, "#series", [EVENT["title"], *SHORT])

        # Removal with a hostile reason: the removed person reads it as text.
        session = await part.evaluate("(k) => JSON.parse(localStorage.getItem(k))",
                                      f"forum-live:session:{ev['id']}:{ev['participant_key']}")
        r = await m.request("participant.remove", participant=session["participant"]["id"],
                            reason=REASON)
        assert r["type"] == "ok", r
        await shows(part, "#lobby-gone-reason", [REASON])
        await watch.check()
    finally:
        await asyncio.gather(*(c.close() for c in (m, *clients)))


# -- headers, cookie, origin ------------------------------------------------------------------
def check_headers(r: httpx.Response) -> None:
    where = f"{r.request.method} {r.request.url.path}"
    csp = {d.split()[0]: d.split()[1:] for d in
           (x.strip() for x in r.headers.get("content-security-policy", "").split(";")) if d}
    script = csp.get("script-src", csp.get("default-src"))
    assert script == ["'self'"], (where, csp)  # no unsafe-inline, unsafe-eval, data:, *
    assert csp.get("default-src") == ["'self'"], (where, csp)
    assert csp.get("object-src") == ["'none'"] and csp.get("base-uri") == ["'none'"], where
    assert csp.get("frame-ancestors") == ["'none'"], (where, csp)
    assert "'unsafe-inline'" not in csp.get("style-src", []), (where, csp)
    assert r.headers.get("x-frame-options") == "DENY", where
    assert r.headers.get("referrer-policy") == "no-referrer", where
    assert r.headers.get("x-content-type-options") == "nosniff", where


async def test_security_headers_on_every_page_type(server: LiveServer) -> None:
    async with server.http() as http:
        ev = (await http.post("/api/events", headers=auth(),
                              json={"title": "Kopfzeilen", "topics": []})).json()
        eid = ev["id"]
        paths = ["/", "/?lang=en", "/organizer", f"/e/{eid}?key={ev['participant_key']}",
                 f"/e/{eid}?key=wrong", f"/events/{eid}/review?token={ORGANIZER}",
                 f"/events/{eid}/review?token=forged", "/static/js/app.js",
                 "/static/css/app.css", "/i18n/de.json", "/healthz", "/openapi.json",
                 "/nope", f"/api/events/{eid}", f"/api/events/{eid}/minutes.html",
                 f"/series/{ev['series_id']}", "/series/nope"]
        for path in paths:
            r = await http.get(path, headers=auth() if path.startswith("/api") else None)
            assert r.status_code < 500, (path, r.status_code)
            check_headers(r)
        check_headers(await http.post(f"/api/events/{eid}/join", content=b"{bad"))


async def test_lang_cookie_is_lax_and_secure_over_https(server: LiveServer) -> None:
    async with server.http() as http:
        # Only the language switch sets a cookie (tokens live in the page's storage).
        assert "set-cookie" not in (await http.get("/")).headers
        plain = (await http.get("/?lang=en")).headers["set-cookie"]
        attrs = [a.strip().lower() for a in plain.split(";")]
        assert attrs[0] == "lang=en" and "samesite=lax" in attrs and "path=/" in attrs
        assert "secure" not in attrs  # plain http: a Secure cookie would not come back
        # Behind a TLS proxy: uvicorn honours X-Forwarded-Proto from the addresses in
        # FORWARDED_ALLOW_IPS (default 127.0.0.1), so the app sees https and marks it Secure.
        tls = (await http.get("/organizer?lang=de",
                              headers={"X-Forwarded-Proto": "https"})).headers["set-cookie"]
        attrs = [a.strip().lower() for a in tls.split(";")]
        assert attrs[0] == "lang=de" and "samesite=lax" in attrs and "secure" in attrs
        assert "set-cookie" not in (await http.get("/?lang=xx")).headers


@pytest.mark.parametrize("origin", ["http://evil.example", "null",
                                    "http://127.0.0.1.evil.example",
                                    "http://evil.example/127.0.0.1"])
async def test_socket_refuses_a_foreign_origin(server: LiveServer, origin: str) -> None:
    async with server.http() as http:
        ev = (await http.post("/api/events", headers=auth(),
                              json={"title": "Herkunft", "topics": []})).json()
        person = await join(http, ev, "Anna")
    url = f"{server.ws_base}/ws/events/{ev['id']}"
    port = server.settings.port
    bad = origin.replace("127.0.0.1", f"127.0.0.1:{port}")
    # The server closes before accepting, which uvicorn answers with HTTP 403 at the
    # handshake: the page on the other site never gets a socket, let alone a 4401 frame.
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(url, origin=bad)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    async with websockets.connect(url, origin=server.base) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "hello", "token": person["token"]}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "ready"
