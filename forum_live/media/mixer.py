"""Audio mixed per room, as BigBlueButton mixes with FreeSWITCH.

Each speaker is decoded once (by aiortc's receiver) and read by one task into a short
bounded queue; every 20 ms the room's tick takes one frame per speaker, keeps the loudest
few (`max_mixed`), sums them once and gives each listener the sum minus their own voice,
Opus-encoded inline and handed to the listener's sender as an encoded packet (no
resampling, no encoder thread hop). Listeners whose own voice is not in the mix all hear
the same thing, so that stream is encoded once and shared: the cost is one encode per
mixed speaker plus one, not one per listener.
"""

from __future__ import annotations

import asyncio
import fractions
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import av
import numpy as np
from .queued import QueuedTrack

RATE = 48000
SAMPLES = 960  # 20 ms
FRAME_S = SAMPLES / RATE
TIME_BASE = fractions.Fraction(1, RATE)
SPEAKING_RMS = 300.0  # int16 RMS above which a frame counts as speech (≈ -40 dBFS)
SILENCE_RMS = 30.0  # below this a speaker is not mixed at all
INPUT_DEPTH = 4  # frames buffered per speaker before the oldest is dropped (80 ms)


class OpusEncoder:
    """Mono Opus at 48 kHz, 20 ms frames (valid in an opus/48000/2 RTP stream)."""

    def __init__(self, bitrate: int = 32000) -> None:
        c = av.CodecContext.create("libopus", "w")
        c.sample_rate = RATE
        c.layout = "mono"
        c.format = "s16"
        c.bit_rate = bitrate
        c.options = {"application": "voip"}
        c.open()
        self.codec = c
        self.pts = 0

    def encode(self, pcm: np.ndarray) -> bytes | None:
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self.pts
        self.pts += SAMPLES
        packets = self.codec.encode(frame)
        return bytes(packets[0]) if packets else None


class MixTrack(QueuedTrack[bytes]):
    """What one listener's audio sender reads: encoded Opus packets from the mixer, in a
    bounded queue (a stalled sender loses the oldest packets, never grows memory)."""

    kind = "audio"

    def __init__(self, depth: int = 10) -> None:
        super().__init__(deque(maxlen=depth))
        self._pts = 0
        self.dropped = 0
        self.sent = 0

    def put(self, data: bytes) -> None:
        if len(self._q) == self._q.maxlen:
            self.dropped += 1
        self._push(data)

    async def recv(self) -> Any:
        packet = av.Packet(await self._next())
        packet.pts = self._pts
        packet.time_base = TIME_BASE
        self._pts += SAMPLES
        self.sent += 1
        return packet


@dataclass(eq=False)
class AudioInput:
    """One participant's microphone as the mixers see it."""

    pid: str
    frames: deque[np.ndarray] = field(default_factory=lambda: deque(maxlen=8))
    muted: bool = False
    speaking_s: float = 0.0  # not yet journaled
    received: int = 0

    _decoder: Any = None

    def push_encoded(self, frame: Any) -> None:
        """A reassembled Opus frame from the receiver (aiortc_internals diverts it here, on
        the loop): decoded once, right here, to mono. No decoder thread per speaker: 40
        threads waking 50 times a second cost more in GIL hand-offs than the decoding."""
        if self._decoder is None:
            d = av.CodecContext.create("libopus", "r")
            d.sample_rate = RATE
            d.layout = "mono"
            d.format = "s16"
            self._decoder = d
        packet = av.Packet(frame.data)
        packet.pts = frame.timestamp
        packet.time_base = TIME_BASE
        try:
            for f in self._decoder.decode(packet):
                self.push(f)
        except av.FFmpegError:
            pass

    def push(self, frame: Any) -> None:
        """A decoded aiortc AudioFrame (s16, stereo or mono, 960 samples) -> mono int16."""
        arr = frame.to_ndarray()
        channels = len(frame.layout.channels)
        if arr.shape[0] == 1 and channels > 1:  # packed: interleaved samples
            mono = arr[0, ::channels]
        else:
            mono = arr[0]
        if mono.shape[0] != SAMPLES:
            return
        self.received += 1
        self.frames.append(mono.astype(np.int16, copy=False))
        while len(self.frames) > INPUT_DEPTH:
            self.frames.popleft()


@dataclass(eq=False)
class RoomMixer:
    room: str
    max_mixed: int = 5
    inputs: dict[str, AudioInput] = field(default_factory=dict)
    outputs: dict[str, MixTrack] = field(default_factory=dict)
    recorders: list[Any] = field(default_factory=list)  # .write(pcm int16 mono)
    encoders: dict[str | None, OpusEncoder] = field(default_factory=dict)
    speaking: dict[str, float] = field(default_factory=dict)  # pid -> level 0..1, last tick
    mixed: list[str] = field(default_factory=list)
    ticks: int = 0
    encodes: int = 0
    _idle: dict[str | None, int] = field(default_factory=dict)
    _heard: dict[str, int] = field(default_factory=dict)

    def _select(self, levels: dict[str, float]) -> list[str]:
        """The loudest `max_mixed`, with hysteresis: who is in the mix stays in while still
        audible unless a newcomer is clearly (2×) louder, so the set (and with it the
        listeners' encoders) does not flicker between speakers of similar loudness."""
        for p in levels:
            self._heard[p] = self.ticks
        # a mixed speaker stays in through short gaps (a late packet, a breath: 0.5 s)
        keep = [p for p in self.mixed if p in self.inputs
                and self.ticks - self._heard.get(p, -1000) <= 25]
        ranked = sorted(levels, key=levels.__getitem__, reverse=True)
        for p in ranked:
            if p in keep:
                continue
            if len(keep) < self.max_mixed:
                keep.append(p)
                continue
            weakest = min(keep, key=lambda q: levels.get(q, 0.0))
            if levels[p] > 2.0 * levels.get(weakest, 0.0):
                keep.remove(weakest)
                keep.append(p)
            else:
                break
        self.mixed = keep
        return keep

    @property
    def empty(self) -> bool:
        return not self.inputs and not self.outputs and not self.recorders

    def tick(self) -> None:
        self.ticks += 1
        pcms: dict[str, np.ndarray] = {}
        levels: dict[str, float] = {}
        speaking: dict[str, float] = {}
        for pid, inp in self.inputs.items():
            if not inp.frames:
                continue
            pcm = inp.frames.popleft()
            if inp.muted:
                continue
            f = pcm.astype(np.float32)
            rms = math.sqrt(float(np.dot(f, f)) / SAMPLES)
            if rms < SILENCE_RMS:
                continue
            if rms >= SPEAKING_RMS:
                inp.speaking_s += FRAME_S
                speaking[pid] = min(1.0, rms / 8000.0)
            levels[pid] = rms
            pcms[pid] = pcm
        self.speaking = speaking
        mixed = self._select(levels)
        total = np.zeros(SAMPLES, dtype=np.int32)
        for pid in mixed:
            if pid in pcms:
                total += pcms[pid]
        cache: dict[str | None, bytes | None] = {}
        for pid, track in self.outputs.items():
            key = pid if pid in mixed else None
            if key not in cache:
                pcm = total - pcms[key] if key in pcms else total
                enc = self.encoders.get(key)
                if enc is None:
                    enc = self.encoders[key] = OpusEncoder()
                cache[key] = enc.encode(np.clip(pcm, -32768, 32767).astype(np.int16))
                self.encodes += 1
            data = cache[key]
            if data is not None:
                track.put(data)
        if self.recorders:
            full = np.clip(total, -32768, 32767).astype(np.int16)
            for rec in self.recorders:
                rec.write(full)
        if len(self._heard) > 2 * len(self.inputs) + 16:
            self._heard = {p: t for p, t in self._heard.items() if p in self.inputs}
        # forget per-speaker encoders not used for a while (a second)
        for key in list(self.encoders):
            if key in cache:
                self._idle.pop(key, None)
            elif key is not None:
                self._idle[key] = self._idle.get(key, 0) + 1
                if self._idle[key] > 50:
                    del self.encoders[key]
                    del self._idle[key]


CATCH_UP_FRAMES = INPUT_DEPTH + 1  # a stall this long (100 ms) is made up, not skipped


class MixerClock:
    """One task ticks every room mixer every 20 ms on the loop's clock. A tick that starts
    more than two frames late counts as an underrun. After a short stall of the loop (a
    garbage collection, the process not scheduled for a moment: up to CATCH_UP_FRAMES,
    which the speakers' input queues still hold) the ticks that are due run one after the
    other, yielding to the loop in between, so no mix frame is lost: the listeners'
    jitter buffers take the late frames. A longer stall skips what is gone (`skipped`)."""

    def __init__(self, mixers: Callable[[], list[RoomMixer]],
                 every: Callable[[], None] | None = None) -> None:
        self._mixers = mixers
        self._every = every  # called every 250 ms (speaking events)
        self.task: asyncio.Task[None] | None = None
        self.ticks = 0
        self.underruns = 0
        self.skipped = 0  # mix frames never made (stalls longer than the catch-up)
        self.caught_up = 0  # ticks run late, back to back, after a short stall
        self.max_late_ms = 0.0

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run(), name="media-mixer")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        n = 0
        behind = False
        while True:
            now = loop.time()
            late = now - due
            if late > 2 * FRAME_S and not behind:
                self.underruns += 1
            if late > CATCH_UP_FRAMES * FRAME_S:  # older than the inputs hold: skip that
                missed = int(late / FRAME_S) - CATCH_UP_FRAMES
                self.skipped += missed
                due += missed * FRAME_S
                late = now - due
            elif late > FRAME_S:
                self.caught_up += 1
            self.max_late_ms = max(self.max_late_ms, late * 1000)
            for m in self._mixers():
                try:
                    m.tick()
                except Exception:  # one broken room must not silence the others
                    import logging
                    logging.getLogger(__name__).exception("mixer tick failed in %s", m.room)
            self.ticks += 1
            n += 1
            if self._every is not None and n % 12 == 0:
                self._every()
            due += FRAME_S
            wait = due - loop.time()
            behind = wait < 0
            await asyncio.sleep(max(0.0, wait))  # 0 when behind: packets first, then on
