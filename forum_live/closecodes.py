"""WebSocket close codes: one meaning each (docs/protocol.md, "Close codes")."""

from __future__ import annotations

GOING_AWAY = 1001  # the server shuts down: reconnect and resume
TOO_BIG = 1009  # a frame over the size limit (closed by the websocket layer)
NO_HELLO = 4400  # no hello within hello_timeout_s: reconnect and say hello at once
UNAUTHORIZED = 4401  # bad or expired token, or a forbidden origin: join again
REMOVED = 4403  # removed from the event or declined at the waiting room: do not reconnect
NOT_FOUND = 4404  # no such event
TOO_SLOW = 4408  # outbound queue full or a send too slow: reconnect with resume_from
TOO_MANY = 4429  # too many sockets of one participant at once

RESUMABLE = frozenset({GOING_AWAY, NO_HELLO, TOO_SLOW})
