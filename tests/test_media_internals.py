"""The aiortc internals forum_live/media relies on (aiortc_internals.py). If an aiortc
upgrade moves any of them, these fail loudly, before anything subtle breaks."""

from __future__ import annotations

import asyncio

import aiortc
import pytest
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection
from aiortc.rtp import RTCP_PSFB_PLI, RtcpPsfbPacket

from forum_live.media import aiortc_internals as internals
from forum_live.media.peers import filter_sdp_candidates


def test_version_is_in_the_tested_range() -> None:
    major, minor = (int(x) for x in aiortc.__version__.split(".")[:2])
    assert (1, 14) <= (major, minor) < (1, 17), aiortc.__version__


def test_check_passes() -> None:
    internals.check()


async def test_gathering_offers_only_the_configured_addresses() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[],
                                            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    try:
        pc.addTransceiver("audio")
        pc.addTransceiver("video", direction="recvonly")
        internals.restrict_gathering(pc, ["127.0.0.1"], announced="203.0.113.7")
        await pc.setLocalDescription(await pc.createOffer())
        lines = [x for x in pc.localDescription.sdp.splitlines()
                 if x.startswith("a=candidate:")]
        assert lines and all(" 203.0.113.7 " in x for x in lines), lines
        gatherer = pc.getTransceivers()[0].receiver.transport.transport.iceGatherer
        socks = [p.transport.get_extra_info("sockname")[0]
                 for p in gatherer._connection._protocols]
        assert socks == ["127.0.0.1"]
    finally:
        await pc.close()


def test_remote_candidates_stay_on_loopback() -> None:
    assert internals.allowed_remote("127.0.0.1", ["127.0.0.1"])
    assert not internals.allowed_remote("192.168.1.5", ["127.0.0.1"])
    assert not internals.allowed_remote("abcd.local", ["127.0.0.1"])
    assert internals.allowed_remote("192.168.1.5", ["10.0.0.2"])
    sdp = ("v=0\r\na=candidate:1 1 udp 1 192.168.1.5 5000 typ host\r\n"
           "a=candidate:2 1 udp 1 127.0.0.1 5001 typ host\r\n")
    out = filter_sdp_candidates(sdp, ["127.0.0.1"])
    assert "192.168.1.5" not in out and "127.0.0.1 5001" in out


async def test_divert_and_keyframe_hooks() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        tr = pc.addTransceiver("video", direction="sendrecv")
        got = []
        internals.divert_encoded_frames(tr.receiver, got.append)
        q = getattr(tr.receiver, "_RTCRtpReceiver__decoder_queue")
        q.put((None, "frame"))
        assert got == ["frame"]
        asked = []
        internals.on_keyframe_request(tr.sender, lambda: asked.append(1))
        await tr.sender._handle_rtcp_packet(
            RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=tr.sender._ssrc))
        assert asked == [1]
        assert asyncio.iscoroutinefunction(tr.receiver._send_rtcp_pli)
        q.put(None)  # what stop() does: the idle decoder thread's get() returns
        assert q.get() is None
    finally:
        await pc.close()


def test_divert_refuses_a_started_receiver() -> None:
    class R:
        _RTCRtpReceiver__decoder_thread = object()
    with pytest.raises(RuntimeError):
        internals.divert_encoded_frames(R(), lambda f: None)  # type: ignore[arg-type]
