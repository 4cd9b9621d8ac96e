"""The JavaScript parlour writes lives in `parlour.wire`: the Datastar expressions components
put in their attributes, and the scripts that keep the browser's history in step."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parlour.core import actions
from parlour.core.fragments import History, Script
from parlour.wire import encode
from parlour.wire.actions import DATASTAR_ACTIONS, history_script
from parlour.wire.js import js_literal


def test_importing_parlour_wire_plugs_the_datastar_actions_into_core() -> None:
    assert actions.plugged() is DATASTAR_ACTIONS


def test_an_event_posts_to_its_url_and_every_click_counts() -> None:
    assert DATASTAR_ACTIONS.event("/_p/event/c1/p1/inc") == (
        "@post('/_p/event/c1/p1/inc', {requestCancellation: 'disabled'})"
    )


def test_back_goes_through_the_browser_when_the_entry_is_parlours_else_posts() -> None:
    assert DATASTAR_ACTIONS.back("/_p/back/c1") == (
        "history.state && history.state.parlour ? history.back() : @post('/_p/back/c1')"
    )


def test_a_push_marks_the_entry_left_then_pushes_the_new_depth() -> None:
    assert history_script(History(depth=3)) == (
        'history.replaceState({"parlour": true, "depth": 2},\'\');'
        'history.pushState({"parlour": true, "depth": 3},\'\')'
    )
    assert history_script(History(depth=1, url="/a?b=1")).endswith(
        'history.pushState({"parlour": true, "depth": 1},\'\',"/a?b=1")'
    )


def test_a_replace_changes_the_url_and_keeps_the_entrys_state() -> None:
    js = history_script(History(depth=4, url="/x", mode="replace"))
    assert js == "history.replaceState(history.state,'',\"/x\")"


def test_a_replace_without_a_url_is_refused() -> None:
    with pytest.raises(ValueError, match=r"History\(mode='replace'\) needs a url"):
        history_script(History(depth=1, mode="replace"))


def test_history_urls_are_escaped_so_they_cannot_leave_the_script_element() -> None:
    js = history_script(History(depth=1, url="/</script><b>&", mode="replace"))
    assert "</script>" not in js
    assert "\\u003c/script\\u003e\\u003cb\\u003e\\u0026" in js


def test_a_history_fragment_is_sent_as_the_script_that_applies_it() -> None:
    fragment = History(depth=2, url="/next")
    assert encode(fragment, event_id="e1") == encode(
        Script(history_script(fragment)), event_id="e1"
    )


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", '"plain"'),
        ("</script>", '"\\u003c/script\\u003e"'),
        ("a&b", '"a\\u0026b"'),
        ("\u2028", '"\\u2028"'),
        ({"depth": 1}, '{"depth": 1}'),
        (None, "null"),
    ],
)
def test_js_literal_is_json_with_the_html_specials_escaped(value: object, literal: str) -> None:
    assert js_literal(value) == literal


def reference_literal(value: object) -> str:
    """The one rule: JSON (ASCII), then `<`, `>` and `&` as unicode escapes."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def test_every_character_is_written_as_the_rule_says() -> None:
    for code in [*range(0x3000), 0xFFFF, 0x10000, 0x1F600]:
        text = chr(code)
        assert js_literal(text) == reference_literal(text), hex(code)
        assert js_literal(f"/a?b={text}x") == reference_literal(f"/a?b={text}x"), hex(code)


@given(st.text())
def test_any_string_is_written_as_the_rule_says(text: str) -> None:
    assert js_literal(text) == reference_literal(text)


@pytest.mark.parametrize("depth", [-1, 0, 1, 49, 10**12])
def test_a_push_writes_the_states_as_their_json(depth: int) -> None:
    script = history_script(History(depth=depth, url="/p"))
    assert script == (
        f"history.replaceState({reference_literal({'parlour': True, 'depth': depth - 1})},'');"
        f"history.pushState({reference_literal({'parlour': True, 'depth': depth})},'',\"/p\")"
    )
