"""What a decision may depend on besides state and command: the clock, fresh ids, limits.

Passed in, never read from globals, so decisions replay and test deterministically.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from ..config import Limits


def new_id(nbytes: int = 9) -> str:
    """A random, unguessable, URL-safe id."""
    return secrets.token_urlsafe(nbytes)


def iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Context:
    now: datetime
    limits: Limits = field(default_factory=Limits)
    make_id: Callable[[], str] = new_id

    @property
    def at(self) -> str:
        return iso(self.now)

    @classmethod
    def current(cls, limits: Limits) -> "Context":
        return cls(now=datetime.now(timezone.utc), limits=limits)
