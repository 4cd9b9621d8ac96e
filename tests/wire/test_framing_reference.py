"""parlour frames Datastar events itself, byte for byte as datastar-py, the reference SDK.

`parlour.wire.encode` no longer calls datastar-py's `ServerSentEventGenerator` on every event
(its runtime Protocol checks were most of the framing's cost on a click; decision 0011). These
properties keep the two identical: for any HTML (line separators of every kind included), any
selector, mode, event id, retry and nonce, the text parlour sends is the text datastar-py
would have sent for the same fragment.
"""

from __future__ import annotations

import json

from datastar_py import ServerSentEventGenerator as SDK
from datastar_py.consts import ElementPatchMode
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from parlour.core.fragments import Elements, History, Script, Signals
from parlour.wire import encode
from parlour.wire.actions import history_script

MODES = [m.value for m in ElementPatchMode]
LINE_BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028"]

html_text = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(LINE_BREAKS)), max_size=8).map(
    "".join
)
one_line = st.text(max_size=20).filter(lambda t: not any(c in t for c in "\r\n\x00"))
event_ids = st.one_of(st.none(), st.just(""), one_line)
retries = st.one_of(st.none(), st.sampled_from([0, 1000]), st.integers(1, 10**7))
nonces = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9+/_=-]{1,40}", fullmatch=True))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def reference_elements(fragment: Elements, event_id: str | None, retry: int | None) -> str:
    """What parlour sent through datastar-py before it framed events itself."""
    mode = ElementPatchMode(fragment.mode)
    if mode is ElementPatchMode.REMOVE:
        return SDK.patch_elements(
            selector=fragment.selector or "",
            mode=ElementPatchMode.REMOVE,
            event_id=event_id,
            retry_duration=retry,
        )
    return SDK.patch_elements(
        fragment.html,
        selector=fragment.selector,
        mode=mode,
        event_id=event_id,
        retry_duration=retry,
    )


def reference_script(script: str, nonce: str | None, event_id: str | None, retry: int | None):
    attributes = {"nonce": nonce} if nonce else None
    return SDK.execute_script(
        script, attributes=attributes, event_id=event_id, retry_duration=retry
    )


@settings(max_examples=200)
@given(
    html=html_text,
    selector=st.one_of(st.none(), st.just(""), one_line.map(lambda t: "#" + t)),
    mode=st.sampled_from(MODES),
    event_id=event_ids,
    retry=retries,
    markup=st.booleans(),
)
@example(
    html="<p>a</p>\u2028<p>b</p>",
    selector=None,
    mode="outer",
    event_id="e.1",
    retry=0,
    markup=False,
)
@example(html="", selector="#x", mode="inner", event_id="", retry=1000, markup=False)
@example(html="<b>&</b>", selector="#x", mode="remove", event_id=None, retry=5, markup=True)
def test_an_element_patch_is_framed_as_datastar_py_frames_it(
    html: str,
    selector: str | None,
    mode: str,
    event_id: str | None,
    retry: int | None,
    markup: bool,
) -> None:
    if not selector and mode not in ("outer", "replace"):
        selector = "#needed"  # parlour refuses these (the client would); not a framing case
    fragment = Elements(Markup(html) if markup else html, selector, mode)  # pyright: ignore[reportArgumentType]
    assert encode(fragment, event_id=event_id, retry=retry) == reference_elements(
        fragment, event_id, retry
    )


@settings(max_examples=150)
@given(script=html_text, nonce=nonces, event_id=event_ids, retry=retries)
def test_a_script_is_framed_as_datastar_py_frames_execute_script(
    script: str, nonce: str | None, event_id: str | None, retry: int | None
) -> None:
    expected = reference_script(script, nonce, event_id, retry)
    assert encode(Script(script), event_id=event_id, retry=retry, nonce=nonce) == expected


@settings(max_examples=100)
@given(
    depth=st.integers(0, 10**6),
    url=st.one_of(st.none(), st.text(max_size=30)),
    mode=st.sampled_from(["push", "replace"]),
    nonce=nonces,
    event_id=event_ids,
)
def test_a_history_entry_is_framed_as_the_script_datastar_py_would_send(
    depth: int, url: str | None, mode: str, nonce: str | None, event_id: str | None
) -> None:
    assume(mode == "push" or url is not None)  # replacing needs a URL (history_script says so)
    fragment = History(depth, url, mode)  # pyright: ignore[reportArgumentType]
    expected = reference_script(history_script(fragment), nonce, event_id, None)
    assert encode(fragment, event_id=event_id, nonce=nonce) == expected


@settings(max_examples=100)
@given(
    data=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    only_if_missing=st.booleans(),
    event_id=event_ids,
    retry=retries,
)
def test_a_signals_patch_is_framed_as_datastar_py_frames_it(
    data: dict[str, object], only_if_missing: bool, event_id: str | None, retry: int | None
) -> None:
    expected = SDK.patch_signals(
        json.dumps(data, separators=(",", ":"), allow_nan=False),
        event_id=event_id,
        only_if_missing=only_if_missing,
        retry_duration=retry,
    )
    assert encode(Signals(data, only_if_missing), event_id=event_id, retry=retry) == expected
