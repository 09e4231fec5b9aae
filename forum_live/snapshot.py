"""Snapshots of an event's state: where reloading an unloaded event starts (issue 12).

A snapshot is a cache, never the truth: the pickled `EventState` at a committed seq. The
fold of an event is then snapshot + the journal after its seq + the ballot box, and that
is exactly the full fold (journal, then ballot box) because the snapshot holds nothing
that the ballot box gives: the voters, counts and texts of anonymous polls are emptied in
the snapshot (as a fold of the journal alone leaves them) and folded anew from the ballot
box after the tail. No journaled entry reads or writes those fields, so where they are
folded makes no difference. (It also keeps the ballot box's promise: no snapshot holds
anonymous answers in the order they came.)

A snapshot that does not fit this code is ignored and the journal is folded from the
start: another format, other domain modules (a fingerprint of their source), or limits
that shape the state (chat history per room, the presence threshold). The blob comes
from our own database, the same trust as the journal; it is never taken from a client.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections import Counter
from dataclasses import fields
from pathlib import Path
from typing import Any

from .config import Limits
from .domain.model import EventState

log = logging.getLogger(__name__)

FORMAT = 1


def _fingerprint() -> str:
    """The source of every module that folds entries: a change of any makes old
    snapshots unusable (the fold they were made with may differ)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    try:
        files = sorted([*(root / "domain").glob("*.py"), *(root / "media").glob("state.py")])
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    except OSError:  # no source to read: never trust a snapshot
        return "unknown"
    return h.hexdigest()[:16]


FINGERPRINT = _fingerprint()


def _shape(limits: Limits) -> tuple[int, int]:
    return limits.chat_history, limits.presence_broadcast_max


def encode(state: EventState, limits: Limits) -> bytes:
    """The state without what the ballot box holds, pickled. Synchronous: the state does
    not change while it runs."""
    saved: list[tuple[Any, Any, Any, Any, Any]] = []
    try:
        for poll in state.polls.values():
            if poll.anonymous:
                saved.append((poll, poll.voters, poll.counts, poll.texts, poll.room_ballots))
                poll.voters, poll.counts, poll.texts = set(), {}, {}
                poll.room_ballots = Counter()
        return pickle.dumps((FORMAT, FINGERPRINT, _shape(limits), state.seq, state),
                            protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        for poll, voters, counts, texts, room_ballots in saved:
            poll.voters, poll.counts, poll.texts, poll.room_ballots = (voters, counts, texts,
                                                                       room_ballots)


def decode(blob: bytes, seq: int, fresh: EventState, limits: Limits) -> EventState | None:
    """The state of a snapshot saved at `seq`, or None if it does not fit this code.
    `fresh` is the empty state a full fold would start from: what is not part of the state
    (fields with compare=False, such as the app's feature set) is taken from it."""
    event_id = fresh.id
    try:
        fmt, fingerprint, shape, at, state = pickle.loads(blob)  # noqa: S301 - our own row
    except Exception as exc:  # an older format, a class that is gone: fold from the start
        log.info("event %s: snapshot not usable (%s); folding the whole journal",
                 event_id, exc)
        return None
    if (fmt, fingerprint, tuple(shape), at) != (FORMAT, FINGERPRINT, _shape(limits), seq) \
            or not isinstance(state, EventState) or state.id != event_id or state.seq != seq:
        log.info("event %s: snapshot made by other code or limits; folding the whole "
                 "journal", event_id)
        return None
    for f in fields(EventState):
        if not f.compare:
            setattr(state, f.name, getattr(fresh, f.name))
    return state
