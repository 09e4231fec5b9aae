"""The authorization matrix (issue 9): every client message kind and every HTTP endpoint,
tried as organizer, moderator, participant, participant of another event, waiting-room
guest, removed participant, and with no, a forged and an expired token. Only the allowed
succeed; the expectations are one table per surface, asserted as a whole.

Socket kinds come from `CLIENT_COMMANDS`, so a new kind without a row here fails the test
until someone says who may send it.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import httpx
import pytest
import websockets
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from forum_live.app import build_features
from tests.support.live import ORGANIZER, Client, LiveServer, auth, start_server

CLIENT_COMMANDS = build_features().commands  # every frame kind of a full app (media too)

SALT = "forum-live/participant"
MAX_AGE = 3600  # token_max_age_s of the server under test


# -- the world every kind is tried in --------------------------------------------------
@dataclass
class World:
    event: dict[str, Any]
    tokens: dict[str, str]  # role -> token
    ids: dict[str, str]  # role -> participant id
    m: Client
    p: Client
    objects: dict[str, Any] = field(default_factory=dict)

    @property
    def plenary(self) -> str:
        return str(self.event["plenary_room"])


async def _join(http: httpx.AsyncClient, event: dict[str, Any], name: str, key: str) -> Any:
    r = await http.post(f"/api/events/{event['id']}/join",
                        json={"name": name, "key": event[key]})
    assert r.status_code == 200, r.text
    return r.json()


async def ok(c: Client, type_: str, **body: Any) -> dict[str, Any]:
    reply = await c.request(type_, **body)
    assert reply["type"] == "ok", (type_, body, reply)
    return reply


async def make_world(server: LiveServer, http: httpx.AsyncClient) -> World:
    r = await http.post("/api/events", headers=auth(), json={
        "title": "Matrix", "lobby": True, "topics": [{"title": "A"}, {"title": "B"}]})
    assert r.status_code == 201, r.text
    event = r.json()
    joined = {"moderator": await _join(http, event, "Mod", "moderator_key"),
              "participant": await _join(http, event, "Pat", "participant_key"),
              "guest": await _join(http, event, "Gast", "participant_key"),
              "removed": await _join(http, event, "Raus", "participant_key")}
    tokens = {k: v["token"] for k, v in joined.items()}
    ids = {k: v["participant"]["id"] for k, v in joined.items()}
    m = await Client.connect(server, event["id"], tokens["moderator"])
    await ok(m, "lobby.admit", participants=[ids["participant"], ids["removed"]])
    await ok(m, "participant.remove", participant=ids["removed"])
    p = await Client.connect(server, event["id"], tokens["participant"])
    if not p.ready["state"].get("rooms"):  # type: ignore[index]
        await p.request("state.sync")
    w = World(event, tokens, ids, m, p)
    w.objects["server"] = server
    w.objects["message"] = (await ok(p, "chat.send", room=w.plenary, text="hallo"))["message"]
    await ok(p, "minutes.add", room=w.plenary, kind="note", text="notiz")
    entry = await m.wait_for(lambda e: e["type"] == "minutes.added")
    w.objects["entry"] = entry["entry"]["id"]
    await ok(p, "question.ask", text="Warum?", anonymous=False)
    q = await m.wait_for(lambda e: e["type"] == "question.asked")
    w.objects["question"] = q["question"]["id"]
    await ok(m, "poll.create", scope="event", question="Ja?", kind="single",
             options=["ja", "nein"], anonymous=False, results="live")
    poll = await m.wait_for(lambda e: e["type"] == "poll.opened")
    w.objects["poll"] = poll["poll"]["id"]
    await ok(m, "timer.start", title="Pause", mode="stopwatch")
    timer = await m.wait_for(lambda e: e["type"] == "timer.started")
    w.objects["timer"] = timer["timer"]["id"]
    return w


async def open_breakouts(w: World, assign: str = "self") -> None:
    body: dict[str, Any] = {"assign": assign, "duration_s": 600}
    if assign == "manual":
        body["assignments"] = {w.ids["participant"]: 0}
    await ok(w.m, "breakouts.open", **body)
    opened = await w.m.wait_for(lambda e: e["type"] == "breakouts.opened")
    w.objects["breakout"] = opened["rooms"][0]["id"]


async def manual_breakouts(w: World) -> None:
    await open_breakouts(w, "manual")
    await w.p.wait_for(lambda e: e["type"] == "participant.moved"
                       and e["participant"] == w.ids["participant"])


async def close_poll(w: World) -> None:
    await ok(w.m, "poll.close", poll=w.objects["poll"])


async def both_vote_question(w: World) -> None:
    await ok(w.p, "question.vote", question=w.objects["question"])
    await ok(w.m, "question.vote", question=w.objects["question"])


async def floor_to_participant(w: World) -> None:
    await ok(w.m, "floor.give", participant=w.ids["participant"])


async def participant_raises(w: World) -> None:
    await ok(w.p, "hand.raise")


async def start_recording(w: World) -> None:
    await ok(w.m, "recording.start")


async def answer_question(w: World) -> None:
    await ok(w.m, "question.set", question=w.objects["question"], status="answered")


async def prepared_agenda(w: World) -> None:
    await ok(w.m, "agenda.set", steps=[{"kind": "welcome"}, {"kind": "welcome"}, {
        "kind": "poll", "polls": [{"question": "?", "kind": "text"}]}])
    agenda = await w.m.wait_for(lambda e: e["type"] == "agenda.planned")
    w.objects["step"] = agenda["steps"][1]["id"]
    w.objects["poll_step"] = agenda["steps"][2]["id"]


async def carried_items(w: World) -> None:
    """What a forum of a series carries forward: here its own action and question."""
    from forum_live.domain import series
    await ok(w.m, "minutes.add", room=w.plenary, kind="action", text="tun", assignee="Jemand")
    await ok(w.m, "minutes.add", room=w.plenary, kind="question", text="wer?")
    rt = w.objects["server"].forum.runtimes[w.event["id"]]
    entries = await rt.write(lambda s, ctx: series.carry(s, ctx, s))
    items = entries[0].data
    w.objects["action"] = items["actions"][0]["id"]
    w.objects["carried_question"] = items["questions"][0]["id"]


Prep = Callable[[World], Awaitable[None]]
Example = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Row:
    """One kind: an example body, what a participant / moderator / waiting guest gets
    ("ok" or an error code), and what the world needs before (prep)."""

    example: Example
    participant: str
    moderator: str
    guest: str = "forbidden"
    prep: Prep | None = None


O = "ok"
F = "forbidden"
SOCKET: dict[str, Row] = {
    "ping": Row(lambda w: {}, O, O, guest=O),
    "state.sync": Row(lambda w: {}, O, O, guest=O),
    "chat.send": Row(lambda w: {"room": w.plenary, "text": "hi"}, O, O),
    "chat.delete": Row(lambda w: {"message": w.objects["message"]}, F, O),
    "hand.raise": Row(lambda w: {}, O, O),
    "hand.lower": Row(lambda w: {"participant": w.ids["participant"]}, O, O,
                      prep=participant_raises),
    "event.end": Row(lambda w: {}, F, O),
    "breakouts.open": Row(lambda w: {"assign": "self"}, F, O),
    "room.enter": Row(lambda w: {"room": w.objects["breakout"]}, O, O, prep=open_breakouts),
    "breakouts.move": Row(lambda w: {"participant": w.ids["participant"],
                                     "room": w.objects["breakout"]}, F, O,
                          prep=open_breakouts),
    "breakouts.broadcast": Row(lambda w: {"text": "noch 5 Minuten"}, F, O,
                               prep=open_breakouts),
    "breakouts.help": Row(lambda w: {}, O, F, prep=manual_breakouts),
    "breakouts.close": Row(lambda w: {}, F, O, prep=open_breakouts),
    "breakouts.extend": Row(lambda w: {"seconds": 60}, F, O, prep=open_breakouts),
    # one room: close, extend and listen in (moderators; listening is a media query)
    "breakouts.close_room": Row(lambda w: {"room": w.objects["breakout"]}, F, O,
                                prep=open_breakouts),
    "breakouts.listen": Row(lambda w: {"room": w.objects["breakout"]}, F, O,
                            prep=open_breakouts),
    "poll.create": Row(lambda w: {"scope": "event", "question": "?", "kind": "rating",
                                  "anonymous": True, "results": "live"}, F, O),
    "poll.vote": Row(lambda w: {"poll": w.objects["poll"], "choice": 0}, O, O),
    "poll.close": Row(lambda w: {"poll": w.objects["poll"]}, F, O),
    "poll.show": Row(lambda w: {"poll": w.objects["poll"]}, F, O, prep=close_poll),
    "minutes.add": Row(lambda w: {"room": w.plenary, "kind": "decision", "text": "so"}, O, O),
    "minutes.edit": Row(lambda w: {"entry": w.objects["entry"], "version": 1, "text": "neu"},
                        O, O),  # the participant is the author
    "minutes.delete": Row(lambda w: {"entry": w.objects["entry"]}, O, O),
    "minutes.from_chat": Row(lambda w: {"message": w.objects["message"]}, F, O),
    "minutes.restrict": Row(lambda w: {"writers": "moderators", "takers": []}, F, O),
    "lobby.admit": Row(lambda w: {"participants": [w.ids["guest"]]}, F, O),
    "lobby.decline": Row(lambda w: {"participant": w.ids["guest"]}, F, O),
    "lobby.return": Row(lambda w: {"participant": w.ids["participant"]}, F, O),
    "lobby.configure": Row(lambda w: {"enabled": False}, F, O),
    "participant.remove": Row(lambda w: {"participant": w.ids["guest"]}, F, O),
    "participant.promote": Row(lambda w: {"participant": w.ids["participant"],
                                          "role": "moderator"}, F, O),
    "chat.lock": Row(lambda w: {"room": w.plenary, "locked": True}, F, O),
    "floor.give": Row(lambda w: {"participant": w.ids["participant"]}, F, O),
    "slides.show": Row(lambda w: {"slides": None}, F, O),  # moderators, and whoever has the floor
    "media.ask_unmute": Row(lambda w: {"participant": w.ids["participant"]}, F, O),
    "media.lock": Row(lambda w: {"locked": False}, F, O),
    "floor.end": Row(lambda w: {}, O, O, prep=floor_to_participant),  # the speaker, M
    "hand.move": Row(lambda w: {"participant": w.ids["participant"], "position": 0}, F, O,
                     prep=participant_raises),
    "question.ask": Row(lambda w: {"text": "Wie?", "anonymous": True}, O, O),
    "question.vote": Row(lambda w: {"question": w.objects["question"]}, O, O),
    "question.unvote": Row(lambda w: {"question": w.objects["question"]}, O, O,
                           prep=both_vote_question),
    "question.set": Row(lambda w: {"question": w.objects["question"], "status": "answered"},
                        F, O),
    "qa.configure": Row(lambda w: {"premoderation": True}, F, O),
    "questions.to_minutes": Row(lambda w: {}, F, O, prep=answer_question),
    "reaction.send": Row(lambda w: {"kind": "applause"}, O, O),
    "timer.start": Row(lambda w: {"title": "Runde", "mode": "countdown", "seconds": 60}, F, O),
    "timer.stop": Row(lambda w: {"timer": w.objects["timer"]}, F, O),
    # media (issue 7): muting oneself is anyone's, muting all and recording moderators'
    # the run of show and the carry-forward (issue 17): moderators (an action also its assignee)
    "agenda.set": Row(lambda w: {"steps": [{"kind": "welcome"}]}, F, O),
    "agenda.add": Row(lambda w: {"step": {"kind": "break", "duration_s": 60}}, F, O),
    "agenda.move": Row(lambda w: {"step": w.objects["step"], "position": 0}, F, O,
                       prep=prepared_agenda),
    "agenda.skip": Row(lambda w: {"step": w.objects["step"]}, F, O, prep=prepared_agenda),
    "agenda.next": Row(lambda w: {}, F, O, prep=prepared_agenda),
    "agenda.poll": Row(lambda w: {"step": w.objects["poll_step"]}, F, O, prep=prepared_agenda),
    "carried.update": Row(lambda w: {"item": w.objects["action"], "status": "done"}, F, O,
                          prep=carried_items),
    "carried.answer": Row(lambda w: {"item": w.objects["carried_question"], "answer": "so"},
                          F, O, prep=carried_items),
    "media.mute": Row(lambda w: {"muted": True}, O, O),
    "media.mute_all": Row(lambda w: {}, F, O),
    "recording.start": Row(lambda w: {}, F, O),
    "recording.stop": Row(lambda w: {}, F, O, prep=start_recording),
    "media.join": Row(lambda w: {"video": False}, O, O),
    # without a media.join first these are `invalid` for everyone allowed to try
    "media.answer": Row(lambda w: {"sdp": "v=0"}, "invalid", "invalid"),
    "media.candidate": Row(lambda w: {"candidate": None}, "invalid", "invalid"),
    "media.publish": Row(lambda w: {"kind": "camera"}, "invalid", "invalid"),
    "media.pin": Row(lambda w: {"participants": [w.ids["moderator"]]}, "invalid", "invalid"),
    "media.leave": Row(lambda w: {}, O, O),
}
NOT_A_COMMAND = {"hello"}  # the handshake: tried with every credential below
HELLO_DENIED = ("organizer", "other_event", "removed", "no_token", "forged", "expired")


def _code(reply: dict[str, Any]) -> str:
    return "ok" if reply["type"] == "ok" else str(reply["code"])


def bad_tokens(server: LiveServer, w: World, other: World) -> dict[str, str | None]:
    secret = (server.settings.data_dir / "secret_key").read_text().strip()
    claims = {"e": w.event["id"], "p": w.ids["participant"]}

    class OldSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - MAX_AGE - 60

    return {
        "organizer": ORGANIZER,
        "other_event": other.tokens["participant"],
        "removed": w.tokens["removed"],
        "no_token": None,
        "forged": URLSafeTimedSerializer("not-the-key", salt=SALT).dumps(claims),
        "expired": URLSafeTimedSerializer(secret, salt=SALT, signer=OldSigner).dumps(claims),
    }


async def hello_then(server: LiveServer, event_id: str, token: str | None,
                     frame: dict[str, Any]) -> tuple[list[dict[str, Any]], int | None]:
    """hello with `token` and the command right behind it; every frame until the close."""
    async with websockets.connect(f"{server.ws_base}/ws/events/{event_id}") as ws:
        hello: dict[str, Any] = {"type": "hello"}
        if token is not None:
            hello["token"] = token
        await ws.send(json.dumps(hello))
        await ws.send(json.dumps({**frame, "ref": "x"}))
        frames = []
        try:
            while True:
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
        except websockets.ConnectionClosed as e:
            return frames, e.rcvd.code if e.rcvd else None


async def test_socket_authorization_matrix(tmp_path: Path) -> None:
    kinds = sorted(set(CLIENT_COMMANDS) - NOT_A_COMMAND)
    missing = [k for k in kinds if k not in SOCKET]
    assert not missing, f"no row in tests/test_authz.py SOCKET for {missing}: who may send it?"
    server = await start_server(tmp_path / "data", token_max_age_s=MAX_AGE,
                                reactions_interval_s=0.05)
    expected: dict[tuple[str, str], str] = {}
    got: dict[tuple[str, str], str] = {}
    try:
        async with server.http() as http:
            other = await make_world(server, http)
            for kind in kinds:
                row = SOCKET[kind]
                # the participant's world; a fresh one for the moderator if it changed
                w = await make_world(server, http)
                if row.prep:
                    await row.prep(w)
                body = row.example(w)
                frame = {"type": kind, **body}
                # every credential that must not get past hello, with the command behind it
                seq = server.forum.runtimes[w.event["id"]].committed_seq
                for who, token in bad_tokens(server, w, other).items():
                    frames, code = await hello_then(server, w.event["id"], token, frame)
                    expected[kind, who] = "unauthorized"
                    codes = {f.get("code") for f in frames if f["type"] == "error"}
                    oks = [f for f in frames if f["type"] != "error"]
                    got[kind, who] = ("unauthorized" if codes == {"unauthorized"}
                                      and code == 4401 and not oks else f"{codes} {code} {oks}")
                rt = server.forum.runtimes[w.event["id"]]
                assert rt.committed_seq == seq, f"{kind}: a refused hello changed the journal"
                guest = await Client.connect(server, w.event["id"], w.tokens["guest"])
                expected[kind, "guest"] = row.guest
                got[kind, "guest"] = _code(await guest.request(kind, **body))
                await guest.close()
                expected[kind, "participant"] = row.participant
                got[kind, "participant"] = _code(await w.p.request(kind, **body))
                if got[kind, "participant"] == "ok":
                    for c in (w.m, w.p):
                        await c.close()
                    w = await make_world(server, http)
                    if row.prep:
                        await row.prep(w)
                    body = row.example(w)
                expected[kind, "moderator"] = row.moderator
                got[kind, "moderator"] = _code(await w.m.request(kind, **body))
                for c in (w.m, w.p):
                    await c.close()
    finally:
        await server.stop()
    wrong = {k: (expected[k], got[k]) for k in expected if expected[k] != got[k]}
    assert not wrong, "\n".join(f"{kind:24} {who:12} expected {e:14} got {g}"
                                for (kind, who), (e, g) in sorted(wrong.items()))
    assert len(expected) == len(kinds) * 9


# -- HTTP ---------------------------------------------------------------------------------
HTTP_ROLES = ("organizer", "moderator", "participant", "other_event", "guest", "removed",
              "no_token", "forged", "expired")
ALL = set(HTTP_ROLES)
ORG = {"organizer"}
TAKERS = {"organizer", "moderator", "participant"}  # took part: may read the minutes
STAFF = {"organizer", "moderator"}

# (method, path template, body, who succeeds, success status, denial status)
HTTP: list[tuple[str, str, dict[str, Any] | None, set[str], int, int]] = [
    ("GET", "/healthz", None, ALL, 200, 0),
    ("GET", "/openapi.json", None, ALL, 200, 0),
    ("GET", "/api/events", None, ORG, 200, 401),
    ("POST", "/api/events", {"title": "Neu", "topics": []}, ORG, 201, 401),
    ("GET", "/api/events/{id}", None, ORG, 200, 401),
    *[("GET", f"/api/events/{{id}}/minutes.{fmt}", None, TAKERS, 200, 401)
      for fmt in ("md", "html", "json", "docx", "pdf")],
    ("GET", "/api/events/{id}/polls.csv", None, STAFF, 200, 401),
    ("GET", "/api/events/{id}/attendance.csv", None, STAFF, 200, 401),
    ("GET", "/events/{id}/review", None, TAKERS, 200, 401),
    ("GET", "/api/events/{id}/participants/{pid}/export", None, ORG, 200, 401),
    # the organizer's desk (issue 17); the world's forum has begun: no more edits (409)
    ("GET", "/api/desk", None, ORG, 200, 401),
    ("PATCH", "/api/events/{id}", {"title": "Neu"}, ORG, 409, 401),
    ("PUT", "/api/events/{id}/agenda", {"steps": [{"kind": "welcome"}]}, ORG, 200, 401),
    ("GET", "/api/events/{id}/agenda", None, ORG, 200, 401),
    ("POST", "/api/events/{id}/end", None, ORG, 200, 401),
    ("DELETE", "/api/events/{id}", None, ORG, 200, 401),  # last: the event is gone after
]


async def test_http_authorization_matrix(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "data", token_max_age_s=MAX_AGE)
    expected: dict[tuple[str, str], int] = {}
    got: dict[tuple[str, str], int] = {}
    routes = {(r.path, m) for r in server.app.routes for m in (getattr(r, "methods", None)
                                                                or ())}
    try:
        async with server.http() as http:
            other = await make_world(server, http)
            w = await make_world(server, http)
            tokens: dict[str, str | None] = {**bad_tokens(server, w, other),
                                             "moderator": w.tokens["moderator"],
                                             "participant": w.tokens["participant"],
                                             "guest": w.tokens["guest"]}
            for c in (w.m, w.p, other.m, other.p):
                await c.close()
            # joining needs the key of this event, whatever else one holds
            jp = f"/api/events/{w.event['id']}/join"
            for who, key, want in [("participant_key", w.event["participant_key"], 200),
                                   ("moderator_key", w.event["moderator_key"], 200),
                                   ("other_event_key", other.event["participant_key"], 403),
                                   ("organizer_token", ORGANIZER, 403),
                                   ("no_key", None, 403)]:
                r = await http.post(jp, json={"name": "X", "key": key},
                                    headers=auth() if who == "organizer_token" else {})
                expected["POST join", who] = want
                got["POST join", who] = 404 if r.status_code == 404 else r.status_code
            for method, template, body, allowed, status, denied in HTTP:
                path = template.format(id=w.event["id"], pid=w.ids["participant"])
                if not any(p == template.replace("{id}", "{event_id}")
                           .replace("{pid}", "{participant_id}") and m == method
                           for p, m in routes) and "minutes." not in template:
                    pytest.fail(f"{method} {template} is not a route")
                # denied first: the allowed DELETE/end must come last
                for who in sorted(HTTP_ROLES, key=lambda r: r in allowed):
                    token = tokens[who]
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    r = await http.request(method, path, headers=headers, json=body)
                    expected[f"{method} {template}", who] = status if who in allowed else denied
                    got[f"{method} {template}", who] = r.status_code
                    if r.status_code >= 400 and r.headers["content-type"].startswith(
                            "application/json"):
                        assert set(r.json()["error"]) == {"code", "message"}
                # the same with ?token= (links opened in a browser)
                if "minutes." in template or "review" in template:
                    for who in ("participant", "removed", "guest", "expired"):
                        r = await http.get(path, params={"token": tokens[who]})
                        expected[f"{template}?token=", who] = (status if who in allowed
                                                               else denied)
                        got[f"{template}?token=", who] = r.status_code
    finally:
        await server.stop()
    wrong = {k: (expected[k], got[k]) for k in expected if expected[k] != got[k]}
    assert not wrong, "\n".join(f"{ep:50} {who:16} expected {e} got {g}"
                                for (ep, who), (e, g) in sorted(wrong.items()))
    assert len(expected) >= len(HTTP) * len(HTTP_ROLES)
