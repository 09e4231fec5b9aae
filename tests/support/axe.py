"""axe-core in the browser tests: the npm package's axe.min.js (vendored in
tests/e2e/vendor, version in its first line) evaluated into the page, run for the WCAG 2.0,
2.1 and 2.2 A/AA tags with label-content-name-mismatch (experimental in axe) switched on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = (Path(__file__).parents[1] / "e2e" / "vendor" / "axe.min.js").read_text(encoding="utf-8")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; [] when it finds nothing."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(AXE)  # evaluated through the devtools protocol: the page's CSP allows it
    result = await page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " rules: {'label-content-name-mismatch': {enabled: true}}})).violations"
        ".map((v) => ({id: v.id, nodes: v.nodes.map((n) => n.target.join(' ') + ' :: ' + n.failureSummary)}))",
        AXE_TAGS)
    return list(result)
