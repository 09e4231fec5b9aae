"""Frame <-> command codec and the error envelope. Pure: bytes in, objects out."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from .domain.commands import CLIENT_COMMANDS, Command
from .domain.errors import DomainError, Invalid, TooLarge


def describe(err: ValidationError) -> str:
    """The first problem of a validation error, naming the field: 'text: Input should be ...'."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ())) or "body"
    return f"{loc}: {first.get('msg', 'invalid')}"


def parse_frame(raw: str | bytes, frame_max: int) -> tuple[Command | None, Any, DomainError | None]:
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
    kind = data.get("type")
    if not isinstance(kind, str):
        return None, ref, Invalid("type: missing or not a string")
    model = CLIENT_COMMANDS.get(kind)
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
