#!/usr/bin/env python3
"""Live-poll benchmark (issue 5): many participants vote on one live poll within seconds.

    python bench/votes.py [--participants 1000] [--window 2] [--options 4] [--anonymous]
                          [--json]

Starts forum-live (`run.py`, fresh temp data dir) as a subprocess on a free 127.0.0.1 port,
joins one moderator and N participants (HTTP join + socket `hello` until `ready`). The
moderator opens a single-choice poll of scope `event` with live results; once every client
has its `poll.opened`, each participant votes once, the N votes spread evenly over
`--window` seconds (choices drawn with a fixed seed, so the counts are uneven). Measured:

- ack time of each vote: `poll.vote` sent → its `ok` (p50/p99/max);
- `poll.results` frames each client got while the votes came in (max and mean), per second
  (count over the time from the first vote to that client's last live result, at least the
  window) and the most in any 1-second window;
- every vote counted exactly once: the last live result shows total == N, and after
  `poll.close` every client's final `poll.results` has total == N and the counts of what
  was sent;
- server CPU seconds (utime+stime from /proc/PID/stat) over the vote phase.

Each participant votes once, so the vote limit (10/s, burst 20 per person) is never reached
and is not raised. Clients are raw asyncio WebSocket protocols on uvloop in this process
(bench/common.py); the machine's load average and other processes' CPU are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (print_json, print_problems, problems, run_crowd,  # noqa: E402
                    CountingClient, Counts, CpuMeter, cpu_s, crowd, loadavg,  # noqa: E402
                    md_table, now, pct, settle, warn_disturbed)

FORUM_ENV: dict[str, str] = {}  # no limit raised: one vote per person
RESULTS = b'{"type":"poll.results"'
OPENED = b'{"type":"poll.opened"'
VOTE_OK = b'{"type":"ok","ref":"vote"'


class Tracker(Counts):
    def __init__(self) -> None:
        super().__init__()
        self.opened = 0
        self.opened_all: asyncio.Event = asyncio.Event()
        self.expect_clients = 0
        self.acks = 0
        self.acks_all: asyncio.Event = asyncio.Event()
        self.expect_acks = 0
        self.counted: asyncio.Event = asyncio.Event()  # the moderator saw total == N
        self.finals = 0
        self.finals_all: asyncio.Event = asyncio.Event()


class Client(CountingClient):
    tr: Tracker

    def __init__(self, tr: Tracker, path: str, port: int, moderator: bool = False) -> None:
        super().__init__(tr, path, port)
        self.moderator = moderator
        self.poll = ""
        self.sent_at = 0.0
        self.ack_at = 0.0
        self.vote_error: bytes | None = None
        self.live: list[float] = []  # arrival of each live poll.results
        self.final: bytes | None = None
        self.last_live: bytes | None = None

    def on_text(self, payload: bytes, t: float) -> None:
        tr = self.tr
        tr.frames += 1
        tr.t_last = t
        if payload.startswith(RESULTS):
            if b'"final":true' in payload:
                if self.final is None:
                    self.final = payload
                    tr.finals += 1
                    if tr.finals == tr.expect_clients:
                        tr.finals_all.set()
                return
            self.live.append(t)
            self.last_live = payload
            if self.moderator and json.loads(payload)["total"] >= tr.expect_acks:
                tr.counted.set()
        elif payload.startswith(VOTE_OK):
            if not self.ack_at:
                self.ack_at = t
                tr.acks += 1
                if tr.acks == tr.expect_acks:
                    tr.acks_all.set()
        elif payload.startswith(OPENED):
            if self.moderator:
                self.poll = json.loads(payload)["poll"]["id"]
            tr.opened += 1
            if tr.opened == tr.expect_clients:
                tr.opened_all.set()
        elif self.check_ready(payload):
            pass
        elif payload.startswith(b'{"type":"error"'):
            if b'"ref":"vote"' in payload:
                self.vote_error = payload
                tr.acks += 1
                if tr.acks == tr.expect_acks:
                    tr.acks_all.set()
            tr.errors.append(payload[:300])


def max_in_window(times: list[float], width: float = 1.0) -> int:
    """The most arrivals in any interval of `width` seconds."""
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best


async def run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.participants
    tr = Tracker()
    tr.expect_clients = n + 1
    tr.expect_acks = n
    out: dict[str, Any] = {"participants": n, "window_s": args.window, "options": args.options,
                           "anonymous": args.anonymous, "cpus": os.cpu_count(),
                           "forum_env": FORUM_ENV, "loadavg_before": loadavg()}
    async with crowd(args, FORUM_ENV, "votes-", "Abstimmungs-Benchmark", ["Abstimmung"],
                     lambda path, port, moderator: Client(tr, path, port, moderator),
                     lambda: tr.t_last) as c:
        assert c.mod is not None
        out["join"] = c.join
        out["vote"] = await vote_phase(args, tr, c.mod, c.clients, c.server.pid)
        out.update(problems(tr.errors, tr.closed))
    out["loadavg_after"] = loadavg()
    return out


async def vote_phase(args: argparse.Namespace, tr: Tracker, mod: Client,
                     clients: list[Client], server_pid: int) -> dict[str, Any]:
    n = len(clients)
    options = [f"Option {chr(65 + i)}" for i in range(args.options)]
    mod.send_text(json.dumps({"type": "poll.create", "ref": "create", "scope": "event",
                              "question": "Welche Variante soll weiterverfolgt werden?",
                              "kind": "single", "options": options,
                              "anonymous": args.anonymous, "results": "live"}))
    await asyncio.wait_for(tr.opened_all.wait(), args.timeout)
    await settle(lambda: tr.t_last, 0.3)
    rng = random.Random(5)
    weights = [args.options - i for i in range(args.options)]  # A most, the last least
    choices = rng.choices(range(args.options), weights, k=n)
    frames = [json.dumps({"type": "poll.vote", "ref": "vote", "poll": mod.poll, "choice": c})
              for c in choices]
    sent = Counter(choices)

    # the votes, evenly over the window -----------------------------------------------------
    cpu0 = cpu_s(server_pid)
    meter = CpuMeter(server_pid)
    t0 = now()
    for i, c in enumerate(clients):
        delay = t0 + i * args.window / n - now()
        if delay > 0:
            await asyncio.sleep(delay)
        c.sent_at = now()
        c.send_text(frames[i])
    t_sent = now()
    try:
        await asyncio.wait_for(tr.acks_all.wait(), args.timeout)
    except asyncio.TimeoutError:
        pass
    try:
        await asyncio.wait_for(tr.counted.wait(), args.timeout)
    except asyncio.TimeoutError:
        pass
    await settle(lambda: tr.t_last, 0.6)  # the last live result has reached everyone
    cpu1 = cpu_s(server_pid)
    phase_s = now() - t0
    cpu = meter.stop()
    acked = [c for c in clients if c.ack_at and c.vote_error is None]
    ack = [c.ack_at - c.sent_at for c in acked]
    # a backlog shows as acks getting slower through the window
    nb = max(1, round(args.window / 0.5))
    buckets: list[list[float]] = [[] for _ in range(nb)]
    for c in acked:
        buckets[min(nb - 1, int((c.sent_at - t0) / args.window * nb))].append(c.ack_at - c.sent_at)
    live_n = [len(c.live) for c in clients + [mod]]
    rates = [len(c.live) / max(args.window, c.live[-1] - t0) for c in clients + [mod]
             if c.live]
    peaks = [max_in_window(c.live) for c in clients + [mod]]
    last_live = json.loads(mod.last_live) if mod.last_live else {}

    # close: the final results, checked at every client ---------------------------------------
    mod.send_text(json.dumps({"type": "poll.close", "ref": "close", "poll": mod.poll}))
    try:
        await asyncio.wait_for(tr.finals_all.wait(), args.timeout)
    except asyncio.TimeoutError:
        pass
    want = [sent.get(i, 0) for i in range(args.options)]
    finals = [json.loads(c.final) for c in clients + [mod] if c.final is not None]
    exact = [f for f in finals if f["total"] == n and f["counts"] == want]
    return {
        "votes_sent": n, "send_span_s": t_sent - t0, "acks_ok": len(acked),
        "vote_errors": sum(1 for c in clients if c.vote_error is not None),
        "vote_error_example": next((c.vote_error.decode() for c in clients if c.vote_error),
                                   None),
        "ack_p50_ms": pct(ack, 50) * 1e3, "ack_p99_ms": pct(ack, 99) * 1e3,
        "ack_max_ms": max(ack) * 1e3 if ack else None,
        "ack_p50_ms_per_bucket": [pct(b, 50) * 1e3 for b in buckets],
        "bucket_s": args.window / nb,
        "results_per_client_max": max(live_n),
        "results_per_client_mean": sum(live_n) / len(live_n),
        "results_per_client_min": min(live_n),
        "results_per_s_per_client_max": max(rates) if rates else None,
        "results_per_s_per_client_mean": sum(rates) / len(rates) if rates else None,
        "results_in_any_1s_max": max(peaks),
        "live_total_last": last_live.get("total"), "live_counts_last": last_live.get("counts"),
        "sent_counts": want, "final_results_received": len(finals),
        "final_results_exact": len(exact), "final_counts_example": finals[0]["counts"]
        if finals else None,
        "server_cpu_s": cpu1 - cpu0, "server_cpu_ms_per_vote": (cpu1 - cpu0) / n * 1e3,
        "phase_s": phase_s, **cpu,
    }


def table(out: dict[str, Any]) -> str:
    v, n = out["vote"], out["participants"]
    rows: list[tuple[str, ...]] = []

    def row(name: str, val: str, target: str = "", ok: bool | None = None) -> None:
        rows.append((name, val, target, "" if ok is None else ("yes" if ok else "NO")))

    row(f"votes acked ok / sent (over {v['send_span_s']:.2f} s)",
        f"{v['acks_ok']} / {v['votes_sent']}", "all", v["acks_ok"] == v["votes_sent"])
    row("ack p50 / p99 / max (ms)",
        f"{v['ack_p50_ms']:.0f} / {v['ack_p99_ms']:.0f} / {v['ack_max_ms']:.0f}",
        "p99 <= 200 ms", v["ack_p99_ms"] <= 200)
    row(f"  ack p50 by send time, per {v['bucket_s']:g} s (ms)",
        " / ".join(f"{x:.0f}" for x in v["ack_p50_ms_per_bucket"]))
    row("poll.results per client: min / mean / max",
        f"{v['results_per_client_min']} / {v['results_per_client_mean']:.1f} / "
        f"{v['results_per_client_max']}")
    row("poll.results per s per client: mean / max",
        f"{v['results_per_s_per_client_mean']:.2f} / {v['results_per_s_per_client_max']:.2f}",
        "<= 5 /s", v["results_per_s_per_client_max"] <= 5)
    row("  most poll.results in any 1 s, one client", f"{v['results_in_any_1s_max']}",
        "<= 5", v["results_in_any_1s_max"] <= 5)
    row("last live result: total, counts", f"{v['live_total_last']}, {v['live_counts_last']}",
        f"{n}, as sent", v["live_total_last"] == n and v["live_counts_last"] == v["sent_counts"])
    row("final results exact at clients (total, counts)",
        f"{v['final_results_exact']} / {n + 1}", f"all ({v['sent_counts']})",
        v["final_results_exact"] == n + 1)
    row("server CPU, vote phase (s)", f"{v['server_cpu_s']:.2f}")
    row("  per vote (ms)", f"{v['server_cpu_ms_per_vote']:.2f}")
    row("  CPU server / client / other (%)",
        f"{v['server_cpu_pct']:.0f} / {v['client_cpu_pct']:.0f} / {v['other_cpu_pct']:.0f}")
    row("  server loop runnable, waiting for a CPU (s)", f"{v['server_runq_wait_s']:.2f}")
    return md_table(("metric", "forum-live", "target", "ok?"), rows)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="votes.py", description=__doc__.split("\n")[0])
    p.add_argument("--participants", type=int, default=1000)
    p.add_argument("--window", type=float, default=2.0, help="the votes spread over (s)")
    p.add_argument("--options", type=int, default=4, help="options of the single-choice poll")
    p.add_argument("--anonymous", action="store_true", help="an anonymous poll (named: default)")
    p.add_argument("--join-concurrency", type=int, default=50)
    p.add_argument("--timeout", type=float, default=180.0, help="bound of every phase (s)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    a = p.parse_args(argv)
    if a.participants < 1 or a.window <= 0 or not 2 <= a.options <= 26:
        p.error("need --participants >= 1, --window > 0, 2 <= --options <= 26")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out = run_crowd(run, args)
    if args.json:
        return print_json(out)
    j = out["join"]
    print(f"votes: {args.participants} participants + 1 moderator, one single-choice poll "
          f"(scope event, live results, {'anonymous' if args.anonymous else 'named'}, "
          f"{args.options} options), votes spread evenly over {args.window:g} s; "
          f"{os.cpu_count()} CPUs; clients: 1 process")
    print("no limit raised: each participant votes once (vote limit 10/s, burst 20 per "
          f"person); load average before {out['loadavg_before']}, after {out['loadavg_after']}")
    print(f"join: {args.participants} in {j['join_all_s']:.2f} s (server CPU "
          f"{j['server_cpu_s']:.1f} s), presence settled {j['settle_s']:.2f} s later")
    print(table(out))
    other = out["vote"]["other_cpu_pct"]
    warn_disturbed(other, f"{other:.0f}% of a core during the votes")
    print_problems(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
