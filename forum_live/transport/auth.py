"""Signed participant tokens and the organizer token.

A participant token is bound to one event and one participant and carries its issue time,
so a token of one event is worthless in another and old tokens expire.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer


def _secret_file(path: Path, nbytes: int = 32) -> str:
    """Read a secret kept in the data dir, creating it (readable by us only) the first time."""
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    _CREATED.add(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    return value


_CREATED: set[Path] = set()  # secret files made by this process


@dataclass(frozen=True)
class TokenClaims:
    event: str
    participant: str
    issued_at: float = 0.0  # unix time


class Auth:
    def __init__(self, data_dir: Path, organizer_token: str | None, max_age_s: int) -> None:
        self.organizer_token = organizer_token or _secret_file(data_dir / "organizer_token")
        self.token_created = not organizer_token and data_dir / "organizer_token" in _CREATED
        self._signer = URLSafeTimedSerializer(_secret_file(data_dir / "secret_key", 48),
                                              salt="forum-live/participant")
        self.max_age_s = max_age_s

    def issue(self, event_id: str, participant_id: str, generation: int = 0) -> str:
        """A token of this event's current token generation (revoking bumps it)."""
        claims: dict[str, object] = {"e": event_id, "p": participant_id}
        if generation:
            claims["g"] = generation
        return self._signer.dumps(claims)

    def verify(self, token: str, event_id: str, generation: int = 0) -> TokenClaims | None:
        """The claims of a valid, unexpired token for this event and token generation;
        None otherwise. (The end of the event is checked by `Forum.verify_token`.)"""
        try:
            data, stamp = self._signer.loads(token, max_age=self.max_age_s,
                                             return_timestamp=True)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(data, dict) or data.get("e") != event_id or not isinstance(
                data.get("p"), str) or data.get("g", 0) != generation:
            return None
        return TokenClaims(data["e"], data["p"], stamp.timestamp())

    def signed_event(self, token: str) -> str | None:
        """The event a validly signed, unexpired token names (generation and the end of
        the event unchecked: `verify` decides); None for anything else. A cheap first look
        before work that only a real token deserves."""
        try:
            data = self._signer.loads(token, max_age=self.max_age_s)
        except (BadSignature, ValueError, TypeError):
            return None
        return data.get("e") if isinstance(data, dict) and isinstance(data.get("e"), str) \
            else None

    def is_organizer(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[7:].strip().encode(), self.organizer_token.encode())
