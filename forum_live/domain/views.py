"""What one viewer is shown: the ready state, the organizer's summary. Pure projections."""

from __future__ import annotations

from typing import Any

from .model import EventState, Participant



def event_public(s: EventState) -> dict[str, Any]:
    return {
        "id": s.id, "title": s.title, "description": s.description, "starts_at": s.starts_at,
        "series": s.series, "status": s.status.value, "plenary_room": s.plenary_room,
        "topics": [t.public() for t in s.topics.values()],
    }


def _listed(s: EventState, pid: str) -> list[Participant]:
    """Who is online, as this person sees it: everyone, or in a large audience (where
    presence goes to moderators only) the moderators, the people in my room and me."""
    me = s.participants[pid]
    if me.is_moderator or s.online_count < s.presence_broadcast_max:
        return s.online()
    room = s.room_of(pid)
    return [p for p in s.online() if p.is_moderator or p.id == pid
            or (room != s.plenary_room and s.room_of(p.id) == room)]


def ready_state(s: EventState, pid: str) -> dict[str, Any]:
    """Everything a client needs to draw its view after (re)connecting without resume."""
    me = s.participants[pid]
    if not me.admitted:  # the waiting room learns the title and the note, nothing else
        return {"event": {"id": s.id, "title": s.title, "status": s.status.value},
                "me": me.public(), "lobby": {"enabled": s.lobby, "note": s.lobby_note,
                                             "standing": me.standing.value}}
    room = s.room_of(pid)
    state: dict[str, Any] = {
        "event": event_public(s),
        "me": {**me.public(), "room": room},
        "rooms": [r.public() for r in s.rooms.values() if r.open],
        "my_room": room,
        "participants": [{**p.public(), "room": s.room_of(p.id)} for p in _listed(s, pid)],
        "online_count": s.online_count,
        "chat": [m.public() for m in s.chat.get(room, ())],
        "hands": [{"participant": h.participant, "name": s.participants[h.participant].name,
                   "room": h.room, "at": h.at} for h in s.hands],
        "polls": [],
        "minutes": [],
        "recordings": [],
    }
    for key, part in s.features.state_parts.items():
        state[key] = part(s, pid)
    return state


def event_summary(s: EventState) -> dict[str, Any]:
    """The organizer's view of one event (GET /api/events/{id})."""
    return {
        **event_public(s),
        "created_at": s.created_at,
        "rooms": [r.public() for r in s.rooms.values()],
        "counts": {
            "participants": len(s.participants),
            "online": sum(1 for p in s.participants.values() if p.online),
            "moderators": sum(1 for p in s.participants.values() if p.is_moderator),
            "chat_messages": s.chat_count,
            "raised_hands": len(s.hands),
        },
        "seq": s.seq,
    }
