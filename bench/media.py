"""Media benchmark (issue 7): server CPU per participant for the audio mix and per viewer
stream for forwarded video.

The server runs in this process (uvicorn on 127.0.0.1, as in the tests); the synthetic
aiortc peers run in a separate process and cost the server nothing but their packets:
they send pre-encoded Opus tones / VP8 frames and count what they receive without
decoding. Server CPU is this process's CPU time (all threads, incl. aiortc's decoder
threads) over a measuring window, after a warm-up.

    python bench/media.py                    # 40 speakers, then 1 publisher + 20 viewers
    python bench/media.py --speakers 40 --viewers 20 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# -- the peers' process -------------------------------------------------------------------
def _opus_loop(hz: float) -> list[bytes]:
    import av
    import numpy as np
    c = av.CodecContext.create("libopus", "w")
    c.sample_rate, c.layout, c.format, c.bit_rate = 48000, "mono", "s16", 32000
    c.open()
    out = []
    for i in range(50):
        t = (np.arange(960) + i * 960) / 48000
        f = av.AudioFrame.from_ndarray((np.sin(2 * np.pi * hz * t) * 6000).astype(np.int16)
                                       .reshape(1, -1), format="s16", layout="mono")
        f.sample_rate, f.pts = 48000, i * 960
        out += [bytes(p) for p in c.encode(f)]
    return out


def _vp8_loop(frames: int = 120) -> list[bytes]:
    import av
    import numpy as np
    c = av.CodecContext.create("libvpx", "w")
    c.width, c.height, c.pix_fmt = 640, 360, "yuv420p"
    c.time_base = fractions.Fraction(1, 30)
    c.bit_rate = 600_000
    c.gop_size = 60
    c.open()
    out = []
    for i in range(frames):
        img = np.zeros((360, 640, 3), np.uint8)
        img[:, :, 0] = (np.arange(640) + i * 6) % 256
        img[:, :, 1] = (np.arange(360)[:, None] + i * 3) % 256
        f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        f.pts = i
        out += [bytes(p) for p in c.encode(f)]
    return out


def peers_main(ws_base: str, event_id: str, tokens: list[str], roles: list[str],
               stop: Any, ready: Any, go: Any, heard: Any = None, nice: int = 15) -> None:
    # The peers stand in for browsers on other machines: on a small box they must not
    # take the CPU from the server being measured.
    os.nice(nice)
    asyncio.run(_peers(ws_base, event_id, tokens, roles, stop, ready, go, heard))


async def _peers(ws_base: str, event_id: str, tokens: list[str], roles: list[str],
                 stop: Any, ready: Any, go: Any, heard: Any = None) -> None:
    from aiortc.mediastreams import MediaStreamTrack
    import av
    from tests.support.media import Peer, Sig

    class PacketTrack(MediaStreamTrack):
        def __init__(self, kind: str, packets: list[bytes], rate: int, step: int,
                     fps: float) -> None:
            super().__init__()
            self.kind = kind
            self.packets, self.rate, self.step, self.fps = packets, rate, step, fps
            self.i = 0
            self.t0: float | None = None

        async def recv(self) -> Any:
            if self.t0 is None:
                self.t0 = time.time()
            wait = self.t0 + self.i / self.fps - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            p = av.Packet(self.packets[self.i % len(self.packets)])
            p.pts = self.i * self.step
            p.time_base = fractions.Fraction(1, self.rate)
            self.i += 1
            return p

    vp8 = _vp8_loop() if {"publisher", "camera"} & set(roles) else []
    peers = []
    for n, (token, role) in enumerate(zip(tokens, roles)):
        sig = await Sig.connect(ws_base, event_id, token)
        peer = Peer(sig, None, record_audio=False)
        peer.count_only = True
        if role == "speaker":
            peer.tone = PacketTrack("audio", _opus_loop(300 + 37 * n), 48000, 960, 50)
        if role in ("publisher", "camera"):
            peer.video = PacketTrack("video", vp8, 90000, 3000, 30)
        peers.append(peer)
    await asyncio.gather(*(p.join(video_slots=(r in ("viewer", "camera")), timeout=60)
                           for p, r in zip(peers, roles)))
    ready.set()

    async def publish_heard() -> None:  # frames the listeners received (reassembled)
        while heard is not None:
            heard.value = sum(p.frames_in for p in peers)
            await asyncio.sleep(0.1)
    counter = asyncio.get_running_loop().create_task(publish_heard())
    while not go.is_set() and not stop.is_set():
        await asyncio.sleep(0.05)
    for p, r in zip(peers, roles):
        if r in ("publisher", "camera"):
            await p.sig.request("media.publish", kind="camera")
    while not stop.is_set():
        await asyncio.sleep(0.2)
    counter.cancel()
    for p in peers:
        await p.close()
        await p.sig.close()


# -- the server's side --------------------------------------------------------------------
def _proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of another process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


async def _rtp_sent(media: Any) -> int:
    """Mix packets the server's aiortc senders put on the wire (RTCRtpSender stats)."""
    total = 0
    for p in list(media.peers.values()):
        for st in (await p.audio_tr.sender.getStats()).values():
            if st.type == "outbound-rtp":
                total += st.packetsSent
    return total

async def measure(kind: str, n: int, seconds: float, warmup: float,
                  nice: int = 15) -> dict[str, Any]:
    from tests.support.live import create_event, join, start_server
    with tempfile.TemporaryDirectory() as tmp:
        server = await start_server(Path(tmp) / "data")
        try:
            async with server.http() as http:
                event = await create_event(http, topics=[{"title": "Bench"}])
                people = [await join(http, event, f"B{i}") for i in range(n)]
            roles = (["speaker"] * n if kind == "audio"
                     else ["camera"] * n if kind == "cameras"  # everyone publishes and views
                     else ["publisher"] + ["viewer"] * (n - 1))
            ctx = mp.get_context("spawn")
            stop, ready, go = ctx.Event(), ctx.Event(), ctx.Event()
            heard = ctx.Value("q", 0)
            proc = ctx.Process(target=peers_main, args=(server.ws_base, event["id"],
                                                        [p["token"] for p in people], roles,
                                                        stop, ready, go, heard, nice))
            proc.start()
            while not ready.is_set():
                await asyncio.sleep(0.1)
                if not proc.is_alive():
                    raise RuntimeError("peer process died")
            media = server.app.state.media
            await asyncio.sleep(warmup)
            baseline = None
            if kind in ("video", "cameras"):  # the same peers without video: the floor
                c0, w0 = time.process_time(), time.monotonic()
                await asyncio.sleep(seconds)
                baseline = (time.process_time() - c0) / (time.monotonic() - w0)
                go.set()
                await asyncio.sleep(warmup)
            under0 = media.clock.underruns
            skipped0, caught0 = media.clock.skipped, media.clock.caught_up
            ticks0 = media.clock.ticks
            fwd0 = sum(s.forwarded for p in media.peers.values() for s in p.slots)
            drop0 = sum(p.mix.dropped for p in media.peers.values())
            sent0 = sum(p.mix.sent for p in media.peers.values())
            rtp0 = await _rtp_sent(media) if kind == "audio" else 0
            heard0 = heard.value
            peers_cpu0 = _proc_cpu_s(proc.pid)
            cpu0, wall0 = time.process_time(), time.monotonic()
            await asyncio.sleep(seconds)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            sent = sum(p.mix.sent for p in media.peers.values()) - sent0
            peers_cpu = (_proc_cpu_s(proc.pid) - peers_cpu0) / wall
            rtp = (await _rtp_sent(media) - rtp0) if kind == "audio" else None
            heard_n = heard.value - heard0  # both ends lag the same (published every 0.1 s)
            fwd = sum(s.forwarded for p in media.peers.values() for s in p.slots) - fwd0
            result = {
                "kind": kind, "participants": n, "seconds": round(wall, 1),
                "server_cpu_cores": round(cpu / wall, 3),
                "underruns": media.clock.underruns - under0,
                "ticks_skipped": media.clock.skipped - skipped0,
                "ticks_caught_up": media.clock.caught_up - caught0,
                "mixer_ticks": media.clock.ticks - ticks0,
                "mix_packets_dropped": sum(p.mix.dropped for p in media.peers.values()) - drop0,
                "max_tick_late_ms": round(media.clock.max_late_ms, 1),
                "video_frames_forwarded": fwd,
                # the mix at the listeners: every listener should get one frame a tick
                "mix_frames_expected": round(wall / 0.02) * n if kind == "audio" else None,
                "mix_frames_sent": sent if kind == "audio" else None,
                "mix_rtp_sent": rtp,
                "peers_cpu_cores": round(peers_cpu, 3),
                "mix_frames_heard": heard_n if kind == "audio" else None,
                "baseline_cpu_cores": round(baseline, 3) if baseline is not None else None,
            }
            mixers = list(media.mixers.values())
            if mixers and mixers[0].ticks:
                result["encoders"] = len(mixers[0].encoders)
            stop.set()
            proc.join(60)
            return result
        finally:
            await server.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speakers", type=int, default=40)
    ap.add_argument("--viewers", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--audio-only", action="store_true", help="skip the video part")
    ap.add_argument("--cameras", type=int, default=0,
                    help="instead: N people with cameras in one room, each viewing "
                         "(at most video_tiles_max tiles each)")
    ap.add_argument("--peers-nice", type=int, default=15,
                    help="niceness of the synthetic peers' process (they stand in for browsers)")
    args = ap.parse_args()
    out: dict[str, Any] = {"cpus": os.cpu_count()}

    async def run() -> None:
        if args.cameras:
            cams = await measure("cameras", args.cameras, args.seconds, args.warmup)
            out["cameras"] = {**cams, "forwarded_frames_per_s": round(
                cams["video_frames_forwarded"] / cams["seconds"])}
            return
        idle = await measure("audio", 1, args.seconds / 2, 1.0)  # one peer: the floor
        audio = await measure("audio", args.speakers, args.seconds, args.warmup,
                              args.peers_nice)
        per = (audio["server_cpu_cores"]) / args.speakers
        lost = 1 - audio["mix_frames_heard"] / max(1, audio["mix_frames_expected"])
        out["audio"] = {**audio, "per_participant_pct": round(per * 100, 2),
                        "mix_lost_at_listeners_pct": round(lost * 100, 1),
                        "one_peer_cpu_cores": idle["server_cpu_cores"]}
        if args.audio_only:
            return
        video = await measure("video", args.viewers + 1, args.seconds, args.warmup)
        # the cost of forwarding alone: with video minus the same peers before publishing
        # (which includes the publisher's inbound stream, so this errs on the high side)
        per_v = (video["server_cpu_cores"] - video["baseline_cpu_cores"]) / args.viewers
        out["video"] = {**video, "per_viewer_stream_pct": round(per_v * 100, 2)}

    asyncio.run(run())
    print(json.dumps(out, indent=2))
    if args.cameras:
        c = out["cameras"]
        print(f"cameras: {args.cameras} publishing and viewing: {c['server_cpu_cores']:.2f} cores "
              f"({c['baseline_cpu_cores']:.2f} before publishing), "
              f"{c['forwarded_frames_per_s']} forwarded frames/s")
        return 0
    a = out["audio"]
    print(f"audio: {args.speakers} speakers mixed on {a['server_cpu_cores']:.2f} cores "
          f"= {a['per_participant_pct']:.2f}% per participant (target <= 2.5%), "
          f"underruns {a['underruns']}, mix frames lost at the listeners "
          f"{a['mix_lost_at_listeners_pct']:.1f}%")
    if args.audio_only:
        return 0
    v = out["video"]
    print(f"video: {v['per_viewer_stream_pct']:.2f}% of a core per viewer stream "
          f"(target <= 0.4%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
