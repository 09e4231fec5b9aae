"""Text limits and the chat token bucket."""

from __future__ import annotations

import pytest

from forum_live.config import Limits
from forum_live.domain.commands import ChatSend
from forum_live.domain.errors import Invalid, TooLarge
from forum_live.domain.limits import TokenBucket

from tests.support.domain import World


def _send(world: World, pid: str, text: str) -> None:
    world.do(pid, ChatSend(type="chat.send", room=world.state.plenary_room, text=text))


def test_empty_or_blank_text_is_invalid(world: World) -> None:
    anna = world.join("Anna")
    for text in ("", "   ", "\n\t"):
        with pytest.raises(Invalid) as exc:
            _send(world, anna, text)
        assert exc.value.code == "invalid"
    assert world.state.chat_count == 0


def test_text_over_the_limit_is_too_large_and_at_the_limit_passes() -> None:
    world = World(limits=Limits(text_max=50))
    world.create()
    anna = world.join("Anna")
    with pytest.raises(TooLarge) as exc:
        _send(world, anna, "x" * 51)
    assert exc.value.code == "too_large"
    _send(world, anna, "x" * 50)
    _send(world, anna, "ü" * 50)  # characters, not bytes
    assert world.state.chat_count == 2


def test_default_text_limit_is_2000_characters(world: World) -> None:
    anna = world.join("Anna")
    _send(world, anna, "a" * 2000)
    with pytest.raises(TooLarge):
        _send(world, anna, "a" * 2001)


def test_bucket_allows_a_burst_of_ten_then_refuses() -> None:
    b = TokenBucket(rate=5.0, burst=10)
    assert [b.take(100.0) for _ in range(10)] == [True] * 10
    assert b.take(100.0) is False
    assert b.take(100.0) is False  # a refusal takes nothing and gives nothing


def test_bucket_refills_at_its_rate_using_the_passed_clock() -> None:
    b = TokenBucket(rate=5.0, burst=10)
    for _ in range(10):
        assert b.take(0.0)
    assert not b.take(0.1)  # half a token
    assert b.take(0.2)  # one token after 0.2 s at 5/s
    assert not b.take(0.2)
    assert [b.take(1.2) for _ in range(6)] == [True] * 5 + [False]  # 1 s later: 5 more


def test_bucket_never_holds_more_than_its_burst() -> None:
    b = TokenBucket(rate=5.0, burst=10)
    b.take(0.0)
    results = [b.take(3600.0) for _ in range(11)]  # an hour idle refills to 10, not more
    assert results == [True] * 10 + [False]


def test_bucket_ignores_a_clock_that_goes_back() -> None:
    b = TokenBucket(rate=5.0, burst=2)
    assert b.take(10.0) and b.take(10.0)
    assert not b.take(5.0)
    assert b.take(10.25)
