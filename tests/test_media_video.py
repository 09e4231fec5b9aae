"""Video forwarded, not re-encoded, and recordings.

A synthetic VP8 camera (aiortc's encoder sends a keyframe only at the start and on PLI)
publishes; two viewers join seconds later and must decode frames within 2 s of their
subscription, which only works when the server relays their keyframe requests. A room
recording with two tones decodes to the expected duration and holds both tones; the
forwarded video recording decodes; the state lists the recording with its duration.
"""

from __future__ import annotations

import asyncio
import time

import av
import numpy as np

from tests.support.live import LiveServer, create_event, join
from tests.support.media import Peer, Sig, has_tone


async def _people(server: LiveServer, n: int) -> tuple[dict, list[dict]]:
    async with server.http() as http:
        event = await create_event(http, topics=[{"title": "Mobilität"}])
        people = [await join(http, event, f"P{i}", moderator=(i == 0)) for i in range(n)]
    return event, people


async def test_vp8_reaches_two_late_subscribers_within_two_seconds(server: LiveServer) -> None:
    event, people = await _people(server, 3)
    sigs = [await Sig.connect(server.ws_base, event["id"], p["token"]) for p in people]
    pub = Peer(sigs[0], None, video=True)
    viewers = [Peer(s, None, record_audio=False) for s in sigs[1:]]
    media = server.app.state.media
    try:
        await pub.join(video_slots=False)
        assert (await pub.sig.request("media.publish", kind="camera"))["type"] == "ok"
        await asyncio.sleep(2.5)  # the publisher's only unprompted keyframe is long gone
        src = media.peers[(event["id"], people[0]["participant"]["id"])].sources["camera"]
        assert src.frames > 20
        keyframes_before = src.keyframes
        for v in viewers:
            await v.join()
        subscribed = time.monotonic()
        for v in viewers:
            deadline = subscribed + 2.0
            while time.monotonic() < deadline and not any(v.video_frames.values()):
                await asyncio.sleep(0.05)
            assert any(v.video_frames.values()), "no decoded video within 2 s"
            first = min(ts[0] for ts in v.video_frames.values() if ts)
            assert first - subscribed < 2.0
            lay = v.layouts[-1]["slots"]
            assert lay[0]["participant"] == people[0]["participant"]["id"]
            assert lay[0]["kind"] == "camera"
        assert src.keyframes > keyframes_before  # the PLI went to the publisher
        await asyncio.sleep(0.5)
        for v in viewers:
            assert sum(len(x) for x in v.video_frames.values()) >= 5
    finally:
        for p in (pub, *viewers):
            await p.close()
            await p.sig.close()


async def test_recording_of_two_tones_and_video(server: LiveServer) -> None:
    event, people = await _people(server, 2)
    sigs = [await Sig.connect(server.ws_base, event["id"], p["token"]) for p in people]
    a = Peer(sigs[0], 440.0, video=True, record_audio=False)
    b = Peer(sigs[1], 660.0, record_audio=False)
    try:
        await a.join(video_slots=False)
        await b.join(video_slots=False)
        assert (await a.sig.request("media.publish", kind="camera"))["type"] == "ok"
        await asyncio.sleep(0.5)
        started = await a.sig.request("recording.start")
        assert started["type"] == "ok", started
        ev = await b.sig.wait_event(lambda e: e["type"] == "recording.started")
        assert ev["file"].endswith(".ogg") and ev["room"] == event["plenary_room"]
        denied = await b.sig.request("recording.stop")
        assert denied["type"] == "error" and denied["code"] == "forbidden"
        await asyncio.sleep(2.0)
        added = await a.sig.request("minutes.add", room=event["plenary_room"], kind="decision",
                                    text="Pilot in Testdorf")
        assert added["type"] == "ok", added
        await asyncio.sleep(2.0)
        stopped = await a.sig.request("recording.stop")
        assert stopped["type"] == "ok", stopped
        ev2 = await b.sig.wait_event(lambda e: e["type"] == "recording.stopped")
        assert 3.5 <= ev2["duration_s"] <= 5.0

        rec_dir = server.settings.recordings_dir
        ogg = rec_dir / ev["file"]
        assert ogg.parent == rec_dir / event["id"] / event["plenary_room"]
        with av.open(str(ogg)) as c:
            pcm = np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])
        assert abs(len(pcm) / 48000 - ev2["duration_s"]) <= 1.0
        body = pcm[48000:]  # past the start
        assert has_tone(body, 440.0) and has_tone(body, 660.0)

        webm = rec_dir / ev["video_file"]
        with av.open(str(webm)) as c:
            frames = list(c.decode(video=0))
        assert len(frames) > 30 and frames[0].width == 320

        state = (await a.sig.request("state.sync"))["state"]
        rec = next(r for r in state["recordings"] if r["id"] == ev["id"])
        assert rec["active"] is False and rec["duration_s"] == ev2["duration_s"]
        assert rec["file"] == ev["file"] and rec["video_file"] == ev["video_file"]
        from forum_live.export import model
        rt = await server.forum.runtime(event["id"])
        minutes = model.build(rt.state)
        assert minutes["recordings"][0]["duration_s"] == ev2["duration_s"]
        decision = minutes["decisions"][0]
        assert decision["recording"]["id"] == ev["id"]
        assert decision["recording"]["offset"] in ("00:00:01", "00:00:02", "00:00:03")
    finally:
        for p in (a, b):
            await p.close()
            await p.sig.close()


async def test_recording_finalized_on_graceful_shutdown(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.support.live import start_server
    server = await start_server(tmp_path / "data")
    try:
        event, people = await _people(server, 1)
        sig = await Sig.connect(server.ws_base, event["id"], people[0]["token"])
        a = Peer(sig, 440.0, record_audio=False)
        await a.join(video_slots=False)
        started = await sig.request("recording.start")
        assert started["type"] == "ok"
        ev = await sig.wait_event(lambda e: e["type"] == "recording.started")
        t0 = time.monotonic()
        await asyncio.sleep(1.5)
        await a.close()
        await sig.close()
    finally:
        await server.stop()
    wall = time.monotonic() - t0  # (however long the shutdown took on a loaded machine)
    with av.open(str(server.settings.recordings_dir / ev["file"])) as c:
        secs = sum(f.samples for f in c.decode(audio=0)) / 48000
    assert 1.0 <= secs <= wall + 1.0, (secs, wall)  # the real length, not the file's guess
    server2 = await start_server(tmp_path / "data")
    try:
        rt = await server2.forum.runtime(event["id"])
        from forum_live.domain.media import media_state
        rec = media_state(rt.state).recordings[ev["id"]]
        assert not rec.active and rec.duration_s is not None
    finally:
        await server2.stop()
