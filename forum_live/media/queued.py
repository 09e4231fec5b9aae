"""A track whose sender reads encoded packets that we put into a queue ourselves."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Generic, TypeVar

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

T = TypeVar("T")


class QueuedTrack(MediaStreamTrack, Generic[T]):
    """aiortc's sender awaits `recv()`; subclasses `_push` items and turn what `_next`
    hands out into packets. Stopping wakes a waiting sender so it ends."""

    def __init__(self, queue: deque[T]) -> None:
        super().__init__()
        self._q = queue
        self._ready = asyncio.Event()

    def _push(self, item: T) -> None:
        self._q.append(item)
        self._ready.set()

    async def _next(self) -> T:
        while not self._q:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        return self._q.popleft()

    async def recv(self) -> Any:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def stop(self) -> None:
        super().stop()
        self._ready.set()
