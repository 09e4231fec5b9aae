"""Video at forum size and the moderators' connection indicator, with real aiortc peers on
127.0.0.1. Six people publish cameras, one of them speaks; a viewer with a limit of two
tiles gets two video tracks (never more), chosen as the active speaker and, once it tells
the server, its pinned cameras. Moderators get `media.quality` (from the server's
RTCPeerConnection stats): audio arriving, packet loss; a microphone that stops sending
shows as no audio."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.support.live import create_event, join, start_server
from tests.support.media import PatternTrack, Peer, Sig, until

TILES = 2


def shown(viewer: Peer) -> list[str]:
    if not viewer.layouts:
        return []
    return [s["participant"] for s in viewer.layouts[-1]["slots"] if s["participant"]]


async def test_a_viewer_gets_at_most_the_tile_limit_speaker_and_pinned_first(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "data", video_tiles_max=TILES)
    peers: list[Peer] = []
    try:
        async with server.http() as http:
            event = await create_event(http)
            people = [await join(http, event, f"P{i}") for i in range(7)]
        ids = [p["participant"]["id"] for p in people]
        sigs = [await Sig.connect(server.ws_base, event["id"], p["token"]) for p in people]
        # six publishers (P1 speaks, the others are silent), P0 only watches
        for i, sig in enumerate(sigs[1:], start=1):
            peers.append(Peer(sig, 440.0 if i == 1 else None, video=True, record_audio=False,
                              video_track=PatternTrack(160, 120)))
        viewer = Peer(sigs[0], None, record_audio=False)
        await asyncio.gather(*(p.join(video_slots=False) for p in peers))
        for p in peers:
            assert (await p.sig.request("media.publish", kind="camera"))["type"] == "ok"
        reply = await viewer.join()
        assert reply["slots"] == TILES
        media = server.app.state.media
        # the speaker is among the tiles, never more than TILES
        await until(lambda: ids[1] in shown(viewer), what="the speaker's tile")
        await until(lambda: len(viewer.video_frames) == TILES
                    and all(len(v) > 5 for v in viewer.video_frames.values()),
                    what="video on every slot")
        assert all(len(shown_) <= TILES for shown_ in
                   ([s["participant"] for s in lay["slots"] if s["participant"]]
                    for lay in viewer.layouts))
        served = media.peers[(event["id"], ids[0])]
        assert len(served.slots) == TILES
        assert sum(1 for s in served.slots if s.source is not None) == TILES
        # pinning two silent cameras: they take the two tiles (pinned before the speaker)
        pin = await viewer.sig.request("media.pin", participants=[ids[5], ids[6]])
        assert pin["type"] == "ok" and pin["pinned"] == [ids[5], ids[6]]
        await until(lambda: set(shown(viewer)) == {ids[5], ids[6]}, what="the pinned tiles")
        # one pin: the pinned camera and the speaker
        assert (await viewer.sig.request("media.pin", participants=[ids[4]]))["type"] == "ok"
        await until(lambda: set(shown(viewer)) == {ids[4], ids[1]}, what="pinned + speaker")
        # still TILES video tracks at most: the peer has no more slots to send on
        assert len(viewer.video_frames) <= TILES
        before = {mid: len(v) for mid, v in viewer.video_frames.items()}
        await until(lambda: all(len(viewer.video_frames[m]) > n + 5 for m, n in before.items()),
                    what="video still flowing after the switches")
    finally:
        for p in peers + ([viewer] if "viewer" in locals() else []):
            await p.close()
            await p.sig.close()
        await server.stop()


async def test_moderators_see_each_persons_connection(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "data", media_quality_interval_s=0.3)
    peer = None
    try:
        async with server.http() as http:
            event = await create_event(http)
            mod_j = await join(http, event, "Moderatorin", moderator=True)
            part_j = await join(http, event, "Teilnehmer")
        pid = part_j["participant"]["id"]
        mod = await Sig.connect(server.ws_base, event["id"], mod_j["token"])
        part = await Sig.connect(server.ws_base, event["id"], part_j["token"])
        peer = Peer(part, 440.0, record_audio=False)
        await peer.join(video_slots=False)

        def reports() -> list[dict[str, Any]]:
            return [f["peers"][pid] for f in mod.direct
                    if f["type"] == "media.quality" and pid in f["peers"]]

        await until(lambda: any(r["audio"] and r["connected"] for r in reports()),
                    what="audio arriving")
        good = [r for r in reports() if r["audio"]][-1]
        assert good["loss"] == 0.0  # loopback loses nothing
        # the microphone stops sending: the next reports say no audio arrives
        sender = next(t.sender for t in peer.pc.getTransceivers() if t.kind == "audio")
        sender.replaceTrack(None)
        seen = len(reports())
        await until(lambda: any(not r["audio"] for r in reports()[seen + 1:]),
                    what="no audio arriving")
        # participants never get the report
        assert not any(f["type"] == "media.quality" for f in part.direct)
    finally:
        if peer is not None:
            await peer.close()
            await peer.sig.close()
        await server.stop()
