"""Static checks of web/: the catalogs agree, every key used exists, and nothing in the
pages or modules would break the CSP (inline scripts, styles, handlers) or put user text
into innerHTML. No browser needed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
CATALOGS = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (WEB / "i18n").glob("*.json")}
TEMPLATES = {p.name: p.read_text(encoding="utf-8") for p in (WEB / "templates").glob("*.html")}
MODULES = {p.name: p.read_text(encoding="utf-8") for p in (WEB / "static" / "js").glob("*.js")}
# String literals in JS that name catalog keys (t("x"), maps of error codes to keys, ...).
KEY_LITERAL = re.compile(
    r"[\"'`]((?:app|index|org|join|event|me|role|status|agenda|chat|hands?|people|err)(?:_[a-z0-9]+)+)[\"'`]")


def test_german_and_english_have_the_same_keys() -> None:
    assert set(CATALOGS) >= {"de", "en"}
    for lang, catalog in CATALOGS.items():
        assert set(catalog) == set(CATALOGS["de"]), lang
        assert all(isinstance(v, str) for v in catalog.values()), lang
        # Only a suffix or affix may be empty in one language ("Uhr" has no English twin).
        empty = [k for k, v in catalog.items() if not v.strip()]
        assert all(k.endswith(("suffix", "prefix")) for k in empty), (lang, empty)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_keys_exist(name: str) -> None:
    used = set(re.findall(r"\bt\.([a-z0-9_]+)", TEMPLATES[name]))
    used |= set(re.findall(r"\bt\[['\"]([a-z0-9_.]+)['\"]\]", TEMPLATES[name]))
    assert used, name
    assert used <= set(CATALOGS["de"]), used - set(CATALOGS["de"])


def test_module_keys_exist() -> None:
    used = {k for src in MODULES.values() for k in KEY_LITERAL.findall(src)}
    used |= {f"status_{s}" for s in ("connecting", "connected", "reconnecting", "offline")}
    assert used - set(CATALOGS["de"]) == set()


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_templates_have_nothing_inline(name: str) -> None:
    src = TEMPLATES[name]
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", src), "inline script"
    assert not re.search(r"\sstyle\s*=", src), "inline style attribute"
    assert "<style" not in src
    assert not re.search(r"\son[a-z]+\s*=", src), "inline event handler"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_never_write_html(name: str) -> None:
    src = MODULES[name]
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function"):
        assert sink not in src, f"{name} uses {sink}"
