#!/usr/bin/env python3
"""Fan-out on one node vs a cluster of two (issue 14).

`python bench/cluster.py [--participants 1000] [--lines 40] [--window 5]
[--scenarios sqlite,pg,cluster1,cluster2] [--json]`

Starts its own PostgreSQL (initdb, as tests/support/pg.py) and Redis (a free loopback
port), then per scenario fresh `run.py` processes: `sqlite` (one node, SQLite), `pg` (one
node on PostgreSQL), `cluster1` (one node on PostgreSQL + Redis: the cluster's fast path,
every socket on the owner), `cluster2` (two nodes, the participants split half and half,
connected to the nodes directly: the event's owner decides and publishes, the other node
delivers to its half from the Redis stream). One event; N participants join (HTTP join,
socket, hello, ready); then `--lines` chat lines, `--window` in flight at a time, each from
another sender, the next window once everyone has the previous one. Reported: deliveries/s,
p50/p99 from send to receive, and per node the CPU seconds (utime+stime, /proc) per 1,000
deliveries it made. Clients run in this process: on 2 shared cores they compete with the
servers, PostgreSQL and Redis for CPU, so the absolute rates are the machine's; the CPU per
delivery of each node is the figure that carries over to bigger machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

from tests.support.live import create_event  # noqa: E402
from tests.support.pg import start_postgres, stop_postgres  # noqa: E402
from tests.support.process import ServerProcess, spawn  # noqa: E402
from tests.support.redis import RedisServer  # noqa: E402
from tests.support.pg import free_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
FAST = {"FORUM_LIMIT_CHAT_RATE": "1000", "FORUM_LIMIT_CHAT_BURST": "1000",
        "FORUM_LIMIT_OUTBOUND_QUEUE": "100000", "FORUM_MEDIA_ENABLED": "0",
        "FORUM_SYNCHRONOUS": "NORMAL", "FORUM_LIMIT_SOCKETS_PER_PARTICIPANT": "5"}


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Member:
    def __init__(self, ws: Any, pid: str) -> None:
        self.ws, self.pid = ws, pid
        self.got: dict[str, float] = {}  # text -> time received
        self.wake = asyncio.Event()

    async def read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if frame.get("type") == "chat.message":
                    self.got[frame["message"]["text"]] = time.perf_counter()
                    self.wake.set()
        except websockets.ConnectionClosed:
            pass


async def join_all(nodes: list[ServerProcess], n: int) -> tuple[dict[str, Any], list[Member]]:
    async with nodes[0].http() as http:
        ev = await create_event(http)
        members: list[Member] = []
        clients = [node.http() for node in nodes]
        try:
            for i in range(n):
                node_i = i % len(nodes)
                r = await clients[node_i].post(f"/api/events/{ev['id']}/join",
                                               json={"name": f"P{i}",
                                                     "key": ev["participant_key"]})
                r.raise_for_status()
                body = r.json()
                ws = await websockets.connect(
                    f"{nodes[node_i].ws_base}/ws/events/{ev['id']}", max_size=None)
                await ws.send(json.dumps({"type": "hello", "token": body["token"]}))
                while json.loads(await ws.recv())["type"] != "ready":
                    pass
                members.append(Member(ws, body["participant"]["id"]))
        finally:
            for c in clients:
                await c.aclose()
    return ev, members


async def run_lines(ev: dict[str, Any], members: list[Member], lines: int, window: int
                    ) -> tuple[float, list[float]]:
    readers = [asyncio.create_task(m.read()) for m in members]
    room = ev["plenary_room"]
    sent: dict[str, float] = {}
    start = time.perf_counter()
    k = 0
    try:
        while k < lines:
            batch = []
            for j in range(min(window, lines - k)):
                text = f"line {k + j}"
                sender = members[(k + j) % len(members)]
                sent[text] = time.perf_counter()
                await sender.ws.send(json.dumps({"type": "chat.send", "ref": text,
                                                 "room": room, "text": text}))
                batch.append(text)
            k += len(batch)
            deadline = time.perf_counter() + 60
            for m in members:
                while not all(t in m.got for t in batch):
                    m.wake.clear()
                    if time.perf_counter() > deadline:
                        raise TimeoutError("a line did not arrive within 60 s")
                    try:
                        await asyncio.wait_for(m.wake.wait(), 5)
                    except asyncio.TimeoutError:
                        pass
        took = time.perf_counter() - start
    finally:
        for t in readers:
            t.cancel()
    lat = [(m.got[t] - sent[t]) * 1000 for m in members for t in sent]
    return took, lat


async def scenario(name: str, pg: Any, redis: RedisServer, n: int, lines: int, window: int,
                   tmp: Path) -> dict[str, Any]:
    key = secrets.token_urlsafe(48)
    db = pg.new_database() if name != "sqlite" else None
    rurl = redis.new_url() if name.startswith("cluster") else None
    count = 2 if name == "cluster2" else 1
    nodes = []
    for i in range(count):
        data = tmp / f"{name}-n{i + 1}"
        data.mkdir(parents=True)
        (data / "secret_key").write_text(key + "\n")
        args = [*(["--database-url", db] if db else []),
                *(["--redis-url", rurl, "--node-id", f"n{i + 1}"] if rurl else [])]
        nodes.append(await spawn(data, *args, env=FAST))
    try:
        t0 = time.perf_counter()
        ev, members = await join_all(nodes, n)
        joined = time.perf_counter() - t0
        await asyncio.sleep(1.0)
        cpu0 = [cpu_seconds(node.proc.pid) for node in nodes]
        took, lat = await run_lines(ev, members, lines, window)
        cpu = [cpu_seconds(node.proc.pid) - c for node, c in zip(nodes, cpu0)]
        for m in members:
            await m.ws.close()
    finally:
        for node in nodes:
            node.proc.kill()
            node.proc.wait(10)
    deliveries = n * lines
    per_node = [deliveries // count] * count
    lat.sort()
    return {"scenario": name, "participants": n, "nodes": count, "join_s": round(joined, 1),
            "deliveries_per_s": round(deliveries / took),
            "p50_ms": round(statistics.median(lat), 1),
            "p99_ms": round(lat[int(len(lat) * 0.99) - 1], 1),
            "cpu_s": [round(c, 2) for c in cpu],
            "cpu_ms_per_1000": [round(1000 * c / max(1, d) * 1000, 1)
                                for c, d in zip(cpu, per_node)]}


async def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--participants", type=int, default=1000)
    p.add_argument("--lines", type=int, default=40)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--scenarios", default="sqlite,pg,cluster1,cluster2")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="forum-bench-cluster-"))
    pg = start_postgres()
    redis = RedisServer(free_port(), tmp)
    redis.start()
    results = []
    try:
        for name in args.scenarios.split(","):
            results.append(await scenario(name, pg, redis, args.participants, args.lines,
                                          args.window, tmp))
            if not args.json:
                r = results[-1]
                print(f"{r['scenario']:9} nodes {r['nodes']}  join {r['join_s']:6.1f} s  "
                      f"{r['deliveries_per_s']:7d} deliveries/s  p50 {r['p50_ms']:7.1f} ms  "
                      f"p99 {r['p99_ms']:7.1f} ms  CPU s {r['cpu_s']}  "
                      f"CPU ms/1000 deliveries per node {r['cpu_ms_per_1000']}", flush=True)
    finally:
        redis.stop()
        stop_postgres(pg)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
