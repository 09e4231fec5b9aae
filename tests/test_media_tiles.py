"""Video at forum size and the moderators' connection indicator, with real aiortc peers on
127.0.0.1.

Thirty people in one room publish cameras to the real server and each of them watches
(issue 15: "30 participants with cameras in one room"). Every camera is a tiny VP8 stream
(64x48, 3 frames a second, aiortc's encoder) whose flat grey level says whose it is, so a
viewer checks from the decoded pictures, not only from `media.layout`, which camera each of
its tiles carries. With `video_tiles_max` configured to 4 (the default 8 is what
`bench/media.py --cameras 30` measures) every viewer has four video tracks, never more; the
one person who speaks (a tone: the mixer's level detection makes them the active speaker)
is among them, pinned cameras take tiles first, and changing the pins switches the
pictures that arrive. The silent people send no audio and nobody takes the room's mix:
with 30 microphones and 30 mixes (50 Opus packets a second each, sent, decrypted and
decoded in Python in this one process, beside the server) the test took 3.5 times the CPU
and once, on a busy machine, never finished. Audio at that size is test_media_audio's and
bench/media.py's subject.

Moderators get `media.quality` (from the server's RTCPeerConnection stats): audio
arriving, packet loss; a microphone that stops sending shows as no audio."""

from __future__ import annotations

import asyncio
from pathlib import Path
from functools import partial
from typing import Any, Callable

import pytest

from tests.support.live import create_event, join, start_server
from tests.support import media
from tests.support.media import LevelTrack, Peer, Sig, frame_level

CAMERAS = 30
TILES = 4
SPEAKER = 17  # joins after the first TILES: only speaker detection puts them on the tiles
DEADLINE_S = 120.0  # per condition; on a quiet machine each takes a second or two


until = partial(media.until, timeout=DEADLINE_S)


def level(camera: int) -> int:
    return 20 + 7 * camera  # 20..223: far apart for VP8, inside the luma range


def camera_of(luma: float) -> int | None:
    n = round((luma - 20) / 7)
    return n if 0 <= n < CAMERAS and abs(luma - level(n)) <= 2.5 else None


def shown(viewer: Peer) -> list[str]:
    if not viewer.layouts:
        return []
    return [s["participant"] for s in viewer.layouts[-1]["slots"] if s["participant"]]


@pytest.mark.slow
async def test_thirty_cameras_each_viewer_gets_at_most_the_tile_limit_speaker_and_pins(
        tmp_path: Path) -> None:
    server = await start_server(tmp_path / "data", video_tiles_max=TILES)
    sigs: list[Sig] = []
    peers: list[Peer] = []
    try:
        async with server.http() as http:
            event = await create_event(http)
            people = [await join(http, event, f"P{i}") for i in range(CAMERAS)]
        ids = [p["participant"]["id"] for p in people]
        index = {pid: i for i, pid in enumerate(ids)}
        for p in people:
            sigs.append(await Sig.connect(server.ws_base, event["id"], p["token"]))
        # got[viewer][mid]: whose camera each decoded frame on that track showed
        got: list[dict[str, list[int | None]]] = [{} for _ in range(CAMERAS)]
        for i, sig in enumerate(sigs):
            peer = Peer(sig, 440.0 if i == SPEAKER else None, video=True, record_audio=False,
                        video_track=LevelTrack(level(i), fps=3),
                        microphone=i == SPEAKER, hear=False)
            peer.on_video = lambda mid, frame, g=got[i]: g.setdefault(mid, []).append(
                camera_of(frame_level(frame)))
            peers.append(peer)
        replies = await asyncio.gather(*(p.join(timeout=DEADLINE_S) for p in peers))
        assert all(r["slots"] == TILES for r in replies)
        published = await asyncio.gather(*(p.sig.request("media.publish", kind="camera",
                                                          timeout=DEADLINE_S) for p in peers))
        assert all(r["type"] == "ok" for r in published), published
        media = server.app.state.media

        def pictures_match(i: int) -> bool:
            """Every tile of viewer i is filled and its last two decoded pictures are of the
            camera the last layout names for it: the switch happened and frames arrive."""
            v = peers[i]
            if not v.layouts:
                return False
            for slot in v.layouts[-1]["slots"]:
                frames = got[i].get(slot["mid"], [])
                if slot["participant"] is None or len(frames) < 2 or \
                        frames[-2:] != [index[slot["participant"]]] * 2:
                    return False
            return True

        def everyone(cond: Callable[[int], bool]) -> Callable[[], bool]:
            return lambda: all(cond(i) for i in range(CAMERAS))

        # 1. the speaker is on everyone else's tiles, with pictures
        await until(everyone(lambda i: pictures_match(i)
                             and (i == SPEAKER or ids[SPEAKER] in shown(peers[i]))),
                    what="the speaker's camera on every viewer's tiles")
        first = [set(shown(v)) for v in peers]
        # the server forwards CAMERAS x TILES streams, not CAMERAS x (CAMERAS - 1)
        assert sum(len(p.sources["camera"].sinks) for p in media.peers.values()) \
            == CAMERAS * TILES

        # 2. each viewer pins two cameras it was not shown (which ones depends on the viewer):
        # they take two tiles, the speaker keeps one
        hidden = [[c for c in range(CAMERAS) if c != i and ids[c] not in first[i]]
                  for i in range(CAMERAS)]
        pins = [(h[i % len(h)], h[(i + 7) % len(h)]) for i, h in enumerate(hidden)]
        replies = await asyncio.gather(*(
            v.sig.request("media.pin", participants=[ids[a], ids[b]], timeout=DEADLINE_S)
            for v, (a, b) in zip(peers, pins)))
        assert all(r["type"] == "ok" for r in replies), replies
        await until(everyone(lambda i: pictures_match(i) and {ids[c] for c in pins[i]}
                             | ({ids[SPEAKER]} if i != SPEAKER else set())
                             <= set(shown(peers[i]))),
                    what="the pinned cameras and the speaker on every viewer's tiles")

        # 3. a pin change switches the pictures: the new pin arrives, the old ones are gone
        repins = [h[(i + 14) % len(h)] for i, h in enumerate(hidden)]
        replies = await asyncio.gather(*(
            v.sig.request("media.pin", participants=[ids[c]], timeout=DEADLINE_S)
            for v, c in zip(peers, repins)))
        assert all(r["type"] == "ok" for r in replies), replies

        def repinned(i: int) -> bool:
            now = set(shown(peers[i]))
            return (pictures_match(i) and ids[repins[i]] in now
                    and (i == SPEAKER or ids[SPEAKER] in now)
                    and not {ids[c] for c in pins[i]} & now)
        await until(everyone(repinned), what="the new pin's pictures on every viewer's tiles")
        for i in range(CAMERAS):
            latest = {frames[-1] for frames in got[i].values()}
            assert repins[i] in latest and not set(pins[i]) & latest

        # never more than TILES: tracks with pictures, tracks negotiated, tiles in a layout
        for i, v in enumerate(peers):
            assert len(got[i]) <= TILES
            receiving = [t for t in v.pc.getTransceivers()
                         if t.kind == "video" and "recv" in (t.currentDirection or "")]
            assert len(receiving) == TILES
            for lay in v.layouts:
                tiles = [s["participant"] for s in lay["slots"] if s["participant"]]
                assert len(tiles) <= TILES and len(set(tiles)) == len(tiles)
                assert ids[i] not in tiles  # nobody is sent their own camera
        assert sum(len(p.sources["camera"].sinks) for p in media.peers.values()) \
            == CAMERAS * TILES
    finally:
        await asyncio.gather(*(p.close() for p in peers))
        for sig in sigs:
            await sig.close()
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
