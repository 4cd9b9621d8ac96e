"""Keyed children: `set_keyed_children` reconciles a list by key with the smallest patch."""

from __future__ import annotations

from typing import Any

from htpy import Element, div, li, p

from parlour import Component, after, answer, dispatch_to, event, set_keyed_children
from parlour.core import commands as cmd
from parlour.core import fragments as fr
from parlour.core import kernel
from parlour.core.effects import Effect
from parlour.testing import Harness

LOG: list[str] = []


def elements(step: kernel.Step) -> list[fr.Elements]:
    return [f for f in step.fragments if isinstance(f, fr.Elements)]


class Column(Component):
    title: str = ""
    clicks: int = 0

    def render(self) -> Element:
        return li(self.root)[f"{self.title} clicks={self.clicks}"]

    def start(self) -> None:
        LOG.append(f"start {self.title}")

    def stop(self) -> None:
        LOG.append(f"stop {self.title}")

    @event
    def click(self) -> None:
        self.clicks += 1

    @event
    def close(self) -> Effect:
        return answer(self.title)  # keyed children cannot answer

    @event
    def close_politely(self) -> Effect:
        return dispatch_to(self.close, self.title)  # stand-in: the runtime delivers it


class Board(Component):
    titles: list[str] = []
    rerender: bool = False

    def start(self) -> Effect:
        return self.sync()

    def sync(self) -> Effect:
        return set_keyed_children(
            "cols",
            [(t, Column(title=t.upper())) for t in self.titles],
            rerender_parent=self.rerender,
        )

    def render(self) -> Element:
        return div(self.root)[p[f"{len(self.titles)} open"], self.keyed("cols")]

    @event
    def show(self, titles: list[str]) -> Effect:
        self.titles = titles
        return self.sync()

    @event
    def retitle(self, pair: list[str]) -> Effect:
        key, title = pair
        pairs = [(t, Column(title=title if t == key else t.upper())) for t in self.titles]
        return set_keyed_children("cols", pairs)

    @event
    def forget_and_show(self, titles: list[str]) -> Effect:
        self.titles = []  # the handler's own state; keyed bookkeeping belongs to the kernel
        self.titles = titles
        return self.sync()


def boot(*titles: str, rerender: bool = False) -> Harness:
    return Harness(Board(titles=list(titles), rerender=rerender))


def ids(h: Harness, slot: str = "cols") -> dict[str, str]:
    keyed = h.conversation.instances["p1"].keyed[slot]
    return {k: keyed.children[k] for k in keyed.order}


def test_keyed_children_set_before_the_first_render_arrive_in_one_fragment() -> None:
    LOG.clear()
    h = boot("a", "b")
    assert list(ids(h)) == ["a", "b"]
    assert ids(h) == {"a": "p2", "b": "p3"}
    [frag] = elements(h.steps[0])
    assert (frag.selector, frag.mode) == ("#root", "inner")
    assert '<div id="p1--cols"><li id="p2">A clicks=0</li><li id="p3">B clicks=0</li></div>' in (
        frag.html
    )
    assert LOG == ["start A", "start B"]


def test_adding_a_key_at_the_end_emits_only_an_append() -> None:
    h = boot("a", "b")
    step = h.dispatch(None, "show", ["a", "b", "c"])
    [frag] = elements(step)
    assert (frag.selector, frag.mode) == ("#p1--cols", "append")
    assert frag.html == '<li id="p4">C clicks=0</li>'
    assert ids(h) == {"a": "p2", "b": "p3", "c": "p4"}


def test_adding_a_key_at_the_front_emits_a_prepend() -> None:
    h = boot("b")
    [frag] = elements(h.dispatch(None, "show", ["a", "b"]))
    assert (frag.selector, frag.mode) == ("#p1--cols", "prepend")


def test_adding_a_key_in_the_middle_goes_after_its_previous_sibling() -> None:
    h = boot("a", "c")
    [frag] = elements(h.dispatch(None, "show", ["a", "b", "c"]))
    assert (frag.selector, frag.mode) == ("#p2", "after")
    assert "B clicks=0" in frag.html


def test_removing_a_key_emits_only_a_remove_and_stops_the_child() -> None:
    h = boot("a", "b")
    LOG.clear()
    step = h.dispatch(None, "show", ["b"])
    assert step.fragments == (fr.Elements("", "#p2", "remove", key="p2"),)
    assert "p2" not in step.conversation.instances
    assert ids(h) == {"b": "p3"}
    assert LOG == ["stop A"]


def test_removing_a_key_cancels_the_childs_timers() -> None:
    class Expiring(Column):
        def start(self) -> Effect:
            return after(60, self.expire)

        def expire(self) -> None:
            pass

    class Timed(Board):
        def sync(self) -> Effect:
            return set_keyed_children("cols", [(t, Expiring(title=t)) for t in self.titles])

    h = Harness(Timed(titles=["a", "b"]))
    [timer_a, timer_b] = h.conversation.timers
    step = h.dispatch(None, "show", ["b"])
    assert step.commands == (cmd.CancelTimer("test", timer_a),)
    assert step.conversation.timers == (timer_b,)


def test_a_kept_key_keeps_its_instance_and_its_state() -> None:
    h = boot("a", "b")
    h.dispatch("p2", "click")
    h.dispatch(None, "show", ["a", "b", "c"])
    assert h.instance("p2") == Column(title="A", clicks=1)


def test_the_same_keys_again_change_nothing_and_the_parent_redraws() -> None:
    h = boot("a", "b")
    LOG.clear()
    step = h.dispatch(None, "show", ["a", "b"])
    assert LOG == []
    assert [f.key for f in elements(step)] == ["p1"]  # no keyed patch, so the auto-render


def test_a_changed_component_for_a_key_rebuilds_it_under_the_same_id() -> None:
    h = boot("a", "b")
    h.dispatch("p2", "click")
    LOG.clear()
    step = h.dispatch(None, "retitle", ["a", "Alpha"])
    assert ids(h) == {"a": "p2", "b": "p3"}
    assert h.instance("p2") == Column(title="Alpha", clicks=0)  # a fresh instance
    assert LOG == ["stop A", "start Alpha"]
    [frag] = elements(step)
    assert (frag.selector, frag.mode, frag.key) == (None, "outer", "p2")
    assert frag.html == '<li id="p2">Alpha clicks=0</li>'


def test_a_rebuilt_child_gets_a_fresh_subtree() -> None:
    class Cell(Component):
        def render(self) -> Element:
            return div(self.root)["cell"]

    class Card(Component):
        kind: str = "x"

        def children(self) -> dict[str, Component]:
            return {"cell": Cell()}

        def render(self) -> Element:
            return div(self.root)[self.kind, self.slot("cell")]

    class Deck(Component):
        def start(self) -> Effect:
            return set_keyed_children("cards", [("k", Card(kind="x"))])

        def render(self) -> Element:
            return div(self.root)[self.keyed("cards")]

        @event
        def change(self) -> Effect:
            return set_keyed_children("cards", [("k", Card(kind="y"))])

    h = Harness(Deck)
    assert h.conversation.instances["p2"].children == {"cell": "p3"}
    h.dispatch(None, "change")
    conv = h.conversation
    assert "p3" not in conv.instances
    assert conv.instances["p2"].children == {"cell": "p4"}
    assert h.instance("p2") == Card(kind="y")


def test_a_reorder_is_one_patch_of_the_whole_container() -> None:
    h = boot("a", "b", "c")
    step = h.dispatch(None, "show", ["c", "a", "b"])
    [frag] = elements(step)
    assert (frag.selector, frag.mode, frag.key) == (None, "outer", "p1--cols")
    assert frag.html == (
        '<div id="p1--cols"><li id="p4">C clicks=0</li><li id="p2">A clicks=0</li>'
        '<li id="p3">B clicks=0</li></div>'
    )
    assert ids(h) == {"c": "p4", "a": "p2", "b": "p3"}


def test_a_reorder_with_an_addition_is_still_one_container_patch() -> None:
    h = boot("a", "b")
    [frag] = elements(h.dispatch(None, "show", ["b", "new", "a"]))
    assert frag.key == "p1--cols"
    assert frag.html.index('id="p3"') < frag.html.index('id="p4"') < frag.html.index('id="p2"')


def test_add_then_remove_gives_a_clean_trace() -> None:
    h = boot("a")
    added = elements(h.dispatch(None, "show", ["a", "b"]))
    removed = elements(h.dispatch(None, "show", ["a"]))
    assert [f.mode for f in added] == ["append"]
    assert [f.mode for f in removed] == ["remove"]


def test_rerender_parent_adds_the_parents_own_render() -> None:
    h = boot("a", rerender=True)
    step = h.dispatch(None, "show", ["a", "b", "c"])
    assert [f.mode for f in elements(step)] == ["after", "append", "outer"]
    assert elements(step)[-1].key == "p1"
    assert "3 open" in elements(step)[-1].html


def test_without_rerender_parent_the_parents_own_markup_is_not_redrawn() -> None:
    h = boot("a")
    step = h.dispatch(None, "show", ["a", "b"])
    assert [f.mode for f in elements(step)] == ["append"]
    assert "2 open" not in step.fragments[0].html  # type: ignore[union-attr]


def test_rerender_parent_before_the_first_render_adds_nothing() -> None:
    h = boot("a", "b", rerender=True)
    assert len(elements(h.steps[0])) == 1


def test_keyed_bookkeeping_survives_the_handler_reassigning_its_state() -> None:
    h = boot("a")
    h.dispatch(None, "forget_and_show", ["a", "b"])
    assert ids(h) == {"a": "p2", "b": "p3"}


def test_an_event_on_a_keyed_child_redraws_only_that_child() -> None:
    h = boot("a", "b")
    [frag] = elements(h.dispatch("p3", "click"))
    assert (frag.key, frag.html) == ("p3", '<li id="p3">B clicks=1</li>')


def test_keyed_children_cannot_answer() -> None:
    h = boot("a")
    step = h.dispatch("p2", "close")
    [report] = step.errors
    assert "nothing called it" in str(report.error)
    assert step.conversation is h.steps[0].conversation


def test_keyed_children_talk_to_their_parent_with_dispatch_to() -> None:
    class Item(Component):
        def render(self) -> Element:
            return li(self.root)["item"]

        @event
        def remove_me(self, parent_remove: Any) -> None:
            pass

    class List(Component):
        keys: list[str] = ["x", "y"]

        def start(self) -> Effect:
            return set_keyed_children("items", [(k, Item()) for k in self.keys])

        def render(self) -> Element:
            return div(self.root)[self.keyed("items")]

        def remove(self, key: str) -> Effect:
            self.keys = [k for k in self.keys if k != key]
            return set_keyed_children("items", [(k, Item()) for k in self.keys])

        @event
        def ask_to_remove(self, key: str) -> Effect:
            return dispatch_to(self.remove, key)

    h = Harness(List)
    step = h.dispatch(None, "ask_to_remove", "x")
    [command] = step.commands
    assert command == cmd.DispatchTo("test", "p1", "remove", "x")
    step = h.deliver(command.iid, command.method, command.payload)
    assert [f.mode for f in elements(step)] == ["remove"]
    assert list(h.conversation.instances["p1"].keyed["items"].order) == ["y"]


def test_a_keyed_slot_is_a_container_named_after_the_parent_and_the_slot() -> None:
    class Empty(Component):
        def render(self) -> Element:
            return div(self.root)[self.keyed("things")]

    assert '<div id="p1--things"></div>' in Harness(Empty).html
