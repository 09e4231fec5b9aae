"""Issue 16, the body of the Protokoll per agenda topic: each topic's polls (a topic named
when the poll was created, or the topic of its breakout rooms) are printed under that
topic, polls without a topic in the general section; the impulse's slides say which page
was shown when (local times, from the journal's `slides.shown`). In every format: JSON,
Markdown, HTML, PDF (text of the tagged PDF) and DOCX. Over the real server."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

from docx import Document

from forum_live.export.view import fmt_time
from tests.support.live import LiveServer, auth, connected, create_event, join
from tests.support.pdf import make_pdf
from tests.test_minutes_protokoll import get, ok

TOPIC_POLL = "Soll der Bus im Takt fahren?"
ROOM_POLL = "Wie viele Wohnungen braucht Selb?"
GENERAL_POLL = "Wie zufrieden sind Sie mit dem Forum?"


async def forum(server: LiveServer) -> dict[str, Any]:
    async with server.http() as http:
        ev = await create_event(http, topics=[{"title": "Mobilität", "speaker": "Dr. Kurz"},
                                              {"title": "Wohnen"}])
        mobility, housing = (t["id"] for t in ev["topics"])
        r = await http.post(f"/api/events/{ev['id']}/slides?topic={mobility}",
                            headers={**auth(), "Content-Type": "application/pdf"},
                            content=make_pdf(["Takt", "Linien", "Kosten"]))
        assert r.status_code == 201, r.text
        deck = r.json()["id"]
        mod = await join(http, ev, "Moderation Meier", moderator=True)
        anna = await join(http, ev, "Anna Schmidt")
        ben = await join(http, ev, "Ben Öztürk")
    eid = ev["id"]
    cm, ca, cb = await connected(server, ev, mod, anna, ben)

    # the impulse: pages 1, 2, 3, back to 2, then the slides are taken off the stage
    for page in (1, 2, 3, 2):
        await ok(cm, "slides.show", slides=deck, page=page)
        await ca.wait_for(lambda e, n=len(ca.of("slides.shown")): e["type"] == "slides.shown"
                          and len(ca.of("slides.shown")) > n)
    await ok(cm, "slides.show", slides=None)

    # a poll named for the topic, one in the breakout rooms of the other topic, a general one
    await ok(cm, "poll.create", scope="event", question=TOPIC_POLL, kind="single",
             options=["Ja", "Nein"], topic=mobility)
    await ok(cm, "breakouts.open", assign="auto", rooms=[{"topic": housing}])
    for c in (ca, cb):
        await c.wait_for(lambda e: e["type"] == "participant.moved")
    await ok(cm, "poll.create", scope="all_breakouts", question=ROOM_POLL, kind="rating",
             scale=[1, 5])
    await ok(cm, "poll.create", scope="event", question=GENERAL_POLL, kind="single",
             options=["gut", "schlecht"])
    opened = {}
    while len(opened) < 3:
        e = await ca.wait_for(lambda e: e["type"] == "poll.opened"
                              and e["poll"]["id"] not in opened)
        opened[e["poll"]["id"]] = e["poll"]
    ids = {p["question"]: pid for pid, p in opened.items()}
    await ok(ca, "poll.vote", poll=ids[TOPIC_POLL], choice=0)
    await ok(ca, "poll.vote", poll=ids[ROOM_POLL], rating=4)
    await ok(cb, "poll.vote", poll=ids[GENERAL_POLL], choice=0)
    for pid in ids.values():
        await ok(cm, "poll.close", poll=pid)
    await ok(cm, "breakouts.close")
    async with server.http() as http:
        assert (await http.post(f"/api/events/{eid}/end", headers=auth())).status_code == 200
    for c in (cm, ca, cb):
        await c.close()
    return {"ev": ev, "mobility": mobility, "housing": housing, "deck": deck, "ids": ids}


def between(text: str, start: str, end: str) -> str:
    i = text.index(start)
    j = text.index(end, i + len(start))
    return text[i:j]


async def test_polls_and_slides_under_their_topic_in_every_format(
        server: LiveServer, tmp_path: Path) -> None:
    f = await forum(server)
    eid, ids = f["ev"]["id"], f["ids"]
    base = f"/api/events/{eid}"

    m = (await get(server, f"{base}/minutes.json")).json()
    topics = {t["title"]: t for t in m["topics"]}
    assert topics["Mobilität"]["polls"] == [ids[TOPIC_POLL]]
    assert topics["Wohnen"]["polls"] == [ids[ROOM_POLL]]  # the topic of its rooms
    by_id = {p["id"]: p for p in m["polls"]}
    assert by_id[ids[TOPIC_POLL]]["topic"] == f["mobility"]
    assert by_id[ids[ROOM_POLL]]["topic"] == f["housing"]
    assert by_id[ids[GENERAL_POLL]]["topic"] is None
    [deck] = topics["Mobilität"]["slides"]
    assert deck["id"] == f["deck"] and deck["pages"] == 3
    shown = deck["shown"]
    assert [x["page"] for x in shown] == [1, 2, 3, 2]
    for a, b in zip(shown, shown[1:]):  # each page until the next one
        assert a["to"] == b["from"] and a["from"] <= a["to"]
    assert shown[-1]["to"] and shown[-1]["room"] is None  # until taken off, in the plenary
    assert topics["Wohnen"]["slides"] == []
    times = [f"{fmt_time(x['from'])}–{fmt_time(x['to'])}" for x in shown]

    md = (await get(server, f"{base}/minutes.md")).text
    topic_part = md[md.index("## Themen"):]
    first = between(topic_part, "### 1. Mobilität", "### 2. Wohnen")
    second = between(topic_part, "### 2. Wohnen", "\n## ")
    assert "#### Abstimmungen zum Thema" in first and f"##### {TOPIC_POLL}" in first
    assert ROOM_POLL not in first and GENERAL_POLL not in first
    assert f"##### {ROOM_POLL}" in second and "Mittelwert: 4" in second
    assert "_Gezeigte Folien_" in first
    for page, when in zip((1, 2, 3, 2), times):
        assert f"| „{deck['title']}“ (3 Seiten) | {page} | {when} |" in first, (page, when)
    general = md[md.index("## Abstimmungen\n"):]
    general = general[:general.index("\n## ", 5)]
    assert f"### {GENERAL_POLL}" in general
    assert TOPIC_POLL not in general and ROOM_POLL not in general
    assert "Abstimmungen zu einem Thema stehen beim jeweiligen Thema." in general
    en = (await get(server, f"{base}/minutes.md", lang="en")).text
    assert "#### Polls on this topic" in en and "_Slides shown_" in en
    assert f"| “{deck['title']}” (3 pages) | 1 |" in en

    html = (await get(server, f"{base}/minutes.html")).text
    topics_html = html[html.index('id="m-topics"'):html.index('id="m-decisions"')]
    first_html = between(topics_html, "1. Mobilität</h3>", "2. Wohnen</h3>")
    assert f"<h5>{TOPIC_POLL}</h5>" in first_html and "<svg" in first_html
    assert "<caption>Gezeigte Folien</caption>" in first_html
    for when in times:
        assert f"<td>{when}</td>" in first_html
    assert f"<h5>{ROOM_POLL}</h5>" in topics_html[topics_html.index("2. Wohnen</h3>"):]
    polls_html = html[html.index('id="m-polls"'):html.index('id="m-breakouts"')]
    assert f"<h3>{GENERAL_POLL}</h3>" in polls_html and TOPIC_POLL not in polls_html

    pdf = tmp_path / "p.pdf"
    pdf.write_bytes((await get(server, f"{base}/minutes.pdf")).content)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=30).stdout
    flat = " ".join(text.split())
    body = flat[flat.index("1. Mobilität", flat.index("Tagesordnung") + 40):]
    assert body.index(TOPIC_POLL) < body.index("2. Wohnen") < body.index(ROOM_POLL) \
        < body.index("Beschlüsse") < body.index(GENERAL_POLL)
    assert "Gezeigte Folien" in body[:body.index("2. Wohnen")]
    assert times[0] in body[:body.index("2. Wohnen")]

    doc = Document(io.BytesIO((await get(server, f"{base}/minutes.docx")).content))
    heads = [(p.style.name, p.text) for p in doc.paragraphs if p.style.name.startswith("Heading")]
    order = [t for _, t in heads]
    i1, i2 = order.index("1. Mobilität"), order.index("2. Wohnen")
    assert ("Heading 3", "Abstimmungen zum Thema") in heads[i1:i2]
    assert ("Heading 4", TOPIC_POLL) in heads[i1:i2]
    assert ("Heading 4", ROOM_POLL) in heads[i2:]
    general_at = order.index("Abstimmungen")
    assert ("Heading 2", GENERAL_POLL) in heads[general_at:]
    assert TOPIC_POLL not in order[general_at:]
    slides = next(t for t in doc.tables if t.rows[0].cells[0].text == "Folien")
    rows = [[c.text for c in r.cells] for r in slides.rows[1:]]
    assert rows == [[f"„{deck['title']}“ (3 Seiten)", str(p), w]
                    for p, w in zip((1, 2, 3, 2), times)]
    assert len(doc.inline_shapes) == 3  # every poll keeps its chart, wherever it stands
