"""Request JSON is read strictly: what no browser's `JSON.stringify` writes is BadSignals.

A hostile client's JSON must become a 400 that says what was wrong, not a value that crashes
later (an integer Python will not convert, an infinity, a lone surrogate that cannot be stored
or sent back) or silently means something else (a key given twice).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parlour.wire import BadSignals, json_value, signals_from_body

JSON_TYPE = "application/json"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"a":' + b"9" * 5000 + b"}", "5000 digits"),
        (b'{"a":-' + b"9" * 101 + b"}", "101 digits"),
        (b'{"a":1e999}', "too large"),
        (b'{"a":-1e400}', "too large"),
        (b'{"a":NaN}', "NaN"),
        (b'{"a":-Infinity}', "Infinity"),
        (b'{"a":1,"a":2}', "'a' appears twice"),
        (b'{"a":{"b":1,"b":1}}', "'b' appears twice"),
        (b'{"a":"\\ud800"}', "lone UTF-16 surrogate"),
        (b'{"\\udfff":1}', "lone UTF-16 surrogate"),
        (b'{"a":["x",{"b":"\\uDBFF"}]}', "lone UTF-16 surrogate"),
        (b'{"a":"\xc3\x28"}', "UTF-8"),
        (b"[" * 100_000, "too deeply"),
        (b'{"a":1} {"b":2}', "Extra data"),
    ],
)
def test_what_a_browser_never_sends_is_refused_saying_why(body: bytes, says: str) -> None:
    with pytest.raises(BadSignals, match=says):
        signals_from_body(body, JSON_TYPE)


def test_the_message_never_echoes_a_huge_value() -> None:
    with pytest.raises(BadSignals) as caught:
        signals_from_body(b'{"a":' + b"7" * 5000 + b"}", JSON_TYPE)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a":"\\ud83d\\ude00"}', {"a": "\N{GRINNING FACE}"}),  # a surrogate pair is text
        (b'{"a":' + b"9" * 100 + b"}", {"a": int("9" * 100)}),
        (b'{"a":1.7976931348623157e308}', {"a": 1.7976931348623157e308}),
        (b'{"a":{"b":1},"c":{"b":2}}', {"a": {"b": 1}, "c": {"b": 2}}),
    ],
)
def test_what_a_browser_does_send_is_read(body: bytes, expected: object) -> None:
    assert signals_from_body(body, JSON_TYPE) == expected


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_any_json_a_browser_writes_reads_back_as_itself(value: object) -> None:
    text = json.dumps(value)
    assert json_value(text, "the test") == value
    assert json_value(text.encode(), "the test") == value
