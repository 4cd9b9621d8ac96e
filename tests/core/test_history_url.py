"""The page URL: the `history` effect, and the root frame's `url()` projection."""

from __future__ import annotations

from typing import Any

from htpy import Element, div

from parlour import Component, call, event, history
from parlour.core import fragments as fr
from parlour.core import kernel
from parlour.core.codec import encode
from parlour.core.effects import Effect
from parlour.testing import Dispatch, Harness, replay
from parlour.wire.actions import history_script


def scripts(step: kernel.Step) -> list[str]:
    """The JavaScript the step runs in the page (the kernel says History; the wire writes it)."""
    return [
        history_script(f) if isinstance(f, fr.History) else f.js
        for f in step.fragments
        if isinstance(f, (fr.Script, fr.History))
    ]


class Nav(Component):
    n: int = 0

    def render(self) -> Element:
        return div(self.root)[self.n]

    @event
    def go(self, url: str) -> Effect:
        return history(url)

    @event
    def swap(self, url: str) -> Effect:
        return history(url, "replace")


def test_history_push_emits_a_push_state_with_the_depth() -> None:
    h = Harness(Nav)
    step = h.dispatch(None, "go", "/a?b=1")
    assert step.fragments[-1] == fr.History(depth=1, url="/a?b=1", mode="push")
    assert scripts(step) == [
        'history.replaceState({"parlour": true, "depth": 0},\'\');'
        'history.pushState({"parlour": true, "depth": 1},\'\',"/a?b=1")'
    ]


def test_history_replace_emits_a_replace_state_keeping_the_entry() -> None:
    step = Harness(Nav).dispatch(None, "swap", "/x")
    assert step.fragments[-1] == fr.History(depth=1, url="/x", mode="replace")
    assert scripts(step) == ["history.replaceState(history.state,'',\"/x\")"]


def test_history_leaves_the_stack_alone_and_the_instance_is_still_redrawn() -> None:
    step = Harness(Nav).dispatch(None, "go", "/a")
    assert step.conversation.stack == ("p1",)
    assert [type(f) for f in step.fragments] == [fr.Elements, fr.History]


def test_history_urls_cannot_break_out_of_a_script_element() -> None:
    [js] = scripts(Harness(Nav).dispatch(None, "swap", "/</script><b>&"))
    assert "</script>" not in js
    assert "<b>" not in js
    assert "\\u003c/script\\u003e\\u003cb\\u003e\\u0026" in js


def test_replay_traces_every_history_effect() -> None:
    step = replay(Nav, [Dispatch("go", "/one"), Dispatch("swap", "/two")])
    assert len(scripts(step)) == 2


def test_a_history_effect_is_not_stored_in_the_conversation() -> None:
    step = Harness(Nav).dispatch(None, "go", "/only-in-the-browser")
    assert b"only-in-the-browser" not in encode(step.conversation)
    assert step.conversation.last_url is None


class Search(Component):
    """The root's state stands for a URL."""

    q: str = ""
    page: int = 1
    push: bool = False

    def render(self) -> Element:
        return div(self.root)[self.q]

    def url(self) -> str | tuple[str, str] | None:
        if not self.q:
            return None
        url = f"/search?q={self.q}&page={self.page}"
        return ("push", url) if self.push else url

    @event
    def search(self, q: str) -> None:
        self.q = q

    @event
    def same(self) -> None:
        pass

    @event
    def search_and_record(self, q: str) -> Effect:
        self.q = q
        return history("/explicit")

    @event
    def open(self) -> Effect:
        return call(Search(q="nested"))


def test_a_changed_url_projection_replaces_the_browser_url() -> None:
    h = Harness(Search)
    step = h.dispatch(None, "search", "cats")
    assert scripts(step) == [
        "history.replaceState(history.state,'',\"/search?q=cats\\u0026page=1\")"
    ]
    assert step.conversation.last_url == "/search?q=cats&page=1"


def test_an_unchanged_url_projection_emits_nothing() -> None:
    h = Harness(Search(q="cats"))
    assert h.conversation.last_url == "/search?q=cats&page=1"  # seeded silently at boot
    assert scripts(h.steps[0]) == []
    assert scripts(h.dispatch(None, "same")) == []


def test_an_explicit_history_effect_wins_over_the_projection() -> None:
    h = Harness(Search)
    step = h.dispatch(None, "search_and_record", "dogs")
    assert scripts(step) == [
        'history.replaceState({"parlour": true, "depth": 0},\'\');'
        'history.pushState({"parlour": true, "depth": 1},\'\',"/explicit")'
    ]
    assert step.conversation.last_url == "/search?q=dogs&page=1"


def test_a_none_projection_leaves_the_url_alone() -> None:
    step = Harness(Search).dispatch(None, "same")
    assert scripts(step) == []
    assert step.conversation.last_url is None


def test_a_push_projection_adds_a_browser_history_entry() -> None:
    step = Harness(Search(push=True)).dispatch(None, "search", "owls")
    assert scripts(step) == [
        'history.replaceState({"parlour": true, "depth": 0},\'\');'
        'history.pushState({"parlour": true, "depth": 1},\'\',"/search?q=owls\\u0026page=1")'
    ]


def test_only_the_root_frames_projection_counts() -> None:
    h = Harness(Search)
    step = h.dispatch(None, "open")
    assert not any("nested" in js for js in scripts(step))
    assert step.conversation.last_url is None


def test_the_projection_is_deterministic_across_replays() -> None:
    events = [Dispatch("search", "a"), Dispatch("search", "b"), Dispatch("search", "c")]
    urls = {replay(Search, events).conversation.last_url for _ in range(2)}
    assert urls == {"/search?q=c&page=1"}


def test_an_invalid_projection_becomes_an_error_block() -> None:
    class Broken(Component):
        mode: Any = None

        def render(self) -> Element:
            return div(self.root)["broken"]

        def url(self) -> Any:
            return self.mode

        @event
        def set(self, mode: Any) -> None:
            self.mode = mode

    h = Harness(Broken)
    for bad in (42, ["push", "/x"], ("jump", "/x"), ("push", 3), ("push", "/a", "extra")):
        step = h.dispatch(None, "set", bad)
        assert step.conversation is h.conversation
        [frag] = step.fragments
        assert isinstance(frag, fr.Elements)
        assert frag.error
        assert "Broken.url() must return None, a URL string, or ('push'|'replace', url)" in str(
            step.errors[0].error
        )
