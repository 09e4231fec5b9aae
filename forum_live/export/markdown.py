"""Minutes as Markdown (plain text that reads well as is and renders well as Markdown).

User text is escaped: Markdown and HTML syntax in it (`<script>`, `**`, `[x](y)`) shows as
the characters typed, never as markup, when a Markdown renderer turns the file into HTML.
"""

from __future__ import annotations

import re
from typing import Any

from .view import prepare

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#!])")
_AUTOLINK = re.compile(r"(?i)(://|www\.)")


def esc(text: Any) -> str:
    """Escape Markdown/HTML syntax; newlines become spaces (one entry, one line). Bare
    addresses are broken up (`http\\://`, `www\\.`) so no renderer makes them links."""
    s = " ".join(("" if text is None else str(text)).split())
    s = _SPECIAL.sub(r"\\\1", s)
    return _AUTOLINK.sub(lambda m: "\\" + m.group(1) if m.group(1) == "://" else
                         m.group(1)[:3] + "\\.", s)


def esc_line(text: Any) -> str:
    """Escape text that starts a line: it must not become a heading, list, quote, rule or
    table either."""
    s = re.sub(r"^(\d+)([.)])", r"\1\\\2", esc(text))
    return re.sub(r"^([+\-=:])", r"\\\1", s)


def _cell(text: Any) -> str:
    return esc(text) or " "


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(esc(h) for h in header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out + [""]


def _entry(e: dict[str, Any], L: dict[str, str]) -> str:
    line = f"- **{esc(e['kind_label'])}:** {esc(e['text'])}"
    if e["kind"] == "action" and (e["assignee"] or e["due"]):
        bits = []
        if e["assignee"]:
            bits.append(f"{esc(L['who'])}: {esc(e['assignee'])}")
        if e["due"]:
            bits.append(f"{esc(L['until'])}: {esc(e['due'])}")
        line += " (" + "; ".join(bits) + ")"
    meta = f"{L['author']} {e['author']}, {e['at']}"
    if e["edited"]:
        meta += f", {L['edited']}"
    if e["recorded_by"]:
        meta += f", {e['recorded_by']}"
    return line + f" _{esc(meta)}_"


def _groups(groups: list[dict[str, Any]], L: dict[str, str]) -> list[str]:
    if not groups:
        return [f"_{esc(L['no_entries'])}_", ""]
    out = []
    for g in groups:
        out.append(f"**{esc(g['label'])}**")
        out.append("")
        out += [_entry(e, L) for e in g["entries"]]
        out.append("")
    return out


def _empty(L: dict[str, str]) -> list[str]:
    return [f"_{esc(L['no_entries'])}_", ""]


def _poll(p: dict[str, Any], L: dict[str, str], heading: str) -> list[str]:
    out = [f"{heading} {esc(p['question'])}", ""]
    meta = f"{p['mode']}, {L['poll_voters']}: {p['voters']}"
    if p["room"]:
        meta += f", {L['room']}: {p['room']}"
    if p["mean"] is not None:
        meta += f", {L['poll_mean']}: {p['mean']}"
    out += [f"_{esc(meta)}_", ""]
    if p["chart"]:
        out += _table([L["option"], L["count"], L["share"]],
                      [[o["label"], o["count"], o["pct"]] for o in p["options"]])
    if p["share_note"]:
        out += [f"_{esc(p['share_note'])}_", ""]
    if p["answers"]:
        out += [f"**{esc(L['poll_answers'])}**", ""]
        out += [f"- {esc(x)}" for x in p["answers"]] + [""]
    if p["votes"]:
        out += [f"**{esc(L['poll_votes'])}**", ""]
        out += _table([L["name"], L["vote"]], [[x["name"], x["answer"]] for x in p["votes"]])
    return out


def render(model: dict[str, Any], lang: str = "de") -> str:
    v = prepare(model, lang)
    L = v["L"]
    a = v["approval"]
    out = [f"# {esc(L['title'])}: {esc(v['event_title'])}", ""]
    status = a["line"] + (f" · {L['version']} {a['version']}" if a["version"] else "")
    out += [f"**{esc(status)}**", ""]
    out += [f"- **{esc(h['label'])}:** {esc(h['value'])}" for h in v["head"]]
    out += ["", f"_{esc(v['timezone_note'])}_", ""]
    if a["note"]:
        out += [f"**{esc(L['approval_note'])}:** {esc(a['note'])}", ""]
    if v["description"]:
        out += [esc_line(v["description"]), ""]
    if a["changes"]:
        out += [f"## {esc(a['changes_title'])}", ""]
        out += _table([L["status"], L["before"], L["after"]],
                      [[c["label"] + (f" ({c['kind']})" if c["kind"] else ""), c["before"],
                        c["after"]] for c in a["changes"]])

    out += [f"## {esc(L['agenda'])}", ""]
    for i, item in enumerate(v["agenda"], 1):
        speaker = f" ({esc(L['speaker'])}: {esc(item['speaker'])})" if item["speaker"] else ""
        out.append(f"{i}. {esc(item['title'])}{speaker}")
    out.append("")

    if v["run_of_show"]:
        out += [f"## {esc(L['run_of_show'])}", ""]
        out += _table([L["step"], L["planned"], L["actual"], L["carried_status"]],
                      [[s["title"], s["planned"], s["actual"], s["status"]]
                       for s in v["run_of_show"]])

    if v["carried"]["any"]:
        c = v["carried"]
        out += [f"## {esc(L['carried_title'])}", ""]
        if c["actions"]:
            out += _table([L["who"], L["what"], L["until"], L["topic"], L["carried_status"]],
                          [[a["assignee"], a["text"] + (f" ({a['note']})" if a["note"] else ""),
                            a["due"], a["topic"], a["status"]] for a in c["actions"]])
        if c["questions"]:
            out += [f"### {esc(L['carried_questions'])}", ""]
            out += [f"- {esc(q['text'])} ({esc(q['status'])})"
                    + (f": {esc(q['answer'])}" if q["answer"] else "") for q in c["questions"]]
            out.append("")

    out += [f"## {esc(L['plenary'])}", ""] + _groups(v["plenary_groups"], L)

    out += [f"## {esc(L['topics'])}", ""]
    for i, t in enumerate(v["topics"], 1):
        out += [f"### {i}. {esc(t['title'])}", ""]
        if t["speaker"]:
            out += [f"{esc(L['speaker'])}: {esc(t['speaker'])}", ""]
        if t["description"]:
            out += [esc_line(t["description"]), ""]
        if t["slides"]:
            out += [f"{esc(L['slides'])}: {esc(t['slides'])}", ""]
        if t["slides_shown"]:
            out += [f"_{esc(L['slides_shown'])}_", ""]
            out += _table([L["slides"], L["slide_page"], L["shown_when"]], t["slides_shown"])
        if t["groups"]:
            out += [f"#### {esc(L['plenary'])}", ""] + _groups(t["groups"], L)
        for r in t["rooms"]:
            out += [f"#### {esc(L['room'])}: {esc(r['title'])}", ""]
            if r["members"]:
                out += [f"_{esc(L['members'])}: {esc(r['members'])}_", ""]
            out += _groups(r["groups"], L)
        if t["polls"]:
            out += [f"#### {esc(L['topic_polls'])}", ""]
            for p in t["polls"]:
                out += _poll(p, L, "#####")
        if t["empty"]:
            out += _empty(L)
    if v["other_rooms"]:
        out += [f"### {esc(L['other_rooms'])}", ""]
        out += [_entry(e, L) for e in v["other_rooms"]] + [""]

    out += [f"## {esc(L['decisions'])}", ""]
    if v["decisions"]:
        out += [f"{i}. {esc(e['text'])} ({esc(e['room'])}, {e['at']})"
                for i, e in enumerate(v["decisions"], 1)] + [""]
    else:
        out += _empty(L)

    out += [f"## {esc(L['actions'])}", ""]
    if v["actions"]:
        out += _table([L["who"], L["what"], L["until"], L["room"]],
                      [[e["assignee"], e["text"], e["due"], e["room"]] for e in v["actions"]])
    else:
        out += _empty(L)

    out += [f"## {esc(L['open_questions'])}", ""]
    items = [f"- {esc(e['text'])} ({esc(e['room'])}, {e['at']})" for e in v["questions"]]
    items += [f"- {esc(q['text'])} ({esc(q['meta'])})" for q in v["qa_open"]]
    out += (items + [""]) if items else _empty(L)

    if v["answered"]:
        out += [f"## {esc(L['answered_questions'])}", ""]
        for q in v["answered"]:
            out += [f"### {esc(q['text'])}", "",
                    f"_{esc(q['meta'] + (', ' + q['at'] if q['at'] else ''))}_", "",
                    f"**{esc(L['answer'])}:** {esc(q['answer']) or '_' + esc(L['no_answer']) + '_'}",
                    ""]

    out += [f"## {esc(L['polls'])}", ""]
    if v["polls_in_topics"]:
        out += [f"_{esc(L['polls_in_topics'])}_", ""]
    for p in v["polls"]:
        out += _poll(p, L, "###")
    if not v["polls"] and not v["polls_in_topics"]:
        out += _empty(L)

    out += [f"## {esc(L['breakouts'])}", ""]
    for r in v["rounds"]:
        span = r["opened_at"] + (f"–{r['closed_at']}" if r["closed_at"] else "")
        out += [f"### {esc(r['title'])}", "",
                f"_{esc(span)}, {esc(L['duration'])}: {esc(r['duration'])}_", ""]
        out += _table([L["room"], L["topic"], L["members"]],
                      [[x["title"], x["topic"], ", ".join(x["members"])] for x in r["rooms"]])
    if not v["rounds"]:
        out += _empty(L)

    if v["recordings"]:
        out += [f"## {esc(L['recordings'])}", ""]
        out += _table([L["recordings"], L["room"], L["date"], L["duration"]],
                      [[x["title"], x["room"], x["at"], x["duration"]] for x in v["recordings"]])

    out += [f"## {esc(L['appendix'])}: {esc(L['attendance'])}", ""]
    out += _table([L["name"], L["organization"], L["role"], f"{L['from']}–{L['to']}",
                   L["minutes"], L["speaking"]],
                  [[x["name"], x["organization"], x["role"], ", ".join(x["intervals"]),
                    x["minutes"], x["speaking"]] for x in v["attendance"]])
    return "\n".join(out).rstrip() + "\n"
