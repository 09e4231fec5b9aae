"""One error hierarchy; each error carries the wire code of contract §4."""

from __future__ import annotations


class DomainError(Exception):
    code = "invalid"

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra  # more for the client, e.g. the current entry of a conflict


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class Invalid(DomainError):
    code = "invalid"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class RateLimited(DomainError):
    code = "rate_limited"


class TooLarge(DomainError):
    code = "too_large"


WIRE_CODES: tuple[str, ...] = ("unauthorized", "forbidden", "invalid", "not_found", "conflict",
                               "rate_limited", "too_large")


RETRY = "the change could not be saved; nothing was applied; please try again"


class Unavailable(DomainError):
    """The write could not be made durable right now; nothing was applied; retry."""
    code = "unavailable"

    def __init__(self, message: str = RETRY, **extra: object) -> None:
        super().__init__(message, **extra)


class Internal(DomainError):
    """An unexpected failure; nothing was applied. `id` finds it in the server log."""
    code = "internal"


WIRE_CODES = WIRE_CODES + ("unavailable", "internal")
