"""A corpus of hostile user text, shared by the browser test (tests/e2e/test_xss_browser.py)
and the export test (tests/test_minutes_export.py).

Every script-running payload sets `window.__xss` (or `parent.__xss`) and/or opens a dialog,
so a test can tell "it ran" from "it did not". Each short payload fits every field it is put
into (a participant name: 80 characters); LONG fits chat, minutes and broadcast (2,000).
"""

from __future__ import annotations

SHORT = [
    '<img src=x onerror="window.__xss=1;alert(1)">',
    "<script>window.__xss=2;alert(1)</script>",
    '"><svg onload="window.__xss=3;alert(1)">',
    "javascript:window.__xss=4;alert(1)",
    '<a href="javascript:window.__xss=5">x</a>',
    "{{7*7}} {% print(7*7) %} #{7*7}",
    "${window.__xss=6}`${alert(1)}`",
    '<iframe srcdoc="<script>parent.__xss=7</script>">',
    "</textarea><script>window.__xss=8</script>",
    "<style>*{display:none}</style>",
    "&lt;script&gt;window.__xss=9&lt;/script&gt;",
    "\u202eRTL override: gnp.exe \u2067isolate\u2069",
    "'; window.__xss=10; //",
    '<details open ontoggle="window.__xss=11">',
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=12>",
    '<!--<img src="--><img src=x onerror=window.__xss=13>-->',
]

# Spreadsheet formulas (CSV injection): they must come out defused in every CSV.
FORMULAS = ['=HYPERLINK("http://evil.example","klick")', "+1+1", "-2+3", "@SUM(1+1)"]

LONG = ("<img src=x onerror=window.__xss=14>" + " Ä<b>lang</b>" * 200)[:2000]

CORPUS = SHORT + [LONG]

# What a payload would leave in the DOM (or an HTML export) had it become markup.
FORBIDDEN_SELECTOR = ", ".join([
    'img[src="x"]', "svg[onload]", "iframe[srcdoc]", "iframe", "script:not([src])",
    'a[href^="javascript:" i]', "details[ontoggle]", "mglyph", "math", "body style",
    "[onerror]", "[onload]", "[ontoggle]", "[onmouseover]",
])

assert all(len(p) <= 80 for p in SHORT), [p for p in SHORT if len(p) > 80]
assert len(LONG) == 2000
