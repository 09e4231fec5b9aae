"""GDPR for the organizer: erase an event with all its data and recordings, and export
everything stored about one participant (an access request) as JSON."""

from __future__ import annotations

import asyncio
import shutil
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.errors import NotFound, Unauthorized
from .minutes_http import NO_STORE

if TYPE_CHECKING:
    from ..forum import Forum

CLOSE_GONE = 1001


def _forum(request: Request) -> "Forum":
    return request.app.state.forum  # type: ignore[no-any-return]


def _organizer(request: Request) -> "Forum":
    forum = _forum(request)
    if not forum.auth.is_organizer(request.headers.get("authorization")):
        raise Unauthorized("organizer token missing or wrong")
    return forum


async def delete_event(request: Request) -> Response:
    """Close the event's sockets (1001), then erase its row, journal, ballot box and
    recordings. Afterwards the event is 404 everywhere."""
    forum = _organizer(request)
    event_id = request.path_params["event_id"]
    rt = await forum.runtime(event_id)  # 404 for no such event
    rt.deleted = True  # from here on nothing of it is written
    await rt.close_all(CLOSE_GONE, "the event was deleted")
    await forum.store.delete_event(event_id)
    forum.runtimes.pop(event_id, None)
    await rt.close_all(CLOSE_GONE, "the event was deleted")  # a socket that raced in
    recordings = (forum.settings.recordings_dir / event_id).resolve()
    root = forum.settings.recordings_dir.resolve()
    if recordings.parent == root and recordings.exists():
        await run_in_threadpool(shutil.rmtree, recordings, True)
    await asyncio.sleep(0)
    return JSONResponse({"deleted": event_id}, headers=NO_STORE)


def _public_entry(e: Any) -> dict[str, Any]:
    return {"seq": e.seq, "kind": e.kind, "at": e.at, "room": e.room, **e.data}


async def export_participant(request: Request) -> Response:
    """Everything stored about one participant, as JSON (GDPR Art. 15)."""
    forum = _organizer(request)
    event_id = request.path_params["event_id"]
    pid = request.path_params["participant_id"]
    rt = await forum.runtime(event_id)
    p = rt.state.participants.get(pid)
    if p is None:
        raise NotFound("no such participant in this event")
    registration: dict[str, Any] = {}
    presence: list[dict[str, Any]] = []
    chat: list[dict[str, Any]] = []
    deleted_chat: set[str] = set()
    minutes: dict[str, dict[str, Any]] = {}
    votes: list[dict[str, Any]] = []
    questions: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    async for e in forum.store.journal(event_id):
        d = e.data
        if e.kind == "participant.registered" and d["participant"]["id"] == pid:
            registration = {**d["participant"], "registered_at": e.at}
        elif e.kind == "participant.joined" and d["participant"].get("id") == pid:
            presence.append({"from": e.at, "to": None})
        elif e.kind == "participant.left" and (d["participant"] == pid or (
                isinstance(d["participant"], dict) and d["participant"].get("id") == pid)):
            if presence and presence[-1]["to"] is None:
                presence[-1]["to"] = e.at
        elif e.kind == "chat.message" and d["message"]["author"]["id"] == pid:
            chat.append({"room": e.room, **d["message"]})
        elif e.kind == "chat.deleted":
            deleted_chat.add(d["message"])
        elif e.kind in ("minutes.added", "minutes.edited") and (
                (d["entry"].get("author") or {}).get("id") == pid or e.actor == pid):
            entry = d["entry"]
            if e.kind == "minutes.added" or entry["id"] in minutes:
                minutes[entry["id"]] = {**minutes.get(entry["id"], {}), **entry}
        elif e.kind == "poll.voted" and d.get("participant") == pid:
            votes.append({"at": e.at, **d})
        elif e.kind == "question.asked" and e.actor == pid:
            questions.append(d["question"])
        elif e.actor == pid or d.get("participant") == pid:
            other.append(_public_entry(e))
    for line in chat:
        line["deleted"] = line["id"] in deleted_chat
    anonymous_polls = sorted(poll_id for poll_id, poll in rt.state.polls.items()
                             if poll.anonymous and pid in getattr(poll, "voters", ()))
    return JSONResponse({
        "event": {"id": event_id, "title": rt.state.title},
        "participant": {**p.public(), "standing": p.standing.value},
        "registration": registration,
        "presence": presence,
        "chat": chat,
        "minutes": list(minutes.values()),
        "poll_votes": votes,
        "questions": questions,
        "other_actions": other,
        "anonymous_ballots": {
            "took_part_in": anonymous_polls,
            "note": "Anonymous poll ballots are stored without any link to the voter, by "
                    "design: the server records only that this person took part, never "
                    "what they chose, so no export can contain their anonymous answers."},
    }, headers=NO_STORE)
