"""One RTCPeerConnection per participant, the server always the offerer.

Layout of every peer (fixed at join, so publishing and subscribing never renegotiate):
  audio  sendrecv   the room's mix for this listener / their microphone
  video  recvonly   their camera          (the browser answers sendonly, track or not)
  video  recvonly   their screen share    (ditto)
  video  sendonly × N  slots the server switches between sources (`media.layout`)
Negotiations are serialized by a per-peer lock held from offer to answer.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

from aiortc import (RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCRtpSender,
                    RTCSessionDescription)
from aiortc.sdp import candidate_from_sdp

from ..domain.errors import Invalid
from ..protocol import encode
from . import aiortc_internals as internals
from .mixer import AudioInput, MixTrack
from .video import ForwardTrack, VideoSource

if TYPE_CHECKING:
    from ..hub import Connection

log = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 20.0


def _codecs(kind: str, names: tuple[str, ...]) -> list[Any]:
    caps = RTCRtpSender.getCapabilities(kind)
    return [c for c in caps.codecs if c.mimeType.split("/")[1].lower() in names]


def filter_sdp_candidates(sdp: str, local: list[str]) -> str:
    """Drop remote candidates we may not send to (see aiortc_internals.allowed_remote)."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            if len(parts) > 4 and not internals.allowed_remote(parts[4], local):
                continue
        out.append(line)
    return "\r\n".join(out) + "\r\n"


class MediaPeer:
    def __init__(self, service: Any, event_id: str, pid: str, conn: "Connection",
                 room: str, video_slots: int) -> None:
        self.service = service
        self.event_id = event_id
        self.pid = pid
        self.conn = conn
        self.room = room
        self.hears = room  # the room whose mix this peer is sent (a moderator listening in)
        self.pinned: list[str] = []  # participants whose cameras this viewer pinned
        self.closed = False
        self.lock = asyncio.Lock()
        self._answer: asyncio.Future[str] | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        settings = service.settings
        self.addresses = list(settings.media_ice_addresses)
        self.pc = RTCPeerConnection(RTCConfiguration(
            iceServers=[],  # never aiortc's default STUN server; NAT: media_announced_address
            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.mix = MixTrack()
        self.audio_in = AudioInput(pid, muted=service.is_muted(event_id, pid))
        self.audio_tr = self.pc.addTransceiver(self.mix, direction="sendrecv")
        self.audio_tr.setCodecPreferences(_codecs("audio", ("opus",)))
        internals.divert_encoded_frames(self.audio_tr.receiver, self.audio_in.push_encoded)
        vp8 = _codecs("video", ("vp8", "rtx"))
        self.sources: dict[str, VideoSource] = {}
        self.in_trs = {}
        for kind in ("camera", "screen"):
            tr = self.pc.addTransceiver("video", direction="recvonly")
            tr.setCodecPreferences(vp8)
            src = VideoSource(pid, kind, tr.receiver, self.spawn)
            internals.divert_encoded_frames(tr.receiver, src.on_frame)
            self.sources[kind] = src
            self.in_trs[kind] = tr
        self.slots: list[ForwardTrack] = []
        for _ in range(video_slots):
            track = ForwardTrack()
            tr = self.pc.addTransceiver(track, direction="sendonly")
            tr.setCodecPreferences(vp8)
            track.attach_sender(tr.sender)
            self.slots.append(track)
        self.slot_trs = [t for t in self.pc.getTransceivers()][3:]
        internals.restrict_gathering(self.pc, self.addresses, settings.media_announced_address)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)
        self.layout_sent: list[Any] | None = None

    # -- tasks ---------------------------------------------------------------------------
    def spawn(self, coro: Any) -> None:
        if self.closed:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def push(self, body: dict[str, Any]) -> None:
        self.conn.push(encode(body))

    # -- negotiation ---------------------------------------------------------------------
    def roles(self) -> dict[str, str]:
        out = {self.audio_tr.mid: "audio", self.in_trs["camera"].mid: "camera",
               self.in_trs["screen"].mid: "screen"}
        for tr in self.slot_trs:
            out[tr.mid] = "slot"
        return {str(k): v for k, v in out.items()}

    async def negotiate(self) -> None:
        async with self.lock:
            if self.closed:
                return
            offer = await self.pc.createOffer()
            await self.pc.setLocalDescription(offer)
            loop = asyncio.get_running_loop()
            self._answer = loop.create_future()
            self.push({"type": "media.offer", "sdp": self.pc.localDescription.sdp,
                       "mids": self.roles(), "ice_servers": self.service.ice_servers()})
            try:
                sdp = await asyncio.wait_for(self._answer, ANSWER_TIMEOUT_S)
            except asyncio.TimeoutError:
                self._answer = None
                self.push({"type": "media.closed", "reason": "no_answer"})
                self.spawn(self.service.close_peer(self, "no_answer"))
                return
            self._answer = None
            await self.pc.setRemoteDescription(RTCSessionDescription(
                filter_sdp_candidates(sdp, self.addresses), "answer"))

    def answer(self, sdp: str) -> None:
        if self._answer is None or self._answer.done():
            raise Invalid("no offer is waiting for an answer")
        self._answer.set_result(sdp)

    async def add_candidate(self, cand: dict[str, Any] | None) -> None:
        if not cand or not cand.get("candidate"):
            return  # end of candidates
        text = re.sub(r"^a=", "", str(cand["candidate"]))
        text = re.sub(r"^candidate:", "", text)
        try:
            c = candidate_from_sdp(text)
        except Exception:
            raise Invalid("candidate: not an ICE candidate")
        if not internals.allowed_remote(c.ip, self.addresses):
            return
        c.sdpMid = cand.get("sdpMid")
        c.sdpMLineIndex = cand.get("sdpMLineIndex")
        if c.sdpMid is None and c.sdpMLineIndex is None:
            c.sdpMLineIndex = 0
        await self.pc.addIceCandidate(c)

    # -- media ---------------------------------------------------------------------------
    def _on_track(self, track: Any) -> None:
        # Audio and video frames are diverted before decoding (to the mixer's decoder and
        # to the video forwarder); the track itself is still read, and sees only its end.
        self.spawn(self._drain(track))

    async def _drain(self, track: Any) -> None:
        try:
            while True:
                await track.recv()
        except Exception:
            return

    def _on_state(self) -> None:
        if self.pc.connectionState == "failed" and not self.closed:
            self.push({"type": "media.closed", "reason": "failed"})
            self.spawn(self.service.close_peer(self, "failed"))

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()
        for src in self.sources.values():
            src.close()
        for slot in self.slots:
            slot.stop()
        self.mix.stop()
        try:
            await asyncio.wait_for(self.pc.close(), 5)
        except Exception:
            log.exception("closing a peer connection failed")
        current = asyncio.current_task()
        tasks = [t for t in self.tasks if t is not current]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
