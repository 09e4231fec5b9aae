"""The PostgreSQL store beyond the shared contract (tests/test_store_contract.py runs that on
PostgreSQL too): migrations, a second process writing the same event, a lost connection,
a database that refuses connections, the ballot box at rest, and a real server on it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from forum_live.app import make_store
from forum_live.config import settings_from_env
from forum_live.domain.entries import Audience, Entry
from forum_live.store import StoreConflict, StoreUnavailable
from forum_live.store.postgres import PostgresStore, migrations
from forum_live.store.sqlite import SqliteStore
from tests.support.live import Client, create_event, join, start_server
from tests.support.pg import PgServer, sql


def entry(seq: int, kind: str = "chat.message", **data: object) -> Entry:
    return Entry(kind, {"n": seq, **data}, "2024-05-06T09:00:00.000Z", room="r1",
                 audience=Audience.ROOM, actor="p1", seq=seq)


def row(event_id: str) -> dict[str, str]:
    return {"id": event_id, "title": f"Forum {event_id}", "created_at": "2024-05-06T09:00:00Z",
            "participant_key": "pk", "moderator_key": "mk", "status": "open"}


async def seqs(store: PostgresStore, event_id: str) -> list[int]:
    return [e.seq async for e in store.journal(event_id)]


async def filenode(url: str, table: str) -> int:
    """The table's file on disk: a rewrite (VACUUM FULL) gives it a new one."""
    return int((await sql(url, "SELECT pg_relation_filenode($1::regclass)", table))[0][0])


def test_the_database_url_selects_postgresql_and_nothing_changes_without_it(
        tmp_path: Path) -> None:
    url = "postgresql://forum@127.0.0.1:5432/forum"
    s = settings_from_env({"FORUM_DATABASE_URL": url, "FORUM_DATA_DIR": str(tmp_path)})
    assert s.database_url == url and isinstance(make_store(s), PostgresStore)
    plain = settings_from_env({"FORUM_DATA_DIR": str(tmp_path)})
    assert plain.database_url is None and isinstance(make_store(plain), SqliteStore)
    flag = settings_from_env({}, database_url=url)  # run.py --database-url
    assert flag.database_url == url


async def test_migrations_run_once_even_when_two_processes_start_together(
        postgres: PgServer) -> None:
    url = postgres.new_database()
    a, b = PostgresStore(url), PostgresStore(url)
    await asyncio.gather(a.open(), b.open())  # the advisory lock serializes them
    assert [r[0] for r in await sql(url, "SELECT version FROM schema_version")] == [
        migrations()[-1][0]]
    await a.close()
    await b.close()
    again = PostgresStore(url)
    await again.open()  # nothing left to apply
    await again.close()
    # the ballot box has no time, serial or order column: only ids, counts, random keys
    cols = await sql(url, "SELECT table_name, column_name FROM information_schema.columns "
                          "WHERE table_name LIKE 'poll_%' ORDER BY table_name, ordinal_position")
    got: dict[str, list[str]] = {}
    for t, c in cols:
        got.setdefault(t, []).append(c)
    assert got == {"poll_counts": ["event_id", "poll_id", "room", "option", "n"],
                   "poll_texts": ["event_id", "poll_id", "shuffle", "room", "text"],
                   "poll_voters": ["event_id", "poll_id", "participant_id"]}


async def test_a_second_process_writing_the_same_seq_is_a_conflict_not_a_fork(
        postgres: PgServer) -> None:
    url = postgres.new_database()
    a, b = PostgresStore(url), PostgresStore(url)
    await a.open()
    await b.open()
    try:
        await a.create_event(row("ev1"), entry(1, "event.created"))
        await a.append("ev1", [entry(2)], expect=1)  # a's head cache: 2
        await b.append("ev1", [entry(3, by="b")], expect=2)  # b reads the head: 2
        with pytest.raises(StoreConflict):  # a still believes 2: the key refuses seq 3
            await a.append("ev1", [entry(3, by="a")], expect=2)
        await a.append("ev1", [entry(4, by="a")], expect=3)  # re-read after the conflict
        assert await seqs(a, "ev1") == [1, 2, 3, 4]
        assert [e.data.get("by") async for e in b.journal("ev1", after=2)] == ["b", "a"]
    finally:
        await a.close()
        await b.close()


async def test_a_lost_connection_is_reopened_and_a_refusing_database_is_unavailable(
        postgres: PgServer) -> None:
    url = postgres.new_database()
    database = url.rsplit("/", 1)[1]
    s = PostgresStore(url)
    await s.open()
    try:
        await s.create_event(row("ev1"), entry(1, "event.created"))
        kill = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{database}' AND pid <> pg_backend_pid()")
        postgres.psql(kill)
        await s.append("ev1", [entry(2)], expect=1)  # a fresh connection, nothing lost
        assert s.healthy
        assert await seqs(s, "ev1") == [1, 2]  # and the readers' pool reconnects too
        # the database refuses every connection: writes and reads fail as unavailable
        postgres.psql(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
        postgres.psql(kill)
        heard: list[int] = []
        with pytest.raises(StoreUnavailable):
            await s.append("ev1", [entry(3)], lambda: heard.append(3), expect=2)
        assert not s.healthy and heard == []
        with pytest.raises(StoreUnavailable):
            await s.probe()
        with pytest.raises(StoreUnavailable):
            await s.event_row("ev1")
        postgres.psql(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
        await s.probe()  # /healthz's probe finds the way back
        assert s.healthy
        await s.append("ev1", [entry(3)], expect=2)
        assert await seqs(s, "ev1") == [1, 2, 3]
    finally:
        postgres.psql(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
        await s.close()


async def test_unreachable_at_start_is_unavailable() -> None:
    from tests.support.pg import free_port
    s = PostgresStore(f"postgresql://forum@127.0.0.1:{free_port()}/nothing")
    with pytest.raises(StoreUnavailable):
        await s.open()


async def test_reseal_leaves_no_arrival_order_in_the_ballot_box(postgres: PgServer) -> None:
    url = postgres.new_database()
    s = PostgresStore(url)
    await s.open()
    try:
        await s.create_event(row("ev1"), entry(1, "event.created"))
        for i in range(12):  # one commit per ballot: every row its own transaction id
            await s.append("ev1", [
                Entry("poll.voter", {"poll": "p1", "participant": f"v{i:02d}"}, "", sealed=True),
                Entry("poll.ballot", {"poll": "p1", "room": "r1", "keys": [str(i % 3)],
                                      "text": f"idee {i}"}, "", sealed=True)], expect=1)
        query = ("SELECT count(DISTINCT xmin::text) FROM {t} WHERE poll_id = 'p1'")
        assert (await sql(url, query.format(t="poll_voters")))[0][0] == 12
        old_keys = {r[0] for r in await sql(url, "SELECT shuffle FROM poll_texts")}
        before = sorted([(e.kind, sorted(e.data.items())) async for e in s.sealed("ev1")
                         if e.kind != "poll.ballot"])
        tables = ("poll_voters", "poll_counts", "poll_texts")
        files = {t: await filenode(url, t) for t in tables}
        assert await s.reseal("ev1", ["p1"]) == 1
        for t in ("poll_voters", "poll_counts", "poll_texts"):  # one transaction wrote all
            assert (await sql(url, query.format(t=t)))[0][0] == 1, t
        order = [r[0] for r in await sql(url, "SELECT participant_id FROM poll_voters "
                                              "ORDER BY ctid")]
        assert sorted(order) == [f"v{i:02d}" for i in range(12)]
        # the old row versions are gone (VACUUM FULL): each table is a new file, and its
        # pages hold no dead tuple (pgstattuple reads them; pg_stat_user_tables' n_dead_tup
        # reaches the statistics late, so it is no proof either way)
        await sql(url, "CREATE EXTENSION IF NOT EXISTS pgstattuple")
        for t in tables:
            assert await filenode(url, t) != files[t], t
            dead = await sql(url, f"SELECT dead_tuple_count FROM pgstattuple('{t}')")
            assert dead[0][0] == 0, t
        assert not old_keys & {r[0] for r in await sql(url, "SELECT shuffle FROM poll_texts")}
        after = sorted([(e.kind, sorted(e.data.items())) async for e in s.sealed("ev1")
                        if e.kind != "poll.ballot"])
        assert after == before  # same voters, same counts
        texts = sorted([e.data["text"] async for e in s.sealed("ev1") if e.kind == "poll.ballot"])
        assert texts == sorted(f"idee {i}" for i in range(12))
    finally:
        await s.close()


async def test_a_server_on_postgresql_keeps_its_journal_across_a_restart(
        postgres: PgServer, tmp_path: Path) -> None:
    url = postgres.new_database()
    server = await start_server(tmp_path / "d", database_url=url)
    try:
        async with server.http() as http:
            ev = await create_event(http)
            mod = await join(http, ev, "Mia", moderator=True)
            anna = await join(http, ev, "Anna")
            bernd = await join(http, ev, "Bernd")
        room = ev["plenary_room"]
        cm = await Client.connect(server, ev["id"], mod["token"])
        a = await Client.connect(server, ev["id"], anna["token"])
        b = await Client.connect(server, ev["id"], bernd["token"])
        said = await a.request("chat.send", room=room, text="Guten Morgen aus Postgres")
        assert said["type"] == "ok"
        heard = await b.wait_for(lambda e: e["type"] == "chat.message")
        assert heard["seq"] == said["seq"] and heard["message"]["text"] == "Guten Morgen aus Postgres"
        await cm.request("poll.create", scope="event", question="Q", kind="single",
                         options=["ja", "nein"], anonymous=True)
        poll = (await cm.wait_for(lambda e: e["type"] == "poll.opened"))["poll"]["id"]
        for c, choice in ((a, 0), (b, 1), (cm, 0)):
            assert (await c.request("poll.vote", poll=poll, choice=choice))["type"] == "ok"
        await b.request("ping")
        mark = b.last_seq
        for c in (a, b, cm):
            await c.close()
    finally:
        await server.stop()
    assert not (tmp_path / "d" / "forum.db").exists()  # nothing went to SQLite

    # the journal is in PostgreSQL, dense, and the ballot box holds no voter's choice
    rows = await sql(url, "SELECT seq, kind, data FROM journal WHERE event_id = $1 "
                          "ORDER BY seq", ev["id"])
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert any("Guten Morgen aus Postgres" in r[2] for r in rows)
    assert not any(r[1] in ("poll.voter", "poll.ballot") for r in rows)
    head = rows[-1][0]
    assert head >= mark

    server = await start_server(tmp_path / "d", database_url=url)  # a new process, same data
    try:
        b2 = await Client.connect(server, ev["id"], bernd["token"], resume_from=mark)
        assert b2.ready is not None and b2.ready["resumed"] is True
        await b2.request("ping")
        assert [e["seq"] for e in b2.events] == list(range(mark + 1, b2.last_seq + 1))
        a2 = await Client.connect(server, ev["id"], anna["token"])
        state = a2.ready["state"]  # type: ignore[index]
        assert "Guten Morgen aus Postgres" in [m["text"] for m in state["chat"]]
        again = await a2.request("chat.send", room=room, text="nach dem Neustart")
        assert again["type"] == "ok" and again["seq"] > head  # the journal goes on
        got = await b2.wait_for(lambda e: e["type"] == "chat.message"
                                and e["message"]["text"] == "nach dem Neustart")
        assert got["seq"] == again["seq"]
        distinct = "SELECT count(DISTINCT xmin::text) FROM poll_voters WHERE poll_id = $1"
        assert (await sql(url, distinct, poll))[0][0] == 3  # open: one commit per vote
        twice = await a2.request("poll.vote", poll=poll, choice=1)
        assert twice["code"] == "conflict"  # the ballot box remembers who took part
        cm2 = await Client.connect(server, ev["id"], mod["token"])
        assert (await cm2.request("poll.close", poll=poll))["type"] == "ok"
        final = await cm2.wait_for(lambda e: e["type"] == "poll.results"
                                   and e["poll"] == poll and e["final"])
        assert final["counts"] == [2, 1]
        # closed: the ballot box is resealed (one transaction id, no arrival order)
        for _ in range(100):
            if (await sql(url, distinct, poll))[0][0] == 1:
                break
            await asyncio.sleep(0.05)
        assert (await sql(url, distinct, poll))[0][0] == 1
        for c in (a2, b2, cm2):
            await c.close()
    finally:
        await server.stop()
