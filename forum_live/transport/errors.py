"""HTTP error envelopes: every failure answers {"error": {"code", "message"}}."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.context import new_id
from ..domain.errors import DomainError, Internal, Unavailable
from ..store import StoreError

log = logging.getLogger("forum_live")

# The one table: each wire code (domain/errors.py) and its HTTP status. A store failure is
# `unavailable` (503: nothing applied, retry), anything unexpected `internal` (500, logged
# once with the id the answer carries).
STATUS = {"unauthorized": 401, "forbidden": 403, "not_found": 404, "invalid": 422,
          "conflict": 409, "rate_limited": 429, "too_large": 413, "unavailable": 503,
          "internal": 500}


def as_domain_error(exc: BaseException, where: str) -> DomainError:
    """What the client is told about `exc`, over the socket and over HTTP alike."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, StoreError):
        return Unavailable()
    err_id = new_id(6)
    log.error("internal error %s in %s", err_id, where, exc_info=exc)
    return Internal(f"the server could not handle this request (error {err_id})", id=err_id)
CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "invalid",
         409: "conflict", 413: "too_large", 422: "invalid", 429: "rate_limited"}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def error_body(err: DomainError) -> JSONResponse:
    body: dict[str, object] = {"code": err.code, "message": err.message}
    if isinstance(err, Internal):
        body["id"] = err.extra.get("id")
    return JSONResponse({"error": body}, status_code=STATUS[err.code])


async def domain_error(request: Request, exc: Exception) -> Response:
    return error_body(as_domain_error(exc, request.url.path))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = CODES.get(exc.status_code, "invalid")
    message = exc.detail if isinstance(exc.detail, str) else code
    if exc.status_code == 404 and message == "Not Found":
        message = "no such page"
    return error_response(exc.status_code, code, message)


async def internal_error(request: Request, exc: Exception) -> Response:
    """A bug or a store failure, not bad input: answered in the same envelope."""
    return error_body(as_domain_error(exc, request.url.path))
