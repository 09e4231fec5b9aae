#!/usr/bin/env python3
"""Memory that does not grow with history (issue 12):
`python bench/memory_history.py [--lines 10000] [--rounds 3] [--events 100] [--entries 2000]
[--json]`.

1. *RSS of a busy event before/after unload.* The app of `create_app` (media off, SQLite
   `synchronous=NORMAL`, chat rate limit raised) runs in this process with its lifespan;
   one event, 50 people, `--lines` chat lines written through the runtime
   (`EventRuntime.submit`, 100 at a time, so the group commit batches them). This
   process's RSS (/proc/self/status) and Python's allocated blocks are read after start,
   with the busy event loaded, and after it was unloaded (by `Forum`'s sweeper once its
   idle grace passed; then `gc.collect()`); then `--rounds` - 1 more such events, one
   after the other, and the RSS once more after glibc's `malloc_trim(0)`, which hands
   freed heap pages back to the system.
2. *Reload time of that event* (`Forum.runtime` after the unload): from its snapshot plus
   the journal tail, and with the snapshot deleted (the whole journal folded); with the
   default resume window (10,000 entries, which the reload reads for resume) and with a
   window of 1,000.
3. *Start-up time with `--events` ended events of `--entries` entries each*, written
   directly through the store (a real journal of chat, presence and joins, copied under
   100 ids): `run.py` as a subprocess until `GET /healthz` answers, against an empty data
   dir; and in-process `Forum.start()` for the same data with the events ended and, for
   comparison, left open (open events are loaded at start for their timers).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import forum_server, md_table  # noqa: E402
from forum_live.app import create_app  # noqa: E402
from forum_live.config import Settings  # noqa: E402
from forum_live.domain import setup  # noqa: E402
from forum_live.domain.commands import ChatSend, EventIn, JoinIn, TopicIn  # noqa: E402
from forum_live.domain.entries import Entry  # noqa: E402
from forum_live.domain.model import Role  # noqa: E402
from forum_live.store.sqlite import SqliteStore  # noqa: E402
from tests.support.domain import Scenario  # noqa: E402

now = time.perf_counter


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def trim() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def settings(data: Path, **limits: Any) -> Settings:
    s = Settings(data_dir=data, recordings_dir=data / "rec", organizer_token="bench",
                 synchronous="NORMAL", media_enabled=False)
    return s.with_limits(chat_rate=1e6, chat_burst=1_000_000, **limits)


async def unloaded(forum: Any, event_id: str, count: int) -> None:
    """Until the forum's sweeper (every idle_unload_s / 4) has unloaded the event (its
    unload counter was at `count` before)."""
    while event_id in forum.runtimes or forum.unloads == count:
        await asyncio.sleep(0.01)


async def fill(forum: Any, lines: int, out: dict[str, Any], n: int) -> str:
    """One event, 50 people, `lines` chat lines; RSS loaded and after it was unloaded."""
    rt = await forum.create_event(EventIn(title="Busy", topics=[TopicIn(title="A")]))
    people = []
    for i in range(50):
        entries = await rt.write(lambda s, ctx, i=i: setup.register(
            s, ctx, JoinIn(name=f"Person {i:02d}"), Role.PARTICIPANT))
        pid = entries[0].data["participant"]["id"]
        await rt.write(lambda s, ctx, pid=pid: setup.presence(s, ctx, pid, True))
        people.append(pid)
    room = rt.state.plenary_room
    t0 = now()
    for start in range(0, lines, 100):
        await asyncio.gather(*(rt.submit(people[k % 50], ChatSend(
            type="chat.send", room=room,
            text=f"Zeile {k}: Breitband, Mobilität und Geodaten im ländlichen Raum"))
            for k in range(start, min(lines, start + 100))))
    out["write_s"] = now() - t0
    count = forum.unloads
    for pid in people:
        await rt.write(lambda s, ctx, pid=pid: setup.presence(s, ctx, pid, False))
    out["seq"] = rt.state.seq
    gc.collect()
    out[f"rss_loaded{n}"], out[f"blocks_loaded{n}"] = rss_mib(), sys.getallocatedblocks()
    event_id = str(rt.id)
    del rt
    await unloaded(forum, event_id, count)
    gc.collect()
    out[f"rss_unloaded{n}"], out[f"blocks_unloaded{n}"] = rss_mib(), sys.getallocatedblocks()
    return event_id


async def busy_event(data: Path, lines: int, window: int, rounds: int) -> dict[str, Any]:
    """Parts 1 and 2: a busy event in this process, unloaded and reloaded; then more of
    them, one after the other (do the later ones reuse what the first left?)."""
    app = create_app(settings(data, resume_window=window, idle_unload_s=0.5))
    out: dict[str, Any] = {"window": window}
    async with app.router.lifespan_context(app):
        forum = app.state.forum
        gc.collect()
        out["rss_start"], out["blocks_start"] = rss_mib(), sys.getallocatedblocks()
        event_id = await fill(forum, lines, out, 1)
        saved = await forum.store.load_snapshot(event_id)
        out["snapshot_kib"] = len(saved[1]) / 1024
        times: dict[str, list[float]] = {"snapshot": [], "full": []}
        for _ in range(5):
            for how in ("snapshot", "full"):
                if how == "full":
                    with sqlite3.connect(data / "forum.db") as db:
                        db.execute("DELETE FROM snapshots")
                count = forum.unloads
                t0 = now()
                await forum.runtime(event_id)
                times[how].append(now() - t0)
                await unloaded(forum, event_id, count)  # which saves the snapshot again
        out["reload_snapshot_s"] = min(times["snapshot"])
        out["reload_full_s"] = min(times["full"])
        for n in range(2, rounds + 1):
            await fill(forum, lines, out, n)
        out["rounds"] = rounds
        trim()
        out["rss_trimmed"] = rss_mib()
    return out


def history_journal(entries: int) -> list[Entry]:
    """A real journal of `entries` entries (joins, presence, chat), then event.ended."""
    sc = Scenario.event(topics=("A", "B"))
    people = [sc.person(f"Person {i:02d}") for i in range(40)]
    room = sc.state.plenary_room
    k = 0
    while len(sc.journal) < entries - 1:
        sc.do(people[k % 40], "chat.send", room=room, text=f"Zeile {k}: Breitband im Dorf")
        k += 1
    return sc.journal


async def write_history(db: Path, events: int, entries: int, status: str) -> None:
    journal = history_journal(entries)
    ended = Entry("event.ended", {}, journal[-1].at, seq=len(journal) + 1)
    store = SqliteStore(db, synchronous="OFF")
    await store.open()
    try:
        for i in range(events):
            event_id = f"old{i:03d}"
            row = {"id": event_id, "title": f"Forum {i}", "created_at": journal[0].at,
                   "participant_key": f"pk{i}", "moderator_key": f"mk{i}", "status": status}
            await store.create_event(row, journal[0])
            rest = [*journal[1:], *([ended] if status == "ended" else [])]
            for start in range(0, len(rest), 500):
                await store.append(event_id, rest[start:start + 500], expect=start + 1)
    finally:
        await store.close()


async def startup(tmp: Path, events: int, entries: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status in ("ended", "open"):
        data = tmp / f"hist-{status}"
        data.mkdir()
        t0 = now()
        await write_history(data / "forum.db", events, entries, status)
        out[f"generate_{status}_s"] = now() - t0
        app = create_app(settings(data))
        forum = app.state.forum
        store = forum.store
        await store.open()
        t0 = now()
        await forum.start()
        out[f"forum_start_{status}_s"] = now() - t0
        out[f"loaded_{status}"] = len(forum.runtimes)
        await forum.close_sockets()  # saves a snapshot of every loaded event
        await store.close()
        if status == "open":  # the next start: from those snapshots
            app = create_app(settings(data))
            forum = app.state.forum
            await forum.store.open()
            t0 = now()
            await forum.start()
            out["forum_restart_open_s"] = now() - t0
            await forum.close_sockets()
            await forum.store.close()
    # the server as shipped: run.py until /healthz answers, empty vs 100 ended events
    for name, src in (("empty", None), ("ended", tmp / "hist-ended" / "forum.db")):
        d = tmp / f"srv-{name}"
        (d / "data").mkdir(parents=True)
        if src is not None:
            (d / "data" / "forum.db").write_bytes(src.read_bytes())
        best = float("inf")
        for _ in range(5):
            srv = forum_server(d, {})
            t0 = now()
            await srv.start(timeout=120)
            best = min(best, now() - t0)
            srv.stop()
        out[f"server_start_{name}_s"] = best
    return out


async def run(a: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        res: dict[str, Any] = {"busy": [], "lines": a.lines}
        for window in (10000, 1000):
            d = t / f"busy{window}"
            res["busy"].append(await busy_event(d, a.lines, window,
                                                a.rounds if window == 10000 else 2))
        res["startup"] = await startup(t, a.events, a.entries)
        res["events"], res["entries"] = a.events, a.entries
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=10000)
    p.add_argument("--rounds", type=int, default=3, help="busy events one after the other")
    p.add_argument("--events", type=int, default=100)
    p.add_argument("--entries", type=int, default=2000)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    r = asyncio.run(run(a))
    if a.json:
        print(json.dumps(r, indent=1))
        return
    b = r["busy"][0]
    print(f"Busy event: {r['lines']:,} chat lines, 50 people, journal seq {b['seq']:,}; "
          f"written in {b['write_s']:.1f} s; snapshot {b['snapshot_kib']:.0f} KiB\n")
    rows = []
    for b in r["busy"]:
        rows.append((f"{b['window']:,}", f"{b['rss_start']:.1f}",
                     f"{b['rss_loaded1']:.1f} / {b['rss_unloaded1']:.1f}",
                     ", ".join(f"{b[f'rss_loaded{n}']:.1f} / {b[f'rss_unloaded{n}']:.1f}"
                               for n in range(2, b["rounds"] + 1)),
                     f"{b['rss_trimmed']:.1f}",
                     f"{b['blocks_start'] / 1000:.0f}k / {b['blocks_loaded1'] / 1000:.0f}k / "
                     f"{b['blocks_unloaded1'] / 1000:.0f}k",
                     f"{b['reload_snapshot_s'] * 1000:.0f}", f"{b['reload_full_s'] * 1000:.0f}"))
    print(md_table(("resume window", "RSS start MiB", "1st event loaded / unloaded MiB",
                    "next events loaded / unloaded MiB", "after malloc_trim MiB",
                    "Python blocks start / loaded / unloaded",
                    "reload from snapshot ms", "reload, full fold ms"), rows))
    s = r["startup"]
    print(f"\nStart-up with {r['events']} events of {r['entries']:,} entries each "
          f"(generated in {s['generate_ended_s']:.1f} s):\n")
    print(md_table(("what", "time s", "events loaded"), [
        ("run.py until /healthz, empty data dir", f"{s['server_start_empty_s']:.2f}", "0"),
        (f"run.py until /healthz, {r['events']} ended events",
         f"{s['server_start_ended_s']:.2f}", "0"),
        (f"Forum.start(), {r['events']} ended events", f"{s['forum_start_ended_s']:.3f}",
         str(s["loaded_ended"])),
        (f"Forum.start(), the same {r['events']} left open (first start, no snapshots)",
         f"{s['forum_start_open_s']:.3f}", str(s["loaded_open"])),
        (f"Forum.start(), the {r['events']} open ones again (snapshots of the shutdown)",
         f"{s['forum_restart_open_s']:.3f}", str(s["loaded_open"])),
    ]))


if __name__ == "__main__":
    main()
