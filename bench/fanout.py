#!/usr/bin/env python3
"""Fan-out benchmark (issues 3 and 18): forum-live against two minimal broadcast servers.

    python bench/fanout.py [--participants 1000] [--rounds 30] [--window 5] [--quick]
                           [--scenarios big,small,joins] [--only forum,starlette,websockets]
                           [--ws websockets-sansio] [--json]
    python bench/fanout.py --shape paced [--participants 1000] [--senders 20] [--lines 10]
                           [--rate 20] [--join-concurrency 50] [--json]      # issue 3's shape

**Window shape (issue 18, the default).** In ONE run, one server after the other as a
subprocess on 127.0.0.1 (free ports), so they share the noise of the machine:
forum-live (`run.py`, fresh temp data dir, SQLite `synchronous=FULL` as shipped, chat and
join limits raised), the minimal Starlette broadcast server (bench/baseline_server.py, the
uvicorn options of run.py) and a websockets `broadcast()` server
(bench/ws_broadcast_server.py, the limit of the stack). Against each, from this process:

1. join N one after another (forum-live: HTTP join, socket, `hello`, wait for `ready`;
   the baselines: open the socket), timed; server RSS before and after (memory per
   participant).
2. R rounds (after 2 warm-up rounds): a window of W chat lines in flight, each from a
   different sender, sent at once; the next W once every participant has the previous
   ones. Reported: deliveries/s (measured rounds), p50/p99 from send to each receiver
   (every delivery), p99 from send to the last receiver of a line, and server CPU seconds
   (utime+stime of the server process, /proc/PID/stat) per 1,000 deliveries.

Scenarios: `big` (N participants, default 1,000), `small` (30 participants, the forum of
the seed: chat p99 from send to the last of 30 receivers) and `joins` (a room of 200 in
which every join is broadcast: forum-live's `presence_broadcast_max` raised above 200, the
baselines announce each new connection to all with `--announce`).

**Paced shape (issue 3, `--shape paced`).** forum-live and the Starlette baseline: N join
`--join-concurrency` at a time, then `--senders` x `--lines` lines paced at `--rate`
lines/s (p50/p99 until every participant has a line), then as many in one burst.

The clients are raw asyncio protocols on uvloop (a few microseconds per received frame), so
one client process is cheaper than the servers it measures; client and other processes'
CPU per phase are reported so a saturated client or a disturbed run is visible. Only
127.0.0.1 is contacted; every wait is bounded, and every server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (print_json, problems, stop_all,  # noqa: E402
                    CountingClient, Counts, CpuMeter, HttpConn, ServerProc,  # noqa: E402
                    WSClient, cpu_s, create_event,
                    forum_server, free_port, install_uvloop, join_forum, loadavg, md_table,
                    now, pct, raise_nofile, rss_kib, settle, ws_connect)

# Raised so the senders are never rate-limited (defaults: 5/s, burst 10). Nothing else is.
FORUM_ENV = {"FORUM_LIMIT_CHAT_RATE": "100000", "FORUM_LIMIT_CHAT_BURST": "100000"}
MARK = b"@@"  # chat texts carry @@NNNNNN, the line number, found without parsing JSON


# -- the client ------------------------------------------------------------------------------
class Tracker(Counts):
    """Arrival bookkeeping shared by all clients of one run (one process, one loop)."""

    def __init__(self, max_lines: int) -> None:
        super().__init__()
        self.bytes = 0
        self.count = [0] * max_lines  # how many participants have line k
        self.last = [0.0] * max_lines  # when the last of them got it
        self.sent = [0.0] * max_lines
        self.expect = 0  # deliveries still awaited in the current phase
        self.done: asyncio.Event | None = None
        self.lat: list[float] = []  # send -> this receiver, every delivery while measuring
        self.measuring = False


class ChatClient(CountingClient):
    """Counts every text frame; chat lines are found by their @@ marker."""

    tr: Tracker

    def on_text(self, payload: bytes, t: float) -> None:
        tr = self.tr
        tr.frames += 1
        tr.t_last = t
        tr.bytes += len(payload)
        i = payload.find(MARK)
        if i >= 0:
            k = int(payload[i + 2:i + 8])
            tr.count[k] += 1
            tr.last[k] = t
            if tr.measuring:
                tr.lat.append(t - tr.sent[k])
            tr.expect -= 1
            if tr.expect == 0 and tr.done is not None:
                tr.done.set()
        elif self.check_ready(payload):
            pass
        elif payload.startswith(b'{"type":"error"'):
            tr.errors.append(payload[:300])


# -- the workload ------------------------------------------------------------------------------
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
        body = await create_event(t.server.port, "Fan-out benchmark", ["Last"])
        t.event_id, t.participant_key, t.room = body["id"], body["participant_key"], \
            body["plenary_room"]

    async def join_all(self, t: Target, tr: Tracker) -> dict[str, Any]:
        n, conc = self.a.participants, min(self.a.join_concurrency, self.a.participants)
        port = t.server.port
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
                        c, _, _ = await join_forum(
                            http, t.server.port, t.event_id, t.participant_key,
                            f"Teilnehmer {i:04d}", lambda path: ChatClient(tr, path, port),
                            http_times=http_s)
                    else:
                        c = await ws_connect(port, lambda: ChatClient(tr, "/ws", port))
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
            join["settle_s"] = await settle(lambda: tr.t_last)
            join["join_frames"] = tr.frames
            join["join_mbytes"] = tr.bytes / 1e6
            await asyncio.sleep(0.2)
            rss1 = rss_kib(t.server.pid)
            mem = {"rss_before_kib": rss0, "rss_after_kib": rss1,
                   "kib_per_participant": (rss1 - rss0) / self.a.participants}
            paced = await self.chat(t, tr, 0, paced=True)
            await settle(lambda: tr.t_last, 0.3)
            burst = await self.chat(t, tr, self.a.senders * self.a.lines, paced=False)
            return {"join": join, "memory": mem, "paced": paced, "burst": burst,
                    **problems(tr.errors, tr.closed)}
        finally:
            await stop_all(t.clients, t.server)


# -- the window shape (issue 18) ---------------------------------------------------------------
SERVERS = ("forum", "starlette", "websockets")
LABEL = {"forum": "forum-live", "starlette": "Starlette baseline",
         "websockets": "websockets broadcast()"}
WARMUP_ROUNDS = 2  # not measured: the first lines pay for imports, caches, allocation


# the window shape counts arrivals like the paced one, with every delivery's latency
WinTracker = Tracker
WinClient = ChatClient


FORUM_LAUNCHER = """import sys, uvicorn
_Config = uvicorn.Config
WS = sys.argv.pop(1)
def Config(*a, **k):
    k["ws"] = WS
    return _Config(*a, **k)
uvicorn.Config = Config
sys.argv[0] = "run.py"
import runpy
runpy.run_path("run.py", run_name="__main__")
"""


def mark(phase: str) -> None:
    """Write the phase that begins to $FANOUT_PHASE_FILE (if set): a profiler can attach
    to the server for one phase (docs/performance.md shows how)."""
    path = os.environ.get("FANOUT_PHASE_FILE")
    if path:
        Path(path).write_text(phase)


def make_server(kind: str, tmpd: Path, env: dict[str, str], announce: bool,
                ws: str | None) -> ServerProc:
    """The server `kind` as a subprocess on a free port (not started)."""
    if kind == "forum":
        srv = forum_server(tmpd, env)
        if ws:  # uvicorn's `ws` for this run only: run.py with uvicorn.Config's ws forced
            srv.cmd = [sys.executable, "-c", FORUM_LAUNCHER, ws, *srv.cmd[2:]]
        return srv
    port = free_port()
    script = "bench/baseline_server.py" if kind == "starlette" else "bench/ws_broadcast_server.py"
    cmd = [sys.executable, script, "--port", str(port), "--log-level", "warning"]
    if announce:
        cmd.append("--announce")
    if ws and kind == "starlette":
        cmd += ["--ws", ws]
    return ServerProc(LABEL[kind], cmd, {}, port, tmpd / f"{kind}.log")


async def window_run(kind: str, n: int, rounds: int, window: int, tmpd: Path,
                     env: dict[str, str], announce: bool, ws: str | None,
                     timeout: float) -> dict[str, Any]:
    """One server, one scenario: N sequential joins, then the rounds of the window."""
    total = WARMUP_ROUNDS + rounds
    tr = WinTracker(total * window)
    srv = make_server(kind, tmpd, env, announce, ws)
    clients: list[WSClient] = []
    await srv.start()
    try:
        room = event_id = key = ""
        if kind == "forum":
            body = await create_event(srv.port, "Fan-out benchmark", ["Last"])
            event_id, key, room = body["id"], body["participant_key"], body["plenary_room"]
        await asyncio.sleep(0.3)
        rss0 = rss_kib(srv.pid)
        port = srv.port
        meter = CpuMeter(srv.pid)
        per_join: list[float] = []
        http_s: list[float] = []  # forum-live: the HTTP join alone
        ready_bytes: list[int] = []  # forum-live: the size of each `ready` frame
        http = HttpConn()
        if kind == "forum":
            await http.open(port)
        mark(f"join {kind} {srv.pid}")
        t0 = now()
        try:
            for i in range(n):
                tj = now()
                if kind == "forum":
                    c, _, ready = await join_forum(
                        http, port, event_id, key, f"Teilnehmer {i:04d}",
                        lambda path: WinClient(tr, path, port), timeout=timeout,
                        http_times=http_s)
                    ready_bytes.append(len(ready))
                else:
                    c = await ws_connect(port, lambda: WinClient(tr, "/ws", port))
                clients.append(c)
                per_join.append(now() - tj)
        finally:
            if kind == "forum":
                http.close()
        join_s = now() - t0
        join_cpu = meter.stop()
        join_frames = tr.frames
        await settle(lambda: tr.t_last, 0.3)
        await asyncio.sleep(0.2)
        rss1 = rss_kib(srv.pid)

        def frame(k: int, sender: int) -> str:
            text = f"@@{k:06d} Zeile {k} von Absender {sender}: Wie geht es weiter mit dem Thema?"
            return json.dumps({"type": "chat.send", "ref": k, "room": room, "text": text})

        plan = [[((r * window + j) % n, r * window + j) for j in range(window)]
                for r in range(total)]
        frames = {k: frame(k, who) for batch in plan for who, k in batch}
        meter = None
        c0 = 0.0
        t_start = 0.0
        incomplete = 0
        for r, batch in enumerate(plan):
            if r == WARMUP_ROUNDS:
                mark(f"window {kind} {srv.pid}")
                tr.measuring = True
                meter = CpuMeter(srv.pid)
                c0 = cpu_s(srv.pid)
                t_start = now()
            tr.expect = len(batch) * n
            tr.done = asyncio.Event()
            for who, k in batch:
                tr.sent[k] = now()
                clients[who].send_text(frames[k])
            try:
                await asyncio.wait_for(tr.done.wait(), timeout)
            except asyncio.TimeoutError:
                incomplete += 1
                break
        mark(f"done {kind} {srv.pid}")
        measured = [k for batch in plan[WARMUP_ROUNDS:] for _, k in batch]
        t_end = max(tr.last[k] for k in measured) if not incomplete else now()
        server_cpu = cpu_s(srv.pid) - c0
        assert meter is not None
        phase = meter.stop(t_end - t_start)
        deliveries = len(tr.lat)
        wall = t_end - t_start
        to_last = [tr.last[k] - tr.sent[k] for k in measured if tr.count[k] == n]
        return {
            "server": LABEL[kind], "participants": n, "rounds": rounds, "window": window,
            "join_all_s": join_s, "join_p50_ms": pct(per_join, 50) * 1e3,
            "join_p99_ms": pct(per_join, 99) * 1e3, "join_frames": join_frames,
            "join_http_p50_ms": pct(http_s, 50) * 1e3 if http_s else 0.0,
            "join_http_total_s": sum(http_s),
            "join_first_half_s": sum(per_join[:n // 2]),
            "join_second_half_s": sum(per_join[n // 2:]),
            "ready_kib_first_last": [ready_bytes[0] / 1024, ready_bytes[-1] / 1024]
            if ready_bytes else None,
            "ready_mib_total": sum(ready_bytes) / 2**20,
            "join_server_cpu_s": join_cpu["server_cpu_s"],
            "join_other_cpu_pct": join_cpu["other_cpu_pct"],
            "rss_before_kib": rss0, "rss_after_kib": rss1,
            "kib_per_participant": (rss1 - rss0) / n,
            "deliveries": deliveries, "deliveries_expected": rounds * window * n,
            "wall_s": wall, "deliveries_per_s": deliveries / wall if wall > 0 else 0.0,
            "p50_ms": pct(tr.lat, 50) * 1e3, "p99_ms": pct(tr.lat, 99) * 1e3,
            "max_ms": max(tr.lat) * 1e3 if tr.lat else float("nan"),
            "last_p50_ms": pct(to_last, 50) * 1e3, "last_p99_ms": pct(to_last, 99) * 1e3,
            "server_cpu_s": server_cpu,
            "cpu_s_per_1000": 1000 * server_cpu / deliveries if deliveries else float("nan"),
            "server_runq_wait_s": phase["server_runq_wait_s"],
            "client_cpu_pct": phase["client_cpu_pct"], "other_cpu_pct": phase["other_cpu_pct"],
            "timed_out": bool(incomplete), **problems(tr.errors, tr.closed)}
    finally:
        await stop_all(clients, srv)


def scenarios(a: argparse.Namespace) -> list[dict[str, Any]]:
    """What the window shape runs: (name, participants, rounds, announce, extra env)."""
    big_n = a.participants if a.participants is not None else (200 if a.quick else 1000)
    rounds = a.rounds if a.rounds is not None else (10 if a.quick else 30)
    out = {
        "big": {"name": "big", "n": big_n, "rounds": rounds, "announce": False, "env": {}},
        "small": {"name": "small", "n": 30, "rounds": 30 if a.quick else 100,
                  "announce": False, "env": {}},
        "joins": {"name": "joins", "n": 100 if a.quick else 200, "rounds": rounds,
                  "announce": True,
                  # every join broadcast (the default stops at 200 online)
                  "env": {"FORUM_LIMIT_PRESENCE_BROADCAST_MAX": "100000"}},
    }
    return [out[s] for s in a.scenarios.split(",")]


async def window_main(a: argparse.Namespace) -> dict[str, Any]:
    plan = scenarios(a)
    raise_nofile(2 * max(s["n"] for s in plan) + 256)
    only = a.only.split(",") if a.only else list(SERVERS)
    out: dict[str, Any] = {"shape": "window", "window": a.window, "cpus": os.cpu_count(),
                           "ws": a.ws or "run.py's", "loadavg_before": loadavg(),
                           "forum_env": FORUM_ENV, "scenarios": {}}
    with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        for sc in plan:
            res: dict[str, Any] = {}
            for rep in range(a.repeat):
                for kind in only:
                    d = Path(tmp) / f"{sc['name']}-{kind}-{rep}"
                    d.mkdir()
                    r = await window_run(kind, sc["n"], sc["rounds"], a.window, d,
                                         {**FORUM_ENV, **sc["env"]}, sc["announce"], a.ws,
                                         a.timeout)
                    res.setdefault(kind, []).append(r)
            out["scenarios"][sc["name"]] = {"participants": sc["n"], "rounds": sc["rounds"],
                                            "announce": sc["announce"], "runs": res}
    out["loadavg_after"] = loadavg()
    return out


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """With --repeat, the run with the median deliveries/s."""
    s = sorted(runs, key=lambda r: r["deliveries_per_s"])
    return s[(len(s) - 1) // 2]


def window_table(out: dict[str, Any]) -> str:
    parts: list[str] = []
    for name, sc in out["scenarios"].items():
        runs = {k: _best(v) for k, v in sc["runs"].items()}
        kinds = [k for k in SERVERS if k in runs]
        n = sc["participants"]
        head = ("metric", *(LABEL[k] for k in kinds), "forum / Starlette", "target", "ok?")
        rows: list[tuple[str, ...]] = []
        fl, st = runs.get("forum"), runs.get("starlette")

        def row(label: str, key: str, fmt: str, target: str = "",
                better: str = "", limit: float | None = None) -> None:
            cells = [format(runs[k][key], fmt) for k in kinds]
            ratio, ok = "", ""
            if fl is not None and st is not None and st[key]:
                rv = fl[key] / st[key]
                ratio = f"{rv:.2f}x"
                if limit is not None and better != "abs":
                    ok = "yes" if (rv >= limit if better == "high" else rv <= limit) else "NO"
            if fl is not None and limit is not None and better == "abs":
                ok = "yes" if fl[key] <= limit else "NO"
            rows.append((label, *cells, ratio, target, ok))

        big = name == "big"
        row(f"join {n} one after another (s)", "join_all_s", ".2f",
            "<= 3 s" if big and n == 1000 else "", "abs", 3.0 if big and n == 1000 else None)
        row("  one join p50 (ms)", "join_p50_ms", ".1f")
        row("  one join p99 (ms)", "join_p99_ms", ".1f")
        if fl is not None:
            row("  of which the HTTP join, all / p50 (s / ms)", "join_http_total_s", ".2f")
            rows[-1] = (rows[-1][0], *(f"{runs[k]['join_http_total_s']:.2f} / "
                                       f"{runs[k]['join_http_p50_ms']:.1f}" if k == "forum"
                                       else "-" for k in kinds), "", "", "")
        row("  frames received while joining", "join_frames", "d")
        row("  server CPU while joining (s)", "join_server_cpu_s", ".2f")
        row("deliveries/s", "deliveries_per_s", ",.0f", ">= 1.0x" if big else "", "high",
            1.0 if big else None)
        row("p50 send -> each receiver (ms)", "p50_ms", ".1f")
        row("p99 send -> each receiver (ms)", "p99_ms", ".1f", "<= 1.5x" if big else "",
            "low", 1.5 if big else None)
        row(f"p99 send -> last of {n} (ms)", "last_p99_ms", ".1f")
        row("max send -> a receiver (ms)", "max_ms", ".1f")
        row("server CPU s per 1,000 deliveries", "cpu_s_per_1000", ".4f",
            "<= 1.0x" if big else "", "low", 1.0 if big else None)
        row("  server waited for a CPU (s)", "server_runq_wait_s", ".2f")
        row("  client / other processes CPU (%)", "client_cpu_pct", ".0f")
        rows[-1] = (rows[-1][0], *(f"{runs[k]['client_cpu_pct']:.0f} / "
                                   f"{runs[k]['other_cpu_pct']:.0f}" for k in kinds), "", "", "")
        row("memory per participant (KiB)", "kib_per_participant", ".1f")
        rows.append(("  RSS before -> after (MiB)",
                     *(f"{runs[k]['rss_before_kib'] / 1024:.0f} -> "
                       f"{runs[k]['rss_after_kib'] / 1024:.0f}" for k in kinds), "", "", ""))
        title = {"big": f"{n} participants in one room",
                 "small": f"{n} participants (the forum of the seed)",
                 "joins": f"a room of {n}, every join broadcast"}[name]
        parts.append(f"### {title}: {sc['rounds']} rounds of {out['window']} lines in flight "
                     f"(+{WARMUP_ROUNDS} warm-up)\n\n" + md_table(head, rows))
        for k in kinds:
            for r in sc["runs"][k]:
                if r["error_count"] or r["closed_by_server"] or r["timed_out"] or \
                        r["deliveries"] != r["deliveries_expected"]:
                    parts.append(f"{LABEL[k]}: {r['deliveries']}/{r['deliveries_expected']} "
                                 f"deliveries, {r['error_count']} error frames, "
                                 f"{r['closed_by_server']} closed by the server, timed out: "
                                 f"{r['timed_out']}, e.g. {r['errors'][:2]}")
    return "\n\n".join(parts)


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
    return md_table(("metric", "forum-live", "baseline", "target", "ok?"), rows)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fanout.py", description=__doc__.split("\n")[0])
    p.add_argument("--shape", choices=["window", "paced"], default="window",
                   help="window: issue 18's load (default); paced: issue 3's")
    p.add_argument("--participants", type=int, default=None,
                   help="window: the big room (default 1000, --quick 200); paced: 1000")
    p.add_argument("--rounds", type=int, default=None,
                   help="window: rounds of lines in flight (default 30, --quick 10)")
    p.add_argument("--window", type=int, default=5,
                   help="window: chat lines in flight, each from a different sender")
    p.add_argument("--scenarios", default="big,small,joins",
                   help="window: which of big, small (30), joins (200, every join broadcast)")
    p.add_argument("--repeat", type=int, default=1,
                   help="window: run each server this many times, alternating (median shown)")
    p.add_argument("--quick", action="store_true", help="window: 200 / 30 / 100 participants")
    p.add_argument("--ws", default=None,
                   help="uvicorn's ws implementation for forum-live and the Starlette "
                        "baseline (default: run.py's choice)")
    p.add_argument("--senders", type=int, default=20, help="paced")
    p.add_argument("--lines", type=int, default=10, help="paced: lines per sender and phase")
    p.add_argument("--rate", type=float, default=20.0,
                   help="paced: total lines/s of the paced phase; the burst phase is unpaced")
    p.add_argument("--join-concurrency", type=int, default=50,
                   help="paced: participants joining at the same time")
    p.add_argument("--timeout", type=float, default=120.0, help="bound of every phase (s)")
    p.add_argument("--only", help="servers to run, comma-separated: forum, starlette, "
                   "websockets (paced: forum or baseline)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    a = p.parse_args(argv)
    if a.shape == "paced":
        a.participants = a.participants or 1000
        if a.only == "starlette":
            a.only = "baseline"
        if not 1 <= a.senders <= a.participants:
            p.error("--senders must be between 1 and --participants")
    else:
        for s in a.scenarios.split(","):
            if s not in ("big", "small", "joins"):
                p.error(f"unknown scenario {s!r}")
        for s in (a.only or "forum").split(","):
            if s not in SERVERS:
                p.error(f"unknown server {s!r}")
        if (a.participants or 1000) < a.window:
            p.error("--participants must be at least --window")
    return a


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    raise_nofile(2 * args.participants + 256)
    work = Workload(args)
    out: dict[str, Any] = {"participants": args.participants, "senders": args.senders,
                           "lines_per_sender": args.lines, "rate": args.rate,
                           "join_concurrency": args.join_concurrency,
                           "cpus": os.cpu_count(), "forum_env": FORUM_ENV}
    with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        tmpd = Path(tmp)
        if args.only in (None, "forum"):
            srv = forum_server(tmpd, FORUM_ENV)
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
    install_uvloop()
    if args.shape == "window":
        out = asyncio.run(window_main(args))
        if args.json:
            return print_json(out)
        print(f"fan-out, window shape: {out['window']} chat lines in flight from "
              f"{out['window']} senders, the next once all have them; {os.cpu_count()} CPUs, "
              f"load average before {out['loadavg_before']}, after {out['loadavg_after']}; "
              f"the servers ran one after another in this one run; uvicorn ws: {out['ws']}")
        print("forum-live: SQLite synchronous=FULL; raised for the run: FORUM_LIMIT_CHAT_RATE/"
              "BURST=100000, FORUM_LIMIT_JOIN_RATE/BURST=1000000\n")
        print(window_table(out))
        return 0
    out = asyncio.run(amain(args))
    if args.json:
        return print_json(out)
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
