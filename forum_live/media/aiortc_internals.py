"""Every use of aiortc's (and aioice's) private internals, in one place.

aiortc (pinned to >=1.14,<1.17 in pyproject.toml) has no public API for what an SFU-style
server needs, so we reach inside at exactly four points. tests/test_media_internals.py
checks each of them against the installed version and fails loudly after an upgrade that
moved them; `check()` does the same at start-up.

1. ICE host candidates: aioice gathers every non-loopback address of the machine. We
   replace the address list of each of a peer connection's ICE gatherers (per instance,
   never globally) with the configured one, and optionally announce another address.
2. Encoded video frames: RTCRtpReceiver reassembles VP8 frames in its jitter buffer and
   hands them to a decoder thread through `__decoder_queue`. We put a stand-in there, so
   reassembled frames come to our forwarder (not decoded) and the thread idles until stop.
3. Keyframe requests from a viewer: RTCRtpSender calls `self._send_keyframe()` on PLI/FIR;
   we hook it per instance to relay the request to the publisher.
4. Sending a PLI to a publisher: RTCRtpReceiver._send_rtcp_pli(media_ssrc).
"""

from __future__ import annotations

import ipaddress
import queue
from typing import Any, Callable

from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender

JitterFrame = Any  # aiortc.jitterbuffer.JitterFrame: .data (bytes), .timestamp (int)

_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_DECODER_THREAD = "_RTCRtpReceiver__decoder_thread"


def check() -> None:
    """Raise if the installed aiortc/aioice no longer has what this module uses."""
    import aioice.ice as ice
    import aiortc.rtcicetransport as icet
    from aiortc import rtcrtpreceiver

    problems = []
    if not hasattr(ice.Connection, "get_component_candidates"):
        problems.append("aioice Connection.get_component_candidates")
    if not hasattr(icet.RTCIceGatherer, "__init__") or "_connection" not in \
            icet.RTCIceGatherer.__init__.__code__.co_names:
        problems.append("RTCIceGatherer._connection")
    if "_send_keyframe" not in RTCRtpSender.__dict__:
        problems.append("RTCRtpSender._send_keyframe")
    if "_send_rtcp_pli" not in RTCRtpReceiver.__dict__:
        problems.append("RTCRtpReceiver._send_rtcp_pli")
    src = rtcrtpreceiver.RTCRtpReceiver.__init__.__code__.co_names
    if "_RTCRtpReceiver__decoder_queue" not in src:
        problems.append("RTCRtpReceiver.__decoder_queue")
    if "input_q" not in rtcrtpreceiver.decoder_worker.__code__.co_varnames:
        problems.append("rtcrtpreceiver.decoder_worker(input_q)")
    if problems:
        raise RuntimeError("aiortc internals changed, see forum_live/media/aiortc_internals.py: "
                           + ", ".join(problems))


# -- 1. ICE gathering ---------------------------------------------------------------------
def _gatherers(pc: RTCPeerConnection) -> list[Any]:
    out = []
    for t in pc.getTransceivers():
        dtls = t.receiver.transport
        if dtls is not None and dtls.transport.iceGatherer not in out:
            out.append(dtls.transport.iceGatherer)
    return out


def restrict_gathering(pc: RTCPeerConnection, addresses: list[str],
                       announced: str | None = None) -> None:
    """Gather host candidates on `addresses` only (call after the transceivers exist and
    before setLocalDescription). `announced` replaces the host address in the candidates
    (a 1:1 NAT mapping, as Janus' nat_1_1_mapping); sockets stay bound locally."""
    for gatherer in _gatherers(pc):
        conn = gatherer._connection
        if getattr(conn, "_forum_restricted", False):
            continue
        conn.get_component_candidates = _gather_on(conn.get_component_candidates,
                                                   list(addresses), announced)
        conn._forum_restricted = True


def _gather_on(original: Any, addresses: list[str], announced: str | None) -> Any:
    async def gather(component: int, addresses_ignored: Any = None, timeout: int = 5,
                     **kw: Any) -> list[Any]:
        candidates = await original(component=component, addresses=addresses, timeout=timeout)
        if announced:
            for c in candidates:
                if c.type == "host":
                    c.host = announced
        return candidates

    def call(component: int, addresses: Any = None, timeout: int = 5) -> Any:
        return gather(component, addresses, timeout)
    return call


def allowed_remote(address: str, local: list[str]) -> bool:
    """May we send connectivity checks to `address`? With only loopback local addresses
    (tests, local use) only loopback remotes: nothing leaves the machine, no mDNS."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return not all(_is_loopback(a) for a in local)  # an mDNS name
    if all(_is_loopback(a) for a in local):
        return ip.is_loopback
    return True


def _is_loopback(a: str) -> bool:
    try:
        return ipaddress.ip_address(a).is_loopback
    except ValueError:
        return False


# -- 2. encoded frames instead of decoding ------------------------------------------------
class _Divert:
    """Stands in for the receiver's decoder queue: put() gets (codec, JitterFrame) on the
    event loop; get() is what the idle decoder thread blocks on until stop puts None."""

    def __init__(self, on_frame: Callable[[JitterFrame], None]) -> None:
        self.on_frame = on_frame
        self._stop: queue.Queue[None] = queue.Queue()

    def put(self, item: Any) -> None:
        if item is None:
            self._stop.put(None)
            return
        self.on_frame(item[1])

    def get(self) -> None:
        return self._stop.get()


def divert_encoded_frames(receiver: RTCRtpReceiver,
                          on_frame: Callable[[JitterFrame], None]) -> None:
    """Before receive() starts (i.e. right after addTransceiver): reassembled frames go to
    `on_frame` (on the loop) instead of a decoder."""
    if getattr(receiver, _DECODER_THREAD) is not None:
        raise RuntimeError("divert_encoded_frames must run before the receiver starts")
    setattr(receiver, _DECODER_QUEUE, _Divert(on_frame))


def set_frame_callback(receiver: RTCRtpReceiver, on_frame: Callable[[JitterFrame], None]) -> None:
    q = getattr(receiver, _DECODER_QUEUE)
    if isinstance(q, _Divert):
        q.on_frame = on_frame


# -- 3. keyframe requests from a viewer ---------------------------------------------------
def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    sender._send_keyframe = callback  # type: ignore[method-assign]


# -- 4. PLI to a publisher ----------------------------------------------------------------
async def send_pli(receiver: RTCRtpReceiver, ssrc: int) -> None:
    await receiver._send_rtcp_pli(ssrc)
