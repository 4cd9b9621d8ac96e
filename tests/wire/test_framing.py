"""No value can break a server-sent event's framing.

Selectors, element ids, event ids and event types are SSE fields: one line each. A value with
a line break (or NUL) is refused where it is made, with a ValueError naming it, and the SSE
encoder refuses it again, so a broken frame is never emitted. HTML, scripts and JSON may hold
anything: they are split into one `data:` line per line, or escaped.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parlour.core import effects
from parlour.core.errors import EffectError, ParlourError
from parlour.core.fragments import Elements, Script, Signals, single_line
from parlour.runtime.views import SharedViews
from parlour.wire import encode, event_text

HOSTILE = [
    "#a\ndata: selector body",
    "#a\rdata: mode remove",
    "#a\r\nevent: datastar-patch-signals",
    "#a\n\ndata: signals {}",
    "#a\x00",
]


def frames(text: str) -> list[list[str]]:
    """The events of an SSE text as a client splits them: lines end at CR, LF or CRLF."""
    events: list[list[str]] = [[]]
    for line in re.split(r"\r\n|\r|\n", text):
        if line:
            events[-1].append(line)
        elif events[-1]:
            events.append([])
    return [e for e in events if e]


@pytest.mark.parametrize("selector", HOSTILE)
def test_a_selector_with_a_line_break_is_refused_naming_it(selector: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(selector))):
        encode(Elements("<p>x</p>", selector, "inner"))


@pytest.mark.parametrize("event_id", ["1\nevent: x", "1\r", "1\x00"])
def test_an_event_id_with_a_line_break_or_nul_is_refused(event_id: str) -> None:
    with pytest.raises(ValueError, match="single line"):
        encode(Elements('<p id="a">x</p>'), event_id=event_id)


@pytest.mark.parametrize("selector", HOSTILE)
def test_a_handler_building_a_hostile_selector_is_told_where(selector: str) -> None:
    with pytest.raises(EffectError, match=r"patch\(\) selector"):
        effects.patch("<p>x</p>", selector=selector, mode="inner")


def test_a_keyed_slot_name_is_part_of_an_id_and_must_be_one_line() -> None:
    with pytest.raises(EffectError, match=r"set_keyed_children\(\) slot"):
        effects.set_keyed_children("items\ndata: selector body", [])


def test_a_shared_view_whose_item_id_has_a_line_break_is_refused_naming_it() -> None:
    views = SharedViews()
    hostile = "agent-x\ndata: selector body"
    with pytest.raises(ParlourError, match=re.escape(repr(hostile))):
        views.add_list(
            "agents",
            lambda items: f'<ul id="agents">{items}</ul>',
            lambda: [(hostile, "<li>x</li>")],
        )


def test_single_line_accepts_an_ordinary_id() -> None:
    assert single_line("an id", "agent-linter_2") == "agent-linter_2"


@given(st.text())
def test_html_scripts_and_signals_never_add_fields_whatever_they_hold(text: str) -> None:
    for fragment in (
        Elements(f'<p id="a">{text}</p>'),
        Elements(text, "#feed", "append"),
        Script(text),
        Signals({text: text}),
    ):
        (event,) = frames(encode(fragment, event_id="1.2"))
        names = [line.partition(":")[0] for line in event]
        assert names[0] == "event"
        assert names.count("id") == 1
        assert set(names) <= {"event", "id", "data"}, event


def test_a_json_feed_event_refuses_a_hostile_type_or_id() -> None:
    with pytest.raises(ValueError, match="event type"):
        event_text("agent.done\nid: 999", "{}")
    with pytest.raises(ValueError, match="event id"):
        event_text("agent.done", "{}", event_id="5\r\nevent: forged")


@given(st.text())
def test_a_json_feed_event_keeps_any_data_inside_its_data_lines(data: str) -> None:
    (event,) = frames(event_text("agent.done", data, event_id="7"))
    assert event[:2] == ["event: agent.done", "id: 7"]
    assert all(line.startswith("data:") for line in event[2:])
