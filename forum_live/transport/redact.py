"""No token or invitation key in the log (contract §9, issue 13).

Old links `/e/{id}?key=...` and downloads with `?token=...` still work, but the access log
would write their request line verbatim. `install()` puts a filter on uvicorn's loggers and
on the handlers of the root logger that replaces the value of every `key`, `token` and
`ticket` query parameter (also with a percent-encoded name) with `[redacted]`. run.py
installs it before serving; `Forum.start` installs it too, for any uvicorn that runs the
app (`uvicorn --factory forum_live.app:create_app`), once logging is set up.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

QUERY_PAIR = re.compile(r"([?&;])([^=&;\s\"?]+)=([^&;\s\"]*)")
SECRET_NAMES = frozenset({"key", "token", "ticket"})


def _redact_pair(m: re.Match[str]) -> str:
    name = unquote_plus(m.group(2)).strip().lower()  # also `%6Bey=`, `Key =`
    return f"{m.group(1)}{m.group(2)}=[redacted]" if name in SECRET_NAMES else m.group(0)


def redact(text: str) -> str:
    """The values of `key`, `token` and `ticket` query parameters replaced by `[redacted]`."""
    return QUERY_PAIR.sub(_redact_pair, text) if "=" in text else text


class RedactSecrets(logging.Filter):
    """No token or invite key in the log (contract §9): an old link `/e/{id}?key=...` or
    a download with `?token=...` still works, but its access-log line shows `[redacted]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    """On uvicorn's loggers and on every handler (a record of another logger that carries a
    URL passes a handler too). Idempotent."""
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error", ""):
        logger = logging.getLogger(name)
        for target in (logger, *logger.handlers):
            if not any(isinstance(f, RedactSecrets) for f in target.filters):
                target.addFilter(_FILTER)


_FILTER = RedactSecrets()
