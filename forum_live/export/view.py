"""The minutes model prepared for reading: labels, local times, groups, chart geometry.

Every renderer (md, html, pdf, docx, the review page) draws from this one view, so they
all say the same thing. Labels come from the web catalogs (web/i18n/<lang>.json,
`minutes.*` keys), German by default. Times are shown in the event's time zone.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_decimal, format_percent

from ..domain.minutes import KIND_ORDER
from .labels import EXTRA

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
LANGUAGES = ("de", "en")
TIMEZONE = ZoneInfo("Europe/Berlin")
LOCALES = {"de": "de_DE", "en": "en_GB"}  # en_GB: 24-hour clock, day before month
PLURAL = {"decision": "decisions", "action": "actions", "question": "questions",
          "note": "notes"}


@lru_cache(maxsize=4)
def labels(lang: str) -> dict[str, str]:
    """The `minutes.*` labels of one language, without the prefix."""
    path = WEB_DIR / "i18n" / f"{lang if lang in LANGUAGES else 'de'}.json"
    try:
        catalog = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        catalog = {}
    merged = dict(EXTRA["en" if lang == "en" else "de"])
    merged.update({k[8:]: v for k, v in catalog.items() if k.startswith("minutes.")})
    return _Labels(merged)


class _Labels(dict):  # type: ignore[type-arg]
    """A missing label shows its key instead of failing the export."""

    def __missing__(self, key: str) -> str:
        return key


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def _clean(value: Any) -> Any:
    """Drop control characters: no format (XML in docx, PDF text) can carry them."""
    if isinstance(value, str):
        return _CONTROL.sub("", value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict) and not isinstance(value, _Labels):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _dt(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(TIMEZONE)
    except ValueError:
        return None


def locale(lang: str) -> str:
    return LOCALES.get(lang, "de_DE")


def fmt_date(value: str | None, lang: str) -> str:
    d = _dt(value)
    return format_date(d, "medium", locale=locale(lang)) if d else ""


def fmt_time(value: str | None, lang: str = "de") -> str:
    d = _dt(value)
    return format_time(d, "HH:mm", locale=locale(lang)) if d else ""


def fmt_datetime(value: str | None, lang: str) -> str:
    d = _dt(value)
    if d is None:
        return ""
    return f"{fmt_date(value, lang)}, {fmt_time(value, lang)}"


def fmt_due(value: str | None, lang: str) -> str:
    if not value:
        return ""
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        return value
    return format_date(d.date(), "medium", locale=locale(lang))


def fmt_number(value: float | int | None, lang: str) -> str:
    """2,33 in German, 2.33 in English."""
    if value is None:
        return ""
    return format_decimal(value, "#,##0.##", locale=locale(lang))


def fmt_percent(share: float, lang: str) -> str:
    """67 % (with a no-break space) in German, 67% in English."""
    return format_percent(share, locale=locale(lang))


def fmt_span(a: str | None, b: str | None, lang: str, suffix: str = "") -> str:
    """One day: "15.05.2026, 14:00–16:30 Uhr"; across days both dates."""
    if not a:
        return ""
    end = ""
    if b:
        end = fmt_time(b, lang) if fmt_date(a, lang) == fmt_date(b, lang) else \
            fmt_datetime(b, lang)
    text = fmt_datetime(a, lang) + (f"–{end}" if end else "")
    return text + (f" {suffix}" if suffix else "")


def _entry(e: dict[str, Any], rooms: dict[str, str], L: dict[str, str], lang: str
           ) -> dict[str, Any]:
    recorded = (e.get("recorded_by") or {}).get("name") or ""
    return {"id": e["id"], "kind": e["kind"], "kind_label": L[f"kind_{e['kind']}"],
            "text": e["text"], "assignee": e.get("assignee") or "",
            "due": fmt_due(e.get("due"), lang), "due_iso": e.get("due") or "",
            "author": (e.get("author") or {}).get("name", ""),
            "at": fmt_time(e.get("at"), lang), "room": rooms.get(e["room"], L["plenary"]),
            "edited": bool(e.get("edited_at")),
            "recorded_by": L["recorded_by"].replace("{name}", recorded) if recorded else "",
            **_at_recording(e.get("recording"))}


def _at_recording(rec: dict[str, Any] | None) -> dict[str, Any]:
    """The entry's moment in its room's recording: id, "00:12:34" and seconds."""
    if not rec or not rec.get("offset"):
        return {"rec_id": "", "rec_offset": "", "rec_seconds": 0}
    h, m, sec = (int(x) for x in str(rec["offset"]).split(":"))
    return {"rec_id": rec["id"], "rec_offset": rec["offset"],
            "rec_seconds": h * 3600 + m * 60 + sec}


def _groups(entries: list[dict[str, Any]], L: dict[str, str]) -> list[dict[str, Any]]:
    """Entries by kind, decisions and actions first."""
    out = []
    for kind in KIND_ORDER:
        items = [e for e in entries if e["kind"] == kind]
        if items:
            out.append({"kind": kind, "label": L[PLURAL[kind]], "entries": items})
    return out


def _answer(poll: dict[str, Any], keys: list[str], text: str | None) -> str:
    if poll["kind"] == "text":
        return text or ""
    labels_ = [o["label"] for o in poll["options"]]
    if poll["kind"] == "rating":
        return ", ".join(keys)
    out = []
    for k in keys:
        try:
            out.append(labels_[int(k)])
        except (ValueError, IndexError):
            out.append(k)
    return ", ".join(out)


CHART_WIDTH = 460
LABEL_WIDTH = 170
BAR_HEIGHT = 18
BAR_GAP = 8


def _chart(options: list[dict[str, Any]]) -> dict[str, Any]:
    """Geometry of a horizontal bar chart (bars to scale of the share of voters); drawn as
    SVG with presentation attributes (html, pdf) and as PNG (docx, export/chart.py)."""
    bar_max = CHART_WIDTH - LABEL_WIDTH - 80
    bars = []
    for i, o in enumerate(options):
        y = i * (BAR_HEIGHT + BAR_GAP)
        label = o["label"] if len(o["label"]) <= 26 else o["label"][:25] + "…"
        width = round(bar_max * min(1.0, o["share"]))
        bars.append({"label": label, "full": o["label"], "count": o["count"], "pct": o["pct"],
                     "y": y, "text_y": y + BAR_HEIGHT - 5,
                     "width": max(1, width) if o["count"] else 0,
                     "x": LABEL_WIDTH, "value_x": LABEL_WIDTH + 6 + width})
    height = max(1, len(options)) * (BAR_HEIGHT + BAR_GAP)
    return {"width": CHART_WIDTH, "height": height, "bar_height": BAR_HEIGHT, "bars": bars,
            "label_x": LABEL_WIDTH - 8, "track_width": bar_max}


def _poll(p: dict[str, Any], L: dict[str, str], lang: str) -> dict[str, Any]:
    voters = p["voters"]
    options = []
    for o in p["options"]:  # one definition: the share of the people who voted
        share = o.get("share")
        if share is None:
            share = o["count"] / voters if voters else 0.0
        options.append({"label": o["label"], "count": o["count"], "share": share,
                        "pct": fmt_percent(share, lang)})
    votes = [{"name": v["name"], "answer": _answer(p, v.get("keys") or [], v.get("text"))}
             for v in p.get("votes", [])] if not p["anonymous"] else []
    by_answer: dict[str, list[str]] = {}
    if p["kind"] in ("single", "multiple", "rating"):
        for v in p.get("votes", []) if not p["anonymous"] else []:
            for k in v.get("keys") or []:
                by_answer.setdefault(_answer(p, [k], None), []).append(v["name"])
        order = {o["label"]: i for i, o in enumerate(options)}
        voted = [{"answer": a, "names": sorted(n, key=str.lower), "count": len(n)}
                 for a, n in sorted(by_answer.items(), key=lambda x: order.get(x[0], 99))]
    else:
        voted = []
    note = ""
    if p["kind"] in ("single", "multiple", "rating"):
        key = "share_note_multiple" if p["kind"] == "multiple" else "share_note"
        note = L[key].replace("{n}", fmt_number(voters, lang))
    return {"id": p["id"], "question": p["question"], "kind": p["kind"],
            "voted": voted,
            "anonymous": p["anonymous"],
            "mode": L["poll_anonymous"] if p["anonymous"] else L["poll_named"],
            "room": L["plenary"] if p.get("in_plenary") else p.get("room") or "", "closed_at": fmt_datetime(p.get("closed_at"), lang),
            "voters": voters, "options": options,
            "mean": fmt_number(p["mean"], lang) if p.get("mean") is not None else None,
            "share_note": note,
            "chart_alt": L["chart_alt"].replace("{question}", p["question"]),
            "answers": list(p.get("answers") or []), "votes": sorted(
                votes, key=lambda v: v["name"].lower()),
            "chart": _chart(options) if options and p["kind"] != "text" else None}


def _slides_shown(decks: list[dict[str, Any]], L: dict[str, str], lang: str
                  ) -> list[list[str]]:
    """Rows (slides, page, shown from–to [room]) of the pages a topic's impulse showed."""
    rows = []
    for d in decks:
        deck = L["slides_deck"].replace("{title}", d["title"]).replace("{n}", str(d["pages"]))
        for x in d.get("shown") or []:
            when = fmt_time(x["from"], lang)
            if x.get("to"):
                when += f"–{fmt_time(x['to'], lang)}"
            if x.get("room"):
                when += f" ({L['room']}: {x['room']})"
            rows.append([deck, str(x["page"]), when])
    return rows


def _minutes(n: int, L: dict[str, str]) -> str:
    return f"{n} {L['minutes_unit']}"


def _mmss(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def _speaking(a: dict[str, Any], L: dict[str, str]) -> str:
    """Time with the floor (speaker queue), and time heard on the microphone if any."""
    parts = [_mmss(a["spoke_s"])] if a.get("spoke_s") else []
    if a.get("speaking_s"):
        parts.append(f"{L['speaking_audio']} {_mmss(a['speaking_s'])}")
    return " · ".join(parts)


def _approval(model: dict[str, Any], L: dict[str, str], lang: str) -> dict[str, Any]:
    a = model.get("approval") or {"status": "draft", "changes": []}
    approved = a.get("status") == "approved"
    version = a.get("version")
    if approved:
        line = L["approved_line"].replace("{date}", fmt_datetime(a.get("approved_at"), lang)
                                          ).replace("{by}", a.get("approved_by") or "")
    else:
        line = L["draft_note"]
    base = (version - 1) if approved and version else a.get("based_on")
    changes = [{"label": L[f"change_{c['change']}"],
                "kind": L.get(f"kind_{c.get('kind')}", "") if c.get("kind") else "",
                "before": c.get("before") or "", "after": c.get("after") or ""}
               for c in a.get("changes") or []]
    return {"approved": approved, "status": L["approved"] if approved else L["draft"],
            "line": line, "version": version, "note": a.get("note") or "",
            "changes": changes,
            "changes_title": L["changes"].replace("{n}", str(base)) if base else ""}


def _header(model: dict[str, Any], L: dict[str, str], lang: str,
            approval: dict[str, Any]) -> list[tuple[str, str]]:
    """The head of the Protokoll as (label, value) lines, in the order it is read."""
    ev, h = model["event"], model.get("header") or {}
    suffix = L["time_suffix"]
    rows: list[tuple[str, str]] = [(L["event"], ev["title"])]
    if ev.get("series"):
        rows.append((L["series"], ev["series"]))
    rows.append((L["organizer"], h.get("organizer") or L["not_set"]))
    fmt = L["format_online"] + (f", {h['location']}" if h.get("location") else "")
    rows.append((L["format"], fmt))
    planned = ev.get("starts_at") if _dt(ev.get("starts_at")) else None
    if planned:
        rows.append((L["planned"], fmt_span(planned, None, lang, suffix)))
    actual = fmt_span(h.get("actual_start"), h.get("actual_end"), lang, suffix)
    if actual:
        rows.append((L["begin_end"], actual))
    rows.append((L["moderation"], ", ".join(h.get("moderation") or []) or L["not_set"]))
    rows.append((L["minute_takers"], ", ".join(h.get("minute_takers") or []) or L["not_set"]))
    rows.append((L["participants"], L["participants_annex"].replace(
        "{n}", str(h.get("participants", len(model.get("attendance") or []))))))
    rows.append((L["distribution"], h.get("distribution") or L["distribution_default"]))
    status = approval["line"]
    if approval["version"]:
        status += f" ({L['version']} {approval['version']})"
    rows.append((L["status"], status))
    return rows


def _qa(items: list[dict[str, Any]], L: dict[str, str], lang: str) -> list[dict[str, Any]]:
    out = []
    for q in items:
        bits = [L["asked_by"].replace("{name}", q["asker"]) if q.get("asker")
                else L["asked_anonymous"]]
        if q.get("votes"):
            bits.append(L["votes_up_one"] if q["votes"] == 1
                        else L["votes_up"].replace("{n}", str(q["votes"])))
        out.append({"id": q["id"], "text": q["text"], "meta": ", ".join(bits),
                    "answer": q.get("answer") or "",
                    "at": fmt_time(q.get("answered_at") or q.get("asked_at"), lang)})
    return out


def _recording_title(r: dict[str, Any], lang: str) -> str:
    room = str(r.get("room_title") or r.get("room") or "")
    when = fmt_datetime(r.get("started_at"), lang)
    return f"{room}, {when}" if when else str(r.get("title") or r.get("id") or "")


def _carried(model: dict[str, Any], L: dict[str, str], lang: str) -> dict[str, Any]:
    """The actions and questions carried forward from the forum before, in words."""
    part = model.get("carried") or {}
    actions = [{"text": a["text"], "assignee": a.get("assignee") or "",
                "due": fmt_due(a.get("due"), lang), "topic": a.get("topic") or "",
                "status": L["carried_" + a["status"]], "done": a["status"] == "done",
                "note": "; ".join(a.get("notes") or []), "from": a.get("from_title") or ""}
               for a in part.get("actions") or []]
    questions = [{"text": q["text"], "topic": q.get("topic") or "",
                  "status": L["carried_" + q["status"]], "answer": q.get("answer") or "",
                  "from": q.get("from_title") or ""}
                 for q in part.get("questions") or []]
    return {"actions": actions, "questions": questions, "any": bool(actions or questions)}


def _run_of_show(model: dict[str, Any], L: dict[str, str], lang: str) -> list[dict[str, Any]]:
    out = []
    for st in model.get("run_of_show") or []:
        planned = fmt_time(st.get("planned_at"), lang) if _dt(st.get("planned_at")) else ""
        if st.get("planned_min"):
            planned = f"{planned} ({_minutes(st['planned_min'], L)})".strip()
        actual = fmt_span(st.get("started_at"), st.get("ended_at"), lang) \
            if st.get("started_at") else ""
        if st.get("actual_min") is not None:
            actual = f"{actual} ({_minutes(st['actual_min'], L)})"
        title = st["title"]
        if st.get("auto_title") and L.get("step_kind_" + str(st.get("kind"))):
            # a step without a title of its own is named in the language of the document
            kind = L["step_kind_" + str(st["kind"])]
            title = f"{kind}: {st['topic_title']}" if st.get("topic_title") else kind
        out.append({"title": title, "status": L["step_" + st["status"]],
                    "planned": planned, "actual": actual})
    return out


def prepare(model: dict[str, Any], lang: str = "de") -> dict[str, Any]:
    """Everything a renderer needs, already in words of `lang`."""
    lang = lang if lang in LANGUAGES else "de"
    L = labels(lang)
    ev = model["event"]
    rooms: dict[str, str] = {}
    for t in model["topics"]:
        for r in t["rooms"]:
            rooms[r["id"]] = r["title"]
    for rnd in model["breakout_rounds"]:
        for r in rnd["rooms"]:
            rooms[r["id"]] = r["title"]

    def entries(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [_entry(e, rooms, L, lang) for e in items]

    plenary = entries(model["plenary"])
    polls = {p["id"]: _poll(p, L, lang) for p in model["polls"]}
    in_topic: set[str] = set()
    topics = []
    for t in model["topics"]:
        topic_polls = [polls[pid] for pid in t.get("polls") or [] if pid in polls]
        in_topic.update(p["id"] for p in topic_polls)
        topic_rooms = [{"title": r["title"], "groups": _groups(entries(r["entries"]), L),
                        "members": ", ".join(r.get("members") or []),
                        "count": len(r["entries"])} for r in t["rooms"] if r["entries"]]
        slides = ", ".join(L["slides_deck"].replace("{title}", d["title"]).replace(
            "{n}", str(d["pages"])) for d in t.get("slides") or [])
        own = entries(t["entries"])
        shown = _slides_shown(t.get("slides") or [], L, lang)
        topics.append({"title": t["title"], "speaker": t.get("speaker") or "",
                       "description": t.get("description") or "",
                       "slides": slides, "slides_shown": shown,
                       "groups": _groups(own, L), "rooms": topic_rooms,
                       "polls": topic_polls,
                       "empty": not own and not topic_rooms and not topic_polls})
    role = {"moderator": L["role_moderator"], "participant": L["role_participant"]}
    attendance = [{"name": a["name"], "organization": a.get("organization") or "",
                   "role": role.get(a["role"], a["role"]),
                   "from": fmt_time(a["first_seen"], lang),
                   "to": fmt_time(a["last_seen"], lang) if a["last_seen"] else L["present"],
                   "minutes": a["minutes"],
                   "speaking": _speaking(a, L),
                   "intervals": [f"{fmt_time(x, lang)}–{fmt_time(y, lang) if y else L['present']}"
                                 for x, y in a["intervals"]]}
                  for a in model["attendance"]]
    rounds = [{"number": r["number"], "title": f"{L['round']} {r['number']}",
               "opened_at": fmt_time(r["opened_at"], lang),
               "closed_at": fmt_time(r["closed_at"], lang) if r["closed_at"] else "",
               "duration": _minutes(r["duration_min"], L),
               "rooms": [{"title": x["title"], "topic": x.get("topic") or "",
                          "members": list(x["members"])} for x in r["rooms"]]}
              for r in model["breakout_rounds"]]
    recordings = [{"id": str(r.get("id") or ""), "video": bool(r.get("video_file")),
                   "title": _recording_title(r, lang),
                   "room": str(r.get("room_title") or r.get("room") or ""),
                   "at": fmt_datetime(r.get("started_at") or r.get("at"), lang),
                   "duration": (_minutes(int(round(float(r["duration_s"]) / 60)), L)
                                if r.get("duration_s") is not None else ""),
                   "file": str(r.get("file") or r.get("url") or "")}
                  for r in model.get("recordings") or []]
    when = ev.get("starts_at") if _dt(ev.get("starts_at")) else ev["created_at"]
    status = L["status_ended"] if ev["status"] == "ended" else L["status_open"]
    approval = _approval(model, L, lang)
    return _clean({
        "lang": lang, "L": L, "title": f"{L['title']}: {ev['title']}", "event_title": ev["title"],
        "description": ev.get("description") or "", "series": ev.get("series") or "",
        "date": fmt_date(when, lang), "time": fmt_time(when, lang),
        "ended": fmt_datetime(ev.get("ended_at"), lang), "status": status,
        "approval": approval,
        "head": [{"label": k, "value": v} for k, v in _header(model, L, lang, approval)],
        "timezone_note": L["timezone_note"],
        "agenda": [{"title": a["title"], "speaker": a.get("speaker") or ""}
                   for a in model["agenda"]],
        "run_of_show": _run_of_show(model, L, lang),
        "carried": _carried(model, L, lang),
        "plenary_groups": _groups(plenary, L),
        "topics": topics,
        "other_rooms": [{"title": e["room"], **e} for e in entries(model["other_rooms"])],
        "decisions": entries(model["decisions"]),
        "actions": entries(model["actions"]),
        "questions": entries(model["questions"]),
        "answered": _qa(model.get("answered_questions") or [], L, lang),
        "qa_open": _qa(model.get("qa_open") or [], L, lang),
        "polls": [p for pid, p in polls.items() if pid not in in_topic],  # no topic
        "polls_in_topics": bool(in_topic),
        "rounds": rounds,
        "attendance": attendance,
        "recordings": recordings,
        "counts": {"participants": model["counts"]["participants"],
                   "present": len(attendance), "entries": model["counts"]["entries"]},
    })
