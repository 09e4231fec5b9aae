"""Languages: one message catalog per language (web/i18n/<lang>.json), German first.

The same catalog serves the Jinja2 pages and the browser modules (GET /i18n/<lang>.json),
so no user-facing string is scattered through the code.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.templating import Jinja2Templates

LANGUAGES = ("de", "en")
DEFAULT = "de"


@lru_cache(maxsize=8)
def catalog(web_dir: Path, lang: str) -> dict[str, str]:
    path = web_dir / "i18n" / f"{lang}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def choose_language(request: Request) -> str:
    """?lang= wins, then the cookie the switch sets, then German."""
    for value in (request.query_params.get("lang"), request.cookies.get("lang")):
        if value in LANGUAGES:
            return value
    return DEFAULT


def page(request: Request, template: str, status_code: int = 200,
         extra: dict[str, Any] | None = None) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    web_dir: Path = request.app.state.web_dir
    lang = choose_language(request)
    t = catalog(web_dir, lang)
    context = {"lang": lang, "t": t, "languages": LANGUAGES, **(extra or {})}
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie("lang", lang, max_age=365 * 24 * 3600, samesite="lax",
                            secure=request.url.scheme == "https")
    return response


async def catalog_endpoint(request: Request) -> Response:
    lang = request.path_params["lang"]
    if lang not in LANGUAGES:
        return JSONResponse({"error": {"code": "not_found", "message": "no such language"}},
                            status_code=404)
    return JSONResponse(catalog(request.app.state.web_dir, lang),
                        headers={"Cache-Control": "no-cache"})
