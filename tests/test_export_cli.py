"""`python run.py export`: the minutes from the data dir of a stopped server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.live import Client, create_event, join
from tests.support.process import ROOT, spawn


def export(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "export", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


async def test_export_from_the_data_dir_of_a_stopped_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    sp = await spawn(data)
    try:
        async with sp.http() as http:
            ev = await create_event(http)
            mod = await join(http, ev, "Moderation Meier", moderator=True, organization="Stadt Hof")
            anna = await join(http, ev, "Anna Schmidt", organization="Landkreis Wunsiedel")
        cm = await Client.connect(sp, ev["id"], mod["token"])  # type: ignore[arg-type]
        ca = await Client.connect(sp, ev["id"], anna["token"])  # type: ignore[arg-type]
        r = await cm.request("minutes.add", room=ev["plenary_room"], kind="decision",
                             text="Glasfaser hat Vorrang")
        assert r["type"] == "ok"
        r = await ca.request("minutes.add", room=ev["plenary_room"], kind="action",
                             text="Antrag schreiben", assignee="Anna Schmidt", due="2026-06-01")
        assert r["type"] == "ok"
        await cm.request("poll.create", scope="event", question="Wann treffen wir uns?",
                         kind="single", options=["Mai", "Juni"], anonymous=False)
        opened = await cm.wait_for(lambda e: e["type"] == "poll.opened")
        await ca.request("poll.vote", poll=opened["poll"]["id"], choice=1)
        await cm.request("poll.close", poll=opened["poll"]["id"])
        await ca.close()  # Anna leaves; the moderator is still online when the server stops
        await cm.wait_for(lambda e: e["type"] == "participant.left")
    finally:
        assert sp.terminate() in (0, -15)  # uvicorn re-raises SIGTERM after a clean stop

    md = export(ev["id"], "--format", "md", "--data-dir", str(data))
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("# Protokoll: Diskussionsforum")
    for text in ("Glasfaser hat Vorrang", "| Anna Schmidt | Antrag schreiben | 01.06.2026 |",
                 "Wann treffen wir uns?", "| Juni | 1 | 100 % |", "Landkreis Wunsiedel",
                 "Moderation Meier"):
        assert text in md.stdout, text

    out = tmp_path / "out" / "minutes.json"
    js = export(ev["id"], "--format", "json", "--out", str(out), "--data-dir", str(data),
                "--lang", "en")
    assert js.returncode == 0, js.stderr
    m = json.loads(out.read_text(encoding="utf-8"))
    assert m["format_version"] == 1 and m["event"]["id"] == ev["id"]
    assert [d["text"] for d in m["decisions"]] == ["Glasfaser hat Vorrang"]
    assert m["actions"][0]["assignee"] == "Anna Schmidt" and m["actions"][0]["due"] == "2026-06-01"
    assert m["polls"][0]["options"] == [{"label": "Mai", "count": 0, "share": 0.0},
                                        {"label": "Juni", "count": 1, "share": 1.0}]
    att = {a["name"]: a for a in m["attendance"]}
    assert set(att) == {"Moderation Meier", "Anna Schmidt"}
    # still online at the stop: present until the last thing the journal recorded
    assert all(a["last_seen"] for a in att.values())

    docx = tmp_path / "minutes.docx"
    r = export(ev["id"], "-f", "docx", "-o", str(docx), "--data-dir", str(data))
    assert r.returncode == 0 and docx.read_bytes()[:2] == b"PK"

    table = export(ev["id"], "-f", "attendance.csv", "--data-dir", str(data))
    assert table.returncode == 0 and table.stdout.startswith("\ufeffName;Organisation;")
    xlsx = tmp_path / "t.xlsx"
    r = export(ev["id"], "-f", "tables.xlsx", "-o", str(xlsx), "--data-dir", str(data))
    assert r.returncode == 0 and xlsx.read_bytes()[:2] == b"PK"

    missing = export("no-such-event", "--format", "md", "--data-dir", str(data))
    assert missing.returncode == 2 and "no-such-event" in missing.stderr and not missing.stdout
    empty = export("x", "--format", "md", "--data-dir", str(tmp_path / "nothing"))
    assert empty.returncode == 2 and not (tmp_path / "nothing").exists()
    bad = export(ev["id"], "--format", "xlsx", "--data-dir", str(data))
    assert bad.returncode == 2  # argparse: invalid choice
