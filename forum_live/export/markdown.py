"""Minutes as Markdown (plain text that reads well as is and renders well as Markdown).

User text is escaped: Markdown and HTML syntax in it (`<script>`, `**`, `[x](y)`) shows as
the characters typed, never as markup, when a Markdown renderer turns the file into HTML.
"""

from __future__ import annotations

import re
from typing import Any

from .view import prepare

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def esc(text: Any) -> str:
    """Escape Markdown/HTML syntax; newlines become spaces (one entry, one line)."""
    s = " ".join(("" if text is None else str(text)).split())
    return _SPECIAL.sub(r"\\\1", s)


def esc_line(text: Any) -> str:
    """Escape text that starts a line: it must not become a heading or a list either."""
    s = re.sub(r"^(\d+)\.", r"\1\\.", esc(text))
    return re.sub(r"^([#+\-=])", r"\\\1", s)


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


def render(model: dict[str, Any], lang: str = "de") -> str:
    v = prepare(model, lang)
    L = v["L"]
    out = [f"# {esc(L['title'])}: {esc(v['event_title'])}", ""]
    when = f"{v['date']}, {v['time']}" + (f" {L['time_suffix']}" if L["time_suffix"] else "")
    out.append(f"- **{esc(L['date'])}:** {esc(when)}")
    if v["series"]:
        out.append(f"- **{esc(L['series'])}:** {esc(v['series'])}")
    status = v["status"] + (f" ({L['ended_at']}: {v['ended']})" if v["ended"] else "")
    out.append(f"- **{esc(L['status'])}:** {esc(status)}")
    out.append(f"- **{esc(L['participants'])}:** {v['counts']['present']}")
    out.append(f"- **{esc(L['entries_count'])}:** {v['counts']['entries']}")
    out.append("")
    if v["description"]:
        out += [esc_line(v["description"]), ""]

    out += [f"## {esc(L['agenda'])}", ""]
    for i, a in enumerate(v["agenda"], 1):
        speaker = f" ({esc(L['speaker'])}: {esc(a['speaker'])})" if a["speaker"] else ""
        out.append(f"{i}. {esc(a['title'])}{speaker}")
    out.append("")

    out += [f"## {esc(L['plenary'])}", ""] + _groups(v["plenary_groups"], L)

    out += [f"## {esc(L['topics'])}", ""]
    for i, t in enumerate(v["topics"], 1):
        out += [f"### {i}. {esc(t['title'])}", ""]
        if t["speaker"]:
            out += [f"{esc(L['speaker'])}: {esc(t['speaker'])}", ""]
        if t["groups"]:
            out += [f"#### {esc(L['plenary'])}", ""] + _groups(t["groups"], L)
        for r in t["rooms"]:
            out += [f"#### {esc(L['room'])}: {esc(r['title'])}", ""] + _groups(r["groups"], L)
        if t["empty"]:
            out += [f"_{esc(L['no_entries'])}_", ""]
    if v["other_rooms"]:
        out += [f"### {esc(L['other_rooms'])}", ""]
        out += [_entry(e, L) for e in v["other_rooms"]] + [""]

    out += [f"## {esc(L['decisions'])}", ""]
    if v["decisions"]:
        out += [f"{i}. {esc(e['text'])} ({esc(e['room'])}, {e['at']})"
                for i, e in enumerate(v["decisions"], 1)] + [""]
    else:
        out += [f"_{esc(L['no_entries'])}_", ""]

    out += [f"## {esc(L['actions'])}", ""]
    if v["actions"]:
        out += _table([L["who"], L["what"], L["until"], L["room"]],
                      [[e["assignee"], e["text"], e["due"], e["room"]] for e in v["actions"]])
    else:
        out += [f"_{esc(L['no_entries'])}_", ""]

    out += [f"## {esc(L['polls'])}", ""]
    for p in v["polls"]:
        out += [f"### {esc(p['question'])}", ""]
        meta = f"{p['mode']}, {L['poll_voters']}: {p['voters']}"
        if p["room"]:
            meta += f", {L['room']}: {p['room']}"
        if p["mean"] is not None:
            meta += f", {L['poll_mean']}: {p['mean']}"
        out += [f"_{esc(meta)}_", ""]
        if p["chart"]:
            width = max((o["count"] for o in p["options"]), default=0) or 1
            out += _table([L["option"], L["count"], L["share"], ""],
                          [[o["label"], o["count"], f"{o['pct']} %",
                            "█" * round(20 * o["count"] / width)] for o in p["options"]])
        if p["answers"]:
            out += [f"**{esc(L['poll_answers'])}**", ""]
            out += [f"- {esc(a)}" for a in p["answers"]] + [""]
        if p["votes"]:
            out += [f"**{esc(L['poll_votes'])}**", ""]
            out += _table([L["name"], L["vote"]], [[x["name"], x["answer"]] for x in p["votes"]])
    if not v["polls"]:
        out += [f"_{esc(L['no_entries'])}_", ""]

    out += [f"## {esc(L['breakouts'])}", ""]
    for r in v["rounds"]:
        span = r["opened_at"] + (f"–{r['closed_at']}" if r["closed_at"] else "")
        out += [f"### {esc(r['title'])}", "",
                f"_{esc(span)}, {esc(L['duration'])}: {esc(r['duration'])}_", ""]
        out += _table([L["room"], L["topic"], L["members"]],
                      [[x["title"], x["topic"], ", ".join(x["members"])] for x in r["rooms"]])
    if not v["rounds"]:
        out += [f"_{esc(L['no_entries'])}_", ""]

    if v["recordings"]:
        out += [f"## {esc(L['recordings'])}", ""]
        out += _table([L["recordings"], L["room"], L["date"], L["duration"]],
                      [[x["title"], x["room"], x["at"], x["duration"]] for x in v["recordings"]])

    out += [f"## {esc(L['appendix'])}: {esc(L['attendance'])}", ""]
    out += _table([L["name"], L["organization"], L["role"], f"{L['from']}–{L['to']}",
                   L["minutes"], L["speaking"]],
                  [[a["name"], a["organization"], a["role"], ", ".join(a["intervals"]),
                    a["minutes"], a["speaking"]] for a in v["attendance"]])
    return "\n".join(out).rstrip() + "\n"
