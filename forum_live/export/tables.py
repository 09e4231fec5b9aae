"""The tables of contract §2: polls.csv (results per room), attendance.csv, and both as one
.xlsx workbook.

They open right with a double click in Excel or LibreOffice: UTF-8 with a BOM (umlauts),
for German `;` as separator, German headers and decimal commas; English on request (`,`,
English headers). Times are local (Europe/Berlin) with the zone. Cells starting with
`= + - @` are prefixed with `'` (no formula from user text).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Iterable

from babel.dates import format_datetime

from ..domain import polls
from ..domain.model import EventState
from .view import TIMEZONE, fmt_number, labels, locale

POLL_COLUMNS = ["poll", "question", "kind", "scope", "anonymous", "status", "room", "option",
                "count", "share", "voters", "mean"]
ATTENDANCE_COLUMNS = ["name", "organization", "role", "first_seen", "last_seen", "minutes",
                      "spoke_s", "speaking_s", "intervals"]
HEADERS = {
    "de": {"poll": "Abstimmung", "question": "Frage", "kind": "Art", "scope": "Geltungsbereich",
           "anonymous": "Anonym", "status": "Status", "room": "Raum",
           "option": "Antwortmöglichkeit", "count": "Stimmen",
           "share": "Anteil an den Abstimmenden", "voters": "Abstimmende",
           "mean": "Mittelwert", "name": "Name", "organization": "Organisation",
           "role": "Rolle", "first_seen": "Erstes Erscheinen", "last_seen": "Letztes Erscheinen",
           "minutes": "Minuten anwesend", "spoke_s": "Rederecht (Sekunden)",
           "speaking_s": "Mikrofon (Sekunden)", "intervals": "Zeiträume"},
    "en": {"poll": "poll", "question": "question", "kind": "kind", "scope": "scope",
           "anonymous": "anonymous", "status": "status", "room": "room", "option": "option",
           "count": "count", "share": "share_of_voters", "voters": "voters", "mean": "mean",
           "name": "name", "organization": "organization", "role": "role",
           "first_seen": "first_seen", "last_seen": "last_seen", "minutes": "minutes",
           "spoke_s": "spoke_s", "speaking_s": "speaking_s", "intervals": "intervals"},
}
WORDS = {
    "de": {"yes": "ja", "no": "nein", "open": "offen", "closed": "geschlossen",
           "total": "Gesamt", "single": "Einfachauswahl", "multiple": "Mehrfachauswahl",
           "rating": "Bewertung", "text": "Freitext", "room": "Raum",
           "all_breakouts": "alle Breakout-Räume", "event": "ganze Veranstaltung"},
    "en": {"yes": "yes", "no": "no", "open": "open", "closed": "closed", "total": "Total",
           "single": "single", "multiple": "multiple", "rating": "rating", "text": "text",
           "room": "room", "all_breakouts": "all_breakouts", "event": "event"},
}


def _lang(lang: str) -> str:
    return "de" if lang == "de" else "en"


def local_time(value: str | None, lang: str) -> str:
    """15.05.2026 14:30 MESZ (German) or 2026-05-15 14:30 CEST (English)."""
    if not value:
        return ""
    try:
        d = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(TIMEZONE)
    except ValueError:
        return value
    pattern = "dd.MM.yyyy HH:mm zzz" if lang == "de" else "yyyy-MM-dd HH:mm zzz"
    return format_datetime(d, pattern, tzinfo=TIMEZONE, locale=locale(lang))


def _room_title(s: EventState, room: str, lang: str) -> str:
    if room in s.rooms:
        return s.rooms[room].title
    return WORDS[_lang(lang)]["total"]


def poll_rows(s: EventState, lang: str = "en") -> Iterable[dict[str, Any]]:
    """One row per poll, room (and the total) and option; text answers one row each."""
    lang = _lang(lang)
    w = WORDS[lang]
    for poll in s.polls.values():
        r = polls.results(s, poll, final=not poll.open)
        base = {"poll": poll.id, "question": poll.question, "kind": w.get(poll.kind, poll.kind),
                "scope": w.get(poll.scope, poll.scope),
                "anonymous": w["yes"] if poll.anonymous else w["no"],
                "status": w["open"] if poll.open else w["closed"], "voters": r["total"],
                "mean": fmt_number(r.get("mean"), lang) if r.get("mean") is not None else ""}
        labels_ = poll.options if poll.kind in ("single", "multiple") else poll.keys()
        sections: list[tuple[str, dict[str, Any]]] = [(w["total"], r)]
        for room, sub in (r.get("per_room") or {}).items():
            sections.append((_room_title(s, room, lang), sub))
        for title, sec in sections:
            if poll.kind == "text":
                for answer in sec.get("answers", []):
                    yield {**base, "room": title, "option": answer, "count": 1, "share": ""}
                continue
            voters = sec.get("total") or 0
            for label, n in zip(labels_, sec["counts"]):
                share = fmt_number(round(100 * n / voters, 1), lang) if voters else ""
                yield {**base, "room": title, "option": label, "count": n, "share": share,
                       "voters": voters}


def _cell(value: Any) -> Any:
    """Defuse spreadsheet formulas in user text (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(columns: list[str], rows: Iterable[dict[str, Any]], lang: str = "en") -> str:
    """UTF-8 with BOM; German: `;` and German headers, English: `,` and English headers."""
    lang = _lang(lang)
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\r\n", delimiter=";" if lang == "de" else ",")
    w.writerow([HEADERS[lang][c] for c in columns])
    for row in rows:
        w.writerow([_cell(row.get(c, "")) for c in columns])
    return buf.getvalue()


def polls_csv(s: EventState, lang: str = "en") -> str:
    return to_csv(POLL_COLUMNS, poll_rows(s, lang), lang)


def attendance_rows(s: EventState, lang: str = "en") -> Iterable[dict[str, Any]]:
    """One row per person who was there; times local with the zone."""
    from .model import attendance

    lang = _lang(lang)
    L = labels(lang)
    role = {"moderator": L["role_moderator"], "participant": L["role_participant"]}
    for a in attendance(s, s.ended_at):
        yield {**a, "organization": a["organization"] or "",
               "role": role.get(a["role"], a["role"]),
               "first_seen": local_time(a["first_seen"], lang),
               "last_seen": local_time(a["last_seen"], lang),
               "intervals": ", ".join(f"{local_time(x, lang)} – {local_time(y, lang)}"
                                      for x, y in a["intervals"])}


def attendance_csv(s: EventState, lang: str = "en") -> str:
    return to_csv(ATTENDANCE_COLUMNS, attendance_rows(s, lang), lang)


def workbook(s: EventState, lang: str = "de") -> bytes:
    """Polls and attendance as two sheets of one .xlsx (openpyxl): header row bold and
    frozen, columns sized to their content, text cells never formulas."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    lang = _lang(lang)
    L = labels(lang)
    wb = Workbook()
    sheets = [(L["xlsx_polls"], POLL_COLUMNS, list(poll_rows(s, lang))),
              (L["xlsx_attendance"], ATTENDANCE_COLUMNS, list(attendance_rows(s, lang)))]
    for i, (title, columns, rows) in enumerate(sheets):
        ws = wb.active if i == 0 else wb.create_sheet()
        assert ws is not None
        ws.title = title[:31]
        ws.append([HEADERS[lang][c] for c in columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for row in rows:
            ws.append([row.get(c, "") for c in columns])
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # a string, even if it starts with "="
        for col in ws.columns:
            width = max(len(str(c.value or "")) for c in col)
            ws.column_dimensions[col[0].column_letter].width = min(60, max(10, width + 2))
    wb.properties.creator = "forum-live"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
