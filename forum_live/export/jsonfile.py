"""Minutes as JSON: the minutes model itself (documented in docs/minutes-export.md)."""

from __future__ import annotations

import json
from typing import Any

FORMAT_VERSION = 1


def render(model: dict[str, Any], lang: str = "de") -> str:
    body = json.dumps({"format_version": FORMAT_VERSION, **model}, ensure_ascii=False,
                      indent=2)
    # Still the same JSON, but safe even if someone pastes it into a <script> block.
    return body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"
