"""Synthetic media clients for the media tests and bench/media.py: an event socket that
answers the server's offers, and an aiortc peer publishing a sine tone and/or synthetic
VP8 video. Every address involved is 127.0.0.1; no STUN server is ever configured."""

from __future__ import annotations

import asyncio
import fractions
import itertools
import json
import time
from typing import Any, Callable

import av
import numpy as np
import websockets
from aiortc import (MediaStreamTrack, RTCBundlePolicy, RTCConfiguration, RTCPeerConnection,
                    RTCSessionDescription, VideoStreamTrack)

from forum_live.media import aiortc_internals as internals

RATE = 48000
LOOPBACK = ["127.0.0.1"]


class ToneTrack(MediaStreamTrack):
    """A paced 20 ms mono s16 sine (or silence with hz=None)."""

    kind = "audio"

    def __init__(self, hz: float | None, amplitude: float = 8000.0) -> None:
        super().__init__()
        self.hz = hz
        self.amplitude = amplitude
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.time()
        else:
            wait = self._start + self._n / RATE - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        t = (np.arange(960) + self._n) / RATE
        if self.hz:
            pcm = (np.sin(2 * np.pi * self.hz * t) * self.amplitude).astype(np.int16)
        else:
            pcm = np.zeros(960, dtype=np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._n
        frame.time_base = fractions.Fraction(1, RATE)
        self._n += 960
        return frame


class PatternTrack(VideoStreamTrack):
    """Synthetic camera: a moving gradient, encoded by aiortc's VP8 encoder, which only
    sends keyframes at the start and when asked (PLI)."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.w, self.h = width, height
        self._i = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        img = np.zeros((self.h, self.w, 3), np.uint8)
        img[:, :, 0] = (np.arange(self.w) + self._i * 4) % 256
        img[:, :, 1] = (np.arange(self.h)[:, None] + self._i * 2) % 256
        self._i += 1
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class LevelTrack(MediaStreamTrack):
    """Synthetic camera that says whose it is: a flat grey picture of luma `level` (a
    viewer reads it back from the decoded frame, see `frame_level`), paced at `fps`.
    Encoded by aiortc's VP8 encoder (keyframes at the start and on PLI). Tiny and slow by
    default, so that dozens of them cost the test little."""

    kind = "video"

    def __init__(self, level: int, width: int = 64, height: int = 48, fps: float = 5.0) -> None:
        super().__init__()
        self.level, self.w, self.h, self.fps = level, width, height, fps
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.time()
        else:
            wait = self._start + self._n / self.fps - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        yuv = np.full((self.h * 3 // 2, self.w), 128, np.uint8)  # grey: U = V = 128
        yuv[: self.h] = self.level
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = round(self._n * 90000 / self.fps)
        frame.time_base = fractions.Fraction(1, 90000)
        self._n += 1
        return frame


def frame_level(frame: av.VideoFrame) -> float:
    """Mean luma of the middle row of a decoded frame: what `LevelTrack` encoded, give or
    take the codec (read from the plane as it is, no conversion)."""
    plane = frame.planes[0]
    row = np.frombuffer(memoryview(plane), np.uint8)[plane.line_size * (frame.height // 2):][:frame.width]
    return float(row.mean())


class Sig:
    """The event socket, read by a background task: replies by ref, media frames to the
    peer, journal events kept in order."""

    _refs = itertools.count(1)

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.direct: list[dict[str, Any]] = []
        self.ready: dict[str, Any] | None = None
        self._waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.on_direct: Any = None
        self._changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, ws_base: str, event_id: str, token: str) -> "Sig":
        ws = await websockets.connect(f"{ws_base}/ws/events/{event_id}", max_size=None)
        sig = cls(ws)
        await ws.send(json.dumps({"type": "hello", "token": token}))
        sig.task = asyncio.get_running_loop().create_task(sig._read())
        while sig.ready is None:
            await sig._wait(5)
        return sig

    async def _wait(self, timeout: float) -> None:
        self._changed.clear()
        await asyncio.wait_for(self._changed.wait(), timeout)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                f = json.loads(raw)
                t = f["type"]
                if t == "ready":
                    self.ready = f
                elif t in ("ok", "error") and f.get("ref") in self._waiters:
                    fut = self._waiters.pop(f["ref"])
                    if not fut.done():
                        fut.set_result(f)
                elif "seq" in f:
                    self.events.append(f)
                else:
                    self.direct.append(f)
                    if self.on_direct is not None:
                        self.on_direct(f)
                self._changed.set()
        except websockets.ConnectionClosed:
            pass

    async def request(self, type_: str, timeout: float = 30.0, **body: Any) -> dict[str, Any]:
        ref = next(self._refs)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[ref] = fut
        await self.ws.send(json.dumps({"type": type_, "ref": ref, **body}))
        return await asyncio.wait_for(fut, timeout)

    async def wait_event(self, pred: Any, timeout: float = 30.0) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for e in self.events:
                if pred(e):
                    return e
            await self._wait(max(0.01, deadline - loop.time()))

    async def close(self) -> None:
        await self.ws.close()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


class Peer:
    """An aiortc client peer of one participant."""

    def __init__(self, sig: Sig, tone: float | None = None, video: bool = False,
                 record_audio: bool = True, video_track: Any = None,
                 microphone: bool = True, hear: bool = True) -> None:
        self.sig = sig
        # microphone=False: no audio sent at all (not even silence), hear=False: the room's
        # mix is declined in the answer (the server never sends it)
        self.tone: MediaStreamTrack | None = ToneTrack(tone) if microphone else None
        self.hear = hear
        self.video = (video_track or PatternTrack()) if video else None
        # max-bundle: aiortc's "balanced" answerer leaves later video m-lines on an orphan
        # transport when the offer bundles everything (browsers do not have this problem)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[],
                                                     bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.record_audio = record_audio
        self.audio: list[np.ndarray] = []
        self.audio_times: list[float] = []
        self.video_frames: dict[str, list[float]] = {}  # mid -> decode times
        self.layouts: list[dict[str, Any]] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.negotiated = asyncio.Event()
        self.connected = asyncio.Event()
        sig.on_direct = self._direct
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._state)
        self.count_only = False
        self.frames_in = 0
        self.on_video: Any = None  # (mid, decoded frame) -> None, for each video frame

    def _count(self, frame: Any) -> None:
        self.frames_in += 1

    def _spawn(self, coro: Any) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    def _state(self) -> None:
        if self.pc.connectionState == "connected":
            self.connected.set()

    def _direct(self, f: dict[str, Any]) -> None:
        if f["type"] == "media.offer":
            self._spawn(self._answer(f))
        elif f["type"] == "media.layout":
            self.layouts.append(f)

    async def _answer(self, f: dict[str, Any]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(f["sdp"], "offer"))
        for tr in self.pc.getTransceivers():
            role = f["mids"].get(tr.mid)
            if role == "audio":
                tr.sender.replaceTrack(self.tone)
                tr.direction = {(True, True): "sendrecv", (True, False): "sendonly",
                                (False, True): "recvonly", (False, False): "inactive"}[
                                    (self.tone is not None, self.hear)]
            elif role == "camera":
                if self.video is not None:
                    tr.sender.replaceTrack(self.video)
                tr.direction = "sendonly"
            elif role == "screen":
                tr.direction = "sendonly"
        if self.count_only:  # benchmarks: count received frames, never decode them
            for tr in self.pc.getTransceivers():
                internals.divert_encoded_frames(tr.receiver, self._count)
        internals.restrict_gathering(self.pc, LOOPBACK)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.sig.request("media.answer", sdp=self.pc.localDescription.sdp)
        self.negotiated.set()

    def _on_track(self, track: Any) -> None:
        mid = next((t.mid for t in self.pc.getTransceivers() if t.receiver.track is track),
                   None)
        if track.kind == "audio":
            self._spawn(self._read_audio(track))
        else:
            self._spawn(self._read_video(track, str(mid)))

    async def _read_audio(self, track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                if self.record_audio:
                    arr = frame.to_ndarray()
                    ch = len(frame.layout.channels)
                    self.audio.append(arr[0, ::ch] if arr.shape[0] == 1 else arr[0])
                    self.audio_times.append(time.monotonic())
        except Exception:
            return

    async def _read_video(self, track: Any, mid: str) -> None:
        try:
            while True:
                frame = await track.recv()
                self.video_frames.setdefault(mid, []).append(time.monotonic())
                if self.on_video is not None:
                    self.on_video(mid, frame)
        except Exception:
            return

    async def join(self, video_slots: bool = True, timeout: float = 30.0) -> dict[str, Any]:
        reply = await self.sig.request("media.join", timeout=timeout, video=video_slots)
        assert reply["type"] == "ok", reply
        await asyncio.wait_for(self.connected.wait(), timeout)
        return reply

    def heard_since(self, t0: float, seconds: float | None = None) -> np.ndarray:
        chunks = [a for a, t in zip(self.audio, self.audio_times) if t >= t0]
        pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        return pcm[: int(seconds * RATE)] if seconds else pcm

    async def close(self) -> None:
        await self.pc.close()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def until(cond: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Wait for a condition (polled), failing after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def tone_power(pcm: np.ndarray, hz: float, rate: int = RATE) -> float:
    """Share of the signal's energy within ±8 Hz of `hz` (0..1)."""
    if len(pcm) < rate // 10:
        return 0.0
    x = pcm.astype(np.float64) * np.hanning(len(pcm))
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(pcm), 1 / rate)
    total = spec.sum() or 1.0
    band = spec[(freqs > hz - 8) & (freqs < hz + 8)].sum()
    return float(band / total)


def has_tone(pcm: np.ndarray, hz: float) -> bool:
    return tone_power(pcm, hz) > 0.05
