"""Which minutes a download shows: the current draft, or a frozen approved version.

The journal is the truth: each `minutes.approved` entry carries the whole model of its
version and the SHA-256 of every format's bytes (per language), rendered once at approval
(`render_all`) and kept by the store (`minutes_files`). `?version=N` serves those bytes,
so they stay the same even when a later release renders differently. The current minutes
are the last approved version as long as nothing changed since; otherwise a draft
(version N+1) that lists what changed against version N.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from ..domain.errors import NotFound
from ..domain.model import EventState
from ..domain.review import Version, diff, review_state
from .formats import FORMATS
from .model import build
from .view import LANGUAGES


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


def version(s: EventState, number: int) -> Version:
    rv = review_state(s)
    if not 1 <= number <= len(rv.versions):
        raise NotFound(f"version: no approved version {number}")
    return rv.versions[number - 1]


def frozen(s: EventState, number: int) -> dict[str, Any]:
    return copy.deepcopy(version(s, number).model)


def as_bytes(body: str | bytes) -> bytes:
    """What a download sends: text formats as UTF-8 (as the HTTP response encodes them)."""
    return body.encode("utf-8") if isinstance(body, str) else body


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def render_all(model: dict[str, Any]) -> dict[str, dict[str, bytes]]:
    """Every minutes format in every language (lang -> format -> bytes): what an approval
    freezes. Seconds of work (PDF, DOCX): the caller runs it off the event loop."""
    return {lang: {name: as_bytes(f.render(copy.deepcopy(model), lang))
                   for name, f in FORMATS.items()}
            for lang in LANGUAGES}


def listing(s: EventState) -> list[dict[str, Any]]:
    """Contract §7: every approved version, and the draft if there is one, newest last."""
    out = [v.public() for v in review_state(s).versions]
    now = current(s)
    if now["approval"]["status"] == "draft":
        out.append({"version": now["approval"]["version"], "status": "draft",
                    "approved_at": None, "approved_by": None, "note": None,
                    "changes": len(now["approval"].get("changes") or [])})
    return out
