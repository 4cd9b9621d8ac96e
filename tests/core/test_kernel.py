"""The kernel's fold: what one event does to a conversation, and what it sends to the page.

The kernel's suite is split by what it specifies: `test_kernel_call_answer.py` (frames,
slots, resume), `test_kernel_lifecycle.py` (start, stop, wakeup, eager children, streams),
`test_keyed.py`, `test_back.py`, `test_errors.py`, `test_history_url.py`, `test_signals.py`,
`test_flow.py`, and the property test `test_kernel_property.py`. This file holds the basics
(boot, dispatch, rendering, output and side-effect effects) and the map from stube's suite.

Ported from stube's unit tests (stube-spec §16), by behaviour, into the files above:
back_test, conversation_test, effects_test, embed_test, errors_test, flow_test,
handle_shape_test, history_test, keyed_test, kernel_test, kernel_property_test, ui_test,
wizard_test (as the back tests with a typed value and a flow).

Skipped, and why:
* halos_test, render_test's halo and asset helpers (styles/modules/behaviors URLs,
  preserve/on-mount/on-unmount, upload attrs, signal-mirror), shell_test, http_test,
  server_test, shutdown_test, store_test, kit_test, kernel_isolation_test: no counterpart in
  `parlour.core` (they belong to devtools, web, runtime and stores, tested there).
* registry_test's macro and colocated-key checks, core_test's docstring/arglists check,
  dev_test (Malli schemas): parlour components are classes with typed fields, checked when
  the class is created (see test_component.py), not maps validated in a dev mode.
* handle_shape_test's "handler may return a bare map" / "[self' effects] pair" / "lifecycle
  hook returns a map": parlour handlers mutate `self` and return effects; a returned dict is
  an error with a message (test_errors.py), not a state update.
* errors_test's on-error hook and warn-once tracker: parlour has no `:on-error` hook and no
  "resume with [:error ex]" fallback; answer_error goes to `on_error_<method>` or an error
  block (test_kernel_call_answer.py).
* kernel_test's "re-registered component definition is used by live instances": classes are
  looked up when a conversation is decoded, not on every event; "sanitized last-event
  summary": parlour does not record the last event on the conversation; "io runs through a
  bound hook": replaced by "io is a command the kernel returns" (below).
* invariant_test: "exactly one effect interpreter" is kept as a test here; the example and
  EDN checks belong to the examples' own tests.
* load_direction_test: belongs to the layering test of the package, not the kernel.
"""

from __future__ import annotations

from htpy import Element, b, button, div, span
from markupsafe import escape

from parlour import (
    Component,
    after,
    answer,
    dispatch_to,
    end,
    event,
    execute_script,
    io,
    patch,
    patch_signals,
    publish,
    redirect,
    subscribe,
    unsubscribe,
)
from parlour.core import commands as cmd
from parlour.core import fragments as fr
from parlour.core import kernel
from parlour.core.conversation import Subscription, Timer
from parlour.core.effects import Effect
from parlour.testing import Dispatch, Harness, replay


def elements(step: kernel.Step) -> list[fr.Elements]:
    return [f for f in step.fragments if isinstance(f, fr.Elements)]


class Counter(Component):
    n: int = 0

    def render(self) -> Element:
        return div(self.root)[
            button(self.on("click", "inc"))["+"],
            span(".n")[self.n],
        ]

    @event
    def inc(self) -> None:
        self.n += 1

    @event
    def add(self, amount: int) -> None:
        self.n += amount

    @event
    def finish(self) -> Effect:
        return answer(self.n)


def fetch() -> str:
    raise AssertionError("the pure kernel never runs io work")


class Busy(Component):
    """Emits the output and side-effect effects."""

    n: int = 0

    def render(self) -> Element:
        return div(self.root)[self.n]

    def tick(self, payload: object) -> None:
        self.n += 1

    def heard(self, payload: object) -> None:
        self.n += 10

    def fetched(self, value: object) -> None:
        self.n += 100

    @event
    def outputs(self) -> list[Effect]:
        return [
            patch(span(id="news")["hello"]),
            patch_signals({"count": 3}),
            execute_script("console.log(1)"),
            redirect("/bye"),
        ]

    @event
    def side_effects(self) -> list[Effect]:
        return [
            io(fetch, resume=self.fetched),
            dispatch_to(self.tick, {"a": 1}),
            publish("news.today", {"n": self.n}),
            after(2.5, self.tick, "later"),
            subscribe("news.*", self.heard),
        ]

    @event
    def quiet(self) -> Effect:
        return unsubscribe("news.*")

    @event
    def quiet_all(self) -> Effect:
        return unsubscribe()

    @event
    def two_subscriptions(self) -> list[Effect]:
        return [subscribe("a.*", self.heard), subscribe("b.*", self.heard)]

    @event
    def stop_everything(self) -> Effect:
        return end("done")


# -- boot and the first render ----------------------------------------------------------------


def test_boot_shows_the_root_frame_in_root() -> None:
    step = kernel.boot(Counter(), cid="c1", now=5.0)
    conv = step.conversation
    assert conv.id == "c1"
    assert conv.stack == ("p1",)
    assert conv.created == conv.touched == 5.0
    [frag] = step.fragments
    assert isinstance(frag, fr.Elements)
    assert (frag.selector, frag.mode, frag.key) == ("#root", "inner", "#root")
    assert frag.html.startswith('<div id="p1">')
    assert conv.instances["p1"].rendered


def test_boot_records_no_history() -> None:
    conv = kernel.boot(Counter(), cid="c1").conversation
    assert conv.history == ()
    assert conv.depth == 0


def test_boot_accepts_a_class_or_an_instance_through_the_harness() -> None:
    assert Harness(Counter).top == Counter(n=0)
    assert Harness(Counter(n=4)).top == Counter(n=4)


def test_event_urls_carry_base_cid_iid_and_event_name() -> None:
    h = Harness(Counter, cid="abc", base="/app/_p")
    attribute = "@post('/app/_p/event/abc/p1/inc', {requestCancellation: 'disabled'})"
    assert f'data-on:click="{escape(attribute)}"' in h.html


def test_the_caller_keeps_its_own_component_object() -> None:
    shown = Counter(n=1)
    h = Harness(shown)
    h.dispatch(None, "inc")
    assert shown.n == 1
    assert h.top.n == 2


# -- dispatch ---------------------------------------------------------------------------------


def test_handler_state_update_rerenders_the_instance_by_id() -> None:
    h = Harness(Counter)
    step = h.dispatch(Counter, "inc")
    [frag] = step.fragments
    assert isinstance(frag, fr.Elements)
    assert (frag.selector, frag.mode, frag.key) == (None, "outer", "p1")
    assert '<span class="n">1</span>' in frag.html


def test_a_handler_returning_none_still_rerenders() -> None:
    class Idle(Component):
        def render(self) -> Element:
            return div(self.root)["idle"]

        @event
        def nothing(self) -> None:
            return None

    step = Harness(Idle).dispatch(None, "nothing")
    assert [f.key for f in elements(step)] == ["p1"]


def test_dispatch_never_changes_the_conversation_it_was_given() -> None:
    h = Harness(Counter)
    before = h.conversation
    h.dispatch(None, "inc")
    assert before.instances["p1"].component.n == 0
    assert h.conversation.instances["p1"].component.n == 1
    assert h.conversation is not before


def test_structured_payload_reaches_the_handler() -> None:
    h = Harness(Counter)
    h.dispatch(None, "add", 12)
    assert h.top.n == 12


def test_a_handler_without_a_payload_parameter_ignores_the_payload() -> None:
    h = Harness(Counter)
    h.dispatch(None, "inc", {"ignored": True})
    assert h.top.n == 1


def test_dispatch_touches_the_conversation_with_the_event_time() -> None:
    h = Harness(Counter, now=1.0)
    h.now = 9.0
    h.dispatch(None, "inc")
    assert h.conversation.touched == 9.0
    assert h.conversation.created == 1.0


def test_dispatch_snapshots_the_prior_conversation() -> None:
    h = Harness(Counter)
    h.dispatch(None, "inc")
    h.dispatch(None, "inc")
    assert len(h.conversation.history) == 2
    assert [s.conversation().instances["p1"].component.n for s in h.conversation.history] == [0, 1]
    assert all(s.conversation().history == () for s in h.conversation.history)


def test_replay_boots_and_folds_events_purely() -> None:
    step = replay(Counter, [Dispatch("inc"), Dispatch("add", 5), Dispatch("inc", to="p1")])
    assert step.errors == ()
    assert step.conversation.instances["p1"].component.n == 7
    assert len(step.conversation.history) == 3
    assert len(elements(step)) == 4  # the boot render and one re-render per event


def test_replay_is_deterministic() -> None:
    events = [Dispatch("inc"), Dispatch("inc"), Dispatch("finish")]
    first, second = replay(Counter, events), replay(Counter, events)
    assert first.fragments == second.fragments
    assert first.conversation.ended
    assert second.conversation.ended


def test_answer_from_root_ends_the_conversation() -> None:
    h = Harness(Counter)
    step = h.dispatch(None, "finish")
    assert step.conversation.ended
    assert step.fragments == (fr.Close(),)
    assert step.conversation.stack == ()


def test_events_after_the_end_change_nothing() -> None:
    h = Harness(Counter)
    h.dispatch(None, "finish")
    ended = h.conversation
    step = h.dispatch("p1", "inc")
    assert step.conversation is ended
    assert step.fragments == ()


# -- output effects ---------------------------------------------------------------------------


def test_output_effects_become_fragments_and_leave_the_stack_alone() -> None:
    h = Harness(Busy)
    step = h.dispatch(None, "outputs")
    assert step.fragments == (
        fr.Elements('<span id="news">hello</span>', None, "outer", key="news"),
        fr.Signals({"count": 3}),
        fr.Script("console.log(1)"),
        fr.Redirect("/bye"),
    )
    assert step.conversation.stack == ("p1",)


def test_patch_suppresses_the_auto_render() -> None:
    class Patcher(Component):
        n: int = 0

        def render(self) -> Element:
            return div(self.root)[self.n]

        @event
        def go(self) -> Effect:
            self.n += 1
            return patch(div(self.root)["patched"])

    step = Harness(Patcher).dispatch(None, "go")
    assert [f.html for f in elements(step)] == ['<div id="p1">patched</div>']


def test_signals_and_scripts_do_not_suppress_the_auto_render_and_follow_it() -> None:
    class Signaller(Component):
        n: int = 0

        def render(self) -> Element:
            return div(self.root)[self.n]

        @event
        def go(self) -> Effect:
            self.n += 1
            return patch_signals(busy=False)

    step = Harness(Signaller).dispatch(None, "go")
    assert step.fragments == (
        fr.Elements('<div id="p1">1</div>', None, "outer", key="p1"),
        fr.Signals({"busy": False}),
    )


def test_patch_with_a_selector_is_keyed_by_the_selector() -> None:
    class Appender(Component):
        def render(self) -> Element:
            return div(self.root)[div(id="log")]

        @event
        def go(self) -> Effect:
            return patch(b["one"], selector="#log", mode="append")

    [frag] = Harness(Appender).dispatch(None, "go").fragments
    assert frag == fr.Elements("<b>one</b>", "#log", "append", key="#log")


# -- side-effect effects: commands and records, never performed -------------------------------


def test_side_effects_become_commands_and_records_without_running_anything() -> None:
    h = Harness(Busy, cid="c9", now=10.0)
    step = h.dispatch(None, "side_effects")
    conv = step.conversation
    assert conv.timers == (Timer("t2", "p1", 12.5, "tick", "later"),)
    assert conv.subscriptions == (Subscription("p1", "news.*", "heard"),)
    kinds = [type(c) for c in step.commands]
    assert kinds == [cmd.RunIo, cmd.DispatchTo, cmd.Publish, cmd.ScheduleTimer, cmd.Subscribe]
    run_io, dispatched, published, scheduled, subscribed = step.commands
    assert run_io == cmd.RunIo("c9", "p1", "fetched", fetch)
    assert dispatched == cmd.DispatchTo("c9", "p1", "tick", {"a": 1})
    assert published == cmd.Publish("news.today", {"n": 0}, "c9")
    assert scheduled == cmd.ScheduleTimer("c9", conv.timers[0])
    assert subscribed == cmd.Subscribe("c9", conv.subscriptions[0])
    assert conv.stack == ("p1",)
    assert h.top.n == 0  # nothing was delivered: the runtime performs commands, not the kernel


def test_side_effects_do_not_suppress_the_auto_render() -> None:
    step = Harness(Busy).dispatch(None, "side_effects")
    assert [f.key for f in elements(step)] == ["p1"]


def test_a_timer_payload_may_be_any_plain_data() -> None:
    class Later(Component):
        seen: list[object] = []

        def render(self) -> Element:
            return div(self.root)[str(self.seen)]

        @event
        def go(self) -> Effect:
            return after(1, self.ring, {"items": [1, 2], "who": "me"})

        def ring(self, payload: object) -> None:
            self.seen = [*self.seen, payload]

    h = Harness(Later)
    step = h.dispatch(None, "go")
    assert step.errors == ()
    assert [type(c) for c in step.commands] == [cmd.ScheduleTimer]
    h.advance(1)
    assert h.top.seen == [{"items": [1, 2], "who": "me"}]


def test_fire_timer_drops_the_record_and_calls_the_method() -> None:
    h = Harness(Busy, now=0.0)
    h.dispatch(None, "side_effects")
    timer = h.conversation.timers[0]
    step = kernel.fire_timer(h.conversation, timer.id, now=3.0)
    assert step.conversation.timers == ()
    assert step.conversation.instances["p1"].component.n == 1
    assert not any(isinstance(c, cmd.CancelTimer) for c in step.commands)


def test_a_stale_timer_changes_nothing() -> None:
    h = Harness(Busy)
    step = kernel.fire_timer(h.conversation, "t404", now=1.0)
    assert step.conversation is h.conversation
    assert step.fragments == ()


def test_internal_events_are_not_snapshotted() -> None:
    h = Harness(Busy)
    h.deliver("p1", "heard", {"topic": "x"})
    assert h.top.n == 10
    assert h.conversation.history == ()


def test_internal_events_may_call_methods_the_browser_may_not() -> None:
    h = Harness(Busy)
    browser = h.dispatch(None, "heard")
    assert browser.conversation is h.steps[0].conversation
    h.deliver("p1", "heard", None)
    assert h.top.n == 10


def test_subscribing_again_to_a_pattern_replaces_the_subscription() -> None:
    h = Harness(Busy)
    h.dispatch(None, "side_effects")
    step = h.dispatch(None, "side_effects")
    assert step.conversation.subscriptions == (Subscription("p1", "news.*", "heard"),)
    assert not any(isinstance(c, cmd.Subscribe | cmd.Unsubscribe) for c in step.commands)


def test_unsubscribe_with_a_pattern_removes_that_subscription() -> None:
    h = Harness(Busy)
    h.dispatch(None, "two_subscriptions")
    step = h.dispatch(None, "quiet")  # news.* is not among them: nothing changes
    assert len(step.conversation.subscriptions) == 2
    h.dispatch(None, "side_effects")
    step = h.dispatch(None, "quiet")
    assert [s.pattern for s in step.conversation.subscriptions] == ["a.*", "b.*"]
    assert step.commands == (cmd.Unsubscribe("test", Subscription("p1", "news.*", "heard")),)


def test_unsubscribe_without_a_pattern_removes_all_of_the_instances_subscriptions() -> None:
    h = Harness(Busy)
    h.dispatch(None, "two_subscriptions")
    step = h.dispatch(None, "quiet_all")
    assert step.conversation.subscriptions == ()
    assert [type(c) for c in step.commands] == [cmd.Unsubscribe, cmd.Unsubscribe]


def test_end_stops_timers_and_subscriptions_and_closes_the_stream() -> None:
    h = Harness(Busy)
    h.dispatch(None, "side_effects")
    step = h.dispatch(None, "stop_everything")
    conv = step.conversation
    assert conv.ended
    assert conv.timers == ()
    assert conv.subscriptions == ()
    # ...and the app is told the conversation ended (with end()'s value, None here).
    assert {type(c) for c in step.commands} == {cmd.CancelTimer, cmd.Unsubscribe, cmd.Ended}
    # The handler's instance is still drawn first (nothing else drew), then the stream closes.
    assert isinstance(step.fragments[0], fr.Elements)
    assert step.fragments[-1] == fr.Close()


def test_finish_ends_the_conversation_for_the_reaper() -> None:
    h = Harness(Busy)
    step = kernel.finish(h.conversation, now=99.0)
    assert step.conversation.ended
    assert step.fragments == (fr.Close(),)
    assert kernel.finish(step.conversation, now=100.0).conversation is step.conversation


def test_the_kernel_interprets_effects_in_one_place() -> None:
    import inspect

    source = inspect.getsource(kernel)
    assert source.count("match effect:") == 1


def test_a_long_conversation_keeps_only_its_bounded_history_alive() -> None:
    import gc
    import weakref

    conv = kernel.boot(Counter(), cid="c", history_limit=2).conversation
    first_state = weakref.ref(conv.instances["p1"].component)
    for _ in range(10):
        conv = kernel.dispatch(conv, kernel.Event("p1", "inc")).conversation
    gc.collect()
    assert conv.instances["p1"].component.n == 10
    assert first_state() is None  # nothing chains a conversation to the ones before it
