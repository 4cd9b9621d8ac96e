"""`parlour.testing.signals`: Datastar's signal store rules."""

from __future__ import annotations

from typing import Any

import pytest

from parlour.testing.signals import (
    attribute,
    get_path,
    merge_patch,
    sendable,
    set_path,
    signal_name,
)


def test_paths_read_and_write_nested_signals() -> None:
    store: dict[str, Any] = {}
    set_path(store, "user.name", "Ada")
    set_path(store, "count", 1)
    assert store == {"user": {"name": "Ada"}, "count": 1}
    assert get_path(store, "user.name") == "Ada"
    assert get_path(store, "user.missing.deeper") is None


def test_merge_patch_merges_objects_and_deletes_nulls() -> None:
    store: dict[str, Any] = {"a": {"b": 1, "c": 2}, "d": 1}
    merge_patch(store, {"a": {"b": None, "e": 3}, "d": {"f": 1}})
    assert store == {"a": {"c": 2, "e": 3}, "d": {"f": 1}}


def test_what_an_action_sends_leaves_out_underscore_signals_at_any_depth() -> None:
    store = {"_local": 1, "count": 2, "form": {"_draft": "x", "name": "Ada"}, "only": {"_x": 1}}
    assert sendable(store) == {"count": 2, "form": {"name": "Ada"}}


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("data-on:click", ("on", "click", {})),
        (
            "data-on:click__debounce.300ms.leading",
            ("on", "click", {"debounce": ["300ms", "leading"]}),
        ),
        ("data-bind:draft-p7__case.kebab", ("bind", "draft-p7", {"case": ["kebab"]})),
        ("data-signals", ("signals", None, {})),
        ("class", None),
    ],
)
def test_attribute_names_split_into_plugin_key_and_modifiers(name: str, parsed: object) -> None:
    assert attribute(name) == parsed


@pytest.mark.parametrize(
    ("key", "case", "name"),
    [
        ("foo-bar", None, "fooBar"),
        ("launch_target", None, "launch_target"),
        ("draft-p7", "kebab", "draft-p7"),
        ("foo-bar", "snake", "foo_bar"),
        ("foo-bar", "pascal", "FooBar"),
    ],
)
def test_signal_names_follow_the_case_modifier(key: str, case: str | None, name: str) -> None:
    assert signal_name(key, {"case": [case]} if case else {}) == name
