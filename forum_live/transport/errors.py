"""HTTP error envelopes: every failure answers {"error": {"code", "message"}}."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.errors import DomainError

STATUS = {"unauthorized": 401, "forbidden": 403, "not_found": 404, "invalid": 422,
          "conflict": 409, "rate_limited": 429, "too_large": 413}
CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "invalid",
         409: "conflict", 413: "too_large", 422: "invalid", 429: "rate_limited"}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return error_response(STATUS[exc.code], exc.code, exc.message)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = CODES.get(exc.status_code, "invalid")
    message = exc.detail if isinstance(exc.detail, str) else code
    if exc.status_code == 404 and message == "Not Found":
        message = "no such page"
    return error_response(exc.status_code, code, message)


async def internal_error(request: Request, exc: Exception) -> Response:
    """A bug, not bad input: logged with its traceback, answered in the same envelope."""
    logging.getLogger("forum_live").error("unhandled error on %s", request.url.path,
                                          exc_info=exc)
    return error_response(500, "internal", "the server could not handle this request")
