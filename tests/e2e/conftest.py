"""Fixtures of the browser tests: one Chromium per test, a console watcher."""

from __future__ import annotations

from typing import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.conftest import chromium_path
from tests.support.browser import ARGS, MEDIA_ARGS, Console


# expect()'s own default is 5 s: a deadline that a loaded 2-core CI machine can miss
expect.set_options(timeout=20_000)


async def chromium(args: list[str]) -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        pytest.skip("chromium is not installed at /usr/bin/chromium")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=path, headless=True, args=args)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async for b in chromium(ARGS):
        yield b


@pytest.fixture
async def media_browser() -> AsyncIterator[Browser]:
    """With a fake camera and microphone, and WebRTC over loopback (the media tests)."""
    async for b in chromium(MEDIA_ARGS):
        yield b


@pytest.fixture
def console() -> Console:
    return Console()
