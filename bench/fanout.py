#!/usr/bin/env python3
"""Fan-out benchmark (issue 3): forum-live against a minimal Starlette broadcast server.

    python bench/fanout.py [--participants 1000] [--senders 20] [--lines 10] [--rate 20]
                           [--join-concurrency 50] [--json]

Starts, one after the other, two servers as subprocesses on 127.0.0.1 (free ports):
forum-live (`run.py`, fresh temp data dir) and bench/baseline_server.py (same uvicorn
options). Against each, the same client workload from this one process:

1. join: N participants. forum-live: POST /api/events/{id}/join with the participant key,
   open /ws/events/{id}, `hello`, wait for `ready`. Baseline: open the socket. Timed until
   all N are in; server RSS (VmRSS) is read before and after, once the presence traffic of
   the join has settled.
2. paced chat: `--senders` senders send `--lines` lines each, spread evenly at `--rate`
   lines/s in total; for each line, the time from its send until every one of the N
   participants (the sender included) has it: p50/p99.
3. burst chat: the same senders send `--lines` more lines each, all at once; deliveries/s =
   frames delivered to all participants / (last delivery - first send).

The clients are raw asyncio protocols on uvloop (a few microseconds per received frame), so
one client process is cheaper than the servers it measures; client and server CPU per phase
are reported so a saturated client is visible. Only 127.0.0.1 is contacted; every wait is
bounded, and both servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
ORGANIZER_TOKEN = "bench-organizer-" + secrets.token_urlsafe(12)
# Raised so the senders are never rate-limited (defaults: 5/s, burst 10). Nothing else is.
FORUM_ENV = {"FORUM_ORGANIZER_TOKEN": ORGANIZER_TOKEN,
             "FORUM_LIMIT_CHAT_RATE": "100000", "FORUM_LIMIT_CHAT_BURST": "100000"}
MARK = b"@@"  # chat texts carry @@NNNNNN, the line number, found without parsing JSON
CLK_TCK = os.sysconf("SC_CLK_TCK")
now = time.perf_counter  # CLOCK_MONOTONIC


# -- processes ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_s(pid: int) -> float:
    """utime + stime of the whole process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields_ = f.read().rsplit(")", 1)[1].split()
    return (int(fields_[11]) + int(fields_[12])) / CLK_TCK


def busy_s() -> float:
    """CPU seconds spent by everything on this machine (all CPUs, not idle, not iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / CLK_TCK


class CpuMeter:
    """Server, client and everything-else CPU over one phase, in % of one core: the
    machine is shared, so a run disturbed by other processes says so."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.t0, self.c0, self.s0, self.b0 = now(), time.process_time(), cpu_s(server_pid), \
            busy_s()

    def stop(self, wall: float | None = None) -> dict[str, float]:
        wall = wall if wall is not None else now() - self.t0
        c, s, b = time.process_time() - self.c0, cpu_s(self.pid) - self.s0, busy_s() - self.b0
        pct_ = (lambda x: 100 * x / wall) if wall > 0 else (lambda x: 0.0)
        return {"server_cpu_pct": pct_(s), "client_cpu_pct": pct_(c),
                "other_cpu_pct": pct_(max(0.0, b - s - c))}


@dataclass
class ServerProc:
    name: str
    cmd: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 30.0) -> None:
        env = {**os.environ, **self.env}
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = now() + timeout
        while now() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            try:
                conn = HttpConn()
                await conn.open(self.port)
                status, _ = await conn.request("GET", "/healthz")
                conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not come up: {self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


# -- a small HTTP/1.1 keep-alive client ------------------------------------------------------
class HttpConn:
    async def open(self, port: int) -> None:
        self.port = port
        self.reader, self.writer = await asyncio.open_connection(HOST, port)

    async def request(self, method: str, path: str, body: Any = None,
                      headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{self.port}",
                f"Content-Length: {len(data)}"]
        if body is not None:
            head.append("Content-Type: application/json")
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 30)
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {k.strip().lower(): v.strip() for k, _, v in
                (ln.partition(":") for ln in lines[1:] if ln)}
        if "content-length" in hdrs:
            payload = await self.reader.readexactly(int(hdrs["content-length"]))
        else:  # chunked (not used by JSONResponse, kept for safety)
            payload = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                payload += chunk[:-2]
        return status, (json.loads(payload) if payload else None)

    def close(self) -> None:
        self.writer.close()


# -- a lean WebSocket client ---------------------------------------------------------------
class Tracker:
    """Arrival bookkeeping shared by all clients of one run (one process, one loop)."""

    def __init__(self, max_lines: int) -> None:
        self.frames = 0  # every text frame received by any client
        self.bytes = 0
        self.count = [0] * max_lines  # how many participants have line k
        self.last = [0.0] * max_lines  # when the last of them got it
        self.sent = [0.0] * max_lines
        self.expect = 0  # deliveries still awaited in the current phase
        self.done: asyncio.Event | None = None
        self.errors: list[bytes] = []
        self.closed = 0
        self.t_last = 0.0  # when the last text frame arrived


class WSClient(asyncio.Protocol):
    """RFC 6455 over an asyncio protocol: upgrade, unmasked server frames parsed by hand,
    masked client frames, pong on ping. Chat lines are found by their @@ marker."""

    def __init__(self, tr: Tracker, path: str, port: int) -> None:
        self.tr = tr
        self.path = path
        self.port = port
        self.buf = bytearray()
        self.upgraded = False
        self.loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = self.loop.create_future()
        self.ready: asyncio.Future[bytes] | None = None
        self.transport: asyncio.Transport | None = None
        self.frag = bytearray()
        self.lost: asyncio.Future[None] = self.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {self.path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n")
        transport.write(req.encode())  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        for fut in (self.opened, self.ready):
            if fut is not None and not fut.done():
                fut.set_exception(ConnectionError("socket closed"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(bytes(buf[:200]).decode("latin-1")))
                self.transport.close()  # type: ignore[union-attr]
                return
            del buf[:end + 4]
            self.upgraded = True
            self.opened.set_result(None)
        t = now()  # everything in this read arrived together
        tr = self.tr
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            ln = b1 & 0x7F
            off = pos + 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln = int.from_bytes(buf[pos + 2:pos + 4], "big")
                off = pos + 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln = int.from_bytes(buf[pos + 2:pos + 10], "big")
                off = pos + 10
            if b1 & 0x80:  # servers never mask; refuse to guess
                raise ConnectionError("masked server frame")
            if n - off < ln:
                break
            payload = bytes(buf[off:off + ln])
            pos = off + ln
            op = b0 & 0x0F
            if not b0 & 0x80:  # fragment (not sent by uvicorn; handled anyway)
                self.frag += payload
                continue
            if op == 0:
                payload, self.frag = bytes(self.frag + payload), bytearray()
                op = 1
            if op == 1:
                tr.frames += 1
                tr.t_last = t
                tr.bytes += ln
                i = payload.find(MARK)
                if i >= 0:
                    k = int(payload[i + 2:i + 8])
                    tr.count[k] += 1
                    tr.last[k] = t
                    tr.expect -= 1
                    if tr.expect == 0 and tr.done is not None:
                        tr.done.set()
                elif self.ready is not None and not self.ready.done() and \
                        payload.startswith(b'{"type":"ready"'):
                    self.ready.set_result(payload)
                elif payload.startswith(b'{"type":"error"'):
                    tr.errors.append(payload[:300])
            elif op == 9:
                self._send(0xA, payload)
            elif op == 8:
                tr.closed += 1
                tr.errors.append(b"close " + payload[:120])
                self._send(0x8, payload[:2])
                self.transport.close()  # type: ignore[union-attr]
        if pos:
            del buf[:pos]

    def _send(self, op: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | op, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | op, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | op, 0x80 | 127)) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        m = int.from_bytes((mask * (n // 4 + 1))[:n], "big") if n else 0
        body = (int.from_bytes(payload, "big") ^ m).to_bytes(n, "big") if n else b""
        self.transport.write(head + mask + body)  # type: ignore[union-attr]

    def send_text(self, text: str) -> None:
        self._send(0x1, text.encode())

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            try:
                self._send(0x8, (1000).to_bytes(2, "big"))
            except Exception:
                pass
            self.transport.close()


async def ws_connect(tr: Tracker, port: int, path: str) -> WSClient:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(lambda: WSClient(tr, path, port), HOST, port)
    await asyncio.wait_for(proto.opened, 30)
    return proto  # type: ignore[return-value]


# -- the workload ------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


@dataclass
class Target:
    kind: str  # "forum" | "baseline"
    server: ServerProc
    event_id: str = ""
    participant_key: str = ""
    room: str = ""
    clients: list[WSClient] = field(default_factory=list)


class Workload:
    def __init__(self, args: argparse.Namespace) -> None:
        self.a = args
        self.total_lines = 2 * args.senders * args.lines

    # phase 1 -----------------------------------------------------------------------------
    async def setup_forum(self, t: Target) -> None:
        conn = HttpConn()
        await conn.open(t.server.port)
        status, body = await conn.request(
            "POST", "/api/events",
            {"title": "Fan-out benchmark", "topics": [{"title": "Last"}]},
            {"Authorization": f"Bearer {ORGANIZER_TOKEN}"})
        conn.close()
        if status != 201:
            raise RuntimeError(f"create event: {status} {body}")
        t.event_id, t.participant_key, t.room = body["id"], body["participant_key"], \
            body["plenary_room"]

    async def join_all(self, t: Target, tr: Tracker) -> dict[str, Any]:
        n, conc = self.a.participants, min(self.a.join_concurrency, self.a.participants)
        t.clients = [None] * n  # type: ignore[list-item]
        per_join: list[float] = []
        http_s: list[float] = []
        nxt = iter(range(n))

        async def worker() -> None:
            http: HttpConn | None = None
            if t.kind == "forum":
                http = HttpConn()
                await http.open(t.server.port)
            try:
                for i in nxt:
                    t0 = now()
                    if t.kind == "forum":
                        assert http is not None
                        status, body = await http.request(
                            "POST", f"/api/events/{t.event_id}/join",
                            {"name": f"Teilnehmer {i:04d}", "key": t.participant_key})
                        if status != 200:
                            raise RuntimeError(f"join {i}: {status} {body}")
                        http_s.append(now() - t0)
                        c = await ws_connect(tr, t.server.port, f"/ws/events/{t.event_id}")
                        c.ready = asyncio.get_running_loop().create_future()
                        c.send_text(json.dumps({"type": "hello", "token": body["token"]}))
                        await asyncio.wait_for(c.ready, 60)
                    else:
                        c = await ws_connect(tr, t.server.port, "/ws")
                    t.clients[i] = c
                    per_join.append(now() - t0)
            finally:
                if http is not None:
                    http.close()

        t0 = now()
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(conc))),
                               self.a.timeout)
        elapsed = now() - t0
        return {"join_all_s": elapsed, "join_p50_ms": pct(per_join, 50) * 1e3,
                "join_p99_ms": pct(per_join, 99) * 1e3,
                "join_http_p50_ms": pct(http_s, 50) * 1e3 if http_s else None}

    async def settle(self, tr: Tracker, quiet: float = 0.5, limit: float = 60.0) -> float:
        """Wait until no frame has arrived for `quiet` seconds (the presence echo of the
        join); return how long after the call the last frame came."""
        t0 = now()
        while now() - t0 < limit and now() - max(tr.t_last, t0) < quiet:
            await asyncio.sleep(0.02)
        return max(0.0, tr.t_last - t0)

    # phase 2/3 ---------------------------------------------------------------------------
    def chat_frame(self, t: Target, k: int, sender: int) -> str:
        text = f"@@{k:06d} Zeile {k} von Absender {sender}: Wie geht es weiter mit dem Thema?"
        return json.dumps({"type": "chat.send", "ref": k, "room": t.room, "text": text})

    async def chat(self, t: Target, tr: Tracker, first: int, paced: bool) -> dict[str, Any]:
        a = self.a
        n, s = len(t.clients), a.senders
        count = s * a.lines
        lines = range(first, first + count)
        tr.expect = count * n
        tr.done = asyncio.Event()
        senders = t.clients[:s]
        # frames prepared up front: the client's own work stays off the measured path
        frames = [self.chat_frame(t, k, k % s) for k in lines]
        meter = CpuMeter(t.server.pid)
        t0 = now()
        for j, k in enumerate(lines):
            if paced:
                due = t0 + j / a.rate
                delay = due - now()
                if delay > 0:
                    await asyncio.sleep(delay)
            tr.sent[k] = now()
            senders[k % s].send_text(frames[j])
        try:
            await asyncio.wait_for(tr.done.wait(), a.timeout)
        except asyncio.TimeoutError:
            pass
        wall_end = max(tr.last[k] for k in lines) if tr.expect == 0 else now()
        cpu = meter.stop()
        got = sum(tr.count[k] for k in lines)
        complete = [k for k in lines if tr.count[k] == n]
        lat = [tr.last[k] - tr.sent[k] for k in complete]
        wall = wall_end - t0
        return {"lines": count, "lines_complete": len(complete), "deliveries": got,
                "deliveries_expected": count * n, "wall_s": wall,
                "deliveries_per_s": got / wall if wall > 0 else float("nan"),
                "p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3,
                "max_ms": max(lat) * 1e3 if lat else float("nan"), **cpu}

    async def run(self, t: Target) -> dict[str, Any]:
        tr = Tracker(self.total_lines)
        await t.server.start()
        try:
            if t.kind == "forum":
                await self.setup_forum(t)
            await asyncio.sleep(0.3)
            rss0 = rss_kib(t.server.pid)
            meter = CpuMeter(t.server.pid)
            join = await self.join_all(t, tr)
            join.update({f"join_{k}": v for k, v in meter.stop().items()})
            join["settle_s"] = await self.settle(tr)
            join["join_frames"] = tr.frames
            join["join_mbytes"] = tr.bytes / 1e6
            await asyncio.sleep(0.2)
            rss1 = rss_kib(t.server.pid)
            mem = {"rss_before_kib": rss0, "rss_after_kib": rss1,
                   "kib_per_participant": (rss1 - rss0) / self.a.participants}
            paced = await self.chat(t, tr, 0, paced=True)
            await self.settle(tr, 0.3)
            burst = await self.chat(t, tr, self.a.senders * self.a.lines, paced=False)
            return {"join": join, "memory": mem, "paced": paced, "burst": burst,
                    "errors": [e.decode("utf-8", "replace") for e in tr.errors[:5]],
                    "error_count": len(tr.errors), "closed_by_server": tr.closed}
        finally:
            for c in t.clients:
                if c is not None:
                    c.close()
            await asyncio.sleep(0.2)
            t.server.stop()


# -- report ------------------------------------------------------------------------------------
def table(args: argparse.Namespace, fl: dict[str, Any], bl: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str, str]] = []

    def f(v: Any, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    def row(name: str, a: Any, b: Any, fmt: str, target: str = "", ok: bool | None = None
            ) -> None:
        rows.append((name, f(a, fmt), f(b, fmt), target,
                     "" if ok is None else ("yes" if ok else "NO")))

    def cpu_row(name: str, a: str, b: str) -> None:
        rows.append((name, a, b, "", ""))

    n = args.participants
    j, jb = fl["join"], bl["join"]
    row(f"time to join all {n} (s)", j["join_all_s"], jb["join_all_s"], ".2f", "<= 5 s",
        j["join_all_s"] <= 5.0)
    row("  one join p50 / p99 (ms)", None, None, "")
    rows[-1] = (rows[-1][0], f"{j['join_p50_ms']:.0f} / {j['join_p99_ms']:.0f}",
                f"{jb['join_p50_ms']:.0f} / {jb['join_p99_ms']:.0f}", "", "")
    row("  frames received while joining", j["join_frames"], jb["join_frames"], "d")
    cpu_row("  CPU server / client / other, joining (%)",
            *(f"{x['join_server_cpu_pct']:.0f} / {x['join_client_cpu_pct']:.0f} / "
              f"{x['join_other_cpu_pct']:.0f}" for x in (j, jb)))
    row("  presence traffic settles after (s)", j["settle_s"], jb["settle_s"], ".2f")
    p, pb = fl["paced"], bl["paced"]
    cpu_row("  CPU server / client / other, paced (%)",
            *(f"{x['server_cpu_pct']:.0f} / {x['client_cpu_pct']:.0f} / "
              f"{x['other_cpu_pct']:.0f}" for x in (p, pb)))
    row(f"chat p50, {args.rate:g} lines/s paced (ms)", p["p50_ms"], pb["p50_ms"], ".1f")
    row(f"chat p99, {args.rate:g} lines/s paced (ms)", p["p99_ms"], pb["p99_ms"], ".1f",
        "<= 150 ms", p["p99_ms"] <= 150 and p["lines_complete"] == p["lines"])
    b, bb = fl["burst"], bl["burst"]
    ratio = b["deliveries_per_s"] / bb["deliveries_per_s"] if bb["deliveries_per_s"] else 0
    row("deliveries/s, burst", b["deliveries_per_s"], bb["deliveries_per_s"], ",.0f",
        ">= 0.8 x baseline", ratio >= 0.8 and b["deliveries"] == b["deliveries_expected"])
    rows[-1] = rows[-1][:3] + (f">= 0.8 x baseline ({ratio:.2f}x)",) + rows[-1][4:]
    row("  burst line p50 / p99 (ms)", None, None, "")
    rows[-1] = (rows[-1][0], f"{b['p50_ms']:.0f} / {b['p99_ms']:.0f}",
                f"{bb['p50_ms']:.0f} / {bb['p99_ms']:.0f}", "", "")
    cpu_row("  CPU server / client / other, burst (%)",
            *(f"{x['server_cpu_pct']:.0f} / {x['client_cpu_pct']:.0f} / "
              f"{x['other_cpu_pct']:.0f}" for x in (b, bb)))
    m, mb = fl["memory"], bl["memory"]
    row("server memory per participant (KiB)", m["kib_per_participant"],
        mb["kib_per_participant"], ".1f", "<= 64 KiB", m["kib_per_participant"] <= 64)
    row("  server RSS before -> after (MiB)", None, None, "")
    rows[-1] = (rows[-1][0], f"{m['rss_before_kib'] / 1024:.0f} -> {m['rss_after_kib'] / 1024:.0f}",
                f"{mb['rss_before_kib'] / 1024:.0f} -> {mb['rss_after_kib'] / 1024:.0f}", "", "")
    head = ("metric", "forum-live", "baseline", "target", "ok?")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fanout.py", description=__doc__.split("\n")[0])
    p.add_argument("--participants", type=int, default=1000)
    p.add_argument("--senders", type=int, default=20)
    p.add_argument("--lines", type=int, default=10, help="lines per sender, in each chat phase")
    p.add_argument("--rate", type=float, default=20.0,
                   help="total lines/s of the paced phase (latency); the burst phase is unpaced")
    p.add_argument("--join-concurrency", type=int, default=50,
                   help="participants joining at the same time")
    p.add_argument("--timeout", type=float, default=120.0, help="bound of every phase (s)")
    p.add_argument("--only", choices=["forum", "baseline"], help="run one server only")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    a = p.parse_args(argv)
    if not 1 <= a.senders <= a.participants:
        p.error("--senders must be between 1 and --participants")
    return a


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 2 * args.participants + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    work = Workload(args)
    out: dict[str, Any] = {"participants": args.participants, "senders": args.senders,
                           "lines_per_sender": args.lines, "rate": args.rate,
                           "join_concurrency": args.join_concurrency,
                           "cpus": os.cpu_count(), "forum_env": FORUM_ENV}
    with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        tmpd = Path(tmp)
        if args.only in (None, "forum"):
            port = free_port()
            srv = ServerProc("forum-live", [sys.executable, "run.py", "--port", str(port),
                                            "--data-dir", str(tmpd / "data"),
                                            "--recordings-dir", str(tmpd / "rec"),
                                            "--log-level", "warning"],
                             FORUM_ENV, port, tmpd / "forum.log")
            out["forum"] = await work.run(Target("forum", srv))
        if args.only in (None, "baseline"):
            port = free_port()
            srv = ServerProc("baseline", [sys.executable, "bench/baseline_server.py", "--port",
                                          str(port), "--log-level", "warning"],
                             {}, port, tmpd / "baseline.log")
            out["baseline"] = await work.run(Target("baseline", srv))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    out = asyncio.run(amain(args))
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    if "forum" in out and "baseline" in out:
        print(f"fan-out: {args.participants} participants, {args.senders} senders x "
              f"{args.lines} lines paced at {args.rate:g} lines/s, then {args.senders} x "
              f"{args.lines} lines in one burst; {os.cpu_count()} CPUs; clients: 1 process")
        print("forum-live chat rate limit raised for the benchmark: FORUM_LIMIT_CHAT_RATE="
              "100000, FORUM_LIMIT_CHAT_BURST=100000 (no other limit changed)")
        print(table(args, out["forum"], out["baseline"]))
        for name in ("forum", "baseline"):
            r = out[name]
            other = max(r["join"]["join_other_cpu_pct"], r["paced"]["other_cpu_pct"],
                        r["burst"]["other_cpu_pct"])
            if other > 25:
                print(f"WARNING {name}: other processes used up to {other:.0f}% of a core "
                      "during a phase; the figures are disturbed, run again on a quiet machine")
            if r["error_count"] or r["closed_by_server"]:
                print(f"{name}: {r['error_count']} error frames, {r['closed_by_server']} "
                      f"closed by the server, e.g. {r['errors'][:2]}")
    else:
        print(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
