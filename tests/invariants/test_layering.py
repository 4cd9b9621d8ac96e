"""Dependencies point down only (DESIGN §2).

`parlour.core` is pure: no asyncio, no web framework, no Datastar SDK, no database, and
nothing from the parlour layers built on top of it. Two checks enforce it, because each
misses what the other sees:

  * at run time, each `parlour.core` module is imported in a fresh interpreter and the
    forbidden modules must be absent from `sys.modules` (this sees transitive imports,
    including the ones that come in through `parlour/__init__.py`);
  * statically, every `import` statement in `src/parlour/core`, at any depth, is read with
    `ast` (this sees a lazy import inside a function, which an import never runs).

The same static scan checks the two boundaries of the outer layers: only `parlour.wire`
imports `datastar_py`, and only `parlour.web` imports Starlette (plus the Datastar
conformance app in `parlour/wire/conformance.py`, an ASGI test fixture by nature).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import parlour

SRC = Path(parlour.__file__).resolve().parent
CORE = SRC / "core"

FORBIDDEN_IN_CORE_THIRD_PARTY = (
    "asyncio",
    "starlette",
    "datastar_py",
    "uvicorn",
    "httpx",
    "nats",
    "sqlite3",
)
LAYERS_ABOVE_CORE = (
    "parlour.wire",
    "parlour.runtime",
    "parlour.stores",
    "parlour.bus",
    "parlour.web",
    "parlour.ui",
    "parlour.devtools",
    "parlour.console",
    "parlour.testing",
    "parlour.cli",
)


def is_forbidden_in_core(module: str) -> bool:
    top = module.partition(".")[0]
    if top in FORBIDDEN_IN_CORE_THIRD_PARTY:
        return True
    return any(module == layer or module.startswith(layer + ".") for layer in LAYERS_ABOVE_CORE)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def core_modules() -> list[str]:
    return sorted(module_name(p) for p in CORE.rglob("*.py"))


# -- the static scan -------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    module: str
    line: int


def imports_in(source: str, module: str, *, is_package: bool = False) -> list[Import]:
    """Every module `source` imports, at any depth, relative imports made absolute.

    `from a import b` counts as importing `a` and `a.b` (b may be a submodule); calls of
    `importlib.import_module("x")` and `__import__("x")` with a literal name count too.
    """
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            found.append(Import(origin, node.lineno))
            found.extend(
                Import(f"{origin}.{alias.name}", node.lineno)
                for alias in node.names
                if alias.name != "*"
            )
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            first = node.args[0]
            if (
                name in ("import_module", "__import__")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                found.append(Import(first.value, node.lineno))
    return found


def source_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def scan(path: Path) -> list[Import]:
    return imports_in(path.read_text(), module_name(path), is_package=path.name == "__init__.py")


def test_the_scan_sees_imports_at_any_depth_and_relative_ones() -> None:
    source = """
import json
from . import commands
from .component import Component
from ..runtime import Runtime

def lazy():
    import asyncio
    from starlette.responses import Response

class K:
    def m(self):
        if True:
            import importlib
            importlib.import_module("sqlite3")
"""
    found = {i.module for i in imports_in(source, "parlour.core.kernel")}
    assert {
        "json",
        "parlour.core.commands",
        "parlour.core.component",
        "parlour.core.component.Component",
        "parlour.runtime",
        "asyncio",
        "starlette.responses",
        "sqlite3",
    } <= found
    bad = sorted(m for m in found if is_forbidden_in_core(m))
    assert bad == [
        "asyncio",
        "parlour.runtime",
        "parlour.runtime.Runtime",
        "sqlite3",
        "starlette.responses",
        "starlette.responses.Response",
    ]


def test_the_scan_resolves_relative_imports_in_a_package_init() -> None:
    found = {i.module for i in imports_in("from .kernel import x", "parlour.core", is_package=True)}
    assert "parlour.core.kernel" in found


def test_the_forbidden_list_allows_core_itself_and_the_standard_library() -> None:
    assert not is_forbidden_in_core("parlour.core.kernel")
    assert not is_forbidden_in_core("parlour")
    assert not is_forbidden_in_core("htpy")
    assert not is_forbidden_in_core("msgspec")
    assert not is_forbidden_in_core("parlour.webish")  # a prefix is not a layer
    assert is_forbidden_in_core("parlour.web")
    assert is_forbidden_in_core("asyncio.tasks")


def test_core_source_imports_nothing_from_above() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) >= 5, f"expected the core modules under {CORE}"
    problems = [
        f"{path.relative_to(SRC.parent)}:{i.line} imports {i.module}"
        for path in files
        for i in scan(path)
        if is_forbidden_in_core(i.module)
    ]
    assert problems == []


def _importers(top: str) -> list[str]:
    return sorted(
        module_name(path)
        for path in source_files()
        if any(i.module.partition(".")[0] == top for i in scan(path))
    )


def test_only_parlour_wire_imports_datastar_py() -> None:
    importers = _importers("datastar_py")
    assert importers, "parlour.wire should import datastar_py"
    outside = [m for m in importers if not m.startswith("parlour.wire.") and m != "parlour.wire"]
    assert outside == []


def test_only_parlour_web_imports_starlette() -> None:
    allowed_elsewhere = {
        "parlour.wire.conformance",  # the SDK conformance test app
        "parlour.console.api",  # the console's HTTP API for agents (JSON, not pages)
        "parlour.console.app",  # the console's assembly: API + pages + stylesheet
        "parlour.console.signin",  # the console's sign-in routes: a form and its cookie
        "parlour.console.mcp",  # /mcp: the MCP SDK's streamable HTTP app is a Starlette app
    }
    outside = [
        m
        for m in _importers("starlette")
        if not (m == "parlour.web" or m.startswith("parlour.web.")) and m not in allowed_elsewhere
    ]
    assert outside == []


# -- the run-time check ----------------------------------------------------------------------

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by(module: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_bare_interpreter_loads_nothing_forbidden() -> None:
    # Otherwise the checks below could not tell what core itself brought in.
    assert [m for m in loaded_by("json") if is_forbidden_in_core(m)] == []


@pytest.mark.parametrize("module", core_modules())
def test_importing_a_core_module_loads_nothing_from_above(module: str) -> None:
    loaded = loaded_by(module)
    assert module in loaded
    assert [m for m in loaded if is_forbidden_in_core(m)] == []


def test_importing_parlour_loads_no_web_framework_or_event_loop() -> None:
    # `import parlour` runs before any `parlour.core` module can load, so it must stay light.
    loaded = loaded_by("parlour")
    assert [m for m in loaded if is_forbidden_in_core(m)] == []
