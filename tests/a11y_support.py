"""Accessibility checks in the browser: the axe-core audit and its summary.

``audit(page)`` runs axe-core (bundled by ``axe-playwright-python``: nothing
is fetched) on the page as it is and returns its violations, less the
findings in Streamlit's own markup that the app cannot change
(``STREAMLIT_OWN``, each listed in the README with its upstream issue).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from axe_playwright_python.sync_playwright import Axe

BLOCKING = ("critical", "serious")
# Every rule of WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best practices.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
# (rule id, CSS selector of the element) found in Streamlit's own markup,
# which the app cannot change; see the README's "Accessibility" section.
STREAMLIT_OWN: list[tuple[str, str]] = []

_AXE = Axe()


def audit(page: Any, *, excluded: list[tuple[str, str]] | None = None) -> list[dict]:
    """axe-core's violations on ``page``: dicts with id, impact, help and
    nodes (each with its target selectors and HTML); a node matching one of
    ``excluded`` (default ``STREAMLIT_OWN``) is left out, and a rule left
    with no node is dropped."""
    excluded = STREAMLIT_OWN if excluded is None else excluded
    results = _AXE.run(page, options=AXE_OPTIONS).response
    out = []
    for violation in results["violations"]:
        nodes = [
            node
            for node in violation["nodes"]
            if not any(
                violation["id"] == rule and _matches(page, node, selector)
                for rule, selector in excluded
            )
        ]
        if nodes:
            out.append({**violation, "nodes": nodes})
    return out


def _matches(page: Any, node: dict, selector: str) -> bool:
    """Whether the element axe names in ``node`` matches ``selector``."""
    target = node["target"][-1] if node["target"] else None
    if not isinstance(target, str):
        return False
    return page.evaluate(
        "([target, selector]) => { const e = document.querySelector(target);"
        " return Boolean(e && e.matches(selector)); }",
        [target, selector],
    )


def blocking(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in BLOCKING]


def summary(violations: list[dict]) -> Counter:
    """(rule id, impact) → number of elements."""
    return Counter({(v["id"], v["impact"]): len(v["nodes"]) for v in violations})


def describe(violations: list[dict]) -> str:
    """One line per element: rule, impact, target and a piece of its HTML."""
    lines = []
    for v in violations:
        for node in v["nodes"]:
            lines.append(f"{v['id']} ({v['impact']}) {node['target']}: {node['html'][:160]}")
    return "\n".join(lines)
