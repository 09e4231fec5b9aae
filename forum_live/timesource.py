"""Where a runtime gets the time: the system clock, or a clock a test moves by hand.

Deadlines (breakout rounds, speaking time, countdowns) are compared with `now()`; the
runtime's clock task sleeps with `sleep()`, which a manual clock ends as soon as it is
moved, so timer tests run without waiting in real time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol


class TimeSource(Protocol):
    def now(self) -> datetime: ...
    async def sleep(self, seconds: float) -> None: ...


class SystemTime:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class ManualTime:
    """A clock that stands still until `advance()`; sleepers wake when their time came."""

    current: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    _sleepers: list[tuple[datetime, asyncio.Future[None]]] = field(default_factory=list)

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.current + timedelta(seconds=seconds), fut))
        await fut

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        keep = []
        for until, fut in self._sleepers:
            if until <= self.current:
                if not fut.done():
                    fut.set_result(None)
            elif not fut.done():
                keep.append((until, fut))
        self._sleepers = keep
