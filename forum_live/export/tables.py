"""CSV downloads of contract §2: polls.csv (results per room) and attendance.csv."""

from __future__ import annotations

import csv
import io
from typing import Any, Iterable

from ..domain import polls
from ..domain.model import EventState

POLL_COLUMNS = ["poll", "question", "kind", "scope", "anonymous", "status", "room", "option",
                "count", "voters", "mean"]


def _room_title(s: EventState, room: str) -> str:
    if room in s.rooms:
        return s.rooms[room].title
    return "Gesamt"


def poll_rows(s: EventState) -> Iterable[dict[str, Any]]:
    """One row per poll, room (and the total) and option; text answers one row each."""
    for poll in s.polls.values():
        r = polls.results(s, poll, final=not poll.open)
        base = {"poll": poll.id, "question": poll.question, "kind": poll.kind,
                "scope": poll.scope, "anonymous": "yes" if poll.anonymous else "no",
                "status": "open" if poll.open else "closed", "voters": r["total"],
                "mean": r.get("mean") if r.get("mean") is not None else ""}
        labels = poll.options if poll.kind in ("single", "multiple") else poll.keys()
        sections: list[tuple[str, dict[str, Any]]] = [("Gesamt", r)]
        for room, sub in (r.get("per_room") or {}).items():
            sections.append((_room_title(s, room), sub))
        for title, sec in sections:
            if poll.kind == "text":
                for answer in sec.get("answers", []):
                    yield {**base, "room": title, "option": answer, "count": 1}
                continue
            for label, n in zip(labels, sec["counts"]):
                yield {**base, "room": title, "option": label, "count": n}


def to_csv(columns: list[str], rows: Iterable[dict[str, Any]], excel: bool = False) -> str:
    """Plain RFC 4180 CSV (comma, no BOM) by default; `excel` gives what Excel in a German
    locale opens right with a double click: semicolons and a UTF-8 BOM."""
    buf = io.StringIO()
    if excel:
        buf.write("\ufeff")
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n"
                       if excel else "\n", delimiter=";" if excel else ",")
    w.writeheader()
    for row in rows:
        w.writerow({k: _cell(v) for k, v in row.items()})
    return buf.getvalue()


def _cell(value: Any) -> Any:
    """Defuse spreadsheet formulas in user text (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def polls_csv(s: EventState, excel: bool = False) -> str:
    return to_csv(POLL_COLUMNS, poll_rows(s), excel)


ATTENDANCE_COLUMNS = ["name", "organization", "role", "first_seen", "last_seen", "minutes",
                      "spoke_s", "speaking_s", "intervals"]


def attendance_rows(s: EventState) -> Iterable[dict[str, Any]]:
    """One row per person who was there; intervals as `from/to` ISO pairs joined by spaces."""
    from .model import attendance

    for a in attendance(s, s.ended_at):
        yield {**a, "organization": a["organization"] or "", "last_seen": a["last_seen"] or "",
               "intervals": " ".join(f"{x}/{y or ''}" for x, y in a["intervals"])}


def attendance_csv(s: EventState, excel: bool = False) -> str:
    return to_csv(ATTENDANCE_COLUMNS, attendance_rows(s), excel)
