"""Minutes as a Word document: real headings, lists and tables (python-docx)."""

from __future__ import annotations

import io
from typing import Any

from .view import prepare

TABLE_STYLE = "Table Grid"


def _table(doc: Any, header: list[str], rows: list[list[Any]]) -> Any:
    table = doc.add_table(rows=1 + len(rows), cols=len(header))
    table.style = TABLE_STYLE
    cells = table.rows[0].cells
    for i, h in enumerate(header):
        cells[i].text = ""
        run = cells[i].paragraphs[0].add_run(str(h))
        run.bold = True
    # One .cells per row: table.cell(r, c) recomputes the grid on every call.
    for r, row in enumerate(rows, start=1):
        cells = table.rows[r].cells
        for i, value in enumerate(row):
            cells[i].text = "" if value is None else str(value)
    doc.add_paragraph()
    return table


def _entries(doc: Any, groups: list[dict[str, Any]], L: dict[str, str]) -> None:
    if not groups:
        doc.add_paragraph(L["no_entries"]).runs[0].italic = True
        return
    for g in groups:
        doc.add_paragraph(g["label"], style="Heading 5")
        for e in g["entries"]:
            p = doc.add_paragraph(style="List Bullet")
            p.add_run(f"{e['kind_label']}: ").bold = True
            p.add_run(e["text"])
            if e["kind"] == "action" and (e["assignee"] or e["due"]):
                bits = ([f"{L['who']}: {e['assignee']}"] if e["assignee"] else []) + (
                    [f"{L['until']}: {e['due']}"] if e["due"] else [])
                p.add_run(" (" + "; ".join(bits) + ")")
            meta = f"  {L['author']} {e['author']}, {e['at']}"
            if e["edited"]:
                meta += f", {L['edited']}"
            p.add_run(meta).italic = True


def render(model: dict[str, Any], lang: str = "de") -> bytes:
    from docx import Document
    from docx.shared import Pt

    v = prepare(model, lang)
    L = v["L"]
    doc = Document()
    doc.core_properties.title = v["title"]
    doc.core_properties.language = "de-DE" if v["lang"] == "de" else "en"
    doc.styles["Normal"].font.size = Pt(10)

    doc.add_heading(L["title"], level=0)
    doc.add_paragraph(v["event_title"]).runs[0].bold = True
    when = f"{v['date']}, {v['time']}" + (f" {L['time_suffix']}" if L["time_suffix"] else "")
    facts = [(L["date"], when), (L["status"], v["status"] + (
        f" ({L['ended_at']}: {v['ended']})" if v["ended"] else "")),
        (L["participants"], str(v["counts"]["present"])),
        (L["entries_count"], str(v["counts"]["entries"]))]
    if v["series"]:
        facts.insert(1, (L["series"], v["series"]))
    for k, val in facts:
        p = doc.add_paragraph()
        p.add_run(f"{k}: ").bold = True
        p.add_run(val)
    if v["description"]:
        doc.add_paragraph(v["description"])

    doc.add_heading(L["agenda"], level=1)
    for a in v["agenda"]:
        text = a["title"] + (f" ({L['speaker']}: {a['speaker']})" if a["speaker"] else "")
        doc.add_paragraph(text, style="List Number")

    doc.add_heading(L["plenary"], level=1)
    _entries(doc, v["plenary_groups"], L)

    doc.add_heading(L["topics"], level=1)
    for i, t in enumerate(v["topics"], 1):
        doc.add_heading(f"{i}. {t['title']}", level=2)
        if t["speaker"]:
            doc.add_paragraph(f"{L['speaker']}: {t['speaker']}")
        if t["groups"]:
            doc.add_heading(L["plenary"], level=3)
            _entries(doc, t["groups"], L)
        for r in t["rooms"]:
            doc.add_heading(f"{L['room']}: {r['title']}", level=3)
            _entries(doc, r["groups"], L)
        if t["empty"]:
            doc.add_paragraph(L["no_entries"]).runs[0].italic = True
    if v["other_rooms"]:
        doc.add_heading(L["other_rooms"], level=2)
        for e in v["other_rooms"]:
            doc.add_paragraph(f"{e['kind_label']}: {e['text']} ({e['room']})",
                              style="List Bullet")

    doc.add_heading(L["decisions"], level=1)
    for e in v["decisions"]:
        doc.add_paragraph(f"{e['text']} ({e['room']}, {e['at']})", style="List Number")
    if not v["decisions"]:
        doc.add_paragraph(L["no_entries"])

    doc.add_heading(L["actions"], level=1)
    if v["actions"]:
        _table(doc, [L["who"], L["what"], L["until"], L["room"]],
               [[e["assignee"], e["text"], e["due"], e["room"]] for e in v["actions"]])
    else:
        doc.add_paragraph(L["no_entries"])

    doc.add_heading(L["polls"], level=1)
    for p in v["polls"]:
        doc.add_heading(p["question"], level=2)
        meta = f"{p['mode']} · {L['poll_voters']}: {p['voters']}"
        if p["room"]:
            meta += f" · {L['room']}: {p['room']}"
        if p["mean"] is not None:
            meta += f" · {L['poll_mean']}: {p['mean']}"
        doc.add_paragraph(meta).runs[0].italic = True
        if p["chart"]:
            top = max((o["count"] for o in p["options"]), default=0) or 1
            _table(doc, [L["option"], L["count"], L["share"], L["poll_chart"]],
                   [[o["label"], o["count"], f"{o['pct']} %",
                     "█" * round(20 * o["count"] / top)] for o in p["options"]])
        if p["answers"]:
            doc.add_heading(L["poll_answers"], level=3)
            for a in p["answers"]:
                doc.add_paragraph(a, style="List Bullet")
        if p["votes"]:
            doc.add_heading(L["poll_votes"], level=3)
            _table(doc, [L["name"], L["vote"]], [[x["name"], x["answer"]] for x in p["votes"]])
    if not v["polls"]:
        doc.add_paragraph(L["no_entries"])

    doc.add_heading(L["breakouts"], level=1)
    for r in v["rounds"]:
        doc.add_heading(r["title"], level=2)
        span = r["opened_at"] + (f"–{r['closed_at']}" if r["closed_at"] else "")
        doc.add_paragraph(f"{span} · {L['duration']}: {r['duration']}")
        _table(doc, [L["room"], L["topic"], L["members"]],
               [[x["title"], x["topic"], ", ".join(x["members"])] for x in r["rooms"]])
    if not v["rounds"]:
        doc.add_paragraph(L["no_entries"])

    if v["recordings"]:
        doc.add_heading(L["recordings"], level=1)
        _table(doc, [L["recordings"], L["room"], L["date"], L["duration"]],
               [[x["title"], x["room"], x["at"], x["duration"]] for x in v["recordings"]])

    doc.add_page_break()
    doc.add_heading(f"{L['appendix']}: {L['attendance']}", level=1)
    _table(doc, [L["name"], L["organization"], L["role"], f"{L['from']}–{L['to']}",
                 L["minutes"], L["speaking"]],
           [[a["name"], a["organization"], a["role"], ", ".join(a["intervals"]), a["minutes"],
             a["speaking"]] for a in v["attendance"]])

    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
