"""Driving the browser app in real Chromium (Debian's /usr/bin/chromium via Playwright's
async API), shared by the browser tests and the screenshot scripts."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, expect

CHROMIUM = "/usr/bin/chromium"
# Headless as root, and no background traffic: this machine reaches no other network.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# Fake camera and microphone, and WebRTC over loopback only (media tests).
MEDIA_ARGS = [*ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              "--allow-loopback-in-peer-connection"]

# Records what the page sends on its sockets, so a test can see the resume_from it used.
SPY_SOCKETS = """
window.__sent = [];
const originalSend = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  window.__sent.push(String(data));
  return originalSend.call(this, data);
};
"""


class Console:
    """Console errors and uncaught exceptions of every page of a test."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[re.Pattern[str]] = []

    def watch(self, page: Page) -> None:
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def check(self) -> None:
        bad = [e for e in self.errors if not any(p.search(e) for p in self.allowed)]
        assert not bad, bad


async def open_page(browser: Browser, console: Console, url: str,
                    **context_args: Any) -> tuple[BrowserContext, Page]:
    """A fresh context (own storage, like another person's browser) showing `url`."""
    context_args.setdefault("viewport", {"width": 1280, "height": 800})
    context = await browser.new_context(**context_args)
    context.set_default_timeout(20000)  # a deadline on a loaded CI machine, not a speed
    await context.add_init_script(SPY_SOCKETS)
    page = await context.new_page()
    console.watch(page)
    await page.goto(url)
    return context, page


async def join(page: Page, name: str, organization: str = "") -> None:
    """Fill the German join form and wait until the live view is connected."""
    await expect(page.locator("#join")).to_be_visible()
    await page.get_by_label("Ihr Name").fill(name)
    if organization:
        await page.get_by_label("Organisation (optional)").fill(organization)
    await page.get_by_role("button", name="Teilnehmen").click()
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#me-name")).to_have_text(name)


async def joined(browser: Browser, console: Console, url: str, name: str,
                 **context_args: Any) -> Page:
    """open_page() and join() as `name`: one more person in the event, connected (their
    browser context is `page.context`)."""
    _, page = await open_page(browser, console, url, **context_args)
    await join(page, name)
    return page


async def media_page(browser: Browser, url: str, name: str, init_script: str | None = None,
                     **context_args: Any) -> Page:
    """For the media tests (a browser with fake devices, no console watch): a person's page
    in a context of their own with 10 s timeouts, joined as `name` (`init_script` runs
    before the app, e.g. a spy)."""
    context = await browser.new_context(**context_args)
    context.set_default_timeout(10000)
    if init_script:
        await context.add_init_script(init_script)
    page = await context.new_page()
    await page.goto(url)
    await join(page, name)
    return page


async def say(page: Page, text: str) -> None:
    box = page.locator("#chat-input")
    await box.fill(text)
    await box.press("Enter")
    await expect(box).to_have_value("")


def line(page: Page, text: str):  # type: ignore[no-untyped-def]
    return page.locator("#chat-lines .chat-line", has_text=text)


async def hellos(page: Page) -> list[dict[str, Any]]:
    sent = await page.evaluate("window.__sent")
    return [f for f in map(json.loads, sent) if f.get("type") == "hello"]
