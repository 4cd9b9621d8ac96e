"""parlour.core writes no JavaScript (docs/decisions/0006-no-javascript-in-core.md).

Datastar expressions and browser-history scripts are written in `parlour.wire`; core says what
should happen (an event posts to this URL, history gets an entry at this depth) through the
`Actions` protocol and the `History` fragment. This scan reads every string literal in
`src/parlour/core` (f-string parts included) and refuses the marks of browser code.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import parlour

CORE = Path(parlour.__file__).resolve().parent / "core"

BROWSER_CODE = re.compile(
    r"@(?:get|post|put|patch|delete)\(|pushState|replaceState|history\.(?:back|state)"
    r"|window\.|document\.|location\.|requestCancellation"
)


def browser_code_in(source: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = BROWSER_CODE.search(node.value)
            if match:
                found.append((node.lineno, match.group(0)))
    return found


def test_the_scan_sees_browser_code_in_plain_and_formatted_strings() -> None:
    source = 'a = "history.back()"\nb = f"@post(\'{url}\')"\nc = "a plain sentence"\n'
    assert [m for _, m in browser_code_in(source)] == ["history.back", "@post("]


def test_no_string_in_parlour_core_is_javascript() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) >= 5, f"expected the core modules under {CORE}"
    problems = [
        f"{path.relative_to(CORE.parent)}:{line} contains {mark!r}"
        for path in files
        for line, mark in browser_code_in(path.read_text())
    ]
    assert problems == []
