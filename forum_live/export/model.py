"""The minutes model: one structure built from the folded journal, rendered to every format.

Everything here is derived, so it is right after restarts and includes the automatic
entries (breakout rounds, closed polls, attendance, recordings) next to what people wrote.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain import polls
from ..domain.minutes import KIND_ORDER, MinuteEntry, sort_key
from ..domain.model import EventState, EventStatus, RoomKind
from ..domain.review import review_state
from ..domain.slides import slide_state
from ..domain.media import media_state, offset, recordings_public
from ..domain.agenda import agenda_state
from ..domain.series import series_state

KIND_LABELS = {
    "de": {"decision": "Beschluss", "action": "Aufgabe", "question": "Offene Frage",
           "note": "Notiz"},
    "en": {"decision": "Decision", "action": "Action", "question": "Open question",
           "note": "Note"},
}


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _minutes(value: str | None, until: str | None) -> int:
    a, b = _ts(value), _ts(until)
    return int(round((b - a).total_seconds() / 60)) if a and b else 0


def _entry(m: MinuteEntry) -> dict[str, Any]:
    """An entry as the minutes print it. One taken from the chat keeps the chat line's
    author as its author; who put it into the minutes is `recorded_by`."""
    d = m.public()
    d["auto"] = False
    chat_author = (m.source or {}).get("author") if "chat" in (m.source or {}) else None
    if chat_author:
        d["recorded_by"] = d["author"]
        d["author"] = {"id": chat_author.get("id"), "name": chat_author.get("name")}
    return d


def _from_qa(m: MinuteEntry) -> bool:
    """The one entry `questions.to_minutes` writes: its questions are printed, each with
    its answer, under "answered questions" instead."""
    return bool(m.source and "qa" in m.source)


def _recording_offsets(recordings: list[dict[str, Any]]) -> Any:
    """Entries written while their room was recorded carry {"id", "file", "offset"}."""
    def annotate(d: dict[str, Any]) -> dict[str, Any]:
        for rec in recordings:
            if rec.get("room") == d.get("room") and d.get("at") and rec.get("started_at"):
                at = offset(rec, d["at"])
                if at is not None:
                    d["recording"] = {"id": rec["id"], "file": rec["file"], "offset": at}
        return d
    return annotate


def attendance(s: EventState, until: str | None) -> list[dict[str, Any]]:
    """Who was there, from when to when, with organization and role."""
    out = []
    for p in s.participants.values():
        spans = [[a, b or until] for a, b in p.present]
        if not spans:
            continue
        out.append({
            "id": p.id, "name": p.name, "organization": p.organization, "role": p.role.value,
            "first_seen": spans[0][0], "last_seen": spans[-1][1],
            "intervals": spans, "minutes": sum(_minutes(a, b) for a, b in spans),
            "spoke_s": round(p.spoke_s),  # time with the floor (speaker queue)
            "speaking_s": round(media_state(s).speaking_s.get(p.id, 0.0)),
        })
    return sorted(out, key=lambda r: (r["name"].lower(), r["id"]))


def rounds(s: EventState) -> list[dict[str, Any]]:
    """Each breakout round: rooms, topic, who was in which room, how long."""
    names = {p.id: p.name for p in s.participants.values()}
    out = []
    for rnd in s.rounds:
        rooms = []
        for rid in rnd.rooms:
            room = s.rooms[rid]
            topic = s.topics.get(room.topic) if room.topic else None
            rooms.append({"id": rid, "title": room.title,
                          "topic": topic.title if topic else None,
                          "members": [names.get(m, m) for m in rnd.members.get(rid, [])]})
        out.append({"number": rnd.number, "assign": rnd.assign.value, "opened_at": rnd.opened_at,
                    "closed_at": rnd.closed_at, "duration_min": _minutes(rnd.opened_at,
                                                                         rnd.closed_at),
                    "rooms": rooms, "auto": True})
    return out


def poll_topic(s: EventState, poll: Any) -> str | None:
    """The agenda topic a poll belongs to: its own (poll.create/the agenda step), else its
    rooms' topic when they share one (polls journaled before polls carried a topic)."""
    if poll.topic in s.topics:
        return str(poll.topic)
    shared = {s.rooms[r].topic for r in ([poll.room] if poll.room else poll.rooms)
              if r in s.rooms}
    topic = shared.pop() if len(shared) == 1 else None
    return topic if topic in s.topics else None


def slides_shown(s: EventState, topic: str) -> list[dict[str, Any]]:
    """The decks of a topic, each with the pages shown, when, until when and where: a page
    is shown until the next `slides.shown` of its room (another page, other slides, or the
    slides taken off), else until the end of the event."""
    part = slide_state(s)
    history = part.history
    out = []
    for d in part.decks.values():
        if d.topic != topic:
            continue
        shown = []
        for i, h in enumerate(history):
            if h["slides"] != d.id:
                continue
            until = next((x["at"] for x in history[i + 1:] if x["room"] == h["room"]),
                         s.ended_at or None)
            room = s.rooms.get(h["room"])
            shown.append({"page": h["page"], "from": h["at"], "to": until,
                          "room": None if h["room"] == s.plenary_room or room is None
                          else room.title})
        out.append({"id": d.id, "title": d.title, "pages": d.pages, "shown": shown})
    return out


def poll_results(s: EventState) -> list[dict[str, Any]]:
    """Closed polls with their final result (named ones with who voted what), each with
    the agenda topic it belongs to (None: the general section)."""
    out = []
    names = {p.id: p.name for p in s.participants.values()}
    for poll in s.polls.values():
        if poll.open:
            continue
        r = polls.results(s, poll, final=True)
        labels = poll.options if poll.kind in ("single", "multiple") else poll.keys()
        item: dict[str, Any] = {
            "id": poll.id, "question": poll.question, "kind": poll.kind, "scope": poll.scope,
            "topic": poll_topic(s, poll),
            "room": s.rooms[poll.room].title if poll.room in s.rooms else None,
            "in_plenary": poll.room == s.plenary_room,  # its room named in the reader's words
            "anonymous": poll.anonymous, "closed_at": poll.closed_at, "voters": r["total"],
            # share: of the people who voted (as the live UI), so a multiple-choice poll's
            # shares can add up to more than 100 %
            "options": [{"label": lbl, "count": n,
                         "share": round(n / r["total"], 4) if r["total"] else 0.0}
                        for lbl, n in zip(labels, r["counts"])],
            "mean": r.get("mean"), "answers": r.get("answers", []), "auto": True,
        }
        if "per_room" in r:
            item["per_room"] = [{"room": s.rooms[rid].title if rid in s.rooms else rid, **sub}
                                for rid, sub in r["per_room"].items()]
        if not poll.anonymous:
            item["votes"] = [{"name": names.get(v, v), "keys": b["keys"], "text": b["text"]}
                             for v, b in poll.ballots.items()]
        out.append(item)
    return out


def _rooms_of_topic(s: EventState, topic: str, entries: list[MinuteEntry], annotate: Any
                    ) -> list[dict[str, Any]]:
    """The breakout rooms of a topic, one per title over all rounds (a room that is opened
    again in the next round is the same group), only those with entries."""
    out: dict[str, dict[str, Any]] = {}
    for r in s.rooms.values():
        if r.topic != topic or r.kind is not RoomKind.BREAKOUT:
            continue
        own = [annotate(_entry(m)) for m in entries if m.room == r.id]
        group = out.setdefault(r.title, {"id": r.id, "title": r.title, "entries": [],
                                         "members": []})
        group["entries"].extend(own)
        for rnd in s.rounds:  # who was there, over all rounds
            for pid in rnd.members.get(r.id, []):
                p = s.participants.get(pid)
                if p is not None and p.name not in group["members"]:
                    group["members"].append(p.name)
    for g in out.values():
        g["entries"].sort(key=lambda e: (KIND_ORDER.index(e["kind"]), e["at"]))
    return [g for g in out.values() if g["entries"]]


def questions_from_qa(s: EventState) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Q&A: the answered questions (in the order answered, each with the answer the
    moderation wrote down during review) and those still open at the end."""
    rv = review_state(s)
    answered, still_open = [], []
    for q in sorted(s.questions.values(), key=lambda q: (q.answered_at or q.at, q.at)):
        item = {"id": q.id, "text": q.text, "asker": q.author_name, "votes": len(q.voters),
                "asked_at": q.at, "answered_at": q.answered_at,
                "answer": rv.answers.get(q.id)}
        if q.status == "answered":
            answered.append(item)
        elif q.status == "open":
            still_open.append(item)
    return answered, still_open


def carried(s: EventState) -> dict[str, Any]:
    """"Stand der Aufgaben aus dem letzten Forum": each action and question carried
    forward to this forum, with its state now and what was said about it here."""
    part = series_state(s)
    out: dict[str, Any] = {"follows": part.follows, "actions": [], "questions": []}
    for item in part.items.values():
        topic = s.topics.get(item.get("topic") or "")
        notes = [h["note"] for h in item.get("history", [])
                 if h.get("note") and h.get("event") == s.id]
        out["actions" if item["kind"] == "action" else "questions"].append({
            "id": item["id"], "text": item["text"], "assignee": item.get("assignee"),
            "due": item.get("due"), "status": item["status"], "answer": item.get("answer"),
            "topic": topic.title if topic else item.get("topic_title"),
            "from_title": item.get("from_title"), "notes": notes, "auto": True})
    return out


def run_of_show(s: EventState) -> list[dict[str, Any]]:
    """The agenda steps with planned and actual times. A step still running when the forum
    ended is done at the end (the minutes of an ended forum said "läuft")."""
    out = []
    for st in agenda_state(s).steps:
        status, ended_at = st.status, st.ended_at
        if status == "running" and s.status is EventStatus.ENDED and s.ended_at:
            status, ended_at = "done", s.ended_at
        out.append({"id": st.id, "kind": st.kind, "title": st.title(s), "status": status,
                    "auto_title": not st.plan.get("title"),
                    "topic_title": s.topics[st.plan["topic"]].title
                    if st.plan.get("topic") in s.topics else None,
                    "planned_at": st.plan.get("planned_at"),
                    "planned_min": round(st.plan["duration_s"] / 60) if st.plan.get("duration_s")
                    else None,
                    "started_at": st.started_at, "ended_at": ended_at,
                    "actual_min": _minutes(st.started_at, ended_at) if ended_at else None,
                    "auto": True})
    return out


def header(s: EventState, attendance_: list[dict[str, Any]], entries: list[MinuteEntry]
           ) -> dict[str, Any]:
    """What the head of a Protokoll carries."""
    rv = review_state(s)
    names = {p.id: p.name for p in s.participants.values()}
    firsts = [a["first_seen"] for a in attendance_ if a["first_seen"]]
    lasts = [a["last_seen"] for a in attendance_ if a["last_seen"]]
    takers: list[str] = []
    for m in sorted(entries, key=lambda m: m.at):
        if not _from_qa(m) and m.author_name not in takers:
            takers.append(m.author_name)
    for pid in sorted(s.minute_takers):
        if names.get(pid) and names[pid] not in takers:
            takers.append(names[pid])
    moderation = sorted({a["name"] for a in attendance_ if a["role"] == "moderator"},
                        key=str.lower)
    return {"organizer": rv.header.get("organizer") or "",
            "distribution": rv.header.get("distribution") or "",
            "location": rv.header.get("location") or "",
            "format": "online",
            "planned_start": s.starts_at, "actual_start": min(firsts) if firsts else None,
            "actual_end": s.ended_at or (max(lasts) if lasts else None),
            "moderation": moderation, "minute_takers": takers,
            "participants": len(attendance_)}


def build(s: EventState, recordings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The whole record of one event (as a draft; an approved version is this model as it
    was at approval, with `approval` filled in: see forum_live/domain/review.py)."""
    until = s.ended_at or None
    entries = sorted(s.minutes.values(), key=sort_key)
    written = [m for m in entries if not _from_qa(m)]
    if recordings is None:  # the room recordings, and each entry's moment in them
        recordings = recordings_public(s)
    _at_recording = _recording_offsets(recordings)
    closed_polls = poll_results(s)
    topics = []
    for t in s.topics.values():
        topics.append({
            "id": t.id, "title": t.title, "speaker": t.speaker, "description": t.description,
            "rooms": _rooms_of_topic(s, t.id, written, _at_recording),
            "slides": slides_shown(s, t.id),
            "polls": [p["id"] for p in closed_polls if p["topic"] == t.id],
            "entries": [_at_recording(_entry(m)) for m in written
                        if m.topic == t.id and s.rooms[m.room].kind is RoomKind.PLENARY],
        })
    plenary = [_at_recording(_entry(m)) for m in written
               if m.room == s.plenary_room and m.topic is None]
    others = [_at_recording(_entry(m)) for m in written
              if m.room != s.plenary_room and s.rooms[m.room].topic is None]
    people = attendance(s, until)
    answered, qa_open = questions_from_qa(s)
    return {
        "event": {"id": s.id, "title": s.title, "description": s.description,
                  "starts_at": s.starts_at, "series": s.series, "status": s.status.value,
                  "created_at": s.created_at, "ended_at": s.ended_at},
        "header": header(s, people, entries),
        "approval": {"status": "draft", "version": None, "approved_at": None,
                     "approved_by": None, "note": None, "changes": []},
        "agenda": [{"title": t.title, "speaker": t.speaker} for t in s.topics.values()],
        "run_of_show": run_of_show(s),
        "carried": carried(s),
        "plenary": plenary,
        "topics": topics,
        "other_rooms": others,
        "decisions": [_at_recording(_entry(m)) for m in written if m.kind == "decision"],
        "actions": [_at_recording(_entry(m)) for m in written if m.kind == "action"],
        "questions": [_at_recording(_entry(m)) for m in written if m.kind == "question"],
        "answered_questions": answered,
        "qa_open": qa_open,
        "breakout_rounds": rounds(s),
        "polls": closed_polls,
        "attendance": people,
        "recordings": recordings or [],
        "counts": {"participants": len(s.participants),
                   "entries": len(written), "kinds": {k: sum(1 for m in written if m.kind == k)
                                                      for k in KIND_ORDER}},
    }
