"""Faults, for real: text that cannot be stored, a store that refuses one event's writes in
a batch, a full disk, a locked database. In every case the journal stays the truth:
nothing is visible that is not committed, a failed write leaves no trace, the sender hears
`unavailable`, everybody else goes on, and the event serves again by itself."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from tests.support.live import Client, LiveServer, auth, connected, create_event, join, start_server

FORMATS = ("md", "html", "json", "docx", "pdf")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    s = await start_server(tmp_path / "data", chat_rate=1000, chat_burst=1000)
    yield s
    await s.stop()


async def fresh_ready(server: LiveServer, event_id: str, token: str) -> dict[str, Any]:
    """What a newcomer (or a reload without resume_from) gets: `ready` with the state."""
    c = await Client.connect(server, event_id, token)
    try:
        assert c.ready is not None and c.ready["resumed"] is False
        sync = await c.request("state.sync")
        assert sync["type"] == "ok" and sync["seq"] >= c.ready["seq"]
        return c.ready
    finally:
        await c.close()


async def exports_work(server: LiveServer, event_id: str) -> None:
    async with server.http() as http:
        for fmt in FORMATS:
            r = await http.get(f"/api/events/{event_id}/minutes.{fmt}", headers=auth())
            assert r.status_code == 200, (fmt, r.status_code, r.text[:300])
        for table in ("polls.csv", "attendance.csv"):
            r = await http.get(f"/api/events/{event_id}/{table}", headers=auth())
            assert r.status_code == 200, (table, r.text[:300])


async def journal(server: LiveServer, event_id: str) -> list[Any]:
    return [e async for e in server.forum.store.journal(event_id)]


# -- text at the door -------------------------------------------------------------------
BAD = {"\ud800": "U+D800", "a\udfffb": "U+DFFF", "nul\x00": "U+0000", "bell\x07": "U+0007"}
ODD_BUT_FINE = "\u202eRTL override\u202c \u200bzero\u200dwidth \u2066isolate\u2069 \u05e9\u05dc\u05d5\u05dd"


async def test_every_text_kind_refuses_what_cannot_be_stored_and_the_event_goes_on(
        server: LiveServer) -> None:
    async with server.http() as http:
        ev = await create_event(http)
        mod = await join(http, ev, "Moderatorin", moderator=True)
        anna = await join(http, ev, "Anna")
    cm, ca = await connected(server, ev, mod, anna)
    plenary = ev["plenary_room"]
    added = await ca.request("minutes.add", room=plenary, kind="note", text="Notiz")
    entry_id = (await ca.wait_for(lambda e: e["type"] == "minutes.added"))["entry"]["id"]
    assert added["type"] == "ok"
    text_poll = (await cm.request("poll.create", scope="event", question="Ihre Idee?",
                                  kind="text", anonymous=True, results="live"))
    poll_id = (await cm.wait_for(lambda e: e["type"] == "poll.opened"))["poll"]["id"]
    assert text_poll["type"] == "ok"

    def frames(text: str) -> list[tuple[Client, str, dict[str, Any]]]:
        return [
            (ca, "chat.send", {"room": plenary, "text": text}),
            (ca, "minutes.add", {"room": plenary, "kind": "note", "text": text}),
            (ca, "minutes.edit", {"entry": entry_id, "version": 1, "text": text}),
            (ca, "question.ask", {"text": text}),
            (cm, "breakouts.broadcast", {"text": text}),
            (cm, "poll.create", {"scope": "event", "question": text, "kind": "single",
                                 "options": ["ja", "nein"], "anonymous": False,
                                 "results": "live"}),
            (cm, "poll.create", {"scope": "event", "question": "Q", "kind": "single",
                                 "options": ["ja", text], "anonymous": False,
                                 "results": "live"}),
            (cm, "timer.start", {"title": text, "seconds": 60}),
        ]
    head = cm.last_seq
    for bad, codepoint in BAD.items():
        for client, kind, body in frames(bad):
            r = await client.request(kind, **body)
            assert r["type"] == "error" and r["code"] == "invalid", (kind, r)
            assert codepoint in r["message"], r
        r = await ca.request("poll.vote", poll=poll_id, text=bad)
        assert r["code"] == "invalid" and "text" in r["message"], r
    r = await ca.request("ping")
    assert r["seq"] == head  # nothing of it reached the journal
    # odd but storable text is stored intact, in every kind
    for client, kind, body in frames(ODD_BUT_FINE)[:2]:
        assert (await client.request(kind, **body))["type"] == "ok"
    assert (await ca.request("poll.vote", poll=poll_id, text=ODD_BUT_FINE))["type"] == "ok"
    texts = [e.data.get("message", {}).get("text") for e in await journal(server, ev["id"])]
    assert ODD_BUT_FINE in texts
    # the event is whole: a newcomer gets ready, state.sync answers, every export works
    ready = await fresh_ready(server, ev["id"], mod["token"])
    assert ready["seq"] == (await journal(server, ev["id"]))[-1].seq
    await exports_work(server, ev["id"])
    assert server.forum.store.failures == 0
    await ca.close()
    await cm.close()


async def test_the_http_api_refuses_unstorable_text_naming_the_field(server: LiveServer) -> None:
    async with server.http() as http:
        r = await http.post("/api/events", headers={**auth(), "content-type": "application/json"},
                            content='{"title": "Forum \\ud800", "topics": []}')
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "invalid" and "title" in r.json()["error"]["message"]
        ev = await create_event(http)
        r = await http.post(f"/api/events/{ev['id']}/join",
                            content='{"name": "Nul\\u0000", "key": "%s"}' % ev["participant_key"],
                            headers={"content-type": "application/json"})
        assert r.status_code == 422 and "name" in r.json()["error"]["message"]


# -- a store that refuses -----------------------------------------------------------------
def refuse(db: Path, event_id: str | None) -> None:
    """Make the database itself refuse one event's journal rows (a trigger), or stop."""
    with sqlite3.connect(db, timeout=30) as c:
        c.execute("DROP TRIGGER IF EXISTS refuse_test")
        if event_id is not None:
            c.execute("CREATE TRIGGER refuse_test BEFORE INSERT ON journal "
                      f"WHEN NEW.event_id = '{event_id}' "
                      "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")


async def test_a_refused_write_leaves_no_trace_and_fails_only_its_own_event(
        server: LiveServer) -> None:
    async with server.http() as http:
        a = await create_event(http, "Forum A")
        b = await create_event(http, "Forum B")
        pa = await join(http, a, "Anna")
        pb = await join(http, b, "Bernd")
    ca = await Client.connect(server, a["id"], pa["token"])
    cb = await Client.connect(server, b["id"], pb["token"])
    ok = await ca.request("chat.send", room=a["plenary_room"], text="vorher")
    assert ok["type"] == "ok"
    head_a = ok["seq"]
    refuse(server.settings.db_path, a["id"])
    # both at once: they share a group commit; only A's sender hears of a failure
    ra, rb = await asyncio.gather(
        ca.request("chat.send", room=a["plenary_room"], text="geht verloren"),
        cb.request("chat.send", room=b["plenary_room"], text="kommt an"))
    assert ra["type"] == "error" and ra["code"] == "unavailable", ra
    assert rb["type"] == "ok", rb
    # several more while refused: each gets unavailable, none is visible anywhere
    for i in range(5):
        r = await ca.request("chat.send", room=a["plenary_room"], text=f"auch verloren {i}")
        assert r["code"] == "unavailable", r
    rt = server.forum.runtimes[a["id"]]
    ready = await fresh_ready(server, a["id"], pa["token"])
    assert ready["seq"] == head_a
    chat = [m["text"] for m in ready["state"]["chat"]["messages"]] if isinstance(
        ready["state"].get("chat"), dict) else [m["text"] for m in ready["state"]["chat"]]
    assert "vorher" in chat and not any("verloren" in t for t in chat)
    assert rt.state.seq == rt.committed_seq == head_a
    assert not any("verloren" in f.get("message", {}).get("text", "") for f in ca.events)
    await exports_work(server, a["id"])
    # the refusal ends: the event writes again, seq goes on without a gap
    refuse(server.settings.db_path, None)
    r = await ca.request("chat.send", room=a["plenary_room"], text="wieder da")
    assert r["type"] == "ok" and r["seq"] == head_a + 1, r
    assert [e.seq for e in await journal(server, a["id"])] == list(range(1, head_a + 2))
    resumed = await Client.connect(server, a["id"], pa["token"], resume_from=head_a - 1)
    assert [e["seq"] for e in resumed.events] == [head_a, head_a + 1]
    for c in (ca, cb, resumed):
        await c.close()


# -- a full disk ----------------------------------------------------------------------------
def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Any:
    """A tmpfs of 1 MiB (root only); ballast fills it up, deleting the ballast frees it."""
    if not can_mount():
        if os.environ.get("CI") == "true":
            pytest.fail("CI must be able to mount a tmpfs (runs as root)")
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1024k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"mount failed: {r.stderr}")
        pytest.skip(f"mount not permitted here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(mnt: Path, leave_kib: int) -> Path:
    """Ballast up to `leave_kib` KiB free on the tmpfs."""
    st = os.statvfs(mnt)
    free = st.f_bavail * st.f_frsize
    ballast = mnt / "ballast"
    with open(ballast, "wb") as f:
        f.write(b"\0" * max(0, free - leave_kib * 1024))
    return ballast


async def wait_until(pred: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await pred():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def health(server: LiveServer) -> tuple[int, dict[str, Any]]:
    async with server.http() as http:
        r = await http.get("/healthz")
        return r.status_code, r.json()


@pytest.mark.slow
async def test_a_full_disk_refuses_writes_keeps_acked_ones_and_heals_itself(
        tiny_disk: Path) -> None:
    data = tiny_disk / "data"
    server = await start_server(data, chat_rate=1000, chat_burst=1000)
    acked: list[str] = []
    refused: list[str] = []
    try:
        async with server.http() as http:
            ev = await create_event(http)
            people = [await join(http, ev, f"Person {i}") for i in range(4)]
        clients = [await Client.connect(server, ev["id"], p["token"]) for p in people]
        ballast = fill(tiny_disk, leave_kib=48)

        async def chat_until_refused(c: Client, who: int) -> None:
            for i in range(5000):
                text = f"Zeile {who}-{i} " + "x" * 400
                r = await c.request("chat.send", room=ev["plenary_room"], text=text)
                if r["type"] == "ok":
                    acked.append(text)
                else:
                    assert r["code"] == "unavailable", r
                    refused.append(text)
                    if len([t for t in refused if t.startswith(f"Zeile {who}-")]) >= 3:
                        return
        await asyncio.gather(*(chat_until_refused(c, i) for i, c in enumerate(clients)))
        assert acked and refused
        status, body = await health(server)
        assert status == 503 and body["status"] == "degraded", body
        # reads go on while writes fail: a newcomer is served
        ready = await fresh_ready(server, ev["id"], people[0]["token"])
        assert ready["seq"] == server.forum.runtimes[ev["id"]].committed_seq
        # space comes back: healthz recovers by itself, writes work again
        ballast.unlink()
        await wait_until(lambda: _healthy(server))
        r = await clients[0].request("chat.send", room=ev["plenary_room"], text="wieder Platz")
        assert r["type"] == "ok", r
        acked.append("wieder Platz")
        for c in clients:
            await c.close()
    finally:
        await server.stop()
    server = await start_server(data)  # after a restart: exactly what was acknowledged
    try:
        texts = [e.data["message"]["text"] for e in await journal(server, ev["id"])
                 if e.kind == "chat.message"]
        assert sorted(texts) == sorted(acked)
        assert not set(texts) & set(refused)
    finally:
        await server.stop()


async def _healthy(server: LiveServer) -> bool:
    return (await health(server))[0] == 200


@pytest.mark.slow
async def test_a_locked_database_refuses_writes_until_the_lock_is_released(
        tmp_path: Path) -> None:
    """Another process holding the write lock (an operator's sqlite3 shell, a backup tool
    that writes) makes our commits fail after the busy timeout: the same failure path as a
    read-only database, which the kernel cannot switch on under an open file."""
    server = await start_server(tmp_path / "data", chat_rate=1000, chat_burst=1000)
    try:
        async with server.http() as http:
            ev = await create_event(http)
            anna = await join(http, ev, "Anna")
        c = await Client.connect(server, ev["id"], anna["token"])
        before = await c.request("chat.send", room=ev["plenary_room"], text="vorher")
        lock = sqlite3.connect(server.settings.db_path, timeout=1, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            r = await c.request("chat.send", room=ev["plenary_room"], text="gesperrt",
                                timeout=30)
            assert r["type"] == "error" and r["code"] == "unavailable", r
            status, body = await health(server)
            assert status == 503 and body["status"] == "degraded"
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        await wait_until(lambda: _healthy(server), timeout=30)
        r = await c.request("chat.send", room=ev["plenary_room"], text="frei", timeout=30)
        assert r["type"] == "ok" and r["seq"] == before["seq"] + 1
        texts = [e.data["message"]["text"] for e in await journal(server, ev["id"])
                 if e.kind == "chat.message"]
        assert texts == ["vorher", "frei"]
        await c.close()
    finally:
        await server.stop()


# -- the process paused ----------------------------------------------------------------------
@pytest.mark.slow
async def test_a_server_paused_for_ten_seconds_loses_nothing_and_clients_resume_exactly(
        tmp_path: Path) -> None:
    import signal

    from tests.support.process import spawn
    p = await spawn(tmp_path / "data", env={"FORUM_LIMIT_CHAT_RATE": "1000",
                                            "FORUM_LIMIT_CHAT_BURST": "1000"})
    try:
        async with p.http() as http:
            ev = await create_event(http)
            people = [await join(http, ev, f"Person {i}") for i in range(4)]
            watcher = await join(http, ev, "Beobachterin")
        room = ev["plenary_room"]
        observer = await Client.connect(p, ev["id"], watcher["token"])  # type: ignore[arg-type]
        clients = [await Client.connect(p, ev["id"], x["token"])  # type: ignore[arg-type]
                   for x in people]
        acked: list[str] = []
        paused = asyncio.Event()
        resumed_ok = asyncio.Event()

        async def talk(i: int) -> None:
            c = clients[i]
            for n in range(60):
                text = f"{i}-{n}"
                try:
                    r = await c.request("chat.send", room=room, text=text, timeout=3)
                except (asyncio.TimeoutError, TimeoutError):
                    # no answer while paused: come back with resume_from, as the app does
                    await resumed_ok.wait()
                    c.ws.transport.abort()
                    seen = c.last_seq
                    c2 = await Client.connect(p, ev["id"], people[i]["token"],  # type: ignore[arg-type]
                                              resume_from=seen)
                    c2.events = c.events + c2.events
                    clients[i] = c = c2
                    continue
                assert r["type"] == "ok", r
                acked.append(text)
                if n == 10 and i == 0:
                    paused.set()

        talkers = [asyncio.create_task(talk(i)) for i in range(4)]
        await paused.wait()
        os.kill(p.proc.pid, signal.SIGSTOP)
        await asyncio.sleep(10)  # the fault itself: ten seconds without a server
        os.kill(p.proc.pid, signal.SIGCONT)
        resumed_ok.set()
        await asyncio.gather(*talkers)
        last = max(c.last_seq for c in clients)
        await observer.wait_for(lambda e: e["seq"] >= last, timeout=30)
        for c in clients:
            if c.last_seq < last:
                await c.wait_for(lambda e: e["seq"] >= last, timeout=30)
        # every acknowledged line is there, once; every resumed tab saw exactly what the
        # never-dropped observer saw
        seen_by_observer = [(e["seq"], e["message"]["text"]) for e in observer.of("chat.message")]
        texts = [t for _, t in seen_by_observer]
        assert set(acked) <= set(texts) and len(texts) == len(set(texts))
        for c in clients:
            mine = [(e["seq"], e["message"]["text"]) for e in c.of("chat.message")]
            assert mine == seen_by_observer
        for c in [observer, *clients]:
            await c.close()
    finally:
        p.terminate()
    with sqlite3.connect(tmp_path / "data" / "forum.db") as db:
        rows = db.execute("SELECT seq, data FROM journal WHERE event_id = ? AND "
                          "kind = 'chat.message' ORDER BY seq", (ev["id"],)).fetchall()
    import json
    stored = [json.loads(d)["message"]["text"] for _, d in rows]
    assert set(acked) <= set(stored) and len(stored) == len(set(stored))


# -- the seq race after a 1009 close -------------------------------------------------------------
async def test_coming_back_after_an_oversized_frame_never_reuses_a_seq(tmp_path: Path) -> None:
    """A client closed by the websocket layer for an oversized frame (1009) comes straight
    back while others chat and its delayed presence entry is due: every entry gets its own
    seq, no write fails, the journal has no gap."""
    import websockets

    server = await start_server(tmp_path / "data", chat_rate=1000, chat_burst=1000,
                                presence_grace_s=0.02)
    try:
        async with server.http() as http:
            ev = await create_event(http)
            anna = await join(http, ev, "Anna")
            bernd = await join(http, ev, "Bernd")
        cb = await Client.connect(server, ev["id"], bernd["token"])
        stop = asyncio.Event()

        async def chatter() -> None:
            n = 0
            while not stop.is_set():
                r = await cb.request("chat.send", room=ev["plenary_room"], text=f"z{n}")
                assert r["type"] == "ok", r
                n += 1

        talking = asyncio.create_task(chatter())
        too_big = "x" * (server.settings.limits.frame_max * 4 + (1 << 20))
        for _ in range(15):
            ca = await Client.connect(server, ev["id"], anna["token"])
            try:
                await ca.ws.send(too_big)
                await asyncio.wait_for(ca.ws.wait_closed(), 10)
            except websockets.ConnectionClosed:
                pass
            assert ca.ws.close_code == 1009 or ca.ws.close_rcvd is None or \
                ca.ws.close_rcvd.code == 1009
        ca = await Client.connect(server, ev["id"], anna["token"])
        stop.set()
        await talking
        rt = server.forum.runtimes[ev["id"]]
        assert server.forum.store.failures == 0 and rt.recoveries == 0
        seqs = [e.seq for e in await journal(server, ev["id"])]
        assert seqs == list(range(1, len(seqs) + 1))
        assert (await ca.request("ping"))["seq"] == seqs[-1]
        await ca.close()
        await cb.close()
    finally:
        await server.stop()


# -- a server without Pango --------------------------------------------------------------
async def test_pdf_without_pango_is_a_clear_error_and_every_other_format_works(
        server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """WeasyPrint loads Pango when it is imported; on a server without it the import fails
    (OSError from cffi, or ImportError). The organizer gets a 503 that says what to install,
    never a 500, and the other formats still download."""
    import sys
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # `from weasyprint import` fails
    async with server.http() as http:
        ev = await create_event(http)
        r = await http.get(f"/api/events/{ev['id']}/minutes.pdf", headers=auth())
        assert r.status_code == 503, r.text
        err = r.json()["error"]
        assert err["code"] == "unavailable" and "Pango" in err["message"]
        for fmt in ("md", "html", "json", "docx"):
            r = await http.get(f"/api/events/{ev['id']}/minutes.{fmt}", headers=auth())
            assert r.status_code == 200, (fmt, r.text[:200])
