"""`python run.py export EVENT_ID --format md|html|pdf|docx|json|attendance.csv|polls.csv|tables.xlsx
[--out FILE] [--lang de|en] [--version N]`: the minutes
of one event from the data dir, without a running server. An approved version (`--version
N`, or the current minutes while they are that version) is written as the bytes kept at
its approval, as the server serves them.

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
from ..domain.errors import NotFound, Unavailable
from ..domain.model import EventState
from ..domain.review import review_state
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
    p.add_argument("--version", type=int, help="an approved version (default: the current "
                                               "minutes)")
    return p.parse_args(argv)


async def load_state(db: Path, event_id: str, kept: dict[str, bytes] | None = None
                     ) -> EventState | None:
    """The folded event; with `kept`, also every file kept for its approved versions
    (digest -> bytes)."""
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
        if kept is not None:
            for v in review_state(state).versions:
                for digest in (d for per in v.files.values() for d in per.values()):
                    body = await store.load_minutes_file(event_id, digest)
                    if body is not None and versions.digest(body) == digest:
                        kept[digest] = body
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


def minutes(state: EventState, kept: dict[str, bytes], fmt: str, lang: str,
            version: int | None = None) -> str | bytes:
    """The current minutes (or approved `version`) in `fmt`: an approved version as the
    bytes kept at its approval, rendered from its frozen model only where none were kept."""
    model = versions.current(state) if version is None else versions.frozen(state, version)
    if model["approval"]["status"] == "approved":
        v = versions.version(state, model["approval"]["version"])
        body = kept.get(v.files.get(lang, {}).get(fmt) or "")
        if body is not None:  # text formats as text (UTF-8 on the way out: the same bytes)
            return body if FORMATS[fmt].heavy else body.decode("utf-8")
    return FORMATS[fmt].render(model, lang)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    settings = settings_from_env(data_dir=args.data_dir)
    db = settings.db_path
    if not db.exists():
        print(f"no forum data at {db}", file=sys.stderr)
        return 2
    kept: dict[str, bytes] = {}
    state = asyncio.run(load_state(db, args.event_id, kept))
    if state is None:
        print(f"no event {args.event_id!r} in {db}", file=sys.stderr)
        return 2
    if args.format in TABLES:  # German tables (`;`) unless --lang en
        body: str | bytes = TABLES[args.format](state, args.lang)
    else:  # the current minutes: the last approved version if nothing changed since
        try:
            body = minutes(state, kept, args.format, args.lang, args.version)
        except NotFound:
            print(f"no approved version {args.version} of {args.event_id!r}", file=sys.stderr)
            return 2
        except Unavailable as exc:  # e.g. PDF without Pango on this machine
            print(exc.message, file=sys.stderr)
            return 2
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
