"""The plain click (a browser event whose handler returns nothing) takes a short way through
the kernel; whatever the component, it must give the Step the general way gives: the same
fragments, commands, errors and next conversation (history, URL, what is on the page).

Each scenario runs a sequence of events twice per step, once each way, from the same
conversation, compares the Steps, and goes on from the short way's conversation.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from htpy import Element, Node, button, div, span

from parlour import (
    Component,
    answer,
    call,
    call_in_slot,
    event,
    flow,
    patch_signals,
    set_keyed_children,
)
from parlour.core import kernel
from parlour.core.codec import encode
from parlour.core.conversation import Conversation
from parlour.core.effects import Effect
from parlour.core.errors import EffectError


def same_step(short: kernel.Step, general: kernel.Step) -> None:
    """What anyone can observe of two Steps is the same."""
    assert short.fragments == general.fragments
    assert short.commands == general.commands
    assert [(e.cid, e.iid, e.phase, type(e.error), str(e.error)) for e in short.errors] == [
        (e.cid, e.iid, e.phase, type(e.error), str(e.error)) for e in general.errors
    ]
    same_conversation(short.conversation, general.conversation)


def same_conversation(a: Conversation, b: Conversation) -> None:
    assert encode(a) == encode(b)
    for name in ("stack", "history_base", "touched", "next_id", "last_url", "ended"):
        assert getattr(a, name) == getattr(b, name), name
    assert len(a.history) == len(b.history)
    assert {i: inst.rendered for i, inst in a.instances.items()} == {
        i: inst.rendered for i, inst in b.instances.items()
    }


def both_ways(conv: Conversation, ev: kernel.Event) -> kernel.Step:
    short = kernel._dispatch(conv, ev, plain=True)  # pyright: ignore[reportPrivateUsage]
    general = kernel._dispatch(conv, ev, plain=False)  # pyright: ignore[reportPrivateUsage]
    same_step(short, general)
    return short


def run(root: Component, events: list[tuple[str, str, Any]], **boot: Any) -> Conversation:
    conv = kernel.boot(root, cid="c1", **boot).conversation
    for t, (iid, name, payload) in enumerate(events, start=1):
        signals = payload.pop("signals", {}) if isinstance(payload, dict) else {}
        ev = kernel.Event(iid, name, payload, signals, now=float(t))
        conv = both_ways(conv, ev).conversation
    return conv


# -- components -------------------------------------------------------------------------------


class Counter(Component, name="tests.plain.Counter"):
    count: int = 0
    mode: str = "replace"

    def url(self) -> str | tuple[str, str] | None:
        if self.mode == "none":
            return None
        if self.mode == "bad":
            return 42  # type: ignore[return-value]  # a mistake the kernel reports
        if self.mode == "push":
            return ("push", f"?n={self.count}")
        return f"?n={self.count // 2}"  # the same URL for two counts: no history fragment

    def render(self) -> Element:
        return div(self.root)[
            button(self.on("click", "inc"))["+"],
            span(".count")[self.count],
            self.back_button(),
        ]

    @event
    def inc(self) -> None:
        self.count += 1

    @event
    def set_mode(self, mode: str) -> None:
        self.mode = mode

    @event
    def nothing(self) -> list[Effect]:
        return []  # no effects, said with a list: the general way

    @event
    def signal(self) -> Effect:
        return patch_signals({"x": self.count})

    @event
    def crash(self) -> None:
        raise RuntimeError("the handler failed")

    @event
    def bad_state(self) -> None:
        self.count = "three"  # type: ignore[assignment]


class Kept(Component, name="tests.plain.Kept"):
    keep: ClassVar[tuple[str, ...]] = ("draft",)
    draft: str = ""
    saved: list[str] = []

    def render(self) -> Element:
        return div(self.root)[span[self.draft], span[len(self.saved)]]

    @event
    def save(self) -> None:
        self.saved = [*self.saved, self.draft]


class Fragile(Component, name="tests.plain.Fragile"):
    n: int = 0

    def render(self) -> Element:
        if self.n == 2:
            raise ValueError("cannot draw two")
        return div(self.root)[self.n]

    @event
    def inc(self) -> None:
        self.n += 1


class Child(Component, name="tests.plain.Child"):
    n: int = 0

    def render(self) -> Element:
        return div(self.root)[self.n]

    @event
    def inc(self) -> None:
        self.n += 1

    @event
    def done(self) -> Effect:
        return answer(self.n)


class Parent(Component, name="tests.plain.Parent"):
    got: list[Any] = []
    n: int = 0

    def children(self) -> dict[str, Component]:
        return {"fixed": Child()}

    def url(self) -> str:
        return f"?got={len(self.got)}&n={self.n}"

    def render(self) -> Node:
        return div(self.root)[
            self.slot("fixed"),
            self.keyed("rows"),
            span[repr(self.got)],
        ]

    @event
    def inc(self) -> None:
        self.n += 1

    @event
    def open_frame(self) -> Effect:
        return call(Child(), resume=self.back_from_frame)

    @event
    def open_slot(self) -> Effect:
        return call_in_slot("fixed", Child(n=10), resume=self.back_from_frame)

    @event
    def rows(self, keys: list[str]) -> Effect:
        return set_keyed_children("rows", [(k, Child()) for k in keys])

    def back_from_frame(self, value: Any) -> None:
        self.got = [*self.got, value]


@flow
def asking() -> Any:
    first = yield Child()
    second = yield Child(n=first)
    return first + second


# -- scenarios ------------------------------------------------------------------------------------


def test_a_counter_clicked_many_times_past_its_history_limit() -> None:
    conv = run(Counter(), [("p1", "inc", None)] * 8, history_limit=3)
    assert conv.history_base == 5


@pytest.mark.parametrize("mode", ["replace", "push", "none", "bad"])
def test_each_kind_of_url(mode: str) -> None:
    run(Counter(), [("p1", "set_mode", mode), ("p1", "inc", None), ("p1", "inc", None)])


def test_effects_and_empty_lists_and_errors_in_the_handler() -> None:
    run(
        Counter(),
        [
            ("p1", "inc", None),
            ("p1", "nothing", None),
            ("p1", "signal", None),
            ("p1", "crash", None),
            ("p1", "bad_state", None),
            ("p1", "inc", None),
        ],
    )


def test_kept_signals_are_lifted_and_snapshotted() -> None:
    run(
        Kept(),
        [
            ("p1", "save", {"signals": {"draft": "a"}}),
            ("p1", "save", {"signals": {}}),
            ("p1", "save", {"signals": {"draft-p-1": "b", "draft": "c"}}),
        ],
    )


def test_a_state_that_cannot_be_drawn_keeps_the_last_good_one() -> None:
    run(Fragile(), [("p1", "inc", None)] * 4)


def test_children_slots_frames_and_keyed_lists() -> None:
    run(
        Parent(),
        [
            ("p2", "inc", None),  # the fixed child: only it is drawn again
            ("p1", "inc", None),
            ("p1", "rows", ["a", "b"]),
            ("p3", "inc", None),  # a keyed child
            ("p1", "open_frame", None),
            ("p1", "inc", None),  # covered: stale
            ("p5", "inc", None),  # the frame on top, whose root URL is the parent's
            ("p5", "done", None),
            ("p1", "open_slot", None),
            ("p6", "inc", None),
            ("p6", "done", None),
            ("p2", "inc", None),
            ("p9", "inc", None),  # unknown
        ],
    )


def test_a_flow_and_the_frames_it_shows() -> None:
    run(
        asking(),
        [
            ("p2", "inc", None),
            ("p2", "done", None),
            ("p3", "inc", None),
            ("p3", "done", None),
        ],
    )


def test_internal_events_take_the_general_way_either_way() -> None:
    conv = kernel.boot(Counter(), cid="c1").conversation
    ev = kernel.Event("p1", "inc", source="internal", now=1.0)
    step = both_ways(conv, ev)
    assert not step.conversation.history


def test_the_short_way_is_the_one_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    def general(*args: object) -> None:
        raise AssertionError("a plain click took the general way")

    monkeypatch.setattr(kernel, "_general", general)
    conv = kernel.boot(Counter(), cid="c1").conversation
    step = kernel.dispatch(conv, kernel.Event("p1", "inc", now=1.0))
    step = kernel.dispatch(step.conversation, kernel.Event("p1", "inc", now=2.0))
    [patch, address] = step.fragments
    assert 'class="count">2<' in patch.html  # pyright: ignore[reportAttributeAccessIssue]
    assert address == kernel.fr.History(2, "?n=1", "replace")
    assert not step.errors


def test_a_url_of_the_wrong_shape_is_the_handlers_error() -> None:
    conv = kernel.boot(Counter(), cid="c1").conversation
    step = both_ways(conv, kernel.Event("p1", "set_mode", "bad"))
    [report] = step.errors
    assert isinstance(report.error, EffectError)
    assert report.phase == "handle"
    assert step.conversation is conv


class Methods(Component, name="tests.plain.Methods"):
    """Handlers of every shape an event may name."""

    calls: list[str] = []

    def render(self) -> Element:
        return div(self.root)[len(self.calls)]

    @event
    def plain(self) -> None:
        self.calls = [*self.calls, "plain"]

    @event
    def with_payload(self, payload: Any) -> None:
        self.calls = [*self.calls, f"payload {payload}"]

    def internal(self, *args: Any) -> None:
        self.calls = [*self.calls, f"internal {args}"]

    @staticmethod
    def static(payload: Any = None) -> Effect:
        return patch_signals({"static": payload})

    @classmethod
    def klass(cls) -> Effect:
        return patch_signals({"class": cls.__name__})


def test_every_shape_of_handler_is_called_as_before_and_again() -> None:
    conv = kernel.boot(Methods(), cid="c1").conversation
    for _ in range(2):  # the second time, the method is known for the class
        conv = both_ways(conv, kernel.Event("p1", "plain")).conversation
        conv = both_ways(conv, kernel.Event("p1", "with_payload", 7)).conversation
        for name, payload in [("internal", 3), ("static", 4), ("klass", None)]:
            step = kernel.deliver(conv, "p1", name, payload, now=1.0)
            assert not step.errors
            conv = step.conversation
    [comp] = [i.component for i in conv.instances.values()]
    assert comp.calls == ["plain", "payload 7", "internal (3,)"] * 2  # pyright: ignore[reportAttributeAccessIssue]
    step = kernel.deliver(conv, "p1", "static", 4, now=1.0)
    assert kernel.fr.Signals({"static": None}) in step.fragments  # one parameter: called bare
    step = kernel.deliver(conv, "p1", "klass", None, now=1.0)
    assert kernel.fr.Signals({"class": "Methods"}) in step.fragments
    for name in ["internal", "calls", "_private", "missing"]:
        [report] = kernel.dispatch(conv, kernel.Event("p1", name)).errors
        assert report.phase == "handle"
