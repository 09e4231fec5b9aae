"""The statements SQLite and PostgreSQL share, written here once with `?` parameters.

`Sql` holds them in one dialect: PostgreSQL's parameters are numbered ($1, $2, ...) when
it is built, and what the two write differently comes in as arguments (an insert that
leaves a row already there alone, the probe's write, the tables an erasure empties).
Statements that truly differ (the reads' shapes, a reseal, migrations) stay with each store.
"""

from __future__ import annotations

from importlib import resources
from typing import Sequence

BALLOT_TABLES = {  # table -> its columns (the key first)
    "poll_voters": ("event_id", "poll_id", "participant_id"),
    "poll_counts": ("event_id", "poll_id", "room", "option", "n"),
    "poll_texts": ("event_id", "poll_id", "shuffle", "room", "text"),
}


def migration_files(folder: str) -> list[tuple[int, str]]:
    """(number, sql) for every file `folder`/NNN_name.sql of this package, in order."""
    out = []
    for f in resources.files("forum_live.store").joinpath(folder).iterdir():
        if f.name.endswith(".sql"):
            out.append((int(f.name.split("_", 1)[0]), f.read_text(encoding="utf-8")))
    return sorted(out)


class Sql:
    """Every statement both stores make, in one dialect."""

    def __init__(self, *, numbered: bool, ignore: str, probe: str,
                 erased: Sequence[str]) -> None:
        """`numbered`: parameters as $1, $2, ... (PostgreSQL), else as written (?).
        `ignore`: an insert that leaves a row whose key is taken as it is, with {} for
        "table (columns) VALUES (...)". `probe`: the probe's one-row write (one ? for
        its value). `erased`: the tables whose rows of an event its erasure deletes
        (the events row goes last)."""
        self.numbered = numbered
        q = self._in_dialect
        self.probe = q(probe)
        self.insert_entry = q('INSERT INTO journal (event_id, seq, kind, at, room, audience, '
                              '"to", actor, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        self.create_event = q("INSERT INTO events (id, title, created_at, participant_key, "
                              "moderator_key, status) VALUES (?, ?, ?, ?, ?, ?)")
        self.set_status = q("UPDATE events SET status = ? WHERE id = ?")
        self.revoke_tokens = q("UPDATE events SET participant_key = ?, moderator_key = ?, "
                               "token_gen = token_gen + 1 WHERE id = ?")
        self.erase = [q(f"DELETE FROM {table} WHERE event_id = ?") for table in erased]
        self.erase.append(q("DELETE FROM events WHERE id = ?"))
        # the ballot box: nothing that links voter and choice (no time, no serial id; a
        # free-text answer is keyed by a random value)
        self.add_voter = q(ignore.format("poll_voters (event_id, poll_id, participant_id) "
                                         "VALUES (?, ?, ?)"))
        self.count_ballot = q("INSERT INTO poll_counts (event_id, poll_id, room, option, n) "
                              "VALUES (?, ?, ?, ?, 1) ON CONFLICT (event_id, poll_id, room, "
                              "option) DO UPDATE SET n = poll_counts.n + 1")
        self.add_text = q("INSERT INTO poll_texts (event_id, poll_id, shuffle, room, text) "
                          "VALUES (?, ?, ?, ?, ?)")
        self.save_snapshot = q("INSERT INTO snapshots (event_id, seq, data) VALUES (?, ?, ?) "
                               "ON CONFLICT (event_id) DO UPDATE SET seq = excluded.seq, "
                               "data = excluded.data WHERE excluded.seq >= snapshots.seq")
        self.save_minutes_file = q(ignore.format("minutes_files (event_id, sha256, data) "
                                                 "VALUES (?, ?, ?)"))
        # reads
        self.head = q("SELECT COALESCE(MAX(seq), 0) FROM journal WHERE event_id = ?")
        self.event_row = q("SELECT * FROM events WHERE id = ?")
        self.sealed = [  # the ballot box as the fold takes it (batch.sealed_entry)
            ("poll.voter", q("SELECT poll_id, participant_id FROM poll_voters "
                             "WHERE event_id = ?")),
            ("poll.tally", q("SELECT poll_id, room, option, n FROM poll_counts "
                             "WHERE event_id = ?")),
            ("poll.ballot", q("SELECT poll_id, room, text FROM poll_texts WHERE event_id = ? "
                              "ORDER BY shuffle")),
        ]
        self.load_snapshot = q("SELECT seq, data FROM snapshots WHERE event_id = ?")
        self.load_minutes_file = q("SELECT data FROM minutes_files WHERE event_id = ? "
                                   "AND sha256 = ?")

    def _in_dialect(self, sql: str) -> str:
        """`sql` with its ? parameters numbered if the dialect wants that. The statements
        here hold no string literal (where a ? would be no parameter); one that did would
        fail here, at import."""
        if "'" in sql or "--" in sql:
            raise ValueError(f"a shared statement holds a literal or comment: {sql}")
        if not self.numbered:
            return sql
        first, *rest = sql.split("?")
        return first + "".join(f"${n}{part}" for n, part in enumerate(rest, 1))
