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
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (problems, stop_all,  # noqa: E402
                    CpuMeter, HttpConn, ServerProc, WSClient, create_event,  # noqa: E402
                    forum_server, free_port, install_uvloop, join_forum, md_table, now, pct,
                    raise_nofile, rss_kib, settle, ws_connect)

# Raised so the senders are never rate-limited (defaults: 5/s, burst 10). Nothing else is.
FORUM_ENV = {"FORUM_LIMIT_CHAT_RATE": "100000", "FORUM_LIMIT_CHAT_BURST": "100000"}
MARK = b"@@"  # chat texts carry @@NNNNNN, the line number, found without parsing JSON


# -- the client ------------------------------------------------------------------------------
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


class ChatClient(WSClient):
    """Counts every text frame; chat lines are found by their @@ marker."""

    def __init__(self, tr: Tracker, path: str, port: int) -> None:
        super().__init__(path, port)
        self.tr = tr

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
            tr.expect -= 1
            if tr.expect == 0 and tr.done is not None:
                tr.done.set()
        elif self.check_ready(payload):
            pass
        elif payload.startswith(b'{"type":"error"'):
            tr.errors.append(payload[:300])

    def on_close(self, payload: bytes) -> None:
        self.tr.closed += 1
        self.tr.errors.append(b"close " + payload[:120])


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
