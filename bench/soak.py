#!/usr/bin/env python3
"""Memory after join/leave cycles (issue 9): `python bench/soak.py [--warmup 1000]
[--cycles 10000]`. Starts run.py (fresh temp data dir, resume window 1,000), runs the warm-up
cycles, takes the server's RSS (/proc/PID/status VmRSS) as the baseline, runs the cycles,
lets the server settle 2 s and prints the RSS again. A cycle is a socket life (connect,
hello, ready, close) of one of 32 people of one event; every 50th is a throwaway event
(created, 3 HTTP joins, one socket, DELETE). The workload is tests/test_slow_clients.py's."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_slow_clients import soak  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--cycles", type=int, default=10000)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(soak(Path(tmp), a.warmup, a.cycles))
    if a.json:
        print(json.dumps(r))
        return
    print(f"| RSS at start | after {r['warmup']:,} warm-up | after {r['cycles']:,} cycles "
          "| growth | cycles/s |\n| --- | --- | --- | --- | --- |")
    print(f"| {r['start_kib'] / 1024:.1f} MiB | {r['baseline_kib'] / 1024:.1f} MiB "
          f"| {r['after_kib'] / 1024:.1f} MiB | {r['growth']:+.1%} | {r['cycles_per_s']:.0f} |")


if __name__ == "__main__":
    main()
