#!/usr/bin/env python3
"""Flood latency (issue 9): `python bench/flood.py [--others 50] [--seconds 10] [--json]`.

Starts run.py (fresh temp data dir, default limits but the per-IP join limit), joins a
moderator, one flooder and `--others` participants. The moderator opens a named live poll
and asks a question. Phase 1: every other participant sends one chat line a second
(staggered) for `--seconds`; an observer socket that only reads takes the time from each
send to its arrival. Phase 2: the same, while the flooder sends chat lines, poll votes,
question asks, question votes and reactions as fast as the server answers (one tab per
kind, a window of 64 frames in flight each); it gets `rate_limited`. Printed: the others' p50/p99/max chat latency of
both phases side by side, and the flooder's answers per kind. The workload is shared with
tests/test_flood.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ORGANIZER = "test-organizer-token"
KINDS = ("chat.send", "poll.vote", "question.ask", "question.vote", "reaction.send")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


async def connect(ws_base: str, event_id: str, token: str) -> Any:
    ws = await websockets.connect(f"{ws_base}/ws/events/{event_id}", max_size=None,
                                  compression=None, max_queue=None)
    await ws.send(json.dumps({"type": "hello", "token": token}))
    while json.loads(await ws.recv())["type"] != "ready":
        pass
    return ws


async def request(ws: Any, ref: str, type_: str, seen: list[dict[str, Any]] | None = None,
                  **body: Any) -> dict[str, Any]:
    """Send, wait for the reply; the events that came meanwhile go to `seen`."""
    await ws.send(json.dumps({"type": type_, "ref": ref, **body}))
    while True:
        f = json.loads(await ws.recv())
        if f.get("ref") == ref:
            return f  # type: ignore[no-any-return]
        if seen is not None:
            seen.append(f)


async def flood_run(base: str, ws_base: str, others: int = 50, seconds: float = 10.0,
                    organizer: str = ORGANIZER, window: int = 64) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {organizer}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        ev = (await http.post("/api/events", headers=auth, json={
            "title": "flood", "topics": [{"title": "t"}]})).json()

        async def join(name: str, key: str) -> str:
            r = await http.post(f"/api/events/{ev['id']}/join", json={"name": name, "key": key})
            assert r.status_code == 200, r.text
            return r.json()["token"]  # type: ignore[no-any-return]
        mod_t = await join("Mod", ev["moderator_key"])
        flood_t = await join("Flooder", ev["participant_key"])
        other_t = [await join(f"O{i}", ev["participant_key"]) for i in range(others)]
        obs_t = await join("Observer", ev["participant_key"])
    room = ev["plenary_room"]
    mod = await connect(ws_base, ev["id"], mod_t)
    seen: list[dict[str, Any]] = []
    poll = await request(mod, "p", "poll.create", seen, scope="event", question="Q?", kind="single",
                         options=["a", "b"], anonymous=False, results="live")
    assert poll["type"] == "ok", poll
    qa = await request(mod, "q", "question.ask", seen, text="Why?")
    assert qa["type"] == "ok", qa
    poll_id = next(f["poll"]["id"] for f in seen if f["type"] == "poll.opened")
    qa_id = next(f["question"]["id"] for f in seen if f["type"] == "question.asked")
    obs = await connect(ws_base, ev["id"], obs_t)
    socks = [await connect(ws_base, ev["id"], t) for t in other_t]
    sent: dict[str, float] = {}
    lat: dict[str, list[float]] = {"quiet": [], "flood": []}
    phase = {"name": "quiet"}

    async def observe() -> None:
        async for raw in obs:
            t = time.perf_counter()
            if '"chat.message"' in raw:
                text = json.loads(raw)["message"]["text"]
                if text in sent:
                    lat[text.split(":")[0]].append(t - sent.pop(text))

    async def drain(ws: Any) -> None:
        async for _ in ws:
            pass

    async def talk(i: int, ws: Any, until: float) -> None:
        await asyncio.sleep(i / others)  # staggered: one line a second each
        n = 0
        loop = asyncio.get_running_loop()
        while loop.time() < until:
            text = f"{phase['name']}:{i}:{n}"
            sent[text] = time.perf_counter()
            await ws.send(json.dumps({"type": "chat.send", "room": room, "text": text}))
            n += 1
            await asyncio.sleep(1.0)

    answers: dict[str, Counter[str]] = {k: Counter() for k in KINDS}

    async def flood(ws: Any, kind: str, stop: asyncio.Event) -> None:
        """One tab of the flooder per kind: a socket answers one frame at a time, and a
        reaction's ok waits for its batch, so one tab would pace itself."""
        inflight = asyncio.Semaphore(window)
        refs: dict[str, str] = {}
        n = 0

        async def reader() -> None:
            async for raw in ws:
                f = json.loads(raw)
                ref = f.get("ref")
                if ref in refs:
                    answers[refs.pop(ref)][f.get("code", "ok")] += 1
                    inflight.release()
            answers[kind][f"closed {ws.close_code}"] += 1  # the server closed this tab
        rt = asyncio.create_task(reader())
        bodies = {"chat.send": {"room": room, "text": "spam"},
                  "poll.vote": {"poll": poll_id, "choice": 0},
                  "question.ask": {"text": "spam?"},
                  "question.vote": {"question": qa_id},
                  "reaction.send": {"kind": "applause"}}
        while not stop.is_set() and not rt.done():
            try:  # (not forever: a tab the server closed answers nothing more)
                await asyncio.wait_for(inflight.acquire(), 1.0)
            except asyncio.TimeoutError:
                continue
            ref = f"{kind}:{n}"
            refs[ref] = kind
            body = dict(bodies[kind])
            if kind == "poll.vote":
                body["choice"] = n % 2  # a revote replaces: every accepted one is work
            try:
                await ws.send(json.dumps({"type": kind, "ref": ref, **body}))
            except websockets.ConnectionClosed:
                break
            n += 1
        await asyncio.sleep(1.5)  # reactions answer once their batch is committed
        if rt.done():
            rt.result()  # the reader's failure, if any
        rt.cancel()

    tasks = [asyncio.create_task(observe())] + [asyncio.create_task(drain(mod))]
    loop = asyncio.get_running_loop()
    readers = [asyncio.create_task(drain(s)) for s in socks]
    async def heard(deadline: float = 30.0) -> None:
        """Until the observer has heard every line sent (what it has not after `deadline`
        seconds counts as lost): a deadline, so a slow machine is not a lost line."""
        end = loop.time() + deadline
        while sent and loop.time() < end:
            await asyncio.sleep(0.05)

    until = loop.time() + seconds
    await asyncio.gather(*(talk(i, s, until) for i, s in enumerate(socks)))
    await heard()
    phase["name"] = "flood"
    # a reaction's ok waits for its batch (1 s): the reactions get 8 tabs
    tabs = [*KINDS, *["reaction.send"] * 7]
    flooders = [await connect(ws_base, ev["id"], flood_t) for _ in tabs]
    stop = asyncio.Event()
    ft = asyncio.gather(*(flood(w, k, stop) for w, k in zip(flooders, tabs)))
    await asyncio.sleep(0.5)  # the buckets are empty: the flood is under way
    until = loop.time() + seconds
    await asyncio.gather(*(talk(i, s, until) for i, s in enumerate(socks)))
    await heard()
    stop.set()
    await ft
    lost = {p: sum(1 for t in sent if t.startswith(p + ":")) for p in lat}
    for t in tasks + readers:
        t.cancel()
    for ws in [mod, obs, *flooders, *socks]:
        await ws.close()
    return {"others": others, "seconds": seconds,
            "quiet": summary(lat["quiet"]), "flood": summary(lat["flood"]),
            "lost": lost, "flooder": {k: dict(v) for k, v in answers.items()}}


def summary(v: list[float]) -> dict[str, float]:
    return {"n": len(v), "p50_ms": pct(v, 50) * 1000, "p99_ms": pct(v, 99) * 1000,
            "max_ms": max(v) * 1000 if v else float("nan")}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--others", type=int, default=50)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    from tests.support.process import spawn

    async def run() -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            proc = await spawn(Path(tmp) / "d", env={"FORUM_SYNCHRONOUS": "NORMAL",
                                                      "FORUM_LIMIT_SOCKETS_PER_PARTICIPANT": "16"})
            try:
                return await flood_run(proc.base, proc.ws_base, a.others, a.seconds)
            finally:
                proc.terminate()
    r = asyncio.run(run())
    if a.json:
        print(json.dumps(r))
        return
    q, f = r["quiet"], r["flood"]
    print(f"{r['others']} others chatting one line/s each, {r['seconds']:.0f} s per phase\n")
    print("| others' chat latency | without flooder | with flooder |\n| --- | --- | --- |")
    for k in ("n", "p50_ms", "p99_ms", "max_ms"):
        print(f"| {k} | {q[k]:.1f} | {f[k]:.1f} |" if k != "n" else f"| lines | {q[k]} | {f[k]} |")
    print("\nflooder's answers per kind:")
    for k, v in r["flooder"].items():
        print(f"  {k}: {v}")


if __name__ == "__main__":
    main()
