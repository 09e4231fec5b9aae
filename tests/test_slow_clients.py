"""Slow and dead clients (issue 9), beyond tests/test_socket.py (which has the slow reader
cut off at 4408 and the silent socket closed after hello_timeout_s):

- all kinds of bad peer at once (never says hello, half a frame instead of hello, half a
  frame after hello, stops reading after hello): the others' chat latency stays low, and
  each is closed after its timeout (hello timeout, keepalive ping timeout, send timeout);
- memory after many join/leave cycles returns to where it started (server RSS, subprocess).
"""

from __future__ import annotations

import asyncio
import base64
import gc  # noqa: F401 - used by the soak helper's callers
import json
import os
import socket
import statistics
import struct
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.live import Client, ORGANIZER, create_event, join, start_server
from tests.support.process import rss_kib, spawn


# -- a raw WebSocket peer that can misbehave at the byte level ------------------------------
async def raw_peer(port: int, event_id: str, rcvbuf: int | None = None
                   ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.setblocking(False)
    await asyncio.get_running_loop().sock_connect(s, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=s, limit=1 << 20)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws/events/{event_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


def frame(payload: bytes, declared: int | None = None) -> bytes:
    """A masked text frame; `declared` promises more bytes than are sent (half a frame)."""
    n = len(payload) if declared is None else declared
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) +
                            struct.pack("!H", n))
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def closed_after(reader: asyncio.StreamReader, timeout: float) -> float:
    """Read (and drop) until the server ends the connection; seconds it took."""
    t0 = time.monotonic()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await asyncio.wait_for(reader.read(1 << 16), max(0.01, deadline - loop.time())):
        pass
    return time.monotonic() - t0


@pytest.mark.slow
async def test_bad_peers_delay_nobody_and_are_each_closed_after_their_timeout(
        tmp_path: Path) -> None:
    # every timeout is 3 s or more: a server that waited for any bad peer could complete no
    # bystander line before that peer's close, which is what is checked (order, not speed)
    server = await start_server(tmp_path / "d", hello_timeout_s=3.0, ws_ping_interval_s=1.5,
                                ws_ping_timeout_s=3.0, outbound_queue=64, send_timeout_s=3.0,
                                chat_rate=1e6, chat_burst=10**6, text_max=40000)
    port = server.settings.port
    writers: list[asyncio.StreamWriter] = []
    try:
        async with server.http() as http:
            ev = await create_event(http)
            people = {n: await join(http, ev, n) for n in ("Fast", "Talker", "Half", "Deaf")}
        room = ev["plenary_room"]
        fast = await Client.connect(server, ev["id"], people["Fast"]["token"])
        talker = await Client.connect(server, ev["id"], people["Talker"]["token"])

        t_open = time.monotonic()
        silent_r, w = await raw_peer(port, ev["id"])  # never says anything
        writers.append(w)
        half_pre_r, w = await raw_peer(port, ev["id"])  # half a frame instead of hello
        w.write(frame(b'{"type": "he', declared=1000))
        writers.append(w)
        half_r, w = await raw_peer(port, ev["id"])  # hello, then half a frame, then nothing
        w.write(frame(json.dumps({"type": "hello", "token": people["Half"]["token"]}).encode()))
        writers.append(w)
        deaf_r, w = await raw_peer(port, ev["id"], rcvbuf=4096)  # hello, then never reads
        w.write(frame(json.dumps({"type": "hello", "token": people["Deaf"]["token"]}).encode()))
        writers.append(w)
        await asyncio.sleep(0.3)
        writers[2].write(frame(b'{"type": "chat.send", "ro', declared=1000))
        rt = server.forum.runtimes[ev["id"]]
        pid = {n: people[n]["participant"]["id"] for n in people}

        def open_conns(n: str) -> int:
            return sum(1 for c in rt.hub.connections if c.pid == pid[n])
        assert open_conns("Half") == 1 and open_conns("Deaf") == 1

        # the pre-hello peers are read as they go: their close is timed
        silent = asyncio.create_task(closed_after(silent_r, 20))
        half_pre = asyncio.create_task(closed_after(half_pre_r, 20))
        half = asyncio.create_task(closed_after(half_r, 20))

        delays, done_at, closed_at = [], [], {}
        i = 0
        while time.monotonic() - t_open < 9.0 or i < 60:  # longer than every timeout
            t0 = time.monotonic()
            r = await talker.request("chat.send", room=room, text=f"{i:04d}" + "x" * 20000)
            assert r["type"] == "ok", r
            await fast.wait_for(lambda e, s=r["seq"]: e["seq"] == s)
            delays.append(time.monotonic() - t0)
            done_at.append(time.monotonic() - t_open)
            for n in ("Half", "Deaf"):
                if n not in closed_at and open_conns(n) == 0:
                    closed_at[n] = time.monotonic() - t_open
            i += 1
            await asyncio.sleep(0.02)
        delays.sort()
        p50, p99 = statistics.median(delays), delays[int(len(delays) * 0.99) - 1]
        print(f"\nbystander chat while 4 bad peers hang: {len(delays)} lines, "
              f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {delays[-1] * 1000:.1f} ms")

        # each was closed by its own timeout, and left the hub
        t_silent, t_half_pre, t_half = await asyncio.gather(silent, half_pre, half)
        first_close = min(t_silent, t_half_pre, t_half, *closed_at.values())
        before = sum(1 for t in done_at if t < first_close)
        print(f"{before} bystander lines went through before the first bad peer was closed "
              f"({first_close:.1f} s)")
        assert before >= 5, (before, first_close)  # nobody waited for a bad peer
        print(f"closed after: no hello {t_silent:.1f} s, half frame before hello "
              f"{t_half_pre:.1f} s, half frame after hello {t_half:.1f} s, "
              f"stopped reading {closed_at.get('Deaf', -1):.1f} s (hub)")
        assert t_silent < 15 and t_half_pre < 15 and t_half < 15
        deadline = time.monotonic() + 10
        while (open_conns("Half") or open_conns("Deaf")) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert open_conns("Half") == 0 and open_conns("Deaf") == 0
        assert rt.hub.connections == {c for c in rt.hub.connections
                                      if c.pid in (pid["Fast"], pid["Talker"])}
        assert not rt.hub._catching_up
        # the deaf one's socket is ended too (after its close handshake times out)
        assert await closed_after(deaf_r, 20) < 20
        for c in (fast, talker):
            await c.close()
    finally:
        for w in writers:
            w.transport.abort()
        await server.stop()


# -- memory after join/leave cycles --------------------------------------------------------
async def cycles(base: str, ws_base: str, n: int, concurrency: int = 16,
                 http_every: int = 50) -> None:
    """n socket lives (connect, hello, ready, close) over a pool of people, and every
    `http_every` cycles a throwaway event: created, 3 HTTP joins, one socket, deleted."""
    import httpx

    auth = {"Authorization": f"Bearer {ORGANIZER}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        ev = (await http.post("/api/events", headers=auth,
                              json={"title": "soak", "topics": [{"title": "t"}]})).json()
        tokens = []
        for i in range(concurrency * 2):
            r = await http.post(f"/api/events/{ev['id']}/join",
                                json={"name": f"p{i}", "key": ev["participant_key"]})
            tokens.append(r.json()["token"])
        counter = iter(range(n))

        async def life(event_id: str, token: str) -> None:
            async with websockets.connect(f"{ws_base}/ws/events/{event_id}",
                                          max_size=None, compression=None) as ws:
                await ws.send(json.dumps({"type": "hello", "token": token}))
                while json.loads(await ws.recv())["type"] != "ready":
                    pass

        async def worker(w: int) -> None:
            for i in counter:
                if http_every and i % http_every == 0:
                    made = await http.post("/api/events", headers=auth, json={
                        "title": f"tmp{i}", "topics": [{"title": "t"}]})
                    assert made.status_code == 201, made.text
                    tmp = made.json()
                    joined = [(await http.post(f"/api/events/{tmp['id']}/join", json={
                        "name": f"j{k}", "key": tmp["participant_key"]})).json()
                        for k in range(3)]
                    await life(tmp["id"], joined[0]["token"])
                    r = await http.delete(f"/api/events/{tmp['id']}", headers=auth)
                    assert r.status_code == 200, r.text
                else:
                    # each worker has its own two people, so no person ever has more
                    # sockets open than the per-person limit while closes settle
                    await life(ev["id"], tokens[2 * w + i % 2])

        await asyncio.gather(*(worker(w) for w in range(concurrency)))


async def soak(tmp: Path, warmup: int, n: int) -> dict[str, Any]:
    # the resume window is in-memory by design (10,000 entries by default); a smaller one
    # fills during the warm-up, so what is left to grow is what should not
    proc = await spawn(tmp / "d", env={"FORUM_SYNCHRONOUS": "NORMAL",
                                       "FORUM_LIMIT_RESUME_WINDOW": "1000"})
    try:
        pid = proc.proc.pid
        start = rss_kib(pid)
        t0 = time.monotonic()
        await cycles(proc.base, proc.ws_base, warmup)
        await asyncio.sleep(1.0)
        base = rss_kib(pid)
        t1 = time.monotonic()
        await cycles(proc.base, proc.ws_base, n)
        took = time.monotonic() - t1
        await asyncio.sleep(2.0)  # presence timers, closes and the journal writer settle
        after = rss_kib(pid)
        return {"start_kib": start, "baseline_kib": base, "after_kib": after,
                "growth": (after - base) / base, "cycles": n, "warmup": warmup,
                "cycles_per_s": n / took, "warmup_s": t1 - t0}
    finally:
        proc.terminate()


@pytest.mark.slow
async def test_memory_returns_after_join_leave_cycles(tmp_path: Path) -> None:
    r = await soak(tmp_path, warmup=1000, n=2000)
    print(f"\nRSS: start {r['start_kib'] / 1024:.1f} MiB, after {r['warmup']} warm-up "
          f"{r['baseline_kib'] / 1024:.1f} MiB, after {r['cycles']} cycles "
          f"{r['after_kib'] / 1024:.1f} MiB ({r['growth']:+.1%}), "
          f"{r['cycles_per_s']:.0f} cycles/s")
    assert r["growth"] < 0.10, r
