"""The real process: `python run.py` as a subprocess, killed with -9, stopped with SIGTERM,
started with --demo. Acknowledged means durable; seqs are never reused."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest
import websockets

from tests.support.live import ORGANIZER, Client, auth, create_event, free_port, join

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
FAST_CHAT = {"FORUM_LIMIT_CHAT_RATE": "1000", "FORUM_LIMIT_CHAT_BURST": "1000"}


class Proc:
    """One `python run.py` process on a loopback port, its output kept in a file."""

    def __init__(self, data_dir: Path, port: int, *extra: str, token: str | None = ORGANIZER,
                 **env_extra: str) -> None:
        self.port = port
        self.out_path = data_dir.parent / f"out-{port}-{time.monotonic_ns()}.txt"
        env = {**os.environ, "FORUM_RECORDINGS_DIR": str(data_dir.parent / "rec"),
               "PYTHONUNBUFFERED": "1", **env_extra}
        for k in ("FORUM_PORT", "FORUM_HOST", "FORUM_ORGANIZER_TOKEN", "FORUM_DATA_DIR"):
            env.pop(k, None)
        if token is not None:
            env["FORUM_ORGANIZER_TOKEN"] = token
        self.out = open(self.out_path, "wb")
        self.p = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "--host", "127.0.0.1", "--port", str(port),
             "--data-dir", str(data_dir), "--log-level", "warning", *extra],
            cwd=data_dir.parent, env=env, stdout=self.out, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"
        self.ws_base = f"ws://127.0.0.1:{port}"

    def output(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    async def ready(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base, timeout=1) as http:
            while time.monotonic() < deadline:
                if self.p.poll() is not None:
                    raise AssertionError(f"server exited {self.p.returncode}:\n{self.output()}")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"server did not come up:\n{self.output()}")

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, timeout=60)

    async def wait_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.p.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        rc = self.p.poll()
        assert rc is not None, f"still running after {timeout}s:\n{self.output()}"
        return rc

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)
        self.out.close()


@pytest.fixture
async def procs() -> AsyncIterator[list[Proc]]:
    started: list[Proc] = []
    try:
        yield started
    finally:
        for p in started:
            p.stop()


async def start(procs: list[Proc], data_dir: Path, port: int, *extra: str,
                token: str | None = ORGANIZER, **env: str) -> Proc:
    p = Proc(data_dir, port, *extra, token=token, **env)
    procs.append(p)
    await p.ready()
    return p


async def test_acknowledged_chat_survives_kill_9(tmp_path: Path, procs: list[Proc]) -> None:
    data, port = tmp_path / "data", free_port()
    p = await start(procs, data, port, **FAST_CHAT)
    async with p.http() as http:
        ev = await create_event(http)
        anna = await join(http, ev, "Anna")
        bernd = await join(http, ev, "Bernd")
    room = ev["plenary_room"]
    b = await Client.connect(p, ev["id"], bernd["token"])  # type: ignore[arg-type]
    mark = b.last_seq
    a = await Client.connect(p, ev["id"], anna["token"])  # type: ignore[arg-type]
    acked: list[tuple[int, str]] = []
    for i in range(30):
        r = await a.request("chat.send", room=room, text=f"Zeile {i}")
        assert r["type"] == "ok", r
        acked.append((r["seq"], f"Zeile {i}"))
    os.kill(p.p.pid, signal.SIGKILL)  # no chance to flush anything
    assert await p.wait_exit(5) == -signal.SIGKILL
    for c in (a, b):
        c.ws.transport.abort()

    p2 = await start(procs, data, port, **FAST_CHAT)
    a2 = await Client.connect(p2, ev["id"], anna["token"])  # type: ignore[arg-type]
    assert a2.ready is not None
    assert [m["text"] for m in a2.ready["state"]["chat"]] == [t for _, t in acked]
    b2 = await Client.connect(p2, ev["id"], bernd["token"], resume_from=mark)  # type: ignore[arg-type]
    assert b2.ready is not None and b2.ready["resumed"] is True
    got = [(e["seq"], e["message"]["text"]) for e in b2.of("chat.message")]
    assert got == acked  # the same seqs as acknowledged before the crash
    assert b2.ready["seq"] > acked[-1][0]
    r = await a2.request("chat.send", room=room, text="nach dem Absturz")
    assert r["type"] == "ok" and r["seq"] > b2.ready["seq"] > acked[-1][0]
    e = await b2.wait_for(lambda e: e["type"] == "chat.message" and e["seq"] == r["seq"])
    assert e["message"]["text"] == "nach dem Absturz"
    async with p2.http() as http:
        summary = (await http.get(f"/api/events/{ev['id']}", headers=auth())).json()
    assert summary["counts"]["chat_messages"] == 31
    for c in (a2, b2):
        await c.close()
    with sqlite3.connect(data / "forum.db") as db:
        seqs = [s for (s,) in db.execute(
            "SELECT seq FROM journal WHERE event_id = ? ORDER BY seq", (ev["id"],))]
    assert seqs == list(range(1, len(seqs) + 1))  # dense, nothing reused or skipped


async def test_sigterm_closes_sockets_with_1001_and_exits_cleanly(tmp_path: Path,
                                                                  procs: list[Proc]) -> None:
    data, port = tmp_path / "data", free_port()
    p = await start(procs, data, port)
    async with p.http() as http:
        ev = await create_event(http)
        people = [await join(http, ev, n) for n in ("Anna", "Bernd")]
    clients = [await Client.connect(p, ev["id"], x["token"]) for x in people]  # type: ignore[arg-type]
    for i in range(10):
        assert (await clients[i % 2].request("chat.send", room=ev["plenary_room"],
                                             text=f"l{i}"))["type"] == "ok"
    p.p.send_signal(signal.SIGTERM)

    async def close_code(c: Client) -> int | None:
        try:
            while True:
                await asyncio.wait_for(c.ws.recv(), 30)
        except websockets.ConnectionClosed:
            pass
        return c.ws.close_code  # type: ignore[no-any-return]

    codes = await asyncio.gather(*(close_code(c) for c in clients))
    assert codes == [1001, 1001]
    assert await p.wait_exit(30) == 0
    out = p.output()
    assert "Traceback" not in out, out

    with sqlite3.connect(data / "forum.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    p2 = await start(procs, data, port)
    a = await Client.connect(p2, ev["id"], people[0]["token"])  # type: ignore[arg-type]
    assert a.ready is not None
    assert [m["text"] for m in a.ready["state"]["chat"]] == [f"l{i}" for i in range(10)]
    await a.close()


async def test_demo_prints_links_and_is_created_once(tmp_path: Path, procs: list[Proc]) -> None:
    data, port = tmp_path / "data", free_port()
    links = []
    for _ in range(2):
        p = await start(procs, data, port, "--demo")
        out = p.output()
        assert f"http://127.0.0.1:{port}" in out
        assert ORGANIZER not in out  # a console is often a log (issue 13)
        lines = [ln for ln in out.splitlines() if "/e/" in ln and "key=" in ln]

        assert len(lines) == 2, out
        links.append(lines)
        async with p.http() as http:
            events = (await http.get("/api/events", headers=auth())).json()
            assert [e["title"] for e in events] == [
                "Regionales Digitalisierungszentrum – Diskussionsforum 1"]
            one = (await http.get(f"/api/events/{events[0]['id']}", headers=auth())).json()
            assert [t["title"] for t in one["topics"]] == [
                "Arbeiten 4.0: Wie wollen wir morgen arbeiten?", "Geodaten im ländlichen Raum",
                "Smart Mobility im ländlichen Raum"]
            # the printed links work: their keys let people in with the right role
            for line, role in zip(lines, ("participant", "moderator")):
                url = line.split()[-1]
                assert role in line.lower()
                event_id = url.split("/e/", 1)[1].split("#", 1)[0]

                key = url.split("key=", 1)[1]
                r = await http.post(f"/api/events/{event_id}/join",
                                    json={"name": "Gast", "key": key})
                assert r.status_code == 200 and r.json()["participant"]["role"] == role
        p.p.send_signal(signal.SIGTERM)
        assert await p.wait_exit(8) == 0
    assert links[0] == links[1]  # the same event, the same links


async def test_organizer_token_is_generated_once_and_kept(tmp_path: Path,
                                                          procs: list[Proc]) -> None:
    data, port = tmp_path / "data", free_port()
    tokens = []
    for start_no in range(2):
        p = await start(procs, data, port, token=None)
        line = next(ln for ln in p.output().splitlines() if "organizer token" in ln)
        kept = (data / "organizer_token").read_text().strip()
        if start_no == 0:  # printed once, on the start that generated it
            token = line.rsplit(":", 1)[1].strip()
            assert token == kept and len(token) >= 20
        else:  # later starts say where it is, never the token itself (a console is a log)
            assert kept not in p.output() and "organizer_token" in line
            token = kept
        tokens.append(token)
        async with p.http() as http:
            r = await http.get("/api/events", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200
            r = await http.get("/api/events", headers=auth())
            assert r.status_code == 401
        p.p.send_signal(signal.SIGTERM)
        assert await p.wait_exit(8) == 0
    assert tokens[0] == tokens[1]
