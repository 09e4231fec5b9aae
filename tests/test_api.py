"""The organizer API and joining over real HTTP (contract §2, §3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live import Client, LiveServer, auth, create_event, join


def assert_error(r: httpx.Response, status: int, code: str, mentions: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if mentions is not None:
        assert mentions in body["error"]["message"], body


async def test_healthz(server: LiveServer) -> None:
    async with server.http() as http:
        r = await http.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_security_headers_on_every_response(server: LiveServer) -> None:
    async with server.http() as http:
        for r in (await http.get("/healthz"), await http.get("/"),
                  await http.get("/api/events"), await http.get("/nope")):
            csp = r.headers.get("content-security-policy", "")
            assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
            assert r.headers.get("x-frame-options") == "DENY"
            assert r.headers.get("x-content-type-options") == "nosniff"
            assert r.headers.get("referrer-policy") == "no-referrer"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "test-organizer-token"},
                                     {"Authorization": "Basic dGVzdA=="}])
async def test_organizer_api_needs_the_token(server: LiveServer, headers: dict[str, str]) -> None:
    async with server.http() as http:
        ev = await create_event(http)
        assert_error(await http.get("/api/events", headers=headers), 401, "unauthorized")
        assert_error(await http.get(f"/api/events/{ev['id']}", headers=headers), 401,
                     "unauthorized")
        assert_error(await http.post("/api/events", headers=headers, json={"title": "x"}), 401,
                     "unauthorized")
        r = await http.get("/api/events", headers=auth())
        assert len(r.json()) == 1  # the refused create made nothing


async def test_unknown_event_is_404(server: LiveServer) -> None:
    async with server.http() as http:
        assert_error(await http.get("/api/events/nope", headers=auth()), 404, "not_found")
        assert_error(await http.get("/api/events/" + "x" * 500, headers=auth()), 404,
                     "not_found")
        # joining answers an unknown event like a wrong key (issue 13: no probing of ids)
        assert_error(await http.post("/api/events/nope/join", json={"name": "A", "key": "k"}),
                     403, "forbidden")



@pytest.mark.parametrize("body, field", [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": 42}, "title"),
    ({"title": None}, "title"),
    ({"title": "ok", "topics": "Arbeiten"}, "topics"),
    ({"title": "ok", "topics": {"title": "x"}}, "topics"),
    ({"title": "ok", "topics": [{"speaker": "x"}]}, "topics.0.title"),
    ({"title": "ok", "topics": ["Arbeiten"]}, "topics.0"),
    ({"title": "x" * 201}, "title"),
    ({"title": "ok", "description": ["a"]}, "description"),
])
async def test_malformed_event_body_is_422_naming_the_field(server: LiveServer,
                                                             body: dict[str, Any],
                                                             field: str) -> None:
    async with server.http() as http:
        r = await http.post("/api/events", headers=auth(), json=body)
        assert_error(r, 422, "invalid", mentions=field)
        assert (await http.get("/api/events", headers=auth())).json() == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\"title\"", b"", b"\xff\xfe",
                                 b"null", b"[" * 50_000 + b"]" * 50_000,
                                 b'{"title": ' + b'{"a": ' * 20_000 + b"1" + b"}" * 20_001],
                         ids=["broken", "array", "string", "empty", "not-utf8", "null",
                              "deep-array", "deep-object"])
async def test_body_that_is_not_a_json_object_is_422(server: LiveServer, raw: bytes) -> None:
    async with server.http() as http:
        r = await http.post("/api/events", content=raw,
                            headers={**auth(), "content-type": "application/json"})
        assert_error(r, 422, "invalid", mentions="body")
        ev = await create_event(http)
        r = await http.post(f"/api/events/{ev['id']}/join", content=raw)
        assert_error(r, 422, "invalid", mentions="body")


async def test_oversized_body_is_413(server: LiveServer) -> None:
    big = {"title": "x", "description": "y" * (server.settings.limits.body_max + 10)}
    async with server.http() as http:
        assert_error(await http.post("/api/events", headers=auth(), json=big), 413, "too_large")

        async def chunks():  # no content-length: the server must count while reading
            for _ in range(40):
                yield b"x" * 10_000
        r = await http.post("/api/events", headers=auth(), content=chunks())
        assert_error(r, 413, "too_large")
        assert (await http.get("/api/events", headers=auth())).json() == []


async def test_create_returns_ids_links_keys_and_topics(server: LiveServer) -> None:
    async with server.http() as http:
        r = await http.post("/api/events", headers=auth(), json={
            "title": "Regionales Digitalisierungszentrum – Diskussionsforum 1",
            "description": "drei Impulse", "starts_at": "2024-06-01T10:00:00+02:00",
            "series": "RDZ",
            "topics": [{"title": "Arbeiten 4.0", "speaker": "Dr. Weber"},
                       {"title": "Geodaten im ländlichen Raum", "description": "Karten"}]})
        assert r.status_code == 201, r.text
        ev = r.json()
        other = await create_event(http)
    for k in ("id", "participant_url", "moderator_url", "participant_key", "moderator_key",
              "plenary_room", "topics"):
        assert ev.get(k), k
    assert ev["participant_key"] in ev["participant_url"]
    assert ev["moderator_key"] in ev["moderator_url"]
    assert ev["moderator_key"] not in ev["participant_url"]
    assert ev["id"] in ev["participant_url"] and ev["participant_url"].startswith(server.base)
    assert [t["title"] for t in ev["topics"]] == ["Arbeiten 4.0", "Geodaten im ländlichen Raum"]
    assert ev["topics"][0]["speaker"] == "Dr. Weber"
    assert all(t["id"] for t in ev["topics"])
    # unguessable: long random ids and keys, all different, nothing shared between events
    secrets = [ev["id"], ev["participant_key"], ev["moderator_key"],
               other["id"], other["participant_key"], other["moderator_key"]]
    assert len(set(secrets)) == 6
    assert all(len(s) >= 16 for s in secrets)
    assert len(ev["participant_key"]) >= 22  # >= 128 bits in url-safe base64


async def test_list_is_newest_first(server: LiveServer) -> None:
    async with server.http() as http:
        ids = [(await create_event(http, title=f"Forum {i}"))["id"] for i in range(4)]
        r = await http.get("/api/events", headers=auth())
    assert r.status_code == 200
    listed = r.json()
    assert [e["id"] for e in listed] == ids[::-1]
    assert [e["title"] for e in listed] == [f"Forum {i}" for i in (3, 2, 1, 0)]
    assert all(e["status"] == "open" for e in listed)


async def test_get_event_shows_topics_rooms_status_counts(server: LiveServer) -> None:
    async with server.http() as http:
        ev = await create_event(http)
        a = await join(http, ev, "Anna")
        await join(http, ev, "Mia", moderator=True)
        c = await Client.connect(server, ev["id"], a["token"])
        await c.request("chat.send", room=ev["plenary_room"], text="eins")
        await c.request("hand.raise")
        r = await http.get(f"/api/events/{ev['id']}", headers=auth())
        await c.close()
    assert r.status_code == 200
    got = r.json()
    assert got["id"] == ev["id"] and got["status"] == "open"
    assert [t["title"] for t in got["topics"]] == [t["title"] for t in ev["topics"]]
    assert [room["id"] for room in got["rooms"]] == [ev["plenary_room"]]
    assert got["counts"]["participants"] == 2
    assert got["counts"]["moderators"] == 1
    assert got["counts"]["online"] == 1
    assert got["counts"]["chat_messages"] == 1
    assert got["counts"]["raised_hands"] == 1


async def test_join_needs_the_right_key_and_the_key_decides_the_role(server: LiveServer) -> None:
    async with server.http() as http:
        ev = await create_event(http)
        other = await create_event(http)
        url = f"/api/events/{ev['id']}/join"
        assert_error(await http.post(url, json={"name": "Eve"}), 403, "forbidden")
        assert_error(await http.post(url, json={"name": "Eve", "key": ""}), 403, "forbidden")
        assert_error(await http.post(url, json={"name": "Eve", "key": "guess"}), 403,
                     "forbidden")
        assert_error(await http.post(url, json={"name": "Eve", "key": ev["id"]}), 403,
                     "forbidden")
        assert_error(await http.post(url, json={"name": "Eve",
                                                "key": other["moderator_key"]}), 403, "forbidden")
        assert_error(await http.post(url, json={"key": ev["participant_key"]}), 422, "invalid",
                     mentions="name")
        assert_error(await http.post(url, json={"name": 5, "key": ev["participant_key"]}), 422,
                     "invalid", mentions="name")
        p = await http.post(url, json={"name": " Anna ", "organization": "Stadt X",
                                       "key": ev["participant_key"]})
        m = await http.post(url, json={"name": "Mia", "key": ev["moderator_key"]})
        summary = (await http.get(f"/api/events/{ev['id']}", headers=auth())).json()
    assert p.status_code == 200 and m.status_code == 200
    assert p.json()["participant"]["role"] == "participant"
    assert p.json()["participant"]["name"] == "Anna"
    assert m.json()["participant"]["role"] == "moderator"
    assert p.json()["token"] and p.json()["token"] != m.json()["token"]
    assert p.json()["participant"]["id"] != m.json()["participant"]["id"]
    assert summary["counts"]["participants"] == 2  # refused joins registered nobody


async def test_a_token_opens_the_socket_of_its_event_only(server: LiveServer) -> None:
    async with server.http() as http:
        a = await create_event(http, title="A")
        b = await create_event(http, title="B")
        ta = await join(http, a, "Anna")
    c = await Client.connect(server, a["id"], ta["token"])
    assert c.ready is not None and c.ready["state"]["event"]["title"] == "A"
    assert c.ready["state"]["me"]["id"] == ta["participant"]["id"]
    await c.close()
    import websockets
    async with websockets.connect(f"{server.ws_base}/ws/events/{b['id']}") as ws:
        await ws.send(json.dumps({"type": "hello", "token": ta["token"]}))
        frame = json.loads(await ws.recv())
        assert frame["type"] == "error" and frame["code"] == "unauthorized"
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4401


async def test_the_token_is_the_same_person_on_rejoin(server: LiveServer) -> None:
    async with server.http() as http:
        ev = await create_event(http)
        a = await join(http, ev, "Anna")
    first = await Client.connect(server, ev["id"], a["token"])
    await first.close()
    again = await Client.connect(server, ev["id"], a["token"])
    assert again.ready is not None
    assert again.ready["state"]["me"]["id"] == a["participant"]["id"]
    await again.close()


async def test_pages_and_unknown_paths_never_500(server: LiveServer) -> None:
    async with server.http() as http:
        ev = await create_event(http)
        for path in ("/", "/organizer", f"/e/{ev['id']}", "/e/nope", "/nope",
                     "/api/events/x/y/z", "/i18n/de.json", "/i18n/xx.json"):
            r = await http.get(path)
            assert r.status_code < 500, (path, r.status_code)
        r = await http.put("/api/events", headers=auth(), json={})
        assert r.status_code in (404, 405)
        r = await http.post(f"/api/events/{ev['id']}/join", content=b'{"name": "A", "key": [1]}')
        assert_error(r, 422, "invalid", mentions="key")


async def test_joins_are_rate_limited_per_address(tmp_path: Path) -> None:
    """POST /join: a token bucket per client IP; over it 429 rate_limited, and the
    bucket refills (issue 9)."""
    import asyncio

    from tests.support.live import start_server as _start
    server = await _start(tmp_path / "limited", join_rate=2.0, join_burst=5)
    try:
        async with server.http() as http:
            ev = await create_event(http)
            url = f"/api/events/{ev['id']}/join"
            codes = [(await http.post(url, json={"name": f"P{i}", "key": ev["participant_key"]})
                      ).status_code for i in range(8)]
            assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3, codes
            r = await http.post(url, json={"name": "X", "key": ev["participant_key"]})
            assert r.status_code == 429
            assert r.json()["error"]["code"] == "rate_limited"
            # wrong keys and unknown events draw on the same bucket: no free guessing
            r = await http.post("/api/events/nope/join", json={"name": "X", "key": "k"})
            assert r.status_code == 429
            await asyncio.sleep(0.6)  # 2 a second: one token back
            r = await http.post(url, json={"name": "Später", "key": ev["participant_key"]})
            assert r.status_code == 200, r.text
            # the organizer API is not limited by it
            assert (await http.get("/api/events", headers=auth())).status_code == 200
    finally:
        await server.stop()
