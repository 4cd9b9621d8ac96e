"""The public surface: `parlour.__all__` is sorted and every name in it can be imported."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from types import ModuleType

import pytest

import parlour


def test_all_is_sorted_and_unique() -> None:
    assert parlour.__all__ == sorted(parlour.__all__)
    assert len(set(parlour.__all__)) == len(parlour.__all__)


@pytest.mark.parametrize("name", parlour.__all__)
def test_every_exported_name_is_importable(name: str) -> None:
    assert getattr(parlour, name) is not None
    namespace: dict[str, object] = {}
    exec(f"from parlour import {name}", namespace)
    assert namespace[name] is getattr(parlour, name)


def test_star_import_binds_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from parlour import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == parlour.__all__


def test_app_is_the_web_app() -> None:
    from parlour.web import App as WebApp
    from parlour.web.app import App

    assert parlour.App is App
    assert WebApp is App


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = parlour.Nope  # type: ignore[attr-defined]
    with pytest.raises(ImportError):
        exec("from parlour import Nope", {})


def test_from_parlour_import_app_works_in_a_fresh_interpreter() -> None:
    code = "from parlour import App, Component, event; print(App.__module__)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "parlour.web.app"


def _submodules() -> list[str]:
    names = [
        info.name
        for info in pkgutil.walk_packages(parlour.__path__, "parlour.")
        if not info.name.endswith("__main__")  # running it is the CLI
    ]
    return sorted(names)


@pytest.mark.parametrize("module", _submodules())
def test_every_module_all_names_exist(module: str) -> None:
    mod: ModuleType = importlib.import_module(module)
    exported = getattr(mod, "__all__", None)
    if exported is None:
        return
    missing = [name for name in exported if not hasattr(mod, name)]
    assert missing == []
