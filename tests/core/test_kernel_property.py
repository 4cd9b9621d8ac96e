"""The kernel against random event sequences (a Hypothesis state machine).

One stub component, `Node`, can emit every effect there is; the machine boots it and then
throws events at the conversation: browser events at live, parked, covered and stale
instances (and the same event twice, like a double click), timers, bus deliveries, io
results, `dispatch_to`, browser Back to any depth, a restart through the codec, a new
stream, and the reaper's `finish`. After every step it checks:

* nothing escaped the kernel (every failure became an error block and a report);
* every click gives the same Step by the plain click's short way as by the general one
  (`tests/core/test_plain_click.py`);
* the conversation survives `encode`/`decode`, and encoding again gives the same bytes;
* the structure is whole: the stack and every parent, child, keyed child and parked
  (`previous`) reference names a live instance, every live instance hangs from a frame
  (nothing leaks), nothing hangs from two places, and timers and subscriptions belong to
  live instances and name methods that exist;
* every `Elements` fragment targets `#root`, a live instance, the keyed container of a
  live instance, or (a removal) an instance the step removed (see `check_targets`);
* the fragments apply to the page: the machine keeps a model of the browser's DOM and
  applies every `Elements` fragment to it the way Datastar does. A fragment must find its
  target (`#root`, or an id in the page at that moment: an instance, a keyed container, a
  keyed sibling, the element to remove); and once the step is over, the page must be
  exactly what a fresh render of the top frame shows, unless an error block is on it.

That last check is the precise form of "every patch targets an instance that exists": it
also covers ordering within a step (a morph after `#root` was replaced) and catches a
patch that would silently miss (stube's known bug after a full-page child answers).
"""

from __future__ import annotations

from typing import Any, ClassVar

from htpy import Node as HtmlNode
from htpy import div, span
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from parlour import (
    Component,
    after,
    answer,
    answer_error,
    back,
    call,
    call_in_slot,
    dispatch_to,
    end,
    event,
    execute_script,
    history,
    io,
    patch,
    patch_signals,
    publish,
    redirect,
    replace,
    set_keyed_children,
    subscribe,
    unsubscribe,
)
from parlour.core import commands as cmd
from parlour.core import fragments as fr
from parlour.core import kernel
from parlour.core.codec import decode, encode
from parlour.core.conversation import Conversation
from parlour.core.effects import Effect
from parlour.core.render import root_id
from parlour.testing import Document
from tests.core.test_plain_click import both_ways

MAX_DEPTH = 3


def compute() -> int:
    """The stub's io work (never run by the pure kernel; the machine hands back a result)."""
    return 42


class Node(Component, name="tests.property.Node"):
    """A stub that can do everything. Depth bounds the tree: slot children, keyed children."""

    n: int = 0
    depth: int = 0
    broken: bool = False
    extra: int = 0
    """How many call_in_slot children are stacked in slot "t" (nodes without slot "s")."""
    got: list[Any] = []
    woke: int = 0

    def children(self) -> dict[str, Component]:
        return {"s": Node(depth=self.depth + 1)} if self.depth < 2 else {}

    def render(self) -> HtmlNode:
        if self.broken:
            raise RuntimeError("this state cannot be drawn")
        return div(self.root)[
            span[f"n={self.n} got={self.got} woke={self.woke}"],
            self.slot("s") if self.depth < 2 else None,
            self.slot("t") if self.extra else None,
            self.keyed("k"),
        ]

    # -- lifecycle: every hook returns effects too ------------------------------------------

    def start(self) -> Effect | None:
        return subscribe(f"n.{self.depth}", self.heard) if self.depth == 1 else None

    def stop(self) -> Effect:
        return publish("stopped", self.n)

    def wakeup(self) -> None:
        self.woke += 1

    # -- resume points and internal targets -------------------------------------------------

    def got_answer(self, value: Any) -> None:
        self.got = [*self.got[-2:], value]

    def on_error_got_answer(self, error: BaseException) -> None:
        self.got = [*self.got[-2:], f"error: {error}"]

    def slot_done(self, value: Any) -> None:
        self.extra -= 1
        self.got = [*self.got[-2:], value]

    def on_error_slot_done(self, error: BaseException) -> None:
        self.extra -= 1
        self.got = [*self.got[-2:], f"error: {error}"]

    def heard(self, payload: Any) -> Effect | None:
        self.got = [*self.got[-2:], payload]
        # Internal events change the tree too, even under a covering frame or a parked slot.
        return answer(payload) if payload.get("answer") else None

    def tick(self, payload: Any) -> Effect | None:
        self.n += 1
        keys = payload.get("keys") if isinstance(payload, dict) else None
        if keys is None or self.depth >= MAX_DEPTH:
            return None
        # n changed too, and keyed patches suppress the auto-render: ask for the parent.
        pairs = [(k, Node(depth=self.depth + 1)) for k in keys]
        return set_keyed_children("k", pairs, rerender_parent=True)

    # -- browser events: one per effect kind ------------------------------------------------

    @event
    def inc(self) -> None:
        self.n += 1

    @event
    def do_call(self) -> Effect | None:
        return call(Node(n=self.n), resume=self.got_answer) if self.depth < MAX_DEPTH else None

    @event
    def do_call_in_slot(self) -> Effect | None:
        if self.depth >= MAX_DEPTH:
            return None
        if self.depth < 2:
            return call_in_slot("s", Node(depth=self.depth + 1), resume=self.got_answer)
        self.extra += 1
        return call_in_slot("t", Node(depth=self.depth + 1), resume=self.slot_done)

    @event
    def do_answer(self) -> Effect:
        return answer(self.n)

    @event
    def do_answer_error(self) -> Effect:
        return answer_error(ValueError(f"failed at {self.n}"))

    @event
    def do_replace(self) -> Effect:
        return replace(Node(n=self.n + 100, depth=self.depth))

    @event
    def do_keyed(self, spec: list[list[Any]]) -> Effect | None:
        if self.depth >= MAX_DEPTH:
            return None
        pairs = [(key, Node(depth=self.depth + 1, n=n)) for key, n in spec]
        return set_keyed_children("k", pairs, rerender_parent=len(spec) % 2 == 1)

    @event
    def do_patch(self) -> Effect:
        self.n += 1
        return patch(self.render())  # what the auto-render would draw

    @event
    def do_signals(self) -> Effect:
        return patch_signals({f"n-{self.iid}": self.n})

    @event
    def do_script(self) -> Effect:
        return execute_script("console.log('hi')")

    @event
    def do_redirect(self) -> Effect:
        return redirect("/elsewhere")

    @event
    def do_history(self) -> Effect:
        return history(f"/n/{self.n}", "push" if self.n % 2 else "replace")

    @event
    def do_dispatch_to(self) -> Effect:
        return dispatch_to(self.tick, self.n)

    @event
    def do_io(self) -> Effect:
        return io(compute, resume=self.got_answer)

    @event
    def do_after(self) -> Effect:
        keys = ["a", "b"][: self.n % 3]
        return after(1 + self.n % 3, self.tick, {"from": self.iid, "keys": keys})

    @event
    def do_subscribe(self) -> Effect:
        return subscribe("n.*", self.heard)

    @event
    def do_unsubscribe(self) -> Effect:
        return unsubscribe()

    @event
    def do_publish(self) -> Effect:
        return publish(f"n.{self.depth}", {"n": self.n})

    @event
    def do_back(self) -> Effect:
        return back()

    @event
    def do_end(self) -> Effect:
        return end(self.n)

    @event
    def do_raise(self) -> None:
        raise RuntimeError("the handler failed")

    @event
    def do_break(self) -> None:
        self.broken = True

    @event
    def do_return_junk(self) -> Any:
        return {"n": self.n + 1}

    @event
    def do_several(self) -> list[Effect]:
        self.n += 1
        return [patch_signals({"x": 1}), call(Node(n=self.n), resume=self.got_answer), publish("a")]


BROWSER_EVENTS = [*sorted(Node.__parlour_events__), "got_answer", "no_such_event", "_private"]
STRUCTURAL = {"do_call": 8, "do_call_in_slot": 10, "do_keyed": 8, "do_answer": 6, "do_replace": 3}
WEIGHTED_EVENTS = BROWSER_EVENTS + [e for e, n in STRUCTURAL.items() for _ in range(n)]
"""Every event; the ones that change the tree far more often (the others only add fragments
and commands), and `end` rarely, since it stops the run."""


# -- the browser's DOM ------------------------------------------------------------------------


class Page:
    """What the browser shows: `<div id="root">`, patched fragment by fragment with the test
    page's Datastar rules (`parlour.testing.Document`). A fragment must find its target; a
    missing one is allowed only where an error block took the element off the page."""

    def __init__(self) -> None:
        self.doc = Document('<div id="root"></div>', strict=False)
        self.hidden: set[str] = set()
        """Ids an error block took off the page while the conversation still shows them."""

    def _missing(self, ident: str, f: fr.Elements) -> None:
        # An error block replaced an element and its subtree, but the conversation still has
        # the instances in it: Datastar ignores a patch whose target is not there.
        assert ident in self.hidden, f"#{ident} is not on the page for {f.mode}: {f}"
        self.hidden.update(e.id for e in Document(f.html).all("[id]") if e.id)

    def apply(self, f: fr.Elements) -> None:
        if f.selector is None:
            assert f.mode == "outer", f
            content = Document(f.html).body
            stray = [t for t in content.tag.find_all(string=True, recursive=False) if t.strip()]
            assert not stray, f"text at the top of a morph: {f}"
            for node in content.children:
                assert node.id, f"a morph by id needs ids on its top-level elements: {f}"
                assert node.id != "root", f"cannot patch around #root: {f}"
                if self.doc.query(f"#{node.id}") is None:
                    self._missing(node.id, f)
        else:
            assert f.selector.startswith("#"), f
            assert f.selector != "#root" or f.mode in ("inner", "append", "prepend"), (
                f"cannot patch around #root: {f}"
            )
            target = self.doc.query(f.selector)
            if target is None:
                self._missing(f.selector[1:], f)
                return
            if f.selector == "#root" and not f.error:
                self.hidden.clear()
            if f.error:
                self.hidden.update(e.id for e in [target, *target.all("[id]")] if e.id != "root")
        self.doc.patch_elements(f.html, f.selector, f.mode)

    def html(self) -> str:
        root = self.doc.query("#root")
        assert root is not None, "#root left the page"
        return root.inner_html

    def has_error_block(self) -> bool:
        return bool(self.doc.all('[class*="parlour-error"]'))


def normal(html: str) -> str:
    """`html` as the page serialises it."""
    return Document(html).body.inner_html


# -- structural invariants ------------------------------------------------------------------


def check_structure(conv: Conversation, seen: set[str]) -> None:
    insts = conv.instances
    assert len(conv.history) <= conv.history_limit
    for t in conv.timers:
        assert t.iid in insts, f"timer {t} outlives its instance"
        assert callable(getattr(type(insts[t.iid].component), t.method, None))
    for s in conv.subscriptions:
        assert s.iid in insts, f"subscription {s} outlives its instance"
        assert callable(getattr(type(insts[s.iid].component), s.method, None))
    if conv.ended:
        return
    assert conv.stack, "a live conversation always shows a frame"
    assert len(set(conv.stack)) == len(conv.stack)
    holders: dict[str, str] = {}

    def hold(iid: str, by: str) -> None:
        assert iid in insts, f"{by} refers to {iid}, which is gone"
        assert iid not in holders, f"{iid} hangs from {holders[iid]} and from {by}"
        holders[iid] = by

    for i, frame in enumerate(conv.stack):
        hold(frame, "the stack")
        inst = insts[frame]
        assert inst.slot is None
        assert inst.previous is None
        if i == 0:
            assert inst.parent is None, "the root frame has no caller"
        else:
            # A frame's caller is the owner of its resume method: live, or removed since by an
            # internal event (a timer of a covered frame dropped it); then the answer resumes
            # nobody. Never a name that did not exist.
            assert inst.parent in insts or inst.parent in seen, f"{frame}: caller {inst.parent}"
    for iid, inst in insts.items():
        assert inst.iid == iid
        for slot, child in inst.children.items():
            hold(child, f"{iid}.children[{slot}]")
            kid = insts[child]
            assert kid.parent == iid
            assert kid.slot in (None, slot)
        for slot, keyed in inst.keyed.items():
            assert sorted(keyed.order) == sorted(keyed.children) == sorted(keyed.specs)
            assert len(set(keyed.order)) == len(keyed.order)
            for key, child in keyed.children.items():
                hold(child, f"{iid}.keyed[{slot}][{key}]")
                assert insts[child].parent == iid
        if inst.previous is not None:
            hold(inst.previous, f"{iid}.previous")
            assert insts[inst.previous].parent == inst.parent
    orphans = set(insts) - set(holders)
    assert not orphans, f"instances nobody holds (a leak): {sorted(orphans)}"


def check_targets(step: kernel.Step, before: Conversation | None) -> None:
    """Every `Elements` fragment names a target that makes sense in the resulting conversation.

    Its target is its selector's id, or (morph by id) the id of its outermost element:
    * `#root`, always;
    * for `remove`: an instance that existed before the step and is gone after it;
    * `IID--SLOT`: the keyed container of a live instance that has that keyed slot;
    * anything else: a live instance of the resulting conversation (the instance drawn, a
      slot occupant a `call_in_slot` child replaces, the keyed sibling it goes after).
    """
    after = step.conversation
    for f in step.fragments:
        if not isinstance(f, fr.Elements) or f.selector == "#root":
            continue
        target = f.selector[1:] if f.selector else root_id(f.html)
        assert target, f"a fragment without a target: {f}"
        if f.mode == "remove":
            assert before is not None, f
            assert target in before.instances, f"{f} removes what never was"
            assert target not in after.instances, f"{f} removes a live instance"
        elif "--" in target:
            parent, slot = target.split("--", 1)
            assert parent in after.instances, f"{f}: the container's instance is gone"
            assert slot in after.instances[parent].keyed, f"{f}: no keyed slot {slot!r}"
        else:
            assert target in after.instances, f"{f} targets {target}, not in the conversation"
        if f.selector is None:
            assert f.key == target, f"a morph is keyed by what it updates: {f}"


# -- the machine ----------------------------------------------------------------------------


class KernelMachine(RuleBasedStateMachine):
    conv: Conversation
    page: Page | None
    now: float

    keyed_spec: ClassVar[st.SearchStrategy[list[list[Any]]]] = st.lists(
        st.tuples(st.sampled_from("abcd"), st.integers(0, 1)).map(list),
        max_size=4,
        unique_by=lambda p: p[0],
    )

    @initialize()
    def boot(self) -> None:
        self.now = 0.0
        self.page = Page()
        self.seen: set[str] = set()
        self.pending: list[cmd.Command] = []
        self.last_event: kernel.Event | None = None
        self.step_count = 0
        self.apply(kernel.boot(Node(), cid="prop", now=self.now, history_limit=6))

    # -- applying a step ------------------------------------------------------------------

    def apply(self, step: kernel.Step, *, fresh_page: bool = False) -> None:
        before = getattr(self, "conv", None)
        self.conv = step.conversation
        self.seen.update(self.conv.instances)
        self.pending.extend(c for c in step.commands if isinstance(c, cmd.RunIo | cmd.DispatchTo))
        if before is not None and before.ended:
            assert step.fragments == (), "an ended conversation draws nothing"
            assert step.commands == (), "an ended conversation asks for nothing"
        if fresh_page:
            self.page = Page()
        check_targets(step, before)
        for f in step.fragments:
            if isinstance(f, fr.Elements) and self.page is not None:
                self.page.apply(f)
            if isinstance(f, fr.Close):
                self.page = None
        self.check(step)

    def check(self, step: kernel.Step) -> None:
        self.step_count += 1
        conv = self.conv
        data = encode(conv)
        again = decode(data)
        assert encode(again) == data, "encode(decode(encode(c))) differs from encode(c)"
        assert again.stack == conv.stack
        assert {i: x.component for i, x in again.instances.items()} == {
            i: x.component for i, x in conv.instances.items()
        }
        check_structure(conv, self.seen)
        for f in step.fragments:
            if isinstance(f, fr.Elements) and f.error:
                assert 'role="alert"' in f.html
        if self.page is None or conv.ended:
            return
        fresh = kernel.render_top(conv)
        assert fresh.conversation.stack == conv.stack
        if self.page.has_error_block():
            return
        expected = "".join(f.html for f in fresh.fragments if isinstance(f, fr.Elements))
        assert self.page.html() == normal(expected), "the page and the conversation disagree"

    def live(self) -> list[str]:
        return sorted(self.conv.instances)

    def dead(self) -> list[str]:
        return [*sorted(self.seen - set(self.conv.instances)), "p0", "nobody"]

    def tick_clock(self) -> float:
        self.now += 1.0
        return self.now

    # -- rules ----------------------------------------------------------------------------

    def on_page(self) -> list[str]:
        """The top frame and everything shown inside it: what a user can click."""
        out: list[str] = []
        frontier = [self.conv.top] if self.conv.top else []
        while frontier:
            inst = self.conv.instances.get(frontier.pop())
            if inst is not None:
                out.append(inst.iid)
                frontier.extend(inst.children.values())
                for keyed in inst.keyed.values():
                    frontier.extend(keyed.children.values())
        return sorted(out)

    def click(self, data: st.DataObject, candidates: list[str]) -> None:
        iid = data.draw(st.sampled_from(candidates or self.dead()), label="iid")
        name = data.draw(st.sampled_from(WEIGHTED_EVENTS), label="event")
        payload = data.draw(self.keyed_spec, label="keys") if name == "do_keyed" else None
        signals: dict[str, Any] = {}
        if data.draw(st.booleans(), label="with signals"):
            signals = {f"n-{iid}": data.draw(st.integers(0, 5)), "_local": "client only"}
        ev = kernel.Event(iid, name, payload, signals, now=self.tick_clock())
        self.last_event = ev
        self.apply(both_ways(self.conv, ev))  # the plain click's short way agrees

    @rule(data=st.data())
    def user_clicks(self, data: st.DataObject) -> None:
        self.click(data, self.on_page())

    @rule(data=st.data())
    def user_clicks_again(self, data: st.DataObject) -> None:
        self.click(data, self.on_page())

    @rule(data=st.data())
    def event_for_any_instance(self, data: st.DataObject) -> None:
        """Covered frames, parked slot occupants, removed and unknown ids: stale events."""
        self.click(data, self.live() + self.dead())

    @precondition(lambda self: self.last_event is not None)
    @rule()
    def same_event_again(self) -> None:
        """A double click: the very same event, arriving after the first was applied."""
        assert self.last_event is not None
        self.apply(both_ways(self.conv, self.last_event))

    @rule(data=st.data())
    def timer_fires(self, data: st.DataObject) -> None:
        ids = [t.id for t in self.conv.timers] + ["t-unknown"]
        self.apply(kernel.fire_timer(self.conv, data.draw(st.sampled_from(ids)), self.tick_clock()))

    @precondition(lambda self: bool(self.conv.subscriptions))
    @rule(data=st.data())
    def bus_event_arrives(self, data: st.DataObject) -> None:
        sub = data.draw(st.sampled_from(self.conv.subscriptions))
        payload = {"t": 1, "answer": data.draw(st.booleans(), label="answers")}
        self.apply(kernel.deliver(self.conv, sub.iid, sub.method, payload, now=self.tick_clock()))

    @precondition(lambda self: bool(self.pending))
    @rule(data=st.data(), fails=st.booleans())
    def background_work_returns(self, data: st.DataObject, fails: bool) -> None:
        work = self.pending.pop(data.draw(st.integers(0, len(self.pending) - 1)))
        now = self.tick_clock()
        match work:
            case cmd.RunIo(_, iid, method, fn):
                if fails:
                    self.apply(kernel.fail(self.conv, iid, method, OSError("io"), now=now))
                else:
                    self.apply(kernel.deliver(self.conv, iid, method, fn(), now=now))
            case cmd.DispatchTo(_, iid, method, payload):
                self.apply(kernel.deliver(self.conv, iid, method, payload, now=now))
            case _:
                raise AssertionError(work)

    @rule(to=st.none() | st.integers(-1, 12))
    def browser_back(self, to: int | None) -> None:
        self.apply(kernel.back(self.conv, to=to, now=self.tick_clock()))

    @rule(wake=st.booleans())
    def stream_reopens(self, wake: bool) -> None:
        self.apply(kernel.render_top(self.conv, wake=wake), fresh_page=not self.conv.ended)

    @rule()
    def server_restarts(self) -> None:
        self.conv = decode(encode(self.conv))
        self.page = None if self.conv.ended else Page()
        self.apply(kernel.render_top(self.conv, wake=True))

    @precondition(lambda self: not self.conv.ended and self.step_count > 15)
    @rule()
    def reaper_ends_it(self) -> None:
        self.apply(kernel.finish(self.conv, self.tick_clock()))

    @invariant()
    def ended_means_closed(self) -> None:
        if getattr(self, "conv", None) is not None and self.conv.ended:
            assert self.conv.timers == ()
            assert self.conv.subscriptions == ()


TestKernelMachine = KernelMachine.TestCase
TestKernelMachine.settings = settings(max_examples=100, stateful_step_count=25, deadline=None)
