"""What `parlour.wire` promises: fragments become the SSE events Datastar expects, heartbeats
stay invisible, and request signals are read strictly with errors that say what was wrong."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parlour.core.fragments import Close, Elements, PatchMode, Redirect, Script, Signals
from parlour.wire import (
    SSE_HEADERS,
    BadSignals,
    comment,
    encode,
    signals_from_body,
    signals_from_query,
)


def client_view(event: str) -> tuple[dict[str, str], dict[str, str]]:
    """Read one event the way the Datastar client does: (fields, dataline values by key).

    Lines end at CR, LF or CRLF; one space after `field:` is dropped; each data line is
    split at its first space into key and value, and the values of one key are joined
    with newlines.
    """
    assert event.endswith("\n\n"), f"an event must end with a blank line: {event!r}"
    fields: dict[str, str] = {}
    data: dict[str, list[str]] = {}
    for line in re.split(r"\r\n|\r|\n", event[:-2]):
        assert line, f"a blank line inside the event would split it in two: {event!r}"
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            key, _, rest = value.partition(" ")
            data.setdefault(key, []).append(rest)
        else:
            assert name not in fields, f"field {name!r} repeated in {event!r}"
            fields[name] = value
    return fields, {key: "\n".join(lines) for key, lines in data.items()}


def script_of(event: str) -> str:
    """The JavaScript inside an execute-script event's <script> element."""
    html = client_view(event)[1]["elements"]
    match = re.fullmatch(r"<script[^>]*>(.*)</script>", html, re.DOTALL)
    assert match, html
    return match.group(1)


# --- Elements ------------------------------------------------------------------------------


def test_a_patch_by_id_sends_only_the_html() -> None:
    assert encode(Elements('<div id="feed">1</div>')) == (
        'event: datastar-patch-elements\ndata: elements <div id="feed">1</div>\n\n'
    )


def test_mode_outer_is_the_protocol_default_and_never_sent() -> None:
    assert "mode" not in encode(Elements('<p id="a"></p>', selector="#a", mode="outer"))


def test_a_selector_and_mode_are_sent_when_given() -> None:
    fields, data = client_view(encode(Elements("<li>x</li>", selector="#feed", mode="append")))
    assert fields == {"event": "datastar-patch-elements"}
    assert data == {"mode": "append", "selector": "#feed", "elements": "<li>x</li>"}


def test_multi_line_html_becomes_one_elements_line_per_line() -> None:
    event = encode(Elements('<ul id="l">\n  <li>a</li>\n</ul>'))
    assert event == (
        "event: datastar-patch-elements\n"
        'data: elements <ul id="l">\n'
        "data: elements   <li>a</li>\n"
        "data: elements </ul>\n"
        "\n"
    )


def test_an_empty_html_line_keeps_the_space_that_makes_it_an_elements_line() -> None:
    # Without the trailing space the client reads the key as "elements" minus nothing:
    # a line "data: elements" has no space, so it would be dropped.
    assert "data: elements \n" in encode(Elements('<pre id="p">a\n\nb</pre>'))


@given(st.text())
def test_the_browser_reassembles_any_html_with_line_breaks_normalised(html: str) -> None:
    event = encode(Elements(html))
    fields, data = client_view(event)
    assert fields == {"event": "datastar-patch-elements"}
    assert data.get("elements", "") == "\n".join(html.splitlines())


def test_remove_sends_the_selector_and_no_html() -> None:
    fields, data = client_view(encode(Elements("<p>ignored</p>", selector="#a, .b", mode="remove")))
    assert data == {"mode": "remove", "selector": "#a, .b"}
    assert fields == {"event": "datastar-patch-elements"}


def test_remove_without_a_selector_is_refused() -> None:
    with pytest.raises(ValueError, match="mode 'remove' needs a selector"):
        encode(Elements("", mode="remove"))


@pytest.mark.parametrize("mode", ["inner", "prepend", "append", "before", "after"])
def test_modes_that_need_a_target_are_refused_without_a_selector(mode: PatchMode) -> None:
    with pytest.raises(ValueError, match=f"mode '{mode}' needs a selector"):
        encode(Elements("<p>x</p>", mode=mode))


def test_replace_matches_by_id_and_needs_no_selector() -> None:
    assert client_view(encode(Elements('<p id="a"></p>', mode="replace")))[1]["mode"] == "replace"


def test_an_unknown_mode_is_refused_with_the_allowed_modes_listed() -> None:
    bad = Elements("<p>x</p>", selector="#a", mode="sideways")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match=r"must be one of 'outer', 'inner'.*got 'sideways'"):
        encode(bad)


def test_a_line_break_in_a_selector_is_refused_because_it_would_inject_a_dataline() -> None:
    with pytest.raises(ValueError, match=r"Elements\.selector must be a single line"):
        encode(Elements("<p>x</p>", selector="#a\nelements <script>", mode="inner"))


def test_the_wire_ignores_the_coalescing_key_and_error_flag() -> None:
    assert encode(Elements('<p id="a"></p>', key="i1", error=True)) == encode(
        Elements('<p id="a"></p>')
    )


# --- id and retry --------------------------------------------------------------------------


def test_event_id_and_retry_are_sse_fields_of_the_event() -> None:
    fields, _ = client_view(encode(Elements('<p id="a"></p>'), event_id="42", retry=2000))
    assert fields == {"event": "datastar-patch-elements", "id": "42", "retry": "2000"}


def test_retry_at_the_protocol_default_of_1000_ms_is_omitted() -> None:
    assert "retry" not in encode(Signals({"a": 1}), retry=1000)


def test_an_event_id_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="event_id must be a single line"):
        encode(Script("x()"), event_id="1\ndata: signals {}")


def test_a_negative_retry_is_refused() -> None:
    with pytest.raises(ValueError, match="got -1"):
        encode(Script("x()"), retry=-1)


# --- Signals -------------------------------------------------------------------------------


def test_signals_are_sent_as_compact_json_in_key_order() -> None:
    assert encode(Signals({"b": 1, "a": {"x": [1, "y"]}})) == (
        'event: datastar-patch-signals\ndata: signals {"b":1,"a":{"x":[1,"y"]}}\n\n'
    )


def test_only_if_missing_is_sent_only_when_true() -> None:
    assert "onlyIfMissing" not in encode(Signals({"a": 1}))
    assert client_view(encode(Signals({"a": 1}, only_if_missing=True)))[1]["onlyIfMissing"] == (
        "true"
    )


def test_none_removes_a_signal_as_json_null() -> None:
    assert client_view(encode(Signals({"draft": None})))[1]["signals"] == '{"draft":null}'


def test_newlines_and_unicode_line_separators_in_values_stay_escaped_on_one_line() -> None:
    event = encode(Signals({"note": "a\nb\u2028c", "name": "Zoë"}))
    assert event.count("\n") == 3  # event line, one signals line, the blank line
    assert json.loads(client_view(event)[1]["signals"]) == {"note": "a\nb\u2028c", "name": "Zoë"}


def test_signals_that_are_not_json_values_are_refused_with_the_offending_type() -> None:
    with pytest.raises(ValueError, match="datetime"):
        encode(Signals({"when": datetime(2026, 1, 1, tzinfo=UTC)}))


def test_nan_is_refused_because_it_is_not_json() -> None:
    with pytest.raises(ValueError, match="JSON values"):
        encode(Signals({"ratio": float("nan")}))


# --- Script, Redirect, Close ---------------------------------------------------------------


def test_a_script_is_appended_to_body_and_removes_itself() -> None:
    assert encode(Script("alert(1)")) == (
        "event: datastar-patch-elements\ndata: mode append\ndata: selector body\n"
        'data: elements <script data-effect="el.remove()">alert(1)</script>\n\n'
    )


def test_a_multi_line_script_is_one_elements_line_per_line() -> None:
    assert script_of(encode(Script("if (a) {\n  b()\n}"))) == "if (a) {\n  b()\n}"


def test_a_redirect_navigates_the_tab_to_the_url() -> None:
    js = script_of(encode(Redirect("/login?next=%2Fhome&x=1")))
    assert js == r'setTimeout(() => window.location.assign("/login?next=%2Fhome\u0026x=1"))'


@pytest.mark.parametrize(
    "url",
    [
        "/a'b\"c\\d",
        "/x');alert(1);('",
        '/x");alert(1);("',
        "/a</script><script>alert(1)</script>",
        "/line\nbreak\u2028and\u2029separators",
        "/é?q=ü&r=<b>",
    ],
)
def test_a_redirect_url_arrives_intact_and_cannot_escape_its_string_or_script(url: str) -> None:
    event = encode(Redirect(url))
    js = script_of(event)
    literal = js.removeprefix("setTimeout(() => window.location.assign(").removesuffix("))")
    assert json.loads(literal) == url
    assert re.fullmatch(r'"[^"\\<>\n\r\u2028\u2029]*(\\.[^"\\<>\n\r\u2028\u2029]*)*"', literal)
    assert event.count("</script>") == 1


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "  javascript:alert(1)",
        "\x01javascript:alert(1)",
        "java\tscript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
    ],
)
def test_a_redirect_to_a_url_that_runs_code_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"Redirect\.url must be a page to navigate to"):
        encode(Redirect(url))


@pytest.mark.parametrize(
    "url", ["/", "login", "https://example.com/a?b=javascript:x", "//cdn.example.com/x", "?page=2"]
)
def test_ordinary_redirect_targets_are_allowed(url: str) -> None:
    assert json.dumps(url).replace("&", "\\u0026") in encode(Redirect(url))


def test_close_encodes_to_nothing_because_the_stream_owner_ends_the_stream() -> None:
    assert encode(Close()) == ""


def test_something_that_is_not_a_fragment_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="got str"):
        encode("<p>x</p>")  # pyright: ignore[reportArgumentType]


# --- heartbeat comments and headers --------------------------------------------------------


def test_a_heartbeat_is_an_sse_comment_line() -> None:
    assert comment() == ": ping\n\n"
    assert comment("still here") == ": still here\n\n"


def test_a_multi_line_comment_stays_a_comment_on_every_line() -> None:
    assert comment("a\nevent: datastar-patch-signals") == ": a\n: event: datastar-patch-signals\n\n"
    assert comment("") == ":\n\n"


def test_sse_headers_declare_an_uncached_unbuffered_event_stream() -> None:
    assert SSE_HEADERS["Content-Type"] == "text/event-stream"
    assert SSE_HEADERS["Cache-Control"] == "no-cache"
    assert SSE_HEADERS["X-Accel-Buffering"] == "no"


def test_sse_headers_cannot_be_changed_for_every_stream_by_accident() -> None:
    with pytest.raises(TypeError):
        SSE_HEADERS["X-Extra"] = "1"  # pyright: ignore[reportIndexIssue]


def test_importing_parlour_wire_does_not_import_a_web_framework() -> None:
    check = "import sys, parlour.wire; print(sorted(m for m in sys.modules if 'starlette' in m))"
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# --- reading signals -----------------------------------------------------------------------


def test_query_signals_are_the_decoded_datastar_parameter() -> None:
    assert signals_from_query('{"count": 1, "user": {"name": "a+b %20"}}') == {
        "count": 1,
        "user": {"name": "a+b %20"},
    }


@pytest.mark.parametrize("value", [None, ""])
def test_no_query_parameter_means_no_signals(value: str | None) -> None:
    assert signals_from_query(value) == {}


def test_bad_query_json_says_where_and_what() -> None:
    with pytest.raises(BadSignals) as caught:
        signals_from_query("{count: 1}")
    assert str(caught.value) == (
        "the `datastar` query parameter is not valid JSON: "
        "Expecting property name enclosed in double quotes at line 1 column 2"
    )


@pytest.mark.parametrize(
    ("raw", "kind"),
    [("[1, 2]", "a list"), ('"x"', "a string"), ("3", "a number"), ("null", "null")],
)
def test_signals_must_be_a_json_object(raw: str, kind: str) -> None:
    with pytest.raises(BadSignals, match=f"signals must be a JSON object, got {kind}"):
        signals_from_query(raw)


def test_body_signals_are_read_from_json() -> None:
    assert signals_from_body(b'{"a": [1, 2]}', "application/json") == {"a": [1, 2]}


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON", None],
)
def test_a_json_body_is_accepted_with_a_charset_or_no_content_type(
    content_type: str | None,
) -> None:
    assert signals_from_body('{"name": "Zoë"}'.encode(), content_type) == {"name": "Zoë"}


@pytest.mark.parametrize("body", [b"", b"  \n"])
def test_an_empty_body_means_no_signals(body: bytes) -> None:
    assert signals_from_body(body, "application/json") == {}


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_a_form_post_carries_no_signals(content_type: str) -> None:
    assert signals_from_body(b"a=1&b=2", content_type) == {}


def test_a_body_of_another_content_type_is_refused_naming_the_expected_one() -> None:
    with pytest.raises(
        BadSignals, match="Content-Type application/json, got Content-Type 'text/plain'"
    ):
        signals_from_body(b'{"a": 1}', "text/plain")


def test_bad_body_json_says_where_and_what() -> None:
    with pytest.raises(BadSignals) as caught:
        signals_from_body(b"not json", "application/json")
    assert str(caught.value) == (
        "the request body is not valid JSON: Expecting value at line 1 column 1"
    )


def test_a_bad_signals_message_never_echoes_the_body() -> None:
    with pytest.raises(BadSignals) as caught:
        signals_from_body(b'{"password": "hunter2", oops}', "application/json")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("body", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}'])
def test_nan_and_infinity_are_not_json(body: bytes) -> None:
    with pytest.raises(BadSignals, match=r"is not valid JSON: .* is not a JSON value"):
        signals_from_body(body, "application/json")


def test_a_body_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(BadSignals, match="not valid"):
        signals_from_body(b'{"a": "\xff"}', "application/json")


def test_absurdly_deep_nesting_is_bad_signals_not_a_crash() -> None:
    with pytest.raises(BadSignals, match="nests arrays or objects too deeply"):
        signals_from_body(b'{"a":' + b"[" * 200_000 + b"]" * 200_000 + b"}", None)


def test_bad_signals_is_a_value_error() -> None:
    assert issubclass(BadSignals, ValueError)
