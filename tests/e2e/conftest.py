"""Fixtures of the browser tests: one Chromium per test, a console watcher."""

from __future__ import annotations

from typing import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.conftest import chromium_path
from tests.support.browser import ARGS, Console


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        pytest.skip("chromium is not installed at /usr/bin/chromium")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=path, headless=True, args=ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
def console() -> Console:
    return Console()
