"""The kernel serialises plain htpy trees itself (the hot path of every render): its output must
be htpy's, byte for byte, and anything it does not know is handed to htpy unchanged."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import pytest
from htpy import Context, br, button, div, fragment, html, img, input, li, span, ul
from markupsafe import Markup

from parlour.core import render

theme: Context[str] = Context("theme", default="light")


class Weekday(IntEnum):
    MONDAY = 1


class Label(str):
    __slots__ = ()


@theme.consumer
def themed(value: str) -> Any:
    return span(class_=value)["themed"]


TREES: list[Any] = [
    div,
    div["text & <b>"],
    div("#main.a.b", {"data-on:click": "@post('/x?a=1&b=2')"}, title='"q"')[
        span(".count")[7],
        button(".btn", disabled=True)["-"],
        ["a", ("b", 3), [], ()],
        None,
        True,
        False,
        Markup("<i>raw</i>"),
        br,
        img(src="/a.png", alt="<a>"),
        input(type="text", value="x&y"),
    ],
    div[fragment["a", span["b"]]],  # a fragment: htpy's
    div[lambda: span["called"]],  # a callable: htpy's
    div[theme.provider("dark", div[themed])],  # a context: htpy's
    div[themed],
    html[div["page"]],  # <!doctype html>: htpy's
    div[0, -1, 10**20],
    div["é ☃ \u2028 line\nbreak"],
    # each character text escapes, alone and among others, as the only child and in a list
    *(div[c] for c in "&<>\"'"),
    *(div[span, c, 1] for c in "&<>\"'"),
    div[span["a'b\"c"]],
    div[br],
    div[None],
    div[True],
    div[Markup("<b>m</b>")],
    div[[span["in a list"], ("nested", [0, None, False])]],
    div[Weekday.MONDAY, Label("<sub>")],  # subclasses of int and str: htpy's
]


@pytest.mark.parametrize("index", range(len(TREES)))
def test_the_kernel_renders_a_tree_exactly_like_htpy(index: int) -> None:
    expected = str(TREES[index])
    assert render.to_html(TREES[index]) == expected


def test_a_generator_child_is_htpys_to_consume() -> None:
    expected = str(ul[(li[str(i)] for i in range(3))])
    assert render.to_html(ul[(li[str(i)] for i in range(3))]) == expected


def test_the_fast_path_is_on_for_this_htpy() -> None:
    assert render.FAST_HTPY


def test_what_is_not_a_tree_renders_as_before() -> None:
    assert render.to_html(None) == ""
    assert render.to_html("a<b") == "a&lt;b"
    assert render.to_html(Markup("<p>x</p>")) == "<p>x</p>"
    assert render.to_html(fragment[span["a"], "b"]) == "<span>a</span>b"


def test_an_invalid_child_fails_as_in_htpy() -> None:
    bad = div[span["ok"]]
    object.__setattr__(bad, "_children", (span["ok"], 1.5))  # past htpy's own check
    with pytest.raises(TypeError):
        str(bad)
    with pytest.raises(TypeError):
        render.to_html(bad)
