"""The minutes, end to end over the real server: one scripted forum, then every export
format read back and checked for the same decisions, actions, poll results and attendance;
who may download what; the review page; user text inert in every format."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from PIL import Image

from tests.support.live import Client, LiveServer, auth, create_event, join
from tests.support.xss import FORMULAS, LONG, SHORT

DECISION_PLENARY = "Das Forum wird im Herbst in Selb fortgesetzt."
DECISION_TOPIC = "Arbeitsgruppe Homeoffice gründen"
ACTION = "Förderantrag Glasfaser vorbereiten"
QUESTION = "Wer betreibt den Coworking-Space?"
NOTE_FINAL = "Gemeinsame Fassung: Breitband zuerst"
XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_TEXT = "<script>alert(1)</script>"
XSS_OPTION = "<b onmouseover=alert(2)>Rufbus</b>"


class Page(HTMLParser):
    """Tags, attributes, text and table cells of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table":
            self._table = (a.get("class") or "").split()[-1]
            self.tables.setdefault(self._table, [])
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def parse_html(body: str) -> Page:
    p = Page()
    p.feed(body)
    p.close()
    return p


def assert_no_payload_markup(page: Page) -> None:
    """No element the corpus would make, no javascript: link, no second style sheet."""
    names = [t for t, _ in page.tags]
    for tag in ("iframe", "math", "mglyph", "details", "textarea", "object", "embed"):
        assert tag not in names, tag
    assert names.count("style") <= 1
    for tag, attrs in page.tags:
        for key in ("href", "src", "action", "xlink:href"):
            assert not (attrs.get(key) or "").strip().lower().startswith("javascript:"), attrs
        assert "srcdoc" not in attrs, attrs


def assert_inert(page: Page) -> None:
    """No markup from user text became an element or an event handler (a page may load
    its own module scripts from /static, nothing else)."""
    names = [t for t, _ in page.tags]
    assert "img" not in names and "b" not in names and "i" not in names
    for tag, attrs in page.tags:
        if tag == "script":
            assert (attrs.get("src") or "").startswith("/static/js/"), attrs
    for _, attrs in page.tags:
        assert not any(k.startswith("on") for k in attrs), attrs
        assert "style" not in attrs, attrs  # charts use presentation attributes only


async def scripted_forum(server: LiveServer) -> dict[str, Any]:
    """A moderator and three participants: a plenary decision, a breakout round with
    entries of every kind (an action with assignee and due date), an edit and a conflict,
    two closed polls (named and anonymous), someone leaving, the event ended."""
    async with server.http() as http:
        ev = await create_event(http)
        mod = await join(http, ev, "Moderation Meier", moderator=True, organization="Stadt Hof")
        anna = await join(http, ev, "Anna Schmidt", organization="Landkreis Wunsiedel")
        ben = await join(http, ev, "Ben Öztürk", organization="IHK Oberfranken")
        xss = await join(http, ev, XSS_NAME, organization="=HYPERLINK(\"http://x\")")
    eid, plenary = ev["id"], ev["plenary_room"]
    cm = await Client.connect(server, eid, mod["token"])
    ca = await Client.connect(server, eid, anna["token"])
    cb = await Client.connect(server, eid, ben["token"])
    cx = await Client.connect(server, eid, xss["token"])

    async def ok(c: Client, type_: str, **body: Any) -> dict[str, Any]:
        r = await c.request(type_, **body)
        assert r["type"] == "ok", r
        return r

    await ok(cm, "minutes.add", room=plenary, kind="decision", text=DECISION_PLENARY)
    await ok(cm, "minutes.add", room=plenary, kind="decision", text=DECISION_TOPIC,
             topic=ev["topics"][0]["id"])

    await ok(cm, "breakouts.open", assign="auto")
    rooms = {}
    for c, p in ((ca, anna), (cb, ben), (cx, xss)):
        pid = p["participant"]["id"]
        moved = await c.wait_for(lambda e, pid=pid: e["type"] == "participant.moved"
                                 and e["participant"] == pid)
        rooms[pid] = moved["to"]
    ra, rb, rx = (rooms[p["participant"]["id"]] for p in (anna, ben, xss))
    await ok(ca, "minutes.add", room=ra, kind="action", text=ACTION, assignee="Anna Schmidt",
             due="2026-05-15")
    await ok(cb, "minutes.add", room=rb, kind="question", text=QUESTION)
    await ok(cx, "minutes.add", room=rx, kind="note", text=XSS_TEXT)
    await ok(ca, "minutes.add", room=ra, kind="note", text="Erster Entwurf")
    added = await ca.wait_for(lambda e: e["type"] == "minutes.added"
                              and e["entry"]["text"] == "Erster Entwurf")
    entry = added["entry"]["id"]
    await ok(ca, "minutes.edit", entry=entry, version=1, text="Fassung von Anna")
    clash = await cm.request("minutes.edit", entry=entry, version=1, text="Fassung der Moderation")
    assert clash["type"] == "error" and clash["code"] == "conflict"
    assert clash["current"]["text"] == "Fassung von Anna" and clash["current"]["version"] == 2
    await ok(cm, "minutes.edit", entry=entry, version=2, text=NOTE_FINAL)
    await ok(cm, "breakouts.close")
    for c in (ca, cb, cx):
        await c.wait_for(lambda e: e["type"] == "breakouts.closed")

    polls = {}
    for body in ({"question": "Welches Projekt zuerst?", "kind": "single", "anonymous": False,
                  "options": ["Glasfaser", "Coworking", XSS_OPTION]},
                 {"question": "Wie zufrieden sind Sie?", "kind": "rating", "anonymous": True,
                  "scale": [1, 5]}):
        await ok(cm, "poll.create", scope="event", **body)
        opened = await cm.wait_for(lambda e, q=body["question"]: e["type"] == "poll.opened"
                                   and e["poll"]["question"] == q)
        polls[body["kind"]] = opened["poll"]["id"]
    for c, choice, rating in ((ca, 0, 5), (cb, 0, 4), (cx, 2, 4)):
        await ok(c, "poll.vote", poll=polls["single"], choice=choice)
        await ok(c, "poll.vote", poll=polls["rating"], rating=rating)
    for pid in polls.values():
        await ok(cm, "poll.close", poll=pid)

    await cb.close()  # Ben leaves before the end
    await cm.wait_for(lambda e: e["type"] == "participant.left"
                      and e["participant"]["id"] == ben["participant"]["id"])
    async with server.http() as http:
        r = await http.post(f"/api/events/{eid}/end", headers=auth())
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "ended"
    for c in (cm, ca, cx):
        await c.close()
    return {"ev": ev, "mod": mod, "anna": anna, "ben": ben, "xss": xss}


async def download(server: LiveServer, path: str, **kw: Any) -> Any:
    async with server.http() as http:
        return await http.get(path, **kw)


async def test_every_format_tells_the_same_story(server: LiveServer, tmp_path: Path) -> None:
    f = await scripted_forum(server)
    eid = f["ev"]["id"]
    got = {}
    for fmt, media in (("md", "text/markdown"), ("html", "text/html"),
                       ("pdf", "application/pdf"), ("docx", "application/vnd.openxml"),
                       ("json", "application/json")):
        r = await download(server, f"/api/events/{eid}/minutes.{fmt}", headers=auth())
        assert r.status_code == 200, (fmt, r.text[:300])
        assert r.headers["content-type"].startswith(media)
        assert r.headers["content-disposition"].startswith("attachment;")
        assert r.headers["content-disposition"].endswith(f'.{fmt}"')
        got[fmt] = r

    # json: the model itself, with its version
    m = got["json"].json()
    assert m["format_version"] == 1
    for key, typ in (("event", dict), ("agenda", list), ("plenary", list), ("topics", list),
                     ("decisions", list), ("actions", list), ("questions", list),
                     ("breakout_rounds", list), ("polls", list), ("attendance", list),
                     ("recordings", list), ("counts", dict)):
        assert isinstance(m[key], typ), key
    assert m["event"]["status"] == "ended" and m["event"]["ended_at"]
    assert {d["text"] for d in m["decisions"]} == {DECISION_PLENARY, DECISION_TOPIC}
    [action] = m["actions"]
    assert (action["text"], action["assignee"], action["due"]) == (ACTION, "Anna Schmidt",
                                                                   "2026-05-15")
    assert [q["text"] for q in m["questions"]] == [QUESTION]
    assert NOTE_FINAL in json.dumps(m, ensure_ascii=False)
    assert "Fassung der Moderation" not in json.dumps(m, ensure_ascii=False)
    assert [e["text"] for e in m["plenary"]] == [DECISION_PLENARY]
    topic_rooms = [r for t in m["topics"] for r in t["rooms"]]
    assert len(topic_rooms) == 3
    assert any(e["text"] == ACTION for r in topic_rooms for e in r["entries"])
    assert DECISION_TOPIC in [e["text"] for e in m["topics"][0]["entries"]]
    [rnd] = m["breakout_rounds"]
    assert sorted(n for r in rnd["rooms"] for n in r["members"]) == sorted(
        ["Anna Schmidt", "Ben Öztürk", XSS_NAME])
    named, anon = sorted(m["polls"], key=lambda p: p["anonymous"])
    assert [(o["label"], o["count"]) for o in named["options"]] == [
        ("Glasfaser", 2), ("Coworking", 0), (XSS_OPTION, 1)]
    assert sorted(v["name"] for v in named["votes"]) == sorted(
        ["Anna Schmidt", "Ben Öztürk", XSS_NAME])
    assert "votes" not in anon and anon["voters"] == 3 and anon["mean"] == pytest.approx(4.33)
    assert [o["count"] for o in anon["options"]] == [0, 0, 0, 2, 1]
    att = {a["name"]: a for a in m["attendance"]}
    assert set(att) == {"Moderation Meier", "Anna Schmidt", "Ben Öztürk", XSS_NAME}
    assert att["Ben Öztürk"]["organization"] == "IHK Oberfranken"
    assert att["Ben Öztürk"]["last_seen"] < att["Anna Schmidt"]["last_seen"]
    assert all(a["intervals"] and isinstance(a["minutes"], int) for a in att.values())

    # markdown
    md = got["md"].text
    assert md.startswith("# Protokoll: Diskussionsforum")
    for text in (DECISION_PLENARY, DECISION_TOPIC, ACTION, QUESTION, NOTE_FINAL,
                 "Welches Projekt zuerst?", "Wie zufrieden sind Sie?", "Ben Öztürk",
                 "IHK Oberfranken", "15.05.2026", "## Beschlüsse", "## Aufgaben",
                 "## Anhang: Anwesenheit", "| Anna Schmidt | Förderantrag Glasfaser vorbereiten "
                 "| 15.05.2026 |", "| Glasfaser | 2 | 67 % |"):
        assert text in md, text
    assert "<script>" not in md and "\\<script\\>" in md
    assert md.index("**Beschlüsse**") < md.index("**Notizen**")  # decisions first per room

    # html: self-contained, German labels, same content, tables and SVG charts
    page = parse_html(got["html"].text)
    assert_inert(page)
    text = page.all_text
    for t in (DECISION_PLENARY, DECISION_TOPIC, ACTION, QUESTION, NOTE_FINAL, XSS_TEXT,
              XSS_NAME, "Protokoll", "Tagesordnung", "Anwesenheit", "Ben Öztürk"):
        assert t in text, t
    assert ["Anna Schmidt", ACTION, "15.05.2026"] == page.tables["m-actions"][1][:3]
    attendance_rows = {row[0]: row for row in page.tables["m-attendance"][1:]}
    assert attendance_rows["Ben Öztürk"][1] == "IHK Oberfranken"
    assert ["Glasfaser", "2", "67\u00a0%"] in page.tables["m-poll-table"]
    assert sum(1 for t, _ in page.tags if t == "svg") == 2
    assert sum(1 for t, a in page.tags if t == "rect" and a.get("fill") == "#2f5d8a") == 4
    assert not any(t == "link" or (t == "script") for t, _ in page.tags)  # self-contained
    assert "Glasfaser (2): Anna Schmidt, Ben Öztürk" in text  # who voted what (named)
    assert "Wer hat wie abgestimmt" in text
    en = await download(server, f"/api/events/{eid}/minutes.html?lang=en", headers=auth())
    assert "Minutes" in en.text and "Action items" in en.text and "Tagesordnung" not in en.text

    # pdf: text, page numbers, and a real page image
    pdf = tmp_path / "minutes.pdf"
    pdf.write_bytes(got["pdf"].content)
    assert got["pdf"].content.startswith(b"%PDF")
    pdf_text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                              text=True, check=True, timeout=30).stdout
    flat = " ".join(pdf_text.split())
    for t in (DECISION_PLENARY, ACTION, "Anna Schmidt", "Welches Projekt zuerst?",
              "Ben Öztürk", "Seite 1 von", "Anwesenheit"):
        assert t in flat, t
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True, timeout=30)
    [png] = list(tmp_path.glob("page*.png"))
    with Image.open(png) as im:
        lo, hi = im.convert("L").getextrema()
        assert im.size[0] > 200 and im.size[1] > 300
    assert lo < 128 < hi  # dark text on a white page, not blank

    # docx: real headings and tables
    doc = Document(io.BytesIO(got["docx"].content))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    for h in ("Protokoll", "Tagesordnung", "Beschlüsse", "Aufgaben", "Abstimmungen",
              "Breakout-Runden", "Anhang: Anwesenheit", "Welches Projekt zuerst?"):
        assert h in headings, (h, headings)
    cells = [[c.text for c in row.cells] for t in doc.tables for row in t.rows]
    assert ["Anna Schmidt", ACTION, "15.05.2026"] == next(
        r for r in cells if r[0] == "Anna Schmidt" and r[1] == ACTION)[:3]
    assert any(r[:2] == ["Ben Öztürk", "IHK Oberfranken"] for r in cells)
    assert any(r[:3] == ["Glasfaser", "2", "67\u00a0%"] for r in cells)
    paragraphs = "\n".join(p.text for p in doc.paragraphs)
    assert DECISION_PLENARY in paragraphs and XSS_TEXT in paragraphs

    # csv: attendance (organizer), polls (moderator token)
    r = await download(server, f"/api/events/{eid}/attendance.csv?lang=en", headers=auth())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(r.content.decode(
        "utf-8-sig")))}
    assert set(rows) == set(att)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d CES?T", rows["Ben Öztürk"]["last_seen"])
    assert rows["Anna Schmidt"]["minutes"] == str(att["Anna Schmidt"]["minutes"])
    assert rows[XSS_NAME]["organization"].startswith("'=")  # formula defused
    r = await download(server, f"/api/events/{eid}/attendance.csv", headers=auth())
    assert r.content.startswith(b"\xef\xbb\xbf") and "Name;Organisation;" in r.text
    r = await download(server, f"/api/events/{eid}/polls.csv?lang=en",
                       headers={"Authorization": f"Bearer {f['mod']['token']}"})
    assert r.status_code == 200
    prow = [x for x in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))
            if x["room"] == "Total"]
    assert {(x["option"], x["count"]) for x in prow if x["kind"] == "single"} == {
        ("Glasfaser", "2"), ("Coworking", "0"), (XSS_OPTION, "1")}


async def test_who_may_download_what(server: LiveServer) -> None:
    async with server.http() as http:
        ev = await create_event(http, topics=[{"title": "Geodaten"}])
        other = await create_event(http, title="Anderes Forum", topics=[])
        mod = await join(http, ev, "Moderation", moderator=True)
        part = await join(http, ev, "Teilnehmer")
        stranger = await join(http, other, "Fremd")
        base = f"/api/events/{ev['id']}"

        def bearer(tok: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tok}"}

        r = await http.get(f"{base}/minutes.md")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        r = await http.get(f"{base}/minutes.json", headers=bearer(part["token"]))
        assert r.status_code == 200 and r.json()["format_version"] == 1
        r = await http.get(f"{base}/minutes.md", params={"token": part["token"]})
        assert r.status_code == 200 and "Protokoll" in r.text
        r = await http.get(f"{base}/minutes.docx", params={"token": mod["token"]})
        assert r.status_code == 200 and r.content[:2] == b"PK"
        for path in ("attendance.csv", "polls.csv"):
            assert (await http.get(f"{base}/{path}", headers=bearer(part["token"]))
                    ).status_code == 401
            assert (await http.get(f"{base}/{path}", params={"token": part["token"]})
                    ).status_code == 401
            assert (await http.get(f"{base}/{path}", headers=bearer(mod["token"]))
                    ).status_code == 200
        for path in ("minutes.md", "attendance.csv"):
            r = await http.get(f"{base}/{path}", headers=bearer(stranger["token"]))
            assert r.status_code == 401
        r = await http.get(f"{base}/minutes.md", headers=bearer("x" * 5000))
        assert r.status_code == 401
        for fmt in ("xlsx", "exe", "md.bak"):
            r = await http.get(f"{base}/minutes.{fmt}", headers=auth())
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await http.get("/api/events/nope/minutes.md", headers=auth())
        assert r.status_code == 404
        assert (await http.post(f"{base}/end", headers=bearer(mod["token"]))).status_code == 401
        assert (await http.post("/api/events/nope/end", headers=auth())).status_code == 404

        # the review page: friendly 401 without a token, the record with one
        r = await http.get(f"/events/{ev['id']}/review")
        assert r.status_code == 401 and "text/html" in r.headers["content-type"]
        assert "Kein Zugang" in r.text
        r = await http.get(f"/events/{ev['id']}/review", params={"token": stranger["token"]})
        assert r.status_code == 401
        r = await http.get("/events/nope/review")
        assert r.status_code == 404


async def test_review_page_shows_the_record_read_only(server: LiveServer) -> None:
    async with server.http() as http:
        ev = await create_event(http)
        mod = await join(http, ev, "Moderation Meier", moderator=True)
        part = await join(http, ev, "Anna Schmidt", organization="Stadt Hof")
    cm = await Client.connect(server, ev["id"], mod["token"])
    ca = await Client.connect(server, ev["id"], part["token"])
    for kind, text, extra in (("decision", DECISION_PLENARY, {}),
                              ("action", ACTION, {"assignee": "Anna", "due": "2026-05-15"}),
                              ("note", XSS_TEXT, {})):
        r = await ca.request("minutes.add", room=ev["plenary_room"], kind=kind, text=text,
                             **extra)
        assert r["type"] == "ok", r
    await cm.close()
    await ca.close()
    async with server.http() as http:
        r = await http.get(f"/events/{ev['id']}/review", params={"token": part["token"]})
        assert r.status_code == 200
        assert "script-src 'self'" in r.headers["content-security-policy"]
        page = parse_html(r.text)
        assert_inert(page)
        assert [a["src"] for t, a in page.tags if t == "script"] == ["/static/js/review.js"]
        text = page.all_text
        for t in (DECISION_PLENARY, ACTION, XSS_TEXT, "Tagesordnung", "Anwesenheit",
                  "Anna Schmidt", "Stadt Hof"):
            assert t in text, t
        assert ["Anna", ACTION, "15.05.2026"] == page.tables["m-actions"][1][:3]
        assert ("input", ) == next((t,) for t, a in page.tags if a.get("id") == "review-search")
        links = [a["href"] for t, a in page.tags if t == "a" and a.get("data-format")]
        assert len(links) == 5 and not any("attendance.csv" in h for h in links)
        for href in links:  # every download works with the same token
            assert (await http.get(href)).status_code == 200, href
        js = await http.get("/static/js/review.js")
        css = await http.get("/static/css/review.css")
        assert js.status_code == 200 and css.status_code == 200
        r = await http.get(f"/events/{ev['id']}/review",
                           params={"token": mod["token"], "lang": "en"})
        assert r.status_code == 200 and "Review the minutes" in r.text
        assert "attendance.csv" in r.text


def md_unescape(md: str) -> str:
    return re.sub(r"\\([\\`*_\[\]<>|~&#+\-=.!:)])", r"\1", md)


async def test_user_text_is_inert_in_every_format(server: LiveServer, tmp_path: Path) -> None:
    """The XSS corpus of tests/support/xss.py (and spreadsheet formulas) in every place that
    reaches the minutes: event title, description, topics, speakers, names, organizations,
    minutes (text, assignee), answered Q&A questions, breakout room titles, poll questions,
    options and text answers. Every format keeps it as the characters typed and nothing
    more: html parsed (no element or attribute from it), md escaped, pdf and docx text,
    json values, csv with formulas defused."""
    n = len(SHORT)
    topics = [{"title": "<i>Thema</i>"}] + [{"title": SHORT[i], "speaker": SHORT[i + 1]}
                                           for i in (0, 7)]
    async with server.http() as http:
        r = await http.post("/api/events", headers=auth(), json={
            "title": SHORT[5], "description": LONG, "topics": topics})
        assert r.status_code == 201, r.text
        ev = r.json()
        mod = await join(http, ev, XSS_NAME, moderator=True, organization="@SUM(1+1)")
        people = [await join(http, ev, SHORT[i],
                             organization=FORMULAS[i] if i < len(FORMULAS) else SHORT[(i + 3) % n])
                  for i in range(n)]
    plenary = ev["plenary_room"]
    # nobody reads the frames that pile up: a short close timeout, closed all at once
    cm = await Client.connect(server, ev["id"], mod["token"], close_timeout=0.5)
    clients = [await Client.connect(server, ev["id"], p["token"], close_timeout=0.5)
               for p in people]
    r = await cm.request("minutes.add", room=plenary, kind="action", text=XSS_TEXT,
                         assignee=XSS_NAME)
    assert r["type"] == "ok"
    replies = await cm.requests(
        {"type": "minutes.add", "room": plenary, "kind": "note", "text": LONG},
        *({"type": "minutes.add", "room": plenary, "kind": "action", "text": SHORT[i],
           "assignee": SHORT[(i + 1) % n]} for i in range(n)),
        {"type": "poll.create", "scope": "event", "question": "<svg onload=alert(3)>",
         "kind": "single", "options": [XSS_OPTION, "ok"], "anonymous": False},
        {"type": "poll.create", "scope": "event", "question": SHORT[7], "kind": "single",
         "options": SHORT + FORMULAS[:2], "anonymous": False},
        {"type": "poll.create", "scope": "event", "question": SHORT[3], "kind": "text",
         "anonymous": False},
        {"type": "breakouts.open", "assign": "auto", "rooms": [{"title": t} for t in SHORT[:4]]})
    assert all(x["type"] == "ok" for x in replies), replies
    xss_poll, single, text_poll = [e["poll"] for e in cm.of("poll.opened")]
    assert (await cm.request("poll.vote", poll=xss_poll["id"], choice=0))["type"] == "ok"
    asked = await asyncio.gather(*(c.requests(
        {"type": "poll.vote", "poll": single["id"], "choice": i},
        {"type": "poll.vote", "poll": text_poll["id"], "text": SHORT[(i + 7) % n]},
        {"type": "question.ask", "text": SHORT[i]}) for i, c in enumerate(clients)))
    assert all(x["type"] == "ok" for rs in asked for x in rs), asked
    await cm.wait_for(lambda e: e["type"] == "question.asked"
                      and e["question"]["text"] == SHORT[-1])
    questions = [e["question"]["id"] for e in cm.of("question.asked")]
    replies = await cm.requests(
        *({"type": "question.set", "question": q, "status": "answered"} for q in questions),
        {"type": "questions.to_minutes"}, {"type": "breakouts.close"},
        *({"type": "poll.close", "poll": p["id"]} for p in (xss_poll, single, text_poll)))
    assert all(x["type"] == "ok" for x in replies), replies
    await asyncio.gather(*(c.close() for c in (cm, *clients)))

    async with server.http() as http:
        base = f"/api/events/{ev['id']}"
        html = (await http.get(f"{base}/minutes.html", headers=auth())).text
        page = parse_html(html)
        assert_inert(page)
        assert_no_payload_markup(page)
        assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert XSS_TEXT in page.all_text and XSS_NAME in page.all_text
        for text in [*SHORT, LONG, *FORMULAS, "<i>Thema</i>"]:
            assert text in page.all_text, text
        assert "&amp;lt;script&amp;gt;" in html  # already-escaped text is escaped again
        assert "<svg onload" not in html and "<i>" not in html

        md = (await http.get(f"{base}/minutes.md", headers=auth())).text
        assert re.search(r"(?<!\\)[<>]", md) is None  # every angle bracket escaped
        assert "\\<script\\>alert(1)\\</script\\>" in md
        assert re.search(r"(?<!\\)\]\(", md) is None  # no [text](link) from user text
        plain = md_unescape(md)
        for text in [*SHORT, LONG, *FORMULAS]:
            assert " ".join(text.split()) in plain, text

        raw = (await http.get(f"{base}/minutes.json", headers=auth())).text
        assert "<" not in raw and ">" not in raw
        model = json.loads(raw)
        assert model["event"]["title"] == SHORT[5] and model["event"]["description"] == LONG
        assert [(a["text"], a["assignee"]) for a in model["actions"]][:n + 1] == [
            (XSS_TEXT, XSS_NAME), *((SHORT[i], SHORT[(i + 1) % n]) for i in range(n))]
        by_q = {p["question"]: p for p in model["polls"]}
        assert [o["label"] for o in by_q[SHORT[7]]["options"]] == SHORT + FORMULAS[:2]
        assert sorted(by_q[SHORT[3]]["answers"]) == sorted(SHORT)
        assert {a["name"] for a in model["attendance"]} >= set(SHORT)
        assert [r["title"] for r in model["breakout_rounds"][0]["rooms"]] == SHORT[:4]
        # answered Q&A questions under their own heading, each on its own
        assert {q["text"] for q in model["answered_questions"]} == set(SHORT)

        pdf = tmp_path / "minutes.pdf"
        pdf.write_bytes((await http.get(f"{base}/minutes.pdf", headers=auth())).content)
        flat = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                                       text=True, check=True, timeout=30).stdout.split())
        squeezed = flat.replace(" ", "")
        for text in SHORT + FORMULAS:  # lines wrap anywhere: compare without spaces
            if "\u202e" in text:  # the PDF text layer keeps visual order, not typed order
                continue
            assert text.replace(" ", "") in squeezed, text

        doc = Document(io.BytesIO((await http.get(f"{base}/minutes.docx",
                                                  headers=auth())).content))
        words = "\n".join([p.text for p in doc.paragraphs] + [
            c.text for t in doc.tables for row in t.rows for c in row.cells])
        for text in [*SHORT, LONG, *FORMULAS]:
            assert text in words, text

        table = (await http.get(f"{base}/attendance.csv?lang=en", headers=auth())
                 ).content.decode("utf-8-sig")
        orgs = {row["name"]: row["organization"] for row in csv.DictReader(io.StringIO(table))}
        assert orgs[XSS_NAME] == "'@SUM(1+1)"
        for i, formula in enumerate(FORMULAS):
            assert orgs[SHORT[i]] == "'" + formula
        assert set(orgs) >= set(SHORT)  # names come out as typed
        rows = list(csv.DictReader(io.StringIO(
            (await http.get(f"{base}/polls.csv?lang=en", headers=auth())).content.decode(
                "utf-8-sig"))))
        options = {row["option"] for row in rows if row["question"] == SHORT[7]}
        assert options == set(SHORT) | {"'" + f for f in FORMULAS[:2]}
        assert not any(v[:1] in ("=", "+", "-", "@") for row in rows for v in row.values()
                       if v)

        r = await http.get(f"/events/{ev['id']}/review", params={"token": auth()[
            "Authorization"][7:]})
        assert r.status_code == 200
        review = parse_html(r.text)
        assert_inert(review)
        # the record (the review forms above it bring their own textareas)
        assert_no_payload_markup(parse_html(r.text[r.text.index('id="review-record"'):]))
        for text in [*SHORT, LONG]:
            assert text in review.all_text, text


async def test_a_plenary_poll_is_placed_in_the_words_of_the_document(server: LiveServer) -> None:
    """The plenary is "Plenary" in the English minutes (a poll there said "Room: Plenum"),
    and one upvote is "1 upvote" (it said "1 upvotes")."""
    async with server.http() as http:
        ev = await create_event(http, topics=[])
        mod = await join(http, ev, "Mona", moderator=True)
        anna = await join(http, ev, "Anna")
    cm = await Client.connect(server, ev["id"], mod["token"])
    ca = await Client.connect(server, ev["id"], anna["token"])
    assert (await cm.request("question.ask", text="Wann kommt die Karte?"))["type"] == "ok"
    asked = await ca.wait_for(lambda e: e["type"] == "question.asked")
    assert (await ca.request("question.vote", question=asked["question"]["id"]))["type"] == "ok"
    assert (await cm.request("question.set", question=asked["question"]["id"],
                             status="answered"))["type"] == "ok"
    await ca.close()
    r = await cm.request("poll.create", scope="room", question="Weiter so?", kind="single",
                         options=["Ja", "Nein"], anonymous=False, results="live")
    assert r["type"] == "ok", r
    opened = await cm.wait_for(lambda e: e["type"] == "poll.opened")
    assert (await cm.request("poll.close", poll=opened["poll"]["id"]))["type"] == "ok"
    await cm.close()
    en = (await download(server, f"/api/events/{ev['id']}/minutes.md?lang=en", headers=auth())).text
    de = (await download(server, f"/api/events/{ev['id']}/minutes.md", headers=auth())).text
    assert "Room: Plenary" in en and "Plenum" not in en, en
    assert "1 upvote," in en and "upvotes" not in en, en
    assert "Raum: Plenum" in de and "1 unterstützende Person" in de, de
