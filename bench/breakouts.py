#!/usr/bin/env python3
"""Breakout-room benchmark (issue 4): auto assignment of many participants, then a chat
round in every room at once.

    python bench/breakouts.py [--participants 300] [--rooms 10] [--repeat 3] [--json]

Starts forum-live (`run.py`, fresh temp data dir) as a subprocess on a free 127.0.0.1 port,
creates an event with `--rooms` topics (so `breakouts.open` without `rooms` makes one room
per topic), joins one moderator and N participants (HTTP join + socket `hello` until
`ready`), then, `--repeat` times:

1. open: the moderator sends `breakouts.open {assign: "auto"}`; timed from that send until
   every participant has received its *own* `participant.moved` (each client looks for its
   participant id in `participant.moved` frames; only those are parsed).
2. chat round: every participant sends one line into the room it was moved to, all at
   once; for each line, the time from its send until every member of that room has it
   (p50/p99), and a check that no line reaches anyone outside that room (the moderator
   stays in the plenary, so it must get none).
3. close: `breakouts.close`, until everyone has its `participant.moved` back (not a target,
   reported for completeness).

Clients are raw asyncio WebSocket protocols on uvloop in this one process (bench/common.py).
Server, client and other CPU are shown per phase; the machine's load average is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (print_json, print_problems, problems, run_crowd,  # noqa: E402
                    CountingClient, Counts, CpuMeter, crowd, loadavg, md_table,  # noqa: E402
                    now, pct, settle, warn_disturbed)

MARK = b"@@"  # chat texts carry @@NNNNNN, the line number
MOVED = b'{"type":"participant.moved"'
# Each participant sends one chat line per round, far below the default chat limit (5/s,
# burst 10): no limit is raised.
FORUM_ENV: dict[str, str] = {}


class Tracker(Counts):
    """Bookkeeping shared by all clients (one process, one loop)."""

    def __init__(self, max_lines: int) -> None:
        super().__init__()
        self.moved_expect = 0  # own participant.moved still awaited this phase
        self.moved_done: asyncio.Event | None = None
        self.moved_at: list[float] = []  # this phase, in arrival order
        self.line_room = [""] * max_lines  # the room line k was sent into
        self.count = [0] * max_lines  # members of that room who have line k
        self.last = [0.0] * max_lines
        self.sent = [0.0] * max_lines
        self.leaks: list[tuple[int, str, str]] = []  # (line, its room, where it was seen)
        self.lines_expect = 0
        self.lines_done: asyncio.Event | None = None


class Client(CountingClient):
    tr: Tracker

    def __init__(self, tr: Tracker, path: str, port: int) -> None:
        super().__init__(tr, path, port)
        self.pid = ""
        self.needle = b"\x00"  # '"participant":"ID"', set once the join answered
        self.room = ""  # where the server says I am
        self.opened_frame: dict[str, Any] | None = None  # the moderator's breakouts.opened

    def set_id(self, pid: str, room: str) -> None:
        self.pid, self.room = pid, room
        self.needle = f'"participant":"{pid}"'.encode()

    def on_text(self, payload: bytes, t: float) -> None:
        tr = self.tr
        tr.frames += 1
        tr.t_last = t
        if payload.startswith(MOVED):
            if self.needle in payload:
                ev = json.loads(payload)
                self.room = ev["to"]
                tr.moved_at.append(t)
                tr.moved_expect -= 1
                if tr.moved_expect == 0 and tr.moved_done is not None:
                    tr.moved_done.set()
            return
        i = payload.find(MARK)
        if i >= 0 and payload.startswith(b'{"type":"chat.message"'):
            k = int(payload[i + 2:i + 8])
            if tr.line_room[k] != self.room:
                tr.leaks.append((k, tr.line_room[k], self.room))
                return
            tr.count[k] += 1
            tr.last[k] = t
            tr.lines_expect -= 1
            if tr.lines_expect == 0 and tr.lines_done is not None:
                tr.lines_done.set()
        elif self.check_ready(payload):
            pass
        elif payload.startswith(b'{"type":"breakouts.opened"'):
            self.opened_frame = json.loads(payload)
        elif payload.startswith(b'{"type":"error"'):
            tr.errors.append(payload[:300])


async def wait_moves(tr: Tracker, expect: int, timeout: float) -> bool:
    tr.moved_at = []
    tr.moved_expect = expect
    tr.moved_done = asyncio.Event()
    try:
        await asyncio.wait_for(tr.moved_done.wait(), timeout)
        return True
    except asyncio.TimeoutError:
        return False


async def run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.participants
    tr = Tracker(n * args.repeat)
    out: dict[str, Any] = {"participants": n, "rooms": args.rooms, "repeat": args.repeat,
                           "cpus": os.cpu_count(), "forum_env": FORUM_ENV,
                           "loadavg_before": loadavg(), "rounds": []}
    topics = [f"Thema {r + 1}" for r in range(args.rooms)]
    async with crowd(args, FORUM_ENV, "breakouts-", "Breakout benchmark", topics,
                     lambda path, port, _: Client(tr, path, port), lambda: tr.t_last) as c:
        plenary = c.event["plenary_room"]
        mod, out["join"] = c.mod, c.join
        assert mod is not None
        for client, body in [(mod, c.mod_body), *c.joined]:
            client.set_id(body["participant"]["id"], plenary)
        for r in range(args.repeat):
            out["rounds"].append(await one_round(args, tr, mod, c.clients, plenary, r,
                                                 c.server.pid))
        out.update(problems(tr.errors, tr.closed))
    out["loadavg_after"] = loadavg()
    return out


async def one_round(args: argparse.Namespace, tr: Tracker, mod: Client,
                    clients: list[Client], plenary: str, r: int, server_pid: int
                    ) -> dict[str, Any]:
    n = len(clients)
    res: dict[str, Any] = {"round": r + 1}
    # 1. open with auto assignment -----------------------------------------------------------
    frames0 = tr.frames
    mod.opened_frame = None
    meter = CpuMeter(server_pid)
    waiting = asyncio.create_task(wait_moves(tr, n, args.timeout))
    await asyncio.sleep(0)  # the waiter is armed before the first frame can arrive
    t_open = now()
    mod.send_text(json.dumps({"type": "breakouts.open", "ref": f"open{r}", "assign": "auto"}))
    complete = await waiting
    res["open"] = {"all_placed": complete, "placed": len(tr.moved_at),
                   "all_placed_s": (max(tr.moved_at) - t_open) if tr.moved_at else None,
                   "first_placed_ms": (min(tr.moved_at) - t_open) * 1e3 if tr.moved_at else None,
                   "p50_placed_ms": pct([t - t_open for t in tr.moved_at], 50) * 1e3,
                   **meter.stop(max(tr.moved_at) - t_open if tr.moved_at else None)}
    await settle(lambda: tr.t_last, 0.3)
    res["open"]["frames"] = tr.frames - frames0
    rooms: dict[str, int] = {}
    for c in clients:
        rooms[c.room] = rooms.get(c.room, 0) + 1
    res["room_sizes"] = sorted(rooms.values())
    res["in_plenary"] = rooms.get(plenary, 0)
    res["moderator_room_is_plenary"] = mod.room == plenary
    # 2. chat round: everyone one line into its room, at once -------------------------------
    base = r * n
    frames = []
    for i, c in enumerate(clients):
        k = base + i
        tr.line_room[k] = c.room
        text = f"@@{k:06d} Beitrag von Teilnehmer {i} im Breakout-Raum, Runde {r + 1}."
        frames.append(json.dumps({"type": "chat.send", "ref": k, "room": c.room,
                                  "text": text}))
    tr.lines_expect = sum(rooms[c.room] for c in clients)
    tr.lines_done = asyncio.Event()
    leaks0 = len(tr.leaks)
    frames0 = tr.frames
    meter = CpuMeter(server_pid)
    t0 = now()
    for i, c in enumerate(clients):
        tr.sent[base + i] = now()
        c.send_text(frames[i])
    try:
        await asyncio.wait_for(tr.lines_done.wait(), args.timeout)
    except asyncio.TimeoutError:
        pass
    lines = range(base, base + n)
    done = [k for k in lines if tr.count[k] == rooms[tr.line_room[k]]]
    lat = [tr.last[k] - tr.sent[k] for k in done]
    wall = (max(tr.last[k] for k in done) - t0) if done else None
    res["chat"] = {"lines": n, "lines_complete": len(done),
                   "p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3,
                   "max_ms": max(lat) * 1e3 if lat else None, "wall_s": wall,
                   **meter.stop(wall)}
    await settle(lambda: tr.t_last, 0.3)  # late frames, leaks included, arrive here
    res["chat"]["frames"] = tr.frames - frames0
    res["chat"]["leaks"] = len(tr.leaks) - leaks0
    res["chat"]["leak_examples"] = tr.leaks[leaks0:leaks0 + 3]
    # 3. close, everyone back ---------------------------------------------------------------
    waiting = asyncio.create_task(wait_moves(tr, n, args.timeout))
    await asyncio.sleep(0)
    t_close = now()
    mod.send_text(json.dumps({"type": "breakouts.close", "ref": f"close{r}"}))
    back = await waiting
    res["close"] = {"all_back": back and all(c.room == plenary for c in clients),
                    "all_back_s": (max(tr.moved_at) - t_close) if tr.moved_at else None}
    await settle(lambda: tr.t_last, 0.5)  # everyone's view of the moves back has arrived
    return res


# -- report ------------------------------------------------------------------------------------
def summarize(out: dict[str, Any]) -> dict[str, Any]:
    rs = out["rounds"]
    placed = [x["open"]["all_placed_s"] for x in rs if x["open"]["all_placed"]]
    chat99 = [x["chat"]["p99_ms"] for x in rs]
    return {"all_placed_s_median": pct(placed, 50) if placed else None,
            "all_placed_s_worst": max(placed) if placed else None,
            "all_rounds_placed": len(placed) == len(rs),
            "chat_p99_ms_median": pct(chat99, 50),
            "leaks": sum(x["chat"]["leaks"] for x in rs),
            "lines_missing": sum(x["chat"]["lines"] - x["chat"]["lines_complete"] for x in rs)}


def table(out: dict[str, Any]) -> str:
    """One column per round; ok? holds only if every round meets the target."""
    rows: list[tuple[str, ...]] = []
    n, rs = out["participants"], out["rounds"]

    def f(v: Any, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    def row(name: str, cell: Any, target: str = "", ok: Any = None) -> None:
        oks = [ok(x) for x in rs] if ok is not None else []
        rows.append((name, *(cell(x) for x in rs), target,
                     "" if ok is None else ("yes" if all(oks) else "NO")))

    def cpu(key: str) -> Any:
        return lambda x: (f"{x[key]['server_cpu_pct']:.0f} / {x[key]['client_cpu_pct']:.0f}"
                          f" / {x[key]['other_cpu_pct']:.0f}")

    row(f"all {n} placed after breakouts.open (s)",
        lambda x: f(x["open"]["all_placed_s"], ".3f"), "<= 1 s",
        lambda x: x["open"]["all_placed"] and x["open"]["all_placed_s"] <= 1.0)
    row("  first / median placed (ms)",
        lambda x: f"{f(x['open']['first_placed_ms'], '.0f')} / "
                  f"{f(x['open']['p50_placed_ms'], '.0f')}")
    row("  frames received, all clients", lambda x: f(x["open"]["frames"], ",d"))
    row("  server CPU (s)", lambda x: f"{x['open']['server_cpu_s']:.2f}")
    row("  CPU server / client / other (%)", cpu("open"))
    row("  server loop waiting for a CPU (s)",
        lambda x: f"{x['open']['server_runq_wait_s']:.2f}")
    row("  room sizes, left in plenary",
        lambda x: f"{min(x['room_sizes'])}-{max(x['room_sizes'])}, {x['in_plenary']}",
        f"{out['rooms']} rooms, balanced, 0",
        lambda x: len(x["room_sizes"]) == out["rooms"] and x["in_plenary"] == 0
        and max(x["room_sizes"]) - min(x["room_sizes"]) <= 1 and x["moderator_room_is_plenary"])
    row(f"chat round, {n} lines at once: p50 / p99 (ms)",
        lambda x: f"{f(x['chat']['p50_ms'], '.0f')} / {f(x['chat']['p99_ms'], '.0f')}")
    row("  max (ms)", lambda x: f(x["chat"]["max_ms"], ".0f"))
    row("  lines complete in their room, leaks",
        lambda x: f"{x['chat']['lines_complete']}/{x['chat']['lines']}, {x['chat']['leaks']}",
        "all, 0", lambda x: x["chat"]["lines_complete"] == x["chat"]["lines"]
        and x["chat"]["leaks"] == 0)
    row("  server CPU (s)", lambda x: f"{x['chat']['server_cpu_s']:.2f}")
    row("  CPU server / client / other (%)", cpu("chat"))
    row("  server loop waiting for a CPU (s)",
        lambda x: f"{x['chat']['server_runq_wait_s']:.2f}")
    row("breakouts.close: all back in plenary (s)",
        lambda x: f(x["close"]["all_back_s"], ".3f"), "all back",
        lambda x: x["close"]["all_back"])
    return md_table(("metric", *(f"round {x['round']}" for x in rs), "target", "ok?"), rows)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="breakouts.py", description=__doc__.split("\n")[0])
    p.add_argument("--participants", type=int, default=300)
    p.add_argument("--rooms", type=int, default=10, help="topics of the event = rooms")
    p.add_argument("--repeat", type=int, default=3,
                   help="open / chat round / close cycles on the same joined crowd")
    p.add_argument("--join-concurrency", type=int, default=50)
    p.add_argument("--timeout", type=float, default=60.0, help="bound of every phase (s)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    a = p.parse_args(argv)
    if a.participants < a.rooms or a.rooms < 1 or a.repeat < 1:
        p.error("need --rooms >= 1, --participants >= --rooms, --repeat >= 1")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out = run_crowd(run, args)
    out["summary"] = summarize(out)
    if args.json:
        return print_json(out)
    print(f"breakouts: {args.participants} participants + 1 moderator, {args.rooms} rooms, "
          f"auto assignment, {args.repeat} rounds; {os.cpu_count()} CPUs; clients: 1 process; "
          f"no limit raised; load average before {out['loadavg_before']}, after "
          f"{out['loadavg_after']}")
    print(f"join: {args.participants} in {out['join']['join_all_s']:.2f} s")
    print(table(out))
    other = max(max(x["open"]["other_cpu_pct"], x["chat"]["other_cpu_pct"])
                for x in out["rounds"])
    warn_disturbed(other, f"up to {other:.0f}% of a core during a phase")
    print_problems(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
