"""Minutes as a Word document built from real Word structures (python-docx): Title and
Heading styles, numbered lists that start at 1 each, tables with a header row that repeats
on every page and columns wide enough for their header words, poll charts as PNG images.

The same model gives the same bytes (frozen versions, contract §7): the document's dates
are the model's, and the zip entries carry one fixed time stamp.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone
from typing import Any

from . import chart
from .view import prepare

TABLE_STYLE = "Table Grid"
FIXED_ZIP_TIME = (2000, 1, 1, 0, 0, 0)
# column widths in cm (the text width of A4 with 2 cm margins is 17 cm)
WIDTHS = {
    "head": [4.5, 12.5],
    "actions": [3.6, 8.0, 2.6, 2.8],
    "carried": [3.0, 6.4, 2.4, 2.8, 2.4],
    "run_of_show": [7.0, 3.4, 3.8, 2.8],
    "poll": [9.0, 2.6, 2.6],
    "slides": [8.0, 2.4, 6.6],
    "votes": [6.0, 11.0],
    "rounds": [3.8, 4.5, 8.7],
    "recordings": [7.0, 3.5, 4.0, 2.5],
    "attendance": [3.2, 3.4, 2.5, 3.4, 2.0, 2.5],
    "changes": [3.4, 6.8, 6.8],
}


def _ts(value: str | None) -> datetime:
    try:
        return datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        return datetime(2000, 1, 1, tzinfo=timezone.utc)


class _Builder:
    def __init__(self, doc: Any, L: dict[str, str]) -> None:
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn
        from docx.shared import Cm, Pt

        self.doc, self.L = doc, L
        self.OxmlElement, self.qn, self.Cm, self.Pt = OxmlElement, qn, Cm, Pt

    # -- lists --------------------------------------------------------------------------
    def numbered(self, items: list[str]) -> None:
        """A numbered list that starts at 1 (a new w:num with a start override)."""
        if not items:
            return
        numbering = self.doc.part.numbering_part.numbering_definitions._numbering
        style = self.doc.styles["List Number"]
        base = numbering.num_having_numId(style.element.pPr.numPr.numId.val)
        num = numbering.add_num(base.abstractNumId.val)
        num.add_lvlOverride(ilvl=0).add_startOverride(1)
        for text in items:
            p = self.doc.add_paragraph(text, style="List Number")
            numpr = p._p.get_or_add_pPr().get_or_add_numPr()
            numpr.get_or_add_ilvl().val = 0
            numpr.get_or_add_numId().val = num.numId

    def bullets(self, items: list[str]) -> None:
        for text in items:
            self.doc.add_paragraph(text, style="List Bullet")

    def empty(self) -> None:
        self.doc.add_paragraph(self.L["no_entries"]).runs[0].italic = True

    # -- tables -------------------------------------------------------------------------
    def table(self, kind: str, header: list[str], rows: list[list[Any]]) -> Any:
        doc, qn = self.doc, self.qn
        table = doc.add_table(rows=1 + len(rows), cols=len(header))
        table.style = TABLE_STYLE
        table.autofit = False
        widths = [self.Cm(w) for w in WIDTHS[kind]]
        head = table.rows[0]
        tr_pr = head._tr.get_or_add_trPr()
        for tag in ("w:tblHeader", "w:cantSplit"):  # repeat on each page, never split
            el = self.OxmlElement(tag)
            el.set(qn("w:val"), "true")
            tr_pr.append(el)
        for i, h in enumerate(header):
            cell = head.cells[i]
            cell.text = ""
            run = cell.paragraphs[0].add_run(str(h))
            run.bold = True
        # One .cells per row: table.cell(r, c) recomputes the grid on every call.
        for r, row in enumerate(rows, start=1):
            cells = table.rows[r].cells
            for i, value in enumerate(row):
                cells[i].text = "" if value is None else str(value)
        for row in table.rows:
            for i, cell in enumerate(row.cells):
                cell.width = widths[i]
                for p in cell.paragraphs:
                    for run in p.runs:
                        run.font.size = self.Pt(9)
        for i, col in enumerate(table.columns):
            col.width = widths[i]
        doc.add_paragraph()
        return table

    def entries(self, groups: list[dict[str, Any]]) -> None:
        L = self.L
        for g in groups:
            self.doc.add_paragraph(g["label"], style="Heading 4")
            for e in g["entries"]:
                p = self.doc.add_paragraph(style="List Bullet")
                p.add_run(e["text"])
                if e["kind"] == "action" and (e["assignee"] or e["due"]):
                    bits = ([f"{L['who']}: {e['assignee']}"] if e["assignee"] else []) + (
                        [f"{L['until']}: {e['due']}"] if e["due"] else [])
                    p.add_run(" (" + "; ".join(bits) + ")")
                meta = f" – {L['author']} {e['author']}, {e['at']}"
                if e["edited"]:
                    meta += f", {L['edited']}"
                if e["recorded_by"]:
                    meta += f", {e['recorded_by']}"
                p.add_run(meta).italic = True


def render(model: dict[str, Any], lang: str = "de") -> bytes:
    from docx import Document
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    v = prepare(model, lang)
    L = v["L"]
    doc = Document()
    b = _Builder(doc, L)
    language = "de-DE" if v["lang"] == "de" else "en-GB"
    props = doc.core_properties
    props.title = v["title"]
    props.language = language
    props.author = props.last_modified_by = (model.get("header") or {}).get("organizer") or ""
    stamp = _ts((model.get("approval") or {}).get("approved_at")
                or model["event"].get("ended_at") or model["event"].get("created_at"))
    props.created = props.modified = stamp.replace(tzinfo=None)
    props.revision = (model.get("approval") or {}).get("version") or 1
    normal = doc.styles["Normal"]
    normal.font.size = Pt(10)
    rpr = normal.element.get_or_add_rPr()
    lang_el = OxmlElement("w:lang")
    lang_el.set(qn("w:val"), language)
    rpr.append(lang_el)
    for section in doc.sections:
        section.left_margin = section.right_margin = Cm(2)
        section.top_margin = section.bottom_margin = Cm(2)
        section.header.paragraphs[0].text = f"{L['title']}: {v['event_title']} · " \
                                            f"{v['approval']['status']}"

    doc.add_heading(L["title"], level=0)
    status = doc.add_paragraph()
    status.add_run(v["approval"]["line"] + (
        f" · {L['version']} {v['approval']['version']}" if v["approval"]["version"] else "")
    ).bold = True
    b.table("head", [L["event"], v["event_title"]],
            [[h["label"], h["value"]] for h in v["head"][1:]])
    doc.add_paragraph(v["timezone_note"]).runs[0].italic = True
    if v["approval"]["note"]:
        doc.add_paragraph(f"{L['approval_note']}: {v['approval']['note']}")
    if v["description"]:
        doc.add_paragraph(v["description"])

    if v["approval"]["changes"]:
        doc.add_heading(v["approval"]["changes_title"], level=1)
        b.table("changes", [L["status"], L["before"], L["after"]],
                [[c["label"] + (f" ({c['kind']})" if c["kind"] else ""), c["before"], c["after"]]
                 for c in v["approval"]["changes"]])

    doc.add_heading(L["agenda"], level=1)
    b.numbered([a["title"] + (f" ({L['speaker']}: {a['speaker']})" if a["speaker"] else "")
                for a in v["agenda"]])

    if v["run_of_show"]:
        doc.add_heading(L["run_of_show"], level=1)
        b.table("run_of_show", [L["step"], L["planned"], L["actual"], L["carried_status"]],
                [[s["title"], s["planned"], s["actual"], s["status"]] for s in v["run_of_show"]])
    if v["carried"]["any"]:
        c = v["carried"]
        doc.add_heading(L["carried_title"], level=1)
        if c["actions"]:
            b.table("carried", [L["who"], L["what"], L["until"], L["topic"], L["carried_status"]],
                    [[a["assignee"], a["text"] + (f" ({a['note']})" if a["note"] else ""),
                      a["due"], a["topic"], a["status"]] for a in c["actions"]])
        if c["questions"]:
            doc.add_heading(L["carried_questions"], level=2)
            b.bullets([f"{q['text']} ({q['status']})" + (f": {q['answer']}" if q["answer"]
                                                          else "") for q in c["questions"]])

    doc.add_heading(L["plenary"], level=1)
    if v["plenary_groups"]:
        b.entries(v["plenary_groups"])
    else:
        b.empty()

    def poll(p: dict[str, Any], level: int) -> None:
        doc.add_heading(p["question"], level=level)
        meta = f"{p['mode']} · {L['poll_voters']}: {p['voters']}"
        if p["room"]:
            meta += f" · {L['room']}: {p['room']}"
        if p["mean"] is not None:
            meta += f" · {L['poll_mean']}: {p['mean']}"
        doc.add_paragraph(meta).runs[0].italic = True
        if p["chart"]:
            doc.add_picture(io.BytesIO(chart.png(p["chart"])), width=Cm(12))
            pic = doc.inline_shapes[-1]
            pic._inline.docPr.set("descr", p["chart_alt"])
            b.table("poll", [L["option"], L["count"], L["share"]],
                    [[o["label"], o["count"], o["pct"]] for o in p["options"]])
        if p["share_note"]:
            doc.add_paragraph(p["share_note"]).runs[0].italic = True
        if p["answers"]:
            doc.add_heading(L["poll_answers"], level=level + 1)
            b.bullets(p["answers"])
        if p["votes"]:
            doc.add_heading(L["poll_votes"], level=level + 1)
            b.table("votes", [L["name"], L["vote"]], [[x["name"], x["answer"]] for x in p["votes"]])

    doc.add_heading(L["topics"], level=1)
    for i, t in enumerate(v["topics"], 1):
        doc.add_heading(f"{i}. {t['title']}", level=2)
        if t["speaker"]:
            doc.add_paragraph(f"{L['speaker']}: {t['speaker']}")
        if t["description"]:
            doc.add_paragraph(t["description"])
        if t["slides"]:
            doc.add_paragraph(f"{L['slides']}: {t['slides']}")
        if t["slides_shown"]:
            doc.add_paragraph(L["slides_shown"]).runs[0].italic = True
            b.table("slides", [L["slides"], L["slide_page"], L["shown_when"]],
                    t["slides_shown"])
        if t["groups"]:
            doc.add_heading(L["plenary"], level=3)
            b.entries(t["groups"])
        for r in t["rooms"]:
            doc.add_heading(f"{L['room']}: {r['title']}", level=3)
            if r["members"]:
                doc.add_paragraph(f"{L['members']}: {r['members']}").runs[0].italic = True
            b.entries(r["groups"])
        if t["polls"]:
            doc.add_heading(L["topic_polls"], level=3)
            for p in t["polls"]:
                poll(p, 4)
        if t["empty"]:
            b.empty()
    if v["other_rooms"]:
        doc.add_heading(L["other_rooms"], level=2)
        b.bullets([f"{e['kind_label']}: {e['text']} ({e['room']})" for e in v["other_rooms"]])

    doc.add_heading(L["decisions"], level=1)
    b.numbered([f"{e['text']} ({e['room']}, {e['at']})" for e in v["decisions"]])
    if not v["decisions"]:
        b.empty()

    doc.add_heading(L["actions"], level=1)
    if v["actions"]:
        b.table("actions", [L["who"], L["what"], L["until"], L["room"]],
                [[e["assignee"], e["text"], e["due"], e["room"]] for e in v["actions"]])
    else:
        b.empty()

    doc.add_heading(L["open_questions"], level=1)
    b.bullets([f"{e['text']} ({e['room']}, {e['at']})" for e in v["questions"]]
              + [f"{q['text']} ({q['meta']})" for q in v["qa_open"]])
    if not v["questions"] and not v["qa_open"]:
        b.empty()

    if v["answered"]:
        doc.add_heading(L["answered_questions"], level=1)
        for q in v["answered"]:
            doc.add_heading(q["text"], level=2)
            doc.add_paragraph(q["meta"] + (f", {q['at']}" if q["at"] else "")).runs[0].italic = True
            p = doc.add_paragraph()
            p.add_run(f"{L['answer']}: ").bold = True
            p.add_run(q["answer"] or L["no_answer"])

    doc.add_heading(L["polls"], level=1)
    if v["polls_in_topics"]:
        doc.add_paragraph(L["polls_in_topics"]).runs[0].italic = True
    for p in v["polls"]:
        poll(p, 2)
    if not v["polls"] and not v["polls_in_topics"]:
        b.empty()

    doc.add_heading(L["breakouts"], level=1)
    for r in v["rounds"]:
        doc.add_heading(r["title"], level=2)
        span = r["opened_at"] + (f"–{r['closed_at']}" if r["closed_at"] else "")
        doc.add_paragraph(f"{span} · {L['duration']}: {r['duration']}")
        b.table("rounds", [L["room"], L["topic"], L["members"]],
                [[x["title"], x["topic"], ", ".join(x["members"])] for x in r["rooms"]])
    if not v["rounds"]:
        b.empty()

    if v["recordings"]:
        doc.add_heading(L["recordings"], level=1)
        b.table("recordings", [L["recordings"], L["room"], L["date"], L["duration"]],
                [[x["title"], x["room"], x["at"], x["duration"]] for x in v["recordings"]])

    doc.add_page_break()
    doc.add_heading(f"{L['appendix']}: {L['attendance']}", level=1)
    b.table("attendance", [L["name"], L["organization"], L["role"], f"{L['from']}–{L['to']}",
                           L["minutes"], L["speaking"]],
            [[a["name"], a["organization"], a["role"], ", ".join(a["intervals"]), a["minutes"],
              a["speaking"]] for a in v["attendance"]])

    buf = io.BytesIO()
    doc.save(buf)
    return _fixed_zip(buf.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The same parts with one fixed time stamp each, so equal documents are equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()
