"""Which minutes a download shows: the current draft, or a frozen approved version.

The journal is the truth: each `minutes.approved` entry carries the whole model of its
version, and the renderers are deterministic, so `?version=N` gives the same bytes every
time. The current minutes are the last approved version as long as nothing changed since;
otherwise a draft (version N+1) that lists what changed against version N.
"""

from __future__ import annotations

import copy
from typing import Any

from ..domain.errors import NotFound
from ..domain.model import EventState
from ..domain.review import diff, review_state
from .model import build


def _content(m: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in m.items() if k != "approval"}


def current(s: EventState) -> dict[str, Any]:
    """The minutes as they are now (a copy the caller may hand to a worker thread)."""
    model = build(s)
    rv = review_state(s)
    if not rv.versions:
        model["approval"]["version"] = 1
        return model
    last = rv.versions[-1]
    changes = diff(last.model, model)
    if not changes and _content(last.model) == _content(model):
        return copy.deepcopy(last.model)
    model["approval"].update({"version": last.number + 1, "based_on": last.number,
                              "changes": changes})
    return model


def frozen(s: EventState, number: int) -> dict[str, Any]:
    rv = review_state(s)
    if not 1 <= number <= len(rv.versions):
        raise NotFound(f"version: no approved version {number}")
    return copy.deepcopy(rv.versions[number - 1].model)


def listing(s: EventState) -> list[dict[str, Any]]:
    """Contract §7: every approved version, and the draft if there is one, newest last."""
    out = [v.public() for v in review_state(s).versions]
    now = current(s)
    if now["approval"]["status"] == "draft":
        out.append({"version": now["approval"]["version"], "status": "draft",
                    "approved_at": None, "approved_by": None, "note": None,
                    "changes": len(now["approval"].get("changes") or [])})
    return out
