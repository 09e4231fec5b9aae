"""Video and screen share forwarded, not re-encoded.

A publisher's receiver hands us its reassembled VP8 frames (aiortc_internals), a
`VideoSource` fans them out to `ForwardTrack`s, which hand them as encoded packets to each
viewer's sender (aiortc packetizes them again, no decode, no encode). Keyframe requests
(PLI) from viewers go back to the publisher, and every new subscription asks for one, so
a new viewer sees a picture within a round trip rather than at the next periodic keyframe.
Relay buffers are bounded: a viewer that falls behind drops to the next keyframe.
"""

from __future__ import annotations

import fractions
import time
from collections import deque
from typing import Any, Callable

import av

from .queued import QueuedTrack

from . import aiortc_internals as internals

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
PLI_MIN_INTERVAL_S = 0.25


def is_keyframe(data: bytes) -> bool:
    return bool(data) and not (data[0] & 1)


def vp8_size(data: bytes) -> tuple[int, int] | None:
    if len(data) >= 10 and data[3:6] == b"\x9d\x01\x2a":
        return (int.from_bytes(data[6:8], "little") & 0x3FFF,
                int.from_bytes(data[8:10], "little") & 0x3FFF)
    return None


class VideoSource:
    """One published stream (a camera or a screen) of one participant."""

    def __init__(self, pid: str, kind: str, receiver: Any,
                 spawn: Callable[[Any], None]) -> None:
        self.pid = pid
        self.kind = kind  # "camera" | "screen"
        self.receiver = receiver
        self.sinks: set[Any] = set()
        self.published = False
        self.frames = 0
        self.keyframes = 0
        self.plis = 0
        self._spawn = spawn
        self._last_pli = 0.0
        self._pli_pending = False

    def on_frame(self, frame: Any) -> None:
        data: bytes = frame.data
        key = is_keyframe(data)
        self.frames += 1
        if key:
            self.keyframes += 1
            self._pli_pending = False
        for sink in tuple(self.sinks):
            sink.feed(data, frame.timestamp, key)
        if self._pli_pending:
            self.request_keyframe()

    def request_keyframe(self) -> None:
        now = time.monotonic()
        if now - self._last_pli < PLI_MIN_INTERVAL_S:
            self._pli_pending = True  # retried on the next frame
            return
        sources = self.receiver.getSynchronizationSources()
        if not sources:
            self._pli_pending = True
            return
        self._last_pli = now
        self._pli_pending = False
        self.plis += 1
        self._spawn(internals.send_pli(self.receiver, sources[0].source))

    def close(self) -> None:
        for sink in tuple(self.sinks):
            sink.detach(self)
        self.sinks.clear()


class ForwardTrack(QueuedTrack[tuple[bytes, int]]):
    """One video slot of one viewer: forwards whichever source it is switched to."""

    kind = "video"

    def __init__(self, depth: int = 30) -> None:
        super().__init__(deque())
        self.source: VideoSource | None = None
        self._depth = depth
        self._need_key = True
        self._base = 0  # output timestamp of the first frame of the current source
        self._first: int | None = None  # its input timestamp
        self._last_out = 0
        self.forwarded = 0
        self.overflows = 0

    def attach_sender(self, sender: Any) -> None:
        internals.on_keyframe_request(sender, self.keyframe_requested)

    def keyframe_requested(self) -> None:
        if self.source is not None:
            self.source.request_keyframe()

    def switch(self, source: VideoSource | None) -> None:
        if source is self.source:
            return
        if self.source is not None:
            self.source.sinks.discard(self)
        self.source = source
        self._q.clear()
        self._need_key = True
        self._first = None
        if source is not None:
            source.sinks.add(self)
            source.request_keyframe()

    def detach(self, source: VideoSource) -> None:
        if self.source is source:
            self.switch(None)

    def feed(self, data: bytes, ts: int, key: bool) -> None:
        if self._need_key:
            if not key:
                if self.source is not None:
                    self.source.request_keyframe()
                return
            self._need_key = False
        if len(self._q) >= self._depth:  # the sender fell behind: restart at a keyframe
            self.overflows += 1
            self._q.clear()
            self._need_key = not key
            if not key:
                if self.source is not None:
                    self.source.request_keyframe()
                return
        if self._first is None:
            self._first = ts
            self._base = self._last_out + 3000 if self.forwarded else 0
        out = (self._base + (ts - self._first)) & 0xFFFFFFFF
        self._last_out = out
        self._push((data, out))

    async def recv(self) -> Any:
        data, ts = await self._next()
        packet = av.Packet(data)
        packet.pts = ts
        packet.time_base = VIDEO_TIME_BASE
        self.forwarded += 1
        return packet

    def stop(self) -> None:
        self.switch(None)
        super().stop()
