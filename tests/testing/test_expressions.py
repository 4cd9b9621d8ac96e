"""`parlour.testing.expressions`: the Datastar expressions parlour's pages carry, evaluated."""

from __future__ import annotations

from typing import Any

import pytest

from parlour.testing.expressions import Action, ExpressionError, evaluate, value_of


def test_an_event_button_posts_its_url_with_its_options() -> None:
    [action] = evaluate("@post('/_parlour/event/c1/p1/inc', {requestCancellation: 'disabled'})", {})
    assert action == Action(
        "POST", "/_parlour/event/c1/p1/inc", {"requestCancellation": "disabled"}
    )


def test_a_json_string_url_is_read_with_its_escapes() -> None:
    [action] = evaluate('@get("/a\\u002fb?x=\\"1\\"")', {})
    assert (action.method, action.url) == ("GET", '/a/b?x="1"')


def test_an_assignment_sets_a_signal_before_the_actions_after_it_run() -> None:
    signals: dict[str, Any] = {"launch_target": ""}
    [action] = evaluate("$launch_target = \"src\"; $form.ok = true; @post('/go')", signals)
    assert signals == {"launch_target": "src", "form": {"ok": True}}
    assert action.signals == signals  # what the request carries: the signals at the call


def test_the_back_button_posts_when_the_page_has_no_history_entry_of_parlours() -> None:
    expression = "history.state && history.state.parlour ? history.back() : @post('/back/c1')"
    [action] = evaluate(expression, {})
    assert action.url == "/back/c1"


def test_a_url_built_from_signals_and_a_json_payload() -> None:
    signals = {"_answer": "/e/c1/p1/answer", "answer_q1": "yes & no"}
    expression = (
        "@post($_answer + '?p=' + encodeURIComponent(JSON.stringify({id: \"q1\", "
        "answer: $answer_q1})), {requestCancellation: 'disabled'})"
    )
    [action] = evaluate(expression, signals)
    assert (
        action.url
        == "/e/c1/p1/answer?p=%7B%22id%22%3A%22q1%22%2C%22answer%22%3A%22yes%20%26%20no%22%7D"
    )


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ('{"a": [1, 2.5, true, null], "b": "x"}', {"a": [1, 2.5, True, None], "b": "x"}),
        (
            "{count: 0, 'name': 'it\\'s', nested: {ok: false}}",
            {"count": 0, "name": "it's", "nested": {"ok": False}},
        ),
        ("'a' + 1 + 2", "a12"),
        ("1 + 2", 3),
        ("!0 && 'yes'", "yes"),
        ("'' || null || 'last'", "last"),
        ("String(null) + String(1.0)", "null1"),
        ("(evt && evt.state) || 0", 0),
    ],
)
def test_values(source: str, value: Any) -> None:
    assert value_of(source, {}) == value


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("el.focus()", "the name 'el'"),
        ("@peek($a)", "the action @peek"),
        ("$a - 1", "found '-'"),
        ("() => 1", "unexpected '> 1'"),
        ("@post('/x').then()", "a call of .then()"),
        ("@post(1)", "a URL that is not a string"),
    ],
)
def test_javascript_beyond_the_subset_fails_naming_the_construct(source: str, what: str) -> None:
    with pytest.raises(ExpressionError, match="cannot evaluate") as caught:
        evaluate(source, {"a": 1})
    assert what in str(caught.value)
    assert "page.post(url)" in str(caught.value)  # and how to go on
