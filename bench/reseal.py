#!/usr/bin/env python3
"""Cost of resealing anonymous polls at close (issue 13): `python bench/reseal.py
[--voters 100 1000 5000]`. For each size: a fresh store (synchronous=FULL), that many
voters in an anonymous text poll and an anonymous single-choice poll (appended
concurrently, so the group commit batches them), then `SqliteStore.reseal` of both polls:
prints its time, the checkpoint attempts, the WAL size before and after."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forum_live.domain.entries import Entry  # noqa: E402
from forum_live.store.sqlite import SqliteStore  # noqa: E402


def _vote(poll: str, pid: str, keys: list[str], text: str | None) -> list[Entry]:
    return [Entry("poll.voter", {"poll": poll, "participant": pid}, "", sealed=True),
            Entry("poll.ballot", {"poll": poll, "room": "*", "keys": keys, "text": text}, "",
                  sealed=True)]


async def one(n: int) -> None:
    data = Path(tempfile.mkdtemp())
    store = SqliteStore(data / "forum.db", synchronous="FULL")
    await store.open()
    try:
        writes = []
        for i in range(n):
            pid = secrets.token_urlsafe(9)
            writes.append(store.append("ev1", _vote("p1", pid, [], f"answer {i} " + "x" * 100),
                                       expect=None))
            writes.append(store.append("ev1", _vote("p2", pid, [str(i % 4)], None),
                                       expect=None))
        await asyncio.gather(*writes)
        wal = data / "forum.db-wal"
        before = wal.stat().st_size
        t0 = time.perf_counter()
        attempts = await store.reseal("ev1", ["p1", "p2"])
        took = time.perf_counter() - t0
        print(f"{n:6} voters, WAL {before / 1e6:5.1f} MB: reseal {took * 1000:6.0f} ms, "
              f"{attempts} checkpoint attempt(s), WAL after {wal.stat().st_size} bytes")
    finally:
        await store.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--voters", type=int, nargs="+", default=[100, 1000, 5000])
    for n in p.parse_args().voters:
        asyncio.run(one(n))


if __name__ == "__main__":
    main()
