"""The series overview as a document (issue 17): every forum with its date and status, and
per topic every decision and action across the series with its current status and
history. From `domain.series.series_view`; Markdown, HTML (and PDF from it), DOCX, JSON."""

from __future__ import annotations

import io
import json
from typing import Any

from ..domain.series import topic_key
from .html import environment
from .view import fmt_date, fmt_due

LABELS = {
    "de": {"title": "Forenreihe", "forums": "Foren", "date": "Datum", "status": "Stand",
           "topic": "Thema", "no_topic": "Ohne Thema", "decisions": "Beschlüsse",
           "actions": "Aufgaben", "questions": "Fragen", "who": "Wer", "what": "Was",
           "until": "Bis wann", "from": "aus", "history": "Verlauf", "none": "Keine Einträge.",
           "planned": "geplant", "live": "läuft", "ended": "beendet", "open": "offen",
           "done": "erledigt", "answered": "beantwortet", "answer": "Antwort",
           "forum": "Forum", "carried_to": "weitergeführt in",
           "confirmed": "Zuständigkeit bestätigt", "unconfirmed": "Bestätigung zurückgenommen"},
    "en": {"title": "Series of forums", "forums": "Forums", "date": "Date", "status": "Status",
           "topic": "Topic", "no_topic": "No topic", "decisions": "Decisions",
           "actions": "Actions", "questions": "Questions", "who": "Who", "what": "What",
           "until": "Until", "from": "from", "history": "History", "none": "No entries.",
           "planned": "planned", "live": "live", "ended": "ended", "open": "open",
           "done": "done", "answered": "answered", "answer": "Answer",
           "forum": "Forum", "carried_to": "carried on in",
           "confirmed": "assignee confirmed", "unconfirmed": "confirmation withdrawn"},
}


def _history(item: dict[str, Any], lang: str) -> str:
    return "; ".join(_history_lines(item, lang))


def _history_lines(item: dict[str, Any], lang: str) -> list[str]:
    out = []
    for h in item.get("history") or []:
        bits = [f"{h.get('event_title') or ''}, {fmt_date(h.get('at'), lang)}"]
        if h.get("status"):
            bits.append(LABELS[lang].get(h["status"], h["status"]))
        if h.get("assignee"):
            bits.append(f"→ {h['assignee']}")
        if "assignee_id" in h:  # a moderator confirmed who the assignee is (or took it back)
            bits.append(LABELS[lang]["confirmed" if h["assignee_id"] else "unconfirmed"])
        if h.get("due"):
            bits.append(f"→ {fmt_due(h['due'], lang)}")
        if h.get("note"):
            bits.append(str(h["note"]))
        by = (h.get("by") or {}).get("name")
        out.append(" ".join(bits) + (f" ({by})" if by else ""))
    return out


def prepare(view: dict[str, Any], lang: str = "de") -> dict[str, Any]:
    lang = lang if lang in LABELS else "de"
    L = LABELS[lang]
    topics: dict[str | None, dict[str, Any]] = {}
    titles = {e["id"]: e["title"] for e in view["events"]}

    def carried_to(item: dict[str, Any]) -> list[str]:
        """The forums after the first it was in (it was carried forward to them)."""
        return [titles.get(i) or i for i in (item.get("events") or [])
                if i != item.get("from_event")]

    # the forums' topic order first (a topic shows once it has an entry), then topics
    # no forum has any more (renamed before the start), the entries without a topic last
    order = {topic_key(t): (i, t) for i, t in enumerate(view.get("topics") or [])}

    def group(title: str | None) -> dict[str, Any]:
        key = topic_key(title) if title else None
        return topics.setdefault(key, {"title": order[key][1] if key in order
                                       else (title or L["no_topic"]),
                                       "decisions": [], "actions": [], "questions": []})

    def rank(key: str | None) -> tuple[int, int]:
        if key is None:
            return (2, 0)
        return (0, order[key][0]) if key in order else (1, 0)  # stable: first seen

    for d in view["decisions"]:
        group(d.get("topic"))["decisions"].append({"text": d["text"],
                                                   "from": d.get("from_title") or ""})
    for a in view["actions"]:
        group(a.get("topic"))["actions"].append({
            "text": a["text"], "who": a.get("assignee") or "", "until": fmt_due(a.get("due"), lang),
            "status": L.get(a["status"], a["status"]), "from": a.get("from_title") or "",
            "history": _history(a, lang), "id": a["id"], "status_key": a["status"],
            "history_lines": _history_lines(a, lang), "carried_to": carried_to(a)})
    for q in view["questions"]:
        group(q.get("topic"))["questions"].append({
            "text": q["text"], "status": L.get(q["status"], q["status"]),
            "answer": q.get("answer") or "", "from": q.get("from_title") or "",
            "id": q["id"], "status_key": q["status"], "carried_to": carried_to(q)})
    return {"L": L, "lang": lang, "title": f"{L['title']}: {view.get('title') or ''}",
            "events": [{"title": e["title"], "date": fmt_date(e.get("starts_at")
                                                              or e.get("created_at"), lang),
                        "status": L.get(e["status"], e["status"]), "id": e["id"],
                        "status_key": e["status"]} for e in view["events"]],
            "topics": [topics[k] for k in sorted(topics, key=rank)]}


def _cell(value: Any) -> str:
    return str(value or "").replace("|", "\\|").replace("\n", " ")


def markdown(view: dict[str, Any], lang: str = "de") -> str:
    v = prepare(view, lang)
    L = v["L"]
    out = [f"# {v['title']}", "", f"## {L['forums']}", "",
           f"| {L['forums']} | {L['date']} | {L['status']} |", "|---|---|---|"]
    out += [f"| {_cell(e['title'])} | {_cell(e['date'])} | {_cell(e['status'])} |"
            for e in v["events"]]
    out.append("")
    for t in v["topics"]:
        out += [f"## {L['topic']}: {t['title']}", ""]
        if t["decisions"]:
            out += [f"### {L['decisions']}", ""]
            out += [f"- {d['text']} ({L['from']} {d['from']})" for d in t["decisions"]] + [""]
        if t["actions"]:
            out += [f"### {L['actions']}", "",
                    f"| {L['who']} | {L['what']} | {L['until']} | {L['status']} | {L['from']} "
                    f"| {L['history']} |", "|---|---|---|---|---|---|"]
            out += [f"| {_cell(a['who'])} | {_cell(a['text'])} | {_cell(a['until'])} | "
                    f"{_cell(a['status'])} | {_cell(a['from'])} | {_cell(a['history'])} |"
                    for a in t["actions"]] + [""]
        if t["questions"]:
            out += [f"### {L['questions']}", ""]
            out += [f"- {q['text']} ({q['status']}{', ' + q['answer'] if q['answer'] else ''})"
                    for q in t["questions"]] + [""]
    if not v["topics"]:
        out += [f"_{L['none']}_", ""]
    return "\n".join(out).rstrip() + "\n"


TEMPLATE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #999;padding:.3rem;text-align:left;vertical-align:top}</style>
</head><body><main>
<h1>{{ title }}</h1>
<h2>{{ L.forums }}</h2>
<table><thead><tr><th scope="col">{{ L.forums }}</th><th scope="col">{{ L.date }}</th><th scope="col">{{ L.status }}</th></tr></thead>
<tbody>{% for e in events %}<tr><td>{{ e.title }}</td><td>{{ e.date }}</td><td>{{ e.status }}</td></tr>{% endfor %}</tbody></table>
{% for t in topics %}<section><h2>{{ L.topic }}: {{ t.title }}</h2>
{% if t.decisions %}<h3>{{ L.decisions }}</h3><ul>{% for d in t.decisions %}<li>{{ d.text }} ({{ L.from }} {{ d.from }})</li>{% endfor %}</ul>{% endif %}
{% if t.actions %}<h3>{{ L.actions }}</h3><table><thead><tr><th scope="col">{{ L.who }}</th><th scope="col">{{ L.what }}</th><th scope="col">{{ L.until }}</th><th scope="col">{{ L.status }}</th><th scope="col">{{ L.from }}</th><th scope="col">{{ L.history }}</th></tr></thead>
<tbody>{% for a in t.actions %}<tr><td>{{ a.who }}</td><td>{{ a.text }}</td><td>{{ a.until }}</td><td>{{ a.status }}</td><td>{{ a.from }}</td><td>{{ a.history }}</td></tr>{% endfor %}</tbody></table>{% endif %}
{% if t.questions %}<h3>{{ L.questions }}</h3><ul>{% for q in t.questions %}<li>{{ q.text }} ({{ q.status }}{% if q.answer %}: {{ q.answer }}{% endif %})</li>{% endfor %}</ul>{% endif %}
</section>{% endfor %}
</main></body></html>
"""


def html(view: dict[str, Any], lang: str = "de") -> str:
    return environment().from_string(TEMPLATE).render(prepare(view, lang))


def pdf(view: dict[str, Any], lang: str = "de") -> bytes:
    from weasyprint import HTML  # heavy import, only when a PDF is asked for
    return HTML(string=html(view, lang), base_url=None).write_pdf()  # type: ignore[no-any-return]


def docx(view: dict[str, Any], lang: str = "de") -> bytes:
    from docx import Document
    v = prepare(view, lang)
    L = v["L"]
    doc = Document()
    doc.core_properties.title = v["title"]
    doc.add_heading(v["title"], level=0)

    def table(header: list[str], rows: list[list[str]]) -> None:
        t = doc.add_table(rows=1 + len(rows), cols=len(header))
        t.style = "Table Grid"
        for i, text in enumerate(header):
            t.rows[0].cells[i].text = text
        for r, row in enumerate(rows, start=1):
            cells = t.rows[r].cells
            for i, text in enumerate(row):
                cells[i].text = str(text or "")

    doc.add_heading(L["forums"], level=1)
    table([L["forums"], L["date"], L["status"]],
          [[e["title"], e["date"], e["status"]] for e in v["events"]])
    for t in v["topics"]:
        doc.add_heading(f"{L['topic']}: {t['title']}", level=1)
        if t["decisions"]:
            doc.add_heading(L["decisions"], level=2)
            for d in t["decisions"]:
                doc.add_paragraph(f"{d['text']} ({L['from']} {d['from']})", style="List Bullet")
        if t["actions"]:
            doc.add_heading(L["actions"], level=2)
            table([L["who"], L["what"], L["until"], L["status"], L["from"], L["history"]],
                  [[a["who"], a["text"], a["until"], a["status"], a["from"], a["history"]]
                   for a in t["actions"]])
        if t["questions"]:
            doc.add_heading(L["questions"], level=2)
            for q in t["questions"]:
                doc.add_paragraph(f"{q['text']} ({q['status']}"
                                  + (f": {q['answer']}" if q["answer"] else "") + ")",
                                  style="List Bullet")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def jsonfile(view: dict[str, Any], lang: str = "de") -> str:
    return json.dumps(view, ensure_ascii=False, indent=2)


FORMATS = {
    "md": (markdown, "text/markdown; charset=utf-8", False),
    "html": (html, "text/html; charset=utf-8", False),
    "pdf": (pdf, "application/pdf", True),
    "docx": (docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             True),
    "json": (jsonfile, "application/json", False),
}
