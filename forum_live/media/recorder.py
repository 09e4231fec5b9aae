"""Recording a room: its mix to Ogg/Opus, one forwarded video stream to WebM (VP8 as it
arrived, no re-encoding, starting on a keyframe).

The recorder is one more listener of the room's mix (RoomMixer.recorders) and one more
sink of a video source. Ogg and WebM are streamable: a crash leaves a playable file up to
the last page/cluster written (about a second), unlike MP4 whose index is written last.
"""

from __future__ import annotations

import fractions
import logging
from pathlib import Path
from typing import Any

import av
import numpy as np

from .mixer import RATE, SAMPLES
from .video import VIDEO_TIME_BASE, VideoSource, vp8_size

log = logging.getLogger(__name__)
FLUSH = {"flush_packets": "1"}


class AudioFile:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # flush_packets: every muxed packet goes to the file at once (FFmpeg otherwise
        # keeps ~32 KiB, several seconds of Opus, in its buffer: a kill -9 left 0 bytes);
        # pages of at most 0.25 s, so a crash loses well under a second
        self.container = av.open(str(path), "w", format="ogg", options=FLUSH,
                                 container_options={"page_duration": "250000"})
        self.stream = self.container.add_stream("libopus", rate=RATE)
        self.stream.layout = "mono"
        self.stream.format = "s16"
        self.stream.bit_rate = 48000
        self.samples = 0
        self.closed = False

    def write(self, pcm: np.ndarray) -> None:
        if self.closed:
            return
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self.samples
        frame.time_base = fractions.Fraction(1, RATE)
        self.samples += SAMPLES
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    @property
    def duration_s(self) -> float:
        return self.samples / RATE

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
        finally:
            self.container.close()


class VideoFile:
    """A VideoSource sink that muxes the forwarded VP8 frames, from the first keyframe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.container: Any = None
        self.stream: Any = None
        self.source: VideoSource | None = None
        self._first: int | None = None
        self._last = -1
        self.frames = 0
        self.closed = False

    def attach(self, source: VideoSource) -> None:
        if self.source is not None or self.closed:
            return
        self.source = source
        source.sinks.add(self)
        source.request_keyframe()

    def detach(self, source: VideoSource) -> None:
        if self.source is source:
            source.sinks.discard(self)
            self.source = None

    def feed(self, data: bytes, ts: int, key: bool) -> None:
        if self.closed:
            return
        if self.container is None:
            size = vp8_size(data) if key else None
            if size is None:
                if self.source is not None:
                    self.source.request_keyframe()
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # clusters of at most 1 s, each written out when complete (flush_packets)
            self.container = av.open(str(self.path), "w", format="webm", options=FLUSH,
                                     container_options={"cluster_time_limit": "1000"})
            self.stream = self.container.add_stream("libvpx", rate=30)
            self.stream.width, self.stream.height = size
            self.stream.time_base = VIDEO_TIME_BASE
            self._first = ts
        pts = (ts - (self._first or 0)) & 0xFFFFFFFF
        if pts <= self._last:
            pts = self._last + 1
        self._last = pts
        packet = av.Packet(data)
        packet.stream = self.stream
        packet.time_base = VIDEO_TIME_BASE
        packet.pts = packet.dts = pts
        packet.is_keyframe = key
        try:
            self.container.mux(packet)
            self.frames += 1
        except Exception:
            log.exception("could not write a video frame to %s", self.path)

    def close(self) -> bool:
        """Finalize; True when a video stream was written."""
        if self.closed:
            return self.frames > 0
        self.closed = True
        if self.source is not None:
            self.detach(self.source)
        if self.container is not None:
            try:
                self.container.close()
            except Exception:
                log.exception("could not finalize %s", self.path)
        return self.frames > 0


class RoomRecorder:
    def __init__(self, rec_id: str, room: str, audio_path: Path, video_path: Path) -> None:
        self.id = rec_id
        self.room = room
        self.audio = AudioFile(audio_path)
        self.video = VideoFile(video_path)

    def write(self, pcm: np.ndarray) -> None:
        try:
            self.audio.write(pcm)
        except Exception:
            log.exception("recording %s: audio write failed", self.id)
            self.audio.closed = True

    def close(self) -> bool:
        try:
            self.audio.close()
        except Exception:
            log.exception("recording %s: could not finalize audio", self.id)
        return self.video.close()


def recorded_length(path: Path) -> float | None:
    """Seconds of media in a recording file as it is on disk (after a crash: up to where
    it ends), from its packets' time stamps; None when there is no readable file."""
    try:
        with av.open(str(path)) as c:
            stream = c.streams[0]
            end = 0.0
            for packet in c.demux(stream):
                if packet.pts is None or packet.time_base is None:
                    continue
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            return round(end, 1)
    except (OSError, av.error.FFmpegError, IndexError):
        return None
