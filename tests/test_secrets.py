"""No secret in a logged URL, and the small holes of issue 13: run.py's output after a
whole session holds no token or key; old `?key=` links go on to the fragment form; the
event page and joining answer an unknown event like a wrong key; Origin is compared by
scheme, host and port; a person holds at most N sockets; tokens end after the event and
can all be revoked; X-Forwarded-For only from FORUM_TRUSTED_PROXIES."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.support.live import (ORGANIZER, Client, LiveServer, auth, create_event, join,
                                start_server)
from tests.support.process import spawn


def _downloads(html: str) -> list[str]:
    return re.findall(r'href="(/api/events/[^"]+)"', html)


async def test_a_whole_session_leaves_no_token_or_key_in_the_log(tmp_path: Path) -> None:
    sp = await spawn(tmp_path / "data", "--log-level", "info")
    secrets: dict[str, str] = {"organizer": ORGANIZER}
    try:
        async with sp.http() as http:
            ev = await create_event(http)
            eid = ev["id"]
            secrets |= {"participant_key": ev["participant_key"],
                        "moderator_key": ev["moderator_key"]}
            # the links carry the key in the fragment, which browsers never send
            assert ev["participant_url"].endswith(f"/e/{eid}#key={ev['participant_key']}")
            # an old link is sent on to the fragment form
            r = await http.get(f"/e/{eid}", params={"key": ev["participant_key"]})
            assert r.status_code == 303
            assert r.headers["location"] == f"/e/{eid}#key={ev['participant_key']}"
            mod = await join(http, ev, "Moderatorin", moderator=True)
            pat = await join(http, ev, "Pat")
            secrets |= {"moderator_token": mod["token"], "participant_token": pat["token"]}
        cm = await Client.connect(sp, eid, mod["token"])  # type: ignore[arg-type]
        cp = await Client.connect(sp, eid, pat["token"])  # type: ignore[arg-type]
        assert (await cp.request("chat.send", room=ev["plenary_room"], text="hallo"))[
            "type"] == "ok"
        await cm.close()
        await cp.close()
        for who in ("moderator_token", "participant_token"):
            async with sp.http() as http:  # a browser of its own: its own cookie jar
                r = await http.post(f"/api/events/{eid}/session",
                                    headers={"Authorization": f"Bearer {secrets[who]}"})
                assert r.status_code == 204, r.text
                cookies = r.headers.get_list("set-cookie")
                assert len(cookies) == 4  # the event's pages and those of its series
                for c in cookies:
                    attrs = [a.strip().lower() for a in c.split(";")]
                    assert "httponly" in attrs and "samesite=strict" in attrs
                    assert any(a in (f"path=/events/{eid}".lower(),
                                     f"path=/api/events/{eid}".lower(),
                                     f"path=/series/{eid}".lower(),  # its own series
                                     f"path=/api/series/{eid}".lower()) for a in attrs)
                page = await http.get(f"/events/{eid}/review")
                assert page.status_code == 200 and "Pat" in page.text
                links = _downloads(page.text)
                assert len(links) >= 4, links
                assert any("attendance.csv" in x for x in links) == (who == "moderator_token")
                for link in links:
                    assert "token=" not in link
                    got = await http.get(link)
                    assert got.status_code == 200, (link, got.text)
                # ... and the page of its series, whose links carry no token either
                overview = await http.get(f"/series/{eid}")
                assert overview.status_code == 200, overview.text
                for link in re.findall(r'href="(/api/series/[^"]+)"', overview.text):
                    assert "token=" not in link
                    assert (await http.get(link)).status_code == 200, link
                # the cookie belongs to this event only
                assert (await http.get("/events/other/review")).status_code == 404
                r = await http.delete(f"/api/events/{eid}/session")
                assert r.status_code == 204
                assert (await http.get(f"/events/{eid}/review")).status_code == 401
        async with sp.http() as http:
            # old links with ?token= still work, and are logged without it
            r = await http.get(f"/events/{eid}/review", params={"token": pat["token"]})
            assert r.status_code == 200
            r = await http.get(f"/api/events/{eid}/minutes.md",
                               params={"token": mod["token"], "lang": "de"})
            assert r.status_code == 200
            r = await http.get(f"/api/events/{eid}/attendance.csv",
                               params={"token": ORGANIZER})
            assert r.status_code == 200
            r = await http.get(f"/e/{eid}?%6Bey={ev['moderator_key']}")  # %6B = k
            assert r.status_code == 303
    finally:
        assert sp.terminate() == 0
    out = sp.output()
    assert f'"GET /events/{eid}/review' in out  # the access log was on
    assert "key=[redacted]" in out and "token=[redacted]" in out
    for name, value in secrets.items():
        assert value not in out, f"{name} in the server's output"


async def test_unknown_event_and_wrong_key_answer_alike(server: LiveServer) -> None:
    async with server.http() as http:
        ev = await create_event(http)
        eid = ev["id"]
        real = await http.get(f"/e/{eid}")
        unknown = await http.get("/e/nosuchevent0")
        assert real.status_code == unknown.status_code == 200
        assert real.text.replace(eid, "ID") == unknown.text.replace("nosuchevent0", "ID")
        for path in (f"/e/{eid}?key=wrong", "/e/nosuchevent0?key=wrong"):
            r = await http.get(path)
            assert r.status_code == 303 and r.headers["location"].endswith("#key=wrong")
        a = await http.post(f"/api/events/{eid}/join", json={"name": "A", "key": "wrong"})
        b = await http.post("/api/events/nosuchevent0/join", json={"name": "A", "key": "wrong"})
        assert a.status_code == b.status_code == 403 and a.json() == b.json()


async def _handshake(server: LiveServer, eid: str, origin: str) -> str:
    """'ok' when the socket opened with this Origin, else 'refused'."""
    try:
        async with websockets.connect(f"{server.ws_base}/ws/events/{eid}",
                                      origin=origin) as ws:  # type: ignore[arg-type]
            await ws.close()
        return "ok"
    except websockets.InvalidStatus:
        return "refused"


async def test_origin_is_compared_by_scheme_host_and_port(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "d")
    try:
        async with server.http() as http:
            eid = (await create_event(http))["id"]
        port = server.settings.port
        cases = {f"http://127.0.0.1:{port}": "ok", f"http://127.0.0.1:{port}/": "ok",
                 f"https://127.0.0.1:{port}": "refused",  # the scheme counts
                 f"http://127.0.0.1:{port + 1}": "refused", "http://127.0.0.1": "refused",
                 f"http://localhost:{port}": "refused", f"ws://127.0.0.1:{port}": "refused",
                 f"http://127.0.0.1:{port}/x": "refused", "null": "refused",
                 "https://forum.example": "refused"}
        for origin, want in cases.items():
            assert await _handshake(server, eid, origin) == want, origin
    finally:
        await server.stop()
    # FORUM_PUBLIC_URL: the public origin is allowed too, with its scheme and port
    from dataclasses import replace
    server = await start_server(tmp_path / "d2")
    server.app.state.settings = replace(server.settings, public_url="https://forum.example")
    try:
        async with server.http() as http:
            eid = (await create_event(http))["id"]
        assert await _handshake(server, eid, "https://forum.example") == "ok"
        assert await _handshake(server, eid, "https://forum.example:443") == "ok"
        assert await _handshake(server, eid, "http://forum.example") == "refused"
        assert await _handshake(server, eid, "https://forum.example:8443") == "refused"
    finally:
        await server.stop()


async def test_at_most_n_sockets_per_person(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "d", sockets_per_participant=3)
    try:
        async with server.http() as http:
            ev = await create_event(http)
            pat = await join(http, ev, "Pat")
            other = await join(http, ev, "Ole")
        tabs = [await Client.connect(server, ev["id"], pat["token"]) for _ in range(3)]
        with pytest.raises(PermissionError) as refused:
            await Client.connect(server, ev["id"], pat["token"])
        frame = refused.value.args[0]
        assert frame["code"] == "rate_limited" and "at most 3" in frame["message"]
        ws = await websockets.connect(f"{server.ws_base}/ws/events/{ev['id']}")
        await ws.send(json.dumps({"type": "hello", "token": pat["token"]}))
        assert json.loads(await ws.recv())["code"] == "rate_limited"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
        # another person is not affected; a closed tab frees its place
        await (await Client.connect(server, ev["id"], other["token"])).close()
        await tabs[0].close()
        for _ in range(200):
            if server.forum.runtimes[ev["id"]].hub.count(pat["participant"]["id"]) < 3:
                break
            await asyncio.sleep(0.01)
        tabs[0] = await Client.connect(server, ev["id"], pat["token"])
        for t in tabs:
            await t.close()
    finally:
        await server.stop()


async def _denied(server: LiveServer, eid: str, token: str) -> bool:
    """The token no longer opens a socket nor the minutes."""
    try:
        await Client.connect(server, eid, token)
        sock = False
    except PermissionError as e:
        sock = e.args[0]["code"] == "unauthorized"
    async with server.http() as http:
        r = await http.get(f"/api/events/{eid}/minutes.md",
                           headers={"Authorization": f"Bearer {token}"})
    return sock and r.status_code == 401


async def test_tokens_end_after_the_event_and_can_all_be_revoked(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "d", token_after_end_s=0)
    try:
        async with server.http() as http:
            ev = await create_event(http)
            ended = await create_event(http, title="Vorbei")
            pat = await join(http, ev, "Pat")
            mod = await join(http, ev, "Mo", moderator=True)
            gone = await join(http, ended, "Gerd")
            assert not await _denied(server, ended["id"], gone["token"])
            r = await http.post(f"/api/events/{ended['id']}/end", headers=auth())
            assert r.status_code == 200
            assert await _denied(server, ended["id"], gone["token"])  # 0 s after its end

            c = await Client.connect(server, ev["id"], pat["token"])
            r = await http.post(f"/api/events/{ev['id']}/revoke",
                                headers={"Authorization": f"Bearer {mod['token']}"})
            assert r.status_code == 401  # the organizer only
            r = await http.post(f"/api/events/{ev['id']}/revoke", headers=auth())
            assert r.status_code == 200, r.text
            new = r.json()
            assert new["participant_key"] != ev["participant_key"]
            assert new["participant_url"].endswith("#key=" + new["participant_key"])
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await c.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
            for token in (pat["token"], mod["token"]):
                assert await _denied(server, ev["id"], token)
            for key in (ev["participant_key"], ev["moderator_key"]):
                r = await http.post(f"/api/events/{ev['id']}/join",
                                    json={"name": "X", "key": key})
                assert r.status_code == 403
            again = await join(http, {**ev, **new}, "Pat")
            assert not await _denied(server, ev["id"], again["token"])
    finally:
        await server.stop()
    # the revocation survives a restart
    server = await start_server(tmp_path / "d")
    try:
        assert await _denied(server, ev["id"], pat["token"])
        assert not await _denied(server, ev["id"], again["token"])
    finally:
        await server.stop()


async def _join_from(base: str, eid: str, key: str, n: int,
                     forwarded: list[str] | None) -> list[int]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        out = []
        for i in range(n):
            headers = {"X-Forwarded-For": forwarded[i]} if forwarded else {}
            r = await http.post(f"/api/events/{eid}/join", headers=headers,
                                json={"name": f"P{i}", "key": key})
            out.append(r.status_code)
        return out


async def test_x_forwarded_for_only_from_trusted_proxies(tmp_path: Path) -> None:
    tight: dict[str, Any] = {"FORUM_LIMIT_JOIN_RATE": "0.001", "FORUM_LIMIT_JOIN_BURST": "3"}
    addresses = [f"198.51.100.{i}" for i in range(1, 7)]
    for trusted, want in [(None, [200] * 3 + [429] * 3),
                          ("10.9.9.9", [200] * 3 + [429] * 3),
                          ("127.0.0.1", [200] * 6)]:
        env = {**tight, **({"FORUM_TRUSTED_PROXIES": trusted} if trusted else {})}
        sp = await spawn(tmp_path / f"d{trusted}", env=env)
        try:
            async with sp.http() as http:
                ev = await create_event(http)
            # six visitors, each with their own address as a proxy would say
            got = await _join_from(sp.base, ev["id"], ev["participant_key"], 6, addresses)
            assert got == want, (trusted, got)
            if trusted == "127.0.0.1":  # one visitor claiming many addresses in a row
                got = await _join_from(sp.base, ev["id"], ev["participant_key"], 4,
                                       ["203.0.113.9"] * 4)
                assert got == [200] * 3 + [429]
        finally:
            sp.terminate()


async def test_under_plain_uvicorn_the_access_log_is_redacted_too(tmp_path: Path) -> None:
    """`uvicorn --factory forum_live.app:create_app`: the app installs the filter itself."""
    import os
    import subprocess
    import sys

    from tests.support.live import free_port
    port = free_port()
    log = tmp_path / "uvicorn.log"
    env = {**os.environ, "FORUM_ORGANIZER_TOKEN": ORGANIZER, "FORUM_DATA_DIR": str(tmp_path),
           "FORUM_RECORDINGS_DIR": str(tmp_path / "rec"), "FORUM_PORT": str(port)}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory",
                                 "forum_live.app:create_app", "--port", str(port)],
                                cwd=Path(__file__).resolve().parents[1], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            for _ in range(300):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)
            ev = await create_event(http)
            assert (await http.get(f"/e/{ev['id']}",
                                   params={"key": ev["moderator_key"]})).status_code == 303
            r = await http.get(f"/api/events/{ev['id']}/minutes.md",
                               params={"token": ORGANIZER})
            assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)
    out_text = log.read_text()
    assert f"/e/{ev['id']}?key=[redacted]" in out_text, out_text[-2000:]
    assert ev["moderator_key"] not in out_text and ORGANIZER not in out_text
