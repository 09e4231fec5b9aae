from __future__ import annotations

import pytest

from tests.support.domain import World


@pytest.fixture
def world() -> World:
    w = World()
    w.create()
    return w
