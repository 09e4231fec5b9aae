from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import AsyncIterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.live import LiveServer, start_server  # noqa: E402
from tests.support.pg import postgres  # noqa: E402,F401 - the session's PostgreSQL


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    s = await start_server(tmp_path / "data")
    try:
        yield s
    finally:
        await s.stop()


def chromium_path() -> str | None:
    path = "/usr/bin/chromium"
    if os.path.exists(path):
        return path
    if os.environ.get("CI") == "true":
        pytest.fail("CI must have /usr/bin/chromium for the browser tests")
    return None
