"""Frame <-> command codec and the error envelope. Pure: bytes in, objects out."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from .domain.commands import Command
from .domain.errors import DomainError, Invalid, TooLarge


def describe(err: ValidationError) -> str:
    """The first problem of a validation error, naming the field: 'text: Input should be ...'."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ())) or "body"
    return f"{loc}: {first.get('msg', 'invalid')}"


# What no journal, export (XML in DOCX, PDF) or UTF-8 file can hold: lone surrogates (valid
# JSON escapes, not encodable), NUL and the other C0 controls but tab and newlines, and the
# two non-characters XML forbids. Bidi overrides and zero-width characters are stored
# intact (and rendered escaped).
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def unstorable(data: Any, path: str = "") -> str | None:
    """The first field of `data` holding a character that cannot be stored, as an error
    message naming the field; None when every string is fine."""
    if isinstance(data, str):
        m = _UNSTORABLE.search(data)
        if m is None:
            return None
        return (f"{path or 'text'}: contains a character that cannot be stored "
                f"(U+{ord(m.group()):04X})")
    if isinstance(data, dict):
        for k, v in data.items():
            where = f"{path}.{k}" if path else str(k)
            problem = unstorable(k, where) or unstorable(v, where)
            if problem:
                return problem
    elif isinstance(data, list):
        for i, v in enumerate(data):
            problem = unstorable(v, f"{path}.{i}" if path else str(i))
            if problem:
                return problem
    return None


def parse_frame(raw: str | bytes, frame_max: int, commands: dict[str, type[Command]]) -> tuple[Command | None, Any, DomainError | None]:
    """(command, ref, error). `ref` is recovered even from a frame that fails validation,
    so the client can match the error to what it sent."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > frame_max:
        return None, None, TooLarge(f"frame: at most {frame_max} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: deep nesting
        return None, None, Invalid("frame: not valid JSON")
    if not isinstance(data, dict):
        return None, None, Invalid("frame: must be a JSON object")
    ref = data.get("ref")
    if not isinstance(ref, (str, int)) or isinstance(ref, bool):
        ref = None
    problem = unstorable(data)
    if problem:
        return None, ref, Invalid(problem)
    kind = data.get("type")
    if not isinstance(kind, str):
        return None, ref, Invalid("type: missing or not a string")
    model = commands.get(kind)
    if model is None:
        return None, ref, Invalid(f"type: unknown message type {kind[:60]!r}")
    try:
        return model.model_validate(data), ref, None
    except ValidationError as e:
        return None, ref, Invalid(describe(e))


def encode(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def ok_frame(ref: Any, **result: Any) -> str:
    return encode({"type": "ok", "ref": ref, **result})


def error_frame(ref: Any, err: DomainError) -> str:
    return encode({"type": "error", "ref": ref, "code": err.code, "message": err.message,
                   **err.extra})
