"""Journal entries: the only way state changes.

An entry says who may see it (`audience`): the whole event, the members of `room`, the
moderators, one participant (`to`), or nobody but the fold (`internal`). Visibility is a
pure function of the entry and the viewer, so live fan-out and resume replay agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Audience(StrEnum):
    EVENT = "event"
    ROOM = "room"
    MODERATORS = "moderators"
    PARTICIPANT = "participant"
    INTERNAL = "internal"


@dataclass(slots=True)
class Entry:
    kind: str
    data: dict[str, Any]
    at: str
    room: str | None = None
    audience: Audience = Audience.EVENT
    to: str | None = None  # participant id for Audience.PARTICIPANT
    actor: str | None = None
    seq: int = 0
    # A sealed entry (an anonymous ballot) never enters the journal: the store keeps it in
    # the ballot box, without voter, time or order, so nothing links a voter to a choice.
    sealed: bool = False
    _frame: str | None = field(default=None, repr=False, compare=False)

    def frame(self) -> str:
        """The wire frame, encoded once and shared by every recipient."""
        if self._frame is None:
            body = {"type": self.kind, "seq": self.seq, "at": self.at, "room": self.room}
            body.update(self.data)
            self._frame = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        return self._frame

    def to_row(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "at": self.at,
            "room": self.room,
            "audience": self.audience.value,
            "to": self.to,
            "actor": self.actor,
            "data": json.dumps(self.data, ensure_ascii=False, separators=(",", ":")),
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Entry":
        return cls(
            kind=row["kind"],
            data=json.loads(row["data"]),
            at=row["at"],
            room=row["room"],
            audience=Audience(row["audience"]),
            to=row["to"],
            actor=row["actor"],
            seq=row["seq"],
        )
