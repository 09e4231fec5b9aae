"""Issue 16: "a frozen version downloads the same bytes forever". The approval renders
every format in every language once; the journal's `minutes.approved` names each file's
SHA-256 and the store keeps the bytes, so a renderer that changes afterwards (here: a
label, changed in this process, where the real server runs) does not change a single byte
of version N. GDPR erasure of the event removes the kept bytes. Against SQLite and
PostgreSQL."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest

from forum_live.export import markdown, versions, view
from tests.support.live import LiveServer, auth, start_server
from tests.support.pg import PgServer
from tests.test_minutes_protokoll import forum

FORMATS = ("md", "html", "json", "docx", "pdf")
LANGS = ("de", "en")


class Kit:
    def __init__(self, server: LiveServer, forget: Callable[[str], None]) -> None:
        self.server = server
        self.forget = forget  # lose one kept file, from outside (as a partial restore)


@pytest.fixture(params=["sqlite", "postgres"])
async def kit(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Kit]:
    url = None
    if request.param == "postgres":
        pg: PgServer = request.getfixturevalue("postgres")
        url = pg.new_database()
    s = await start_server(tmp_path / "data", database_url=url)

    def forget(digest: str) -> None:
        sql = f"DELETE FROM minutes_files WHERE sha256 = '{digest}'"
        if url is None:
            with sqlite3.connect(s.settings.data_dir / "forum.db") as db:
                db.execute(sql)
        else:
            pg.psql(sql, url.rsplit("/", 1)[1])
    try:
        yield Kit(s, forget)
    finally:
        await s.stop()


async def downloads(server: LiveServer, eid: str, **params: str) -> dict[tuple[str, str], Any]:
    out = {}
    async with server.http() as http:
        for lang in LANGS:
            for fmt in FORMATS:
                r = await http.get(f"/api/events/{eid}/minutes.{fmt}", headers=auth(),
                                   params={"lang": lang, **params})
                assert r.status_code == 200, (fmt, lang, r.text[:200])
                out[(lang, fmt)] = r
    return out


async def test_a_frozen_version_keeps_its_bytes_when_a_renderer_changes(
        kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    server = kit.server
    f = await forum(server)
    eid = f["ev"]["id"]
    base = f"/api/events/{eid}"
    async with server.http() as http:
        r = await http.post(f"{base}/minutes/approve", headers=auth(), json={"by": "Dr. Landrat"})
        assert r.status_code == 201, r.text
        files = r.json()["files"]
    assert sorted(files) == sorted(LANGS) and all(sorted(files[x]) == sorted(FORMATS)
                                                  for x in LANGS)
    # the journal is the truth: the approval entry names the digest of every file
    [approved] = [e async for e in server.forum.store.journal(eid)
                  if e.kind == "minutes.approved"]
    assert approved.data["version"] == 1 and approved.data["files"] == files

    first = await downloads(server, eid, version="1")
    for (lang, fmt), resp in first.items():
        assert hashlib.sha256(resp.content).hexdigest() == files[lang][fmt], (lang, fmt)
        assert resp.headers["etag"] == f'"{files[lang][fmt]}"'
        assert "x-minutes-rerendered" not in resp.headers
    assert b"# Protokoll: " in first[("de", "md")].content

    # a later release renders differently: the title label changes in every format
    original = view.labels

    def changed(lang: str) -> dict[str, str]:
        return view._Labels({**original(lang), "title": "Niederschrift"})
    monkeypatch.setattr(view, "labels", changed)
    rt = await server.forum.runtime(eid)
    rerendered = markdown.render(versions.frozen(rt.state, 1), "de")
    assert "# Niederschrift: " in rerendered  # the change is real: a new rendering differs
    assert rerendered.encode() != first[("de", "md")].content

    again = await downloads(server, eid, version="1")
    for key, resp in again.items():
        assert resp.content == first[key].content, key
        assert hashlib.sha256(resp.content).hexdigest() == files[key[0]][key[1]]
    # a kept file lost from the store: rendered anew; other bytes say so, the same bytes
    # (the renderer as it was) are served as the approved file and kept back
    md_digest = files["de"]["md"]
    kit.forget(md_digest)
    async with server.http() as http:
        lost = await http.get(f"{base}/minutes.md", headers=auth(), params={"version": "1"})
        assert lost.headers["x-minutes-rerendered"] == "1" and "# Niederschrift: " in lost.text
        monkeypatch.setattr(view, "labels", original)
        back = await http.get(f"{base}/minutes.md", headers=auth(), params={"version": "1"})
        assert back.content == first[("de", "md")].content
        assert "x-minutes-rerendered" not in back.headers
    assert await server.forum.store.load_minutes_file(eid, md_digest) == back.content
    monkeypatch.setattr(view, "labels", changed)

    # the current minutes are still version 1: the same kept bytes
    current = await downloads(server, eid)
    for key, resp in current.items():
        assert resp.content == first[key].content, key

    # an amendment makes a draft, rendered by today's code; version 1 stays as it was
    async with server.http() as http:
        r = await http.post(f"{base}/minutes/header", headers=auth(),
                            json={"distribution": "Kreistag, Presse"})
        assert r.status_code == 200, r.text
        draft = await http.get(f"{base}/minutes.md", headers=auth())
        assert "# Niederschrift: " in draft.text and "Entwurf" in draft.text
        one = await http.get(f"{base}/minutes.pdf", headers=auth(), params={"version": "1"})
        assert one.content == first[("de", "pdf")].content

    # GDPR erasure of the event takes the kept bytes with it
    async with server.http() as http:
        assert (await http.delete(base, headers=auth())).status_code == 200
    for lang in LANGS:
        for fmt in FORMATS:
            assert await server.forum.store.load_minutes_file(eid, files[lang][fmt]) is None


async def test_minutes_that_change_while_a_version_is_rendered_are_not_approved(
        server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The approval renders off the event loop; a correction that lands meanwhile must not
    be frozen under digests of bytes that do not show it: 409, nothing approved."""
    import asyncio

    f = await forum(server)
    eid = f["ev"]["id"]
    base = f"/api/events/{eid}"
    loop = asyncio.get_running_loop()
    render_all = versions.render_all

    async def amend() -> None:
        async with server.http() as http:
            r = await http.post(f"{base}/minutes/header", headers=auth(),
                                json={"location": "Rathaus Selb"})
            assert r.status_code == 200, r.text

    def racing(model: dict[str, Any]) -> dict[str, dict[str, bytes]]:
        asyncio.run_coroutine_threadsafe(amend(), loop).result(30)  # while rendering
        return render_all(model)
    monkeypatch.setattr(versions, "render_all", racing)
    async with server.http() as http:
        r = await http.post(f"{base}/minutes/approve", headers=auth(), json={})
        assert r.status_code == 409, r.text
        listing = (await http.get(f"{base}/minutes/versions", headers=auth())).json()
        assert [v["status"] for v in listing] == ["draft"]
        monkeypatch.setattr(versions, "render_all", render_all)
        r = await http.post(f"{base}/minutes/approve", headers=auth(), json={})
        assert r.status_code == 201 and r.json()["version"] == 1
        md = await http.get(f"{base}/minutes.md", headers=auth(), params={"version": "1"})
        assert "Rathaus Selb" in md.text


async def test_the_offline_export_writes_the_kept_bytes(
        server: LiveServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`run.py export` (no server) writes an approved version as the bytes kept at its
    approval, also after a renderer changed; an unknown version is refused."""
    import asyncio
    import subprocess
    import sys

    from forum_live.export import cli

    f = await forum(server)
    eid = f["ev"]["id"]
    async with server.http() as http:
        r = await http.post(f"/api/events/{eid}/minutes/approve", headers=auth(), json={})
        assert r.status_code == 201, r.text
        files = r.json()["files"]
        pdf = (await http.get(f"/api/events/{eid}/minutes.pdf", headers=auth(),
                              params={"version": "1"})).content
    await server.forum.store.flush()
    original = view.labels
    monkeypatch.setattr(view, "labels", lambda lang: view._Labels(
        {**original(lang), "title": "Niederschrift"}))
    kept: dict[str, bytes] = {}
    state = await cli.load_state(server.settings.db_path, eid, kept)
    assert state is not None and set(kept) == {d for per in files.values()
                                               for d in per.values()}
    for lang in LANGS:
        for fmt in FORMATS:
            body = await asyncio.to_thread(cli.minutes, state, kept, fmt, lang, 1)
            raw = body.encode() if isinstance(body, str) else body
            assert hashlib.sha256(raw).hexdigest() == files[lang][fmt], (lang, fmt)
    out = tmp_path / "v1.pdf"
    run = [sys.executable, "run.py", "export", eid, "--data-dir",
           str(server.settings.data_dir), "--format", "pdf", "--version", "1", "--out", str(out)]
    root = Path(__file__).resolve().parent.parent
    done = await asyncio.to_thread(subprocess.run, run, cwd=root, capture_output=True,
                                   text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == pdf
    run[run.index("--version") + 1] = "2"
    done = await asyncio.to_thread(subprocess.run, run, cwd=root, capture_output=True,
                                   text=True, timeout=120)
    assert done.returncode == 2 and "no approved version 2" in done.stderr
