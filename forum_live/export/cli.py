"""`python run.py export EVENT_ID --format md|html|pdf|docx|json|attendance.csv|polls.csv|tables.xlsx
[--out FILE] [--lang de|en]`: the minutes
of one event from the data dir, without a running server.

Reads the journal (and the sealed ballot box) and folds it, exactly as a server start
would, but writes nothing back: whoever the journal still shows online (the server was
stopped or killed) is counted as present until the last recorded moment.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Callable

from ..config import settings_from_env
from ..domain import setup
from ..domain.context import Context
from ..domain.model import EventState
from ..store.sqlite import SqliteStore
from . import tables, versions
from .formats import FORMATS

TABLES: dict[str, Callable[[EventState, str], str | bytes]] = {
    "attendance.csv": tables.attendance_csv, "polls.csv": tables.polls_csv,
    "tables.xlsx": tables.workbook}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run.py export",
                                description="write the minutes of one event")
    p.add_argument("event_id")
    p.add_argument("--format", "-f", default="md", choices=[*FORMATS, *TABLES])
    p.add_argument("--out", "-o", type=Path, help="file to write (default: standard output)")
    p.add_argument("--data-dir", type=Path, help="the server's data dir (default ./data or "
                                                   "FORUM_DATA_DIR)")
    p.add_argument("--lang", choices=["de", "en"], default="de")
    return p.parse_args(argv)


async def load_state(db: Path, event_id: str) -> EventState | None:
    store = SqliteStore(db, synchronous="NORMAL")
    await store.open()
    try:
        if len(event_id) > 64 or await store.event_row(event_id) is None:
            return None
        state = EventState(id=event_id)
        last_at = ""
        async for e in store.journal(event_id):
            state.apply(e)
            last_at = e.at or last_at
        async for e in store.sealed(event_id):
            state.apply(e)
    finally:
        await store.close()
    if last_at:
        now = datetime.fromisoformat(last_at.replace("Z", "+00:00"))
        ctx = Context(now=now)
        for p in list(state.participants.values()):
            if p.online:  # in memory only: the journal stays as it is
                for e in setup.presence(state, ctx, p.id, False):
                    state.apply(e)
    return state


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    settings = settings_from_env(data_dir=args.data_dir)
    db = settings.db_path
    if not db.exists():
        print(f"no forum data at {db}", file=sys.stderr)
        return 2
    state = asyncio.run(load_state(db, args.event_id))
    if state is None:
        print(f"no event {args.event_id!r} in {db}", file=sys.stderr)
        return 2
    if args.format in TABLES:  # German tables (`;`) unless --lang en
        body: str | bytes = TABLES[args.format](state, args.lang)
    else:  # the current minutes: the last approved version if nothing changed since
        body = FORMATS[args.format].render(versions.current(state), args.lang)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, str):
            args.out.write_text(body, encoding="utf-8")
        else:
            args.out.write_bytes(body)
        print(f"wrote {args.out} ({args.format})", file=sys.stderr)
        return 0
    if isinstance(body, bytes):
        if sys.stdout.isatty():
            print(f"{args.format} is binary: use --out FILE", file=sys.stderr)
            return 2
        sys.stdout.buffer.write(body)
    else:
        sys.stdout.write(body)
    sys.stdout.flush()
    return 0
