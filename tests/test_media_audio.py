"""Audio mixed per room, heard through real aiortc peers on 127.0.0.1.

Three people publish distinct tones. Each hears the other two and not themself (FFT of
the decoded audio); after two of them are moved into a breakout room they hear each other
and not the plenary within a second; a mute removes the tone; closing breakouts brings
everyone back into the plenary mix.
"""

from __future__ import annotations

import asyncio
import time


from tests.support.live import LiveServer, create_event, join
from tests.support.media import Peer, Sig, has_tone, tone_power


A_HZ, B_HZ, C_HZ = 440.0, 660.0, 990.0


async def _peers(server: LiveServer, n: int, tones: list[float | None],
                 moderator_first: bool = True) -> tuple[dict, list[dict], list[Peer]]:
    async with server.http() as http:
        event = await create_event(http, topics=[{"title": "Geodaten"}])
        people = [await join(http, event, f"P{i}", moderator=(i == 0 and moderator_first))
                  for i in range(n)]
    peers = []
    for person, tone in zip(people, tones):
        sig = await Sig.connect(server.ws_base, event["id"], person["token"])
        peers.append(Peer(sig, tone))
    await asyncio.gather(*(p.join(video_slots=False) for p in peers))
    return event, people, peers


async def listen(peers: list[Peer], seconds: float = 0.8) -> list:
    t0 = time.monotonic()
    await asyncio.sleep(seconds + 0.1)
    return [p.heard_since(t0, seconds) for p in peers]


async def close_all(peers: list[Peer]) -> None:
    for p in peers:
        await p.close()
        await p.sig.close()


async def test_each_hears_the_others_not_themself_and_moves_follow(server: LiveServer) -> None:
    event, people, peers = await _peers(server, 3, [A_HZ, B_HZ, C_HZ])
    a, b, c = peers
    media = server.app.state.media
    try:
        await asyncio.sleep(1.0)  # jitter buffers fill
        heard = await listen(peers)
        for me, pcm, mine in zip("abc", heard, (A_HZ, B_HZ, C_HZ)):
            others = [hz for hz in (A_HZ, B_HZ, C_HZ) if hz != mine]
            assert all(has_tone(pcm, hz) for hz in others), (me, [tone_power(pcm, h) for h in others])
            assert tone_power(pcm, mine) < 0.01, (me, tone_power(pcm, mine))
        mixer = media.mixers[(event["id"], event["plenary_room"])]
        assert set(mixer.inputs) == {p["participant"]["id"] for p in people}

        # b and c into the first breakout room: they hear each other, not a
        pid = [p["participant"]["id"] for p in people]
        r = await a.sig.request("breakouts.open", assign="manual",
                                assignments={pid[1]: 0, pid[2]: 0})
        assert r["type"] == "ok", r
        moved_at = time.monotonic()
        await b.sig.wait_event(lambda e: e["type"] == "participant.moved"
                               and e["participant"] == pid[2])
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - moved_at)))
        ha, hb, hc = await listen(peers, 0.6)
        assert has_tone(hc, B_HZ) and tone_power(hc, A_HZ) < 0.01
        assert has_tone(hb, C_HZ) and tone_power(hb, A_HZ) < 0.01
        assert tone_power(ha, B_HZ) < 0.01 and tone_power(ha, C_HZ) < 0.01

        # b mutes: c hears nothing of b any more
        r = await b.sig.request("media.mute", muted=True)
        assert r["type"] == "ok", r
        await asyncio.sleep(0.3)
        _, _, hc = await listen(peers, 0.6)
        assert tone_power(hc, B_HZ) < 0.01

        # a moderator's "mute all but the speaker", then breakouts close: back in the plenary
        r = await b.sig.request("media.mute", muted=False)
        assert r["type"] == "ok"
        r = await a.sig.request("breakouts.close")
        assert r["type"] == "ok", r
        await asyncio.sleep(1.0)
        ha, hb, hc = await listen(peers, 0.6)
        assert has_tone(ha, B_HZ) and has_tone(ha, C_HZ)
        r = await a.sig.request("media.mute_all", keep=pid[1])
        assert r["type"] == "ok", r
        await a.sig.wait_event(lambda e: e["type"] == "media.muted" and e["participant"] == pid[2])
        await asyncio.sleep(0.3)
        ha, _, _ = await listen(peers, 0.6)
        assert has_tone(ha, B_HZ) and tone_power(ha, C_HZ) < 0.01

        # speaking time is counted per person; speaking events reached the room
        spoken = media.speaking_time(event["id"])
        assert spoken[pid[0]] > 1.0 and spoken[pid[1]] > 1.0
        assert any(f["type"] == "media.speaking" for f in a.sig.direct)
    finally:
        await close_all(peers)
    for _ in range(50):
        if not media.peers:
            break
        await asyncio.sleep(0.05)
    assert not media.peers and not media.mixers
