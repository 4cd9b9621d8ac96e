"""The kernel: pure functions from a conversation and an event to the next conversation.

    dispatch(conv, event)      -> Step(conversation, fragments, commands, errors)
    boot(root, cid=…)          -> Step     a new conversation showing `root`
    render_top(conv, wake=…)   -> Step     a full render of the top frame (a new SSE stream)
    back(conv, to=…)           -> Step     restore a snapshot from history
    fire_timer(conv, id, now)  -> Step     a recorded `after` timer is due
    deliver(conv, iid, m, p)   -> Step     call iid.m(p): bus events, io results, dispatch_to
    fail(conv, iid, m, error)  -> Step     io work failed: on_error_m(error), or an error block
    finish(conv, now)          -> Step     end the conversation (stop hooks), e.g. for the reaper

No I/O, no clock, no randomness: time comes in with the event, ids come from a counter in the
conversation, and side effects leave as commands. A fold accumulates into a private `_Fold`
and every effect passes through one `match` in `_step`.

Rendering rules, which keep the page and the conversation in step:
  * a handler that produced no HTML of its own gets its instance re-rendered (morph by id);
  * whenever the top frame is not on the page (a frame was pushed, popped or replaced, the
    conversation went back, or a stream just opened), it is rendered into `#root` whole;
    so after a full-page child answers, its parent is drawn into `#root`, never morphed by an
    id that the child's page replaced (stube's known bug);
  * a render or handler that raises replaces only that instance's element with an error
    block (`role="alert"`) and leaves the conversation as it was.
"""

from __future__ import annotations

import html as htmllib
import inspect
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from operator import attrgetter
from typing import Any, Literal, assert_never, cast

import msgspec
from htpy import BaseElement, Element, VoidElement
from htpy import fragment as htpy_fragment
from markupsafe import Markup
from markupsafe import escape as escape_html

from . import commands as cmd
from . import effects as fx
from . import fragments as fr
from .component import Component, Mount, clone, encode_state, kebab_case, root_id
from .conversation import (
    Conversation,
    Instance,
    KeyedSlot,
    Snapshot,
    Subscription,
    Timer,
    without_history,
)
from .errors import EffectError, HandlerReturnError, RenderError
from .fragments import ROOT_SELECTOR

__all__ = [
    "ErrorReport",
    "Event",
    "Step",
    "back",
    "boot",
    "deliver",
    "dispatch",
    "fail",
    "finish",
    "fire_timer",
    "render_top",
]


@dataclass(frozen=True, slots=True)
class Event:
    """One event for one instance.

    `source="browser"` events come from a click or a form: they may only name `@event`
    methods, and each is snapshotted for *back*. `internal` ones (timers, the bus, io results)
    may name any public method and are not snapshotted: undoing a clock tick is not "back".
    """

    iid: str
    name: str
    payload: Any = None
    signals: Mapping[str, Any] = field(default_factory=dict[str, Any])
    source: Literal["browser", "internal"] = "browser"
    now: float = 0.0


@dataclass(frozen=True, slots=True)
class ErrorReport:
    """A failure the kernel turned into an error block; the runtime logs it."""

    cid: str
    iid: str
    phase: str
    error: BaseException


@dataclass(frozen=True, slots=True)
class Step:
    conversation: Conversation
    fragments: tuple[fr.Fragment, ...] = ()
    commands: tuple[cmd.Command, ...] = ()
    errors: tuple[ErrorReport, ...] = ()


# -- public entry points -----------------------------------------------------------------------


def boot(
    root: Component,
    *,
    cid: str,
    base: str = "/_parlour",
    owner: str | None = None,
    now: float = 0.0,
    history_limit: int = 50,
) -> Step:
    """A new conversation whose root frame is `root`, rendered into `#root`."""
    conv = Conversation(
        id=cid, base=base, owner=owner, created=now, touched=now, history_limit=history_limit
    )
    fold = _Fold(conv, now)
    try:
        _step(fold, fx.Call(root), None)
        fold.last_url = _projected_url(fold)[1] if fold.stack else None
    except Exception as exc:
        return Step(
            conv,
            (_error_block(conv, None, exc, "start"),),
            (),
            (ErrorReport(cid, "", "start", exc),),
        )
    return fold.finish()


def dispatch(conv: Conversation, event: Event) -> Step:
    """Apply one event. Stale events change nothing: an unknown instance, an ended
    conversation, or a browser event for an instance that is not on the page."""
    inst = conv.instances.get(event.iid)
    if inst is None or conv.ended:
        return Step(conv)
    if event.source == "browser" and not _shown(conv, inst.iid):
        # A click on something no longer on the page (the second click of a double click on
        # a button that called a frame, a slot child since covered): stale as well.
        return Step(conv)
    fold = _Fold(conv, event.now)
    browser = event.source == "browser"
    try:
        comp = clone(inst.component)
        _mount(fold, comp, inst.iid)
        lifted = _lift_signals(comp, inst.iid, event.signals)
        method = _method(comp, event.name, browser=browser)
        if browser:
            # Snapshot with the kept signals already lifted: going back shows what the user
            # had typed, not the state before they typed it. Nothing lifted: the snapshot is
            # the previous conversation value itself, shared (it is immutable).
            if lifted:
                fold.instances[inst.iid] = _with_component(inst, clone(comp), None)
            snapshot = _snapshot_of(fold, shared=not lifted)
        else:
            snapshot = None
        effects = _coerce(comp, event.name, _invoke(method, event.payload))
        _store(fold, inst.iid, comp)
        went_back = bool(effects) and any(isinstance(e, fx.Back) for e in effects)
        if snapshot is not None and not went_back:
            fold.push_history(snapshot)
        fold.touched = event.now
        top_before = fold.top
        _run(fold, effects, inst.iid, auto_render=inst.iid)
        if browser:
            _project_url(fold, effects)
            fold.settle()
            if fold.top != top_before and fold.top is not None and not fold.ended and not went_back:
                fold.frags.append(fr.History(fold.depth))
        step = fold.finish()
    except Exception as exc:
        return _failed(conv, inst.iid, exc, "handle")
    failed = next((r for r in step.errors if r.phase == "render"), None)
    if failed is not None:
        # The new state cannot be drawn: keep the conversation as it was, like a handler error.
        return replace(_failed(conv, inst.iid, failed.error, "render"), errors=(failed,))
    return step


def render_top(conv: Conversation, *, wake: bool = False) -> Step:
    """Render the top frame into `#root` (a stream just opened); `wake` runs wakeup hooks first."""
    if not conv.stack or conv.ended:
        return Step(conv)
    fold = _Fold(conv, conv.touched)
    fold.mark_all_unrendered()
    top = conv.stack[-1]
    try:
        if wake:
            for iid in _descendants(fold, top):
                _hook(fold, iid, "wakeup")
    except Exception as exc:
        # A stream that just opened shows an empty page: the error goes into #root.
        html = _error_html(conv.id, top, exc, "wakeup")
        return Step(
            conv,
            (fr.Elements(html, ROOT_SELECTOR, "inner", key=ROOT_SELECTOR, error=True),),
            (),
            (ErrorReport(conv.id, top, "wakeup", exc),),
        )
    return fold.finish()


def back(conv: Conversation, *, to: int | None = None, now: float | None = None) -> Step:
    """Step back one snapshot, or to absolute history depth `to` (the browser's Back button)."""
    if conv.ended or not conv.history or (to is not None and to >= conv.depth):
        return Step(conv)  # nothing to restore (or the browser went forward): a no-op
    fold = _Fold(conv, conv.touched if now is None else now)
    top = conv.top or ""
    try:
        _step(fold, fx.Back(), None, to=to)
    except Exception as exc:
        return _failed(conv, top, exc, "wakeup")
    return fold.finish()


def fire_timer(conv: Conversation, timer_id: str, now: float) -> Step:
    """A timer is due: drop its record and call its method (a stale timer changes nothing)."""
    timer = next((t for t in conv.timers if t.id == timer_id), None)
    if timer is None:
        return Step(conv)
    conv = replace(conv, timers=tuple(t for t in conv.timers if t.id != timer_id))
    return deliver(conv, timer.iid, timer.method, timer.payload, now=now)


def deliver(conv: Conversation, iid: str, method: str, payload: Any, *, now: float) -> Step:
    """Call `iid.method(payload)` as an internal event (no snapshot, any public method)."""
    return dispatch(conv, Event(iid, method, payload, source="internal", now=now))


def fail(conv: Conversation, iid: str, method: str, error: BaseException, *, now: float) -> Step:
    """Background work for `iid.method` raised: call `on_error_<method>(error)` if it exists."""
    inst = conv.instances.get(iid)
    if inst is None or conv.ended:
        return Step(conv)
    handler = _error_method_name(method)
    if callable(getattr(type(inst.component), handler, None)):
        return deliver(conv, iid, handler, error, now=now)
    return _failed(conv, iid, error, "io")


def finish(conv: Conversation, now: float) -> Step:
    """End the conversation: stop hooks run, then the stream is told to close."""
    if conv.ended:
        return Step(conv)
    fold = _Fold(conv, now)
    try:
        _step(fold, fx.End(None), None)
    except Exception as exc:
        fold = _Fold(conv, now)
        fold.ended = True
        fold.frags.append(fr.Close())
        fold.errors.append(ErrorReport(conv.id, conv.top or "", "stop", exc))
    return fold.finish()


# -- the fold ----------------------------------------------------------------------------------


class _Fold:
    """The mutable working copy of one fold. Never escapes the kernel."""

    def __init__(self, conv: Conversation, now: float) -> None:
        self.conv = conv
        self.now = now
        self.instances: dict[str, Instance] = dict(conv.instances)
        self.stack: list[str] = list(conv.stack)
        self.history: list[Snapshot] = list(conv.history)
        self.history_base = conv.history_base
        self.next_id = conv.next_id
        self.touched = conv.touched
        self.last_url = conv.last_url
        self.ended = conv.ended
        self.timers: list[Timer] = list(conv.timers)
        self.subscriptions: list[Subscription] = list(conv.subscriptions)
        self.frags: list[fr.Fragment] = []
        self.cmds: list[cmd.Command] = []
        self.errors: list[ErrorReport] = []
        self.rendering: set[str] | None = None
        self.host: _Host | None = None
        self.mounts: dict[str, Mount] = {}

    @property
    def cid(self) -> str:
        return self.conv.id

    @property
    def top(self) -> str | None:
        return self.stack[-1] if self.stack else None

    @property
    def depth(self) -> int:
        return self.history_base + len(self.history)

    def new_id(self, prefix: str = "p") -> str:
        n = self.next_id
        self.next_id += 1
        return f"{prefix}{n}"

    def push_history(self, snapshot: Snapshot) -> None:
        self.history.append(snapshot)
        overflow = len(self.history) - self.conv.history_limit
        if overflow > 0:
            del self.history[:overflow]
            self.history_base += overflow
            if self.history:
                self.history[0].rebase()  # the new oldest no longer leans on a dropped one

    def mark_all_unrendered(self) -> None:
        for iid, inst in self.instances.items():
            if inst.rendered:
                self.instances[iid] = _with_rendered(inst, False)

    def element_count(self) -> int:
        return sum(1 for f in self.frags if isinstance(f, fr.Elements))

    def settle(self) -> None:
        """The top frame must be on the page: render it into #root if it is not."""
        if not self.ended and self.stack:
            top = self.instances.get(self.stack[-1])
            if top is not None and not top.rendered:
                _render(self, top.iid, first=True)

    def finish(self) -> Step:
        """Settle and build the Step."""
        self.settle()
        old = self.conv
        conv = Conversation(  # one constructor call (dataclasses.replace is several times slower)
            old.id,
            old.base,
            tuple(self.stack),
            self.instances,
            tuple(self.history),
            self.history_base,
            old.history_limit,
            old.created,
            self.touched,
            old.owner,
            self.next_id,
            self.last_url,
            self.ended,
            tuple(self.timers),
            tuple(self.subscriptions),
        )
        commands = tuple(self.cmds)
        if old.timers is not conv.timers or old.subscriptions is not conv.subscriptions:
            commands = (*commands, *_record_diff(old, conv))
        return Step(conv, tuple(self.frags), commands, tuple(self.errors))


def _record_diff(before: Conversation, after: Conversation) -> Iterable[cmd.Command]:
    """Commands for timers and subscriptions that a fold added or removed."""
    if before.timers is not after.timers:
        # By id: a timer's payload may be a list or a dict, which cannot be hashed.
        old, new = {t.id for t in before.timers}, {t.id for t in after.timers}
        for t in before.timers:
            if t.id not in new:
                yield cmd.CancelTimer(after.id, t)
        for t in after.timers:
            if t.id not in old:
                yield cmd.ScheduleTimer(after.id, t)
    if before.subscriptions is not after.subscriptions:
        old_s, new_s = set(before.subscriptions), set(after.subscriptions)
        for s in before.subscriptions:
            if s not in new_s:
                yield cmd.Unsubscribe(after.id, s)
        for s in after.subscriptions:
            if s not in old_s:
                yield cmd.Subscribe(after.id, s)


def _run(
    fold: _Fold, effects: Sequence[fx.Effect], origin: str | None, *, auto_render: str | None
) -> None:
    """Fold `effects` emitted by `origin`; then re-render `auto_render` if nothing else drew."""
    mark = len(fold.frags)
    before = fold.element_count()
    for effect in effects:
        _step(fold, effect, origin)
    if auto_render is not None and fold.element_count() == before:
        inst = fold.instances.get(auto_render)
        if inst is not None and inst.rendered:
            tail = fold.frags[mark:]
            del fold.frags[mark:]
            _render(fold, auto_render, first=False)
            fold.frags.extend(tail)


def _step(fold: _Fold, effect: fx.Effect, origin: str | None, *, to: int | None = None) -> None:
    """Apply one effect. The single place where the effect language is interpreted."""
    match effect:
        case fx.Call(component, resume):
            owner = _owner(resume, origin)
            fold.mark_all_unrendered()
            iid, created = _instantiate(
                fold, component, parent=owner, resume=None if resume is None else resume.method
            )
            fold.stack.append(iid)
            for new in created:
                _hook(fold, new, "start")
        case fx.CallInSlot(slot, component, resume):
            parent_iid = _require_origin(fold, origin, "call_in_slot()")
            if resume is not None and resume.owner not in (None, parent_iid):
                raise EffectError(
                    "call_in_slot() resumes the instance that owns the slot; pass one of its "
                    f"own methods as resume=, not a method of {resume.owner!r}"
                )
            parent = fold.instances[parent_iid]
            old = parent.children.get(slot)
            iid, created = _instantiate(
                fold,
                component,
                parent=parent_iid,
                resume=None if resume is None else resume.method,
                slot=slot,
                previous=old,
            )
            parent = fold.instances[parent_iid]
            fold.instances[parent_iid] = replace(parent, children={**parent.children, slot: iid})
            for new in created:
                _hook(fold, new, "start")
            if iid in fold.instances:
                old_inst = fold.instances.get(old) if old else None
                if old_inst is not None and old_inst.rendered:
                    _render(fold, iid, first=False, selector=f"#{old_inst.iid}")
                    _mark_unrendered(fold, _descendants(fold, old_inst.iid))
                elif fold.instances[parent_iid].rendered:
                    _render(fold, parent_iid, first=False)
        case fx.Answer(value):
            _answer(fold, origin, value, None)
        case fx.AnswerError(error):
            _answer(fold, origin, None, error)
        case fx.Replace(component):
            if not fold.stack:
                raise EffectError("replace() needs a frame to replace, but the stack is empty")
            old = fold.instances[fold.stack[-1]]
            for iid in _subtree(fold, old.iid):
                _hook(fold, iid, "stop", keep_state=False)
            _remove_subtree(fold, old.iid)
            fold.stack.pop()
            fold.mark_all_unrendered()
            iid, created = _instantiate(fold, component, parent=old.parent, resume=old.resume)
            fold.stack.append(iid)
            for new in created:
                _hook(fold, new, "start")
        case fx.SetKeyedChildren(slot, pairs, rerender_parent):
            parent_iid = _require_origin(fold, origin, "set_keyed_children()")
            _reconcile(fold, parent_iid, slot, pairs)
            parent = fold.instances.get(parent_iid)
            if rerender_parent and parent is not None and parent.rendered:
                _render(fold, parent_iid, first=False)
        case fx.Patch(html, selector, mode):
            key = selector or root_id(html)
            fold.frags.append(fr.Elements(html, selector, mode, key=key))
        case fx.PatchSignals(signals):
            fold.frags.append(fr.Signals(signals))
        case fx.ExecuteScript(js):
            fold.frags.append(fr.Script(js))
        case fx.Redirect(url):
            fold.frags.append(fr.Redirect(url))
        case fx.History(url, mode):
            fold.frags.append(fr.History(fold.depth, url, mode))
        case fx.DispatchTo(target, payload):
            iid = _owner(target, origin) or ""
            fold.cmds.append(cmd.DispatchTo(fold.cid, iid, target.method, payload))
        case fx.Io(fn, resume):
            iid = _owner(resume, origin) or ""
            fold.cmds.append(cmd.RunIo(fold.cid, iid, resume.method, fn))
        case fx.After(seconds, target, payload):
            iid = _owner(target, origin)
            if iid is None:
                raise EffectError("after() needs an instance to call back")
            fold.timers.append(
                Timer(fold.new_id("t"), iid, fold.now + seconds, target.method, payload)
            )
        case fx.Subscribe(pattern, target):
            iid = _owner(target, origin)
            if iid is None:
                raise EffectError("subscribe() needs an instance to deliver events to")
            fold.subscriptions = [
                s for s in fold.subscriptions if not (s.iid == iid and s.pattern == pattern)
            ]
            fold.subscriptions.append(Subscription(iid, pattern, target.method))
        case fx.Unsubscribe(pattern, owner):
            iid = owner or origin
            fold.subscriptions = [
                s
                for s in fold.subscriptions
                if not (s.iid == iid and (pattern is None or s.pattern == pattern))
            ]
        case fx.Publish(topic, payload):
            fold.cmds.append(cmd.Publish(topic, payload, fold.cid))
        case fx.Back():
            _back(fold, to)
        case fx.End():
            for frame in list(fold.stack):
                for iid in _subtree(fold, frame):
                    _hook(fold, iid, "stop", keep_state=False)
            fold.ended = True
            fold.timers = []
            fold.subscriptions = []
            fold.frags.append(fr.Close())
        case _:
            assert_never(effect)


# -- call / answer ------------------------------------------------------------------------------


def _owner(target: fx.Target | None, origin: str | None) -> str | None:
    if target is None or target.owner is None:
        return origin
    return target.owner


def _require_origin(fold: _Fold, origin: str | None, what: str) -> str:
    if origin is None or origin not in fold.instances:
        raise EffectError(f"{what} must be returned by a handler of a live instance")
    return origin


def _answer(fold: _Fold, origin: str | None, value: Any, error: BaseException | None) -> None:
    if origin is None or origin not in fold.instances:
        return
    leaving = fold.instances[origin]
    if origin == fold.top:
        for iid in _subtree(fold, origin):
            _hook(fold, iid, "stop", keep_state=False)
        _remove_subtree(fold, origin)
        fold.stack.pop()
        if leaving.parent is None or not fold.stack:
            _step(fold, fx.End(value), None)
            return
        # The answering frame covered the whole page: whatever was below is not on it.
        fold.mark_all_unrendered()
        _resume(fold, leaving.parent, leaving.resume, value, error)
    elif origin in fold.stack:
        raise EffectError(
            f"{type(leaving.component).__qualname__} answered while another frame covers it; "
            "only the frame on top of the stack can answer."
        )
    elif leaving.slot is not None and leaving.parent is not None:
        holder = fold.instances.get(leaving.parent)
        if holder is None or holder.children.get(leaving.slot) != origin:
            raise EffectError(
                f"{type(leaving.component).__qualname__} answered while another child covers "
                f"it in slot {leaving.slot!r}; only the child shown in a slot can answer."
            )
        # Everything under the leaving child goes, including occupants parked inside its own
        # slots; only the occupant it displaced (and what hangs below that) comes back.
        back_in = set(_subtree(fold, leaving.previous)) if leaving.previous else set[str]()
        gone = [iid for iid in _subtree(fold, origin) if iid not in back_in]
        for iid in gone:
            _hook(fold, iid, "stop", keep_state=False)
        parent = fold.instances.get(leaving.parent)
        _remove(fold, gone)
        if parent is not None:
            children = dict(parent.children)
            if leaving.previous is not None:
                children[leaving.slot] = leaving.previous
            else:
                children.pop(leaving.slot, None)
            fold.instances[parent.iid] = replace(parent, children=children)
        _resume(fold, leaving.parent, leaving.resume, value, error)
    else:
        raise EffectError(
            f"{type(leaving.component).__qualname__} answered, but nothing called it: only "
            "frames shown with call() and children shown with call_in_slot() can answer. To "
            "tell a parent something from a fixed or keyed child, use dispatch_to(parent_method)."
        )


def _resume(
    fold: _Fold, parent_iid: str, method: str | None, value: Any, error: BaseException | None
) -> None:
    parent = fold.instances.get(parent_iid)
    if parent is None:
        return
    if method is None:
        if error is not None:
            _error_in_page(fold, parent_iid, error, "answer-error")
            return
        if parent.rendered:
            _render(fold, parent_iid, first=False)
        return
    if error is not None:
        handler = _error_method_name(method)
        if not callable(getattr(type(parent.component), handler, None)):
            _error_in_page(fold, parent_iid, error, "answer-error")
            return
        method, value = handler, error
    comp = clone(parent.component)
    _mount(fold, comp, parent_iid)
    effects = _coerce(comp, method, _invoke(_method(comp, method, browser=False), value))
    _store(fold, parent_iid, comp)
    _run(fold, effects, parent_iid, auto_render=parent_iid)


def _error_method_name(method: str) -> str:
    return "on_error_" + (method[3:] if method.startswith("on_") else method)


# -- instances --------------------------------------------------------------------------------


def _instantiate(
    fold: _Fold,
    component: Component,
    *,
    parent: str | None,
    resume: str | None,
    slot: str | None = None,
    previous: str | None = None,
    iid: str | None = None,
) -> tuple[str, list[str]]:
    """Mount `component` (and its eager children) under new ids; return its iid and all new iids."""
    iid = iid or fold.new_id()
    comp = clone(component)  # the caller may keep and change its object; we keep our own
    _mount(fold, comp, iid, parent)
    created = [iid]
    children: dict[str, str] = {}
    kids = comp.children()
    for child_slot, child in kids.items():
        child_iid, child_created = _instantiate(fold, child, parent=iid, resume=None)
        children[child_slot] = child_iid
        created.extend(child_created)
    fold.instances[iid] = Instance(
        iid=iid,
        component=comp,
        parent=parent,
        resume=resume,
        children=children,
        slot=slot,
        previous=previous,
        state=encode_state(comp),
    )
    # Pre-order: the parent first, then its children in slot order.
    ordered = [iid] + [c for c in created if c != iid]
    return iid, ordered


def _shown(conv: Conversation, iid: str) -> bool:
    """Whether `iid` is on the page: the top frame, or shown inside it (not parked, not covered)."""
    inst = conv.instances.get(iid)
    while inst is not None:
        if inst.iid == conv.top:
            return True
        holder = conv.instances.get(inst.parent) if inst.parent is not None else None
        if holder is None:
            return False
        held = inst.iid in holder.children.values() or any(
            inst.iid in keyed.children.values() for keyed in holder.keyed.values()
        )
        if not held:
            return False
        inst = holder
    return False


def _walk(fold: _Fold, iid: str, *, parked: bool) -> list[str]:
    """iid and every instance inside it (slots, keyed children in order), pre-order.

    With `parked`, also the occupants displaced by call_in_slot children (`previous`): what
    must be stopped and removed when a whole subtree goes, so nothing parked leaks.
    """
    out: list[str] = []
    seen: set[str] = set()
    frontier = deque([iid])
    while frontier:
        current = frontier.popleft()
        inst = fold.instances.get(current)
        if inst is None or current in seen:
            continue
        seen.add(current)
        out.append(current)
        frontier.extend(inst.children.values())
        for keyed in inst.keyed.values():
            ordered = [keyed.children[k] for k in keyed.order if k in keyed.children]
            frontier.extend(ordered)
            if parked:  # anything the order lost track of is still removed
                frontier.extend(c for c in keyed.children.values() if c not in ordered)
        if parked and inst.previous is not None:
            frontier.append(inst.previous)
    return out


def _descendants(fold: _Fold, iid: str) -> list[str]:
    """What is shown inside `iid`: used to render, wake up and mark rendered."""
    return _walk(fold, iid, parked=False)


def _subtree(fold: _Fold, iid: str) -> list[str]:
    """What goes when `iid` goes: its descendants and the occupants parked behind them."""
    return _walk(fold, iid, parked=True)


def _remove(fold: _Fold, iids: Iterable[str]) -> None:
    gone = set(iids)
    for iid in gone:
        fold.instances.pop(iid, None)
    if any(t.iid in gone for t in fold.timers):
        fold.timers = [t for t in fold.timers if t.iid not in gone]
    if any(s.iid in gone for s in fold.subscriptions):
        fold.subscriptions = [s for s in fold.subscriptions if s.iid not in gone]


def _remove_subtree(fold: _Fold, iid: str) -> None:
    _remove(fold, _subtree(fold, iid))


def _mark_unrendered(fold: _Fold, iids: Iterable[str]) -> None:
    for iid in iids:
        inst = fold.instances.get(iid)
        if inst is not None and inst.rendered:
            fold.instances[iid] = _with_rendered(inst, False)


def _with_component(inst: Instance, comp: Component, state: bytes | None) -> Instance:
    # Positional construction: the hot path of every event (dataclasses.replace is slower).
    return Instance(
        inst.iid,
        comp,
        inst.parent,
        inst.resume,
        inst.children,
        inst.keyed,
        inst.slot,
        inst.previous,
        inst.rendered,
        state,
    )


def _with_rendered(inst: Instance, rendered: bool) -> Instance:
    return Instance(
        inst.iid,
        inst.component,
        inst.parent,
        inst.resume,
        inst.children,
        inst.keyed,
        inst.slot,
        inst.previous,
        rendered,
        inst.state,
    )


def _store(fold: _Fold, iid: str, comp: Component) -> None:
    """Keep a handler's new state; refuse state that could not be stored (StateError)."""
    inst = fold.instances.get(iid)
    if inst is None:
        return
    fold.instances[iid] = _with_component(inst, comp, encode_state(comp))


# -- user code ---------------------------------------------------------------------------------


def _mount(fold: _Fold, comp: Component, iid: str, parent: str | None = None) -> None:
    inst = fold.instances.get(iid)
    if inst is not None:
        parent = inst.parent
    mount = fold.mounts.get(iid)
    if mount is None or mount.parent != parent:
        host = fold.host
        if host is None:
            host = fold.host = _Host(fold)
        mount = fold.mounts[iid] = Mount(iid, fold.cid, fold.conv.base, host, parent)
    comp._parlour = mount  # pyright: ignore[reportPrivateUsage]


def _method(comp: Component, name: str, *, browser: bool) -> Callable[..., Any]:
    cls = type(comp)
    if browser and name not in cls.__parlour_events__:
        raise HandlerReturnError(
            f"{cls.__qualname__} has no @event method {name!r}; the browser may only call "
            f"@event methods ({', '.join(sorted(cls.__parlour_events__)) or 'none'})"
        )
    member = getattr(cls, name, None)
    if name.startswith("_") or not callable(member):
        raise EffectError(
            f"{cls.__qualname__} has no method {name!r} to call back (a timer, subscription, "
            "io or resume named it). Define the method, or fix the name."
        )
    return getattr(comp, name)


@cache
def _arity(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional)


def _invoke(method: Callable[..., Any], payload: Any) -> Any:
    func = getattr(method, "__func__", method)
    # Bound methods: the function's first parameter is self.
    return method(payload) if _arity(func) > 1 else method()


def _coerce(comp: Component, name: str, result: object) -> list[fx.Effect]:
    """The one normaliser of handler results: None, an effect, or a list of effects."""
    if result is None:
        return []
    if isinstance(result, fx.EFFECT_TYPES):
        return [result]  # pyright: ignore[reportReturnType]
    if isinstance(result, (list, tuple)):
        items: list[object] = list(result)  # pyright: ignore[reportUnknownArgumentType]
        if all(isinstance(e, fx.EFFECT_TYPES) for e in items):
            return items  # pyright: ignore[reportReturnType]
        bad = next(e for e in items if not isinstance(e, fx.EFFECT_TYPES))
        raise HandlerReturnError(
            f"{type(comp).__qualname__}.{name}() returned a list containing {bad!r}, which is "
            "not an effect. Return None, an effect such as call(...) or answer(...), or a list "
            "of effects; to change state, assign to self.<field> instead."
        )
    raise HandlerReturnError(
        f"{type(comp).__qualname__}.{name}() returned {result!r}. Expected None, an effect "
        "such as call(...) or answer(...), or a list of effects; to change state, assign to "
        "self.<field> instead of returning it."
    )


def _hook(fold: _Fold, iid: str, name: str, *, keep_state: bool = True) -> None:
    inst = fold.instances.get(iid)
    if inst is None:
        return
    comp = clone(inst.component)
    _mount(fold, comp, iid)
    effects = _coerce(comp, name, getattr(comp, name)())
    if keep_state:
        _store(fold, iid, comp)
    if effects:
        _run(fold, effects, iid, auto_render=None)


def _lift_signals(comp: Component, iid: str, signals: Mapping[str, Any]) -> bool:
    """Copy kept signals onto the instance: `NAME-IID` (instance-local) wins over `NAME`.

    True when some signal was copied (the instance's state may differ from the stored one).
    """
    cls = type(comp)
    if not cls.keep or not signals:
        return False
    lifted = False
    for name in cls.keep:
        for key in (
            kebab_case(f"{name}-{iid}"),  # what `bind_local` makes the browser send
            f"{name}-{iid}",
            f"{name.replace('_', '-')}-{iid}",
            kebab_case(name),  # what `bind` makes the browser send
            name,
            name.replace("_", "-"),
        ):
            if key in signals:
                tp = cls.__parlour_fields__[name].type
                try:
                    value = msgspec.convert(signals[key], tp, strict=False)
                except msgspec.ValidationError as exc:
                    raise EffectError(
                        f"signal {key!r} = {signals[key]!r} does not fit "
                        f"{cls.__qualname__}.{name}: {exc}"
                    ) from exc
                setattr(comp, name, value)
                lifted = True
                break
    return lifted


# -- back, URL projection ----------------------------------------------------------------------


def _snapshot_of(fold: _Fold, *, shared: bool = False) -> Snapshot:
    """The conversation as it is now, without history, for *back*.

    `shared`: the fold has changed nothing yet, so the snapshot shares the previous value's
    (immutable) instances, stack, timers and subscriptions instead of copying them.
    """
    c = fold.conv
    if shared:
        conv = without_history(c)
    else:
        conv = Conversation(
            c.id,
            c.base,
            tuple(fold.stack),
            dict(fold.instances),
            (),
            0,
            c.history_limit,
            c.created,
            c.touched,
            c.owner,
            c.next_id,
            fold.last_url,
            c.ended,
            tuple(fold.timers),
            tuple(fold.subscriptions),
        )
    return Snapshot(conversation=conv)


def _back(fold: _Fold, to: int | None) -> None:
    if not fold.history:
        return
    if to is None:
        index = len(fold.history) - 1
    else:
        index = max(to - fold.history_base, 0)
        if index >= len(fold.history):
            return  # the browser went forward: there is nothing to restore
    restored = fold.history[index].conversation()
    del fold.history[index:]
    fold.instances = dict(restored.instances)
    fold.stack = list(restored.stack)
    fold.timers = list(restored.timers)
    fold.subscriptions = list(restored.subscriptions)
    fold.last_url = restored.last_url
    fold.next_id = max(fold.next_id, restored.next_id)
    fold.mark_all_unrendered()
    top = fold.top
    if top is not None:
        for iid in _descendants(fold, top):
            _hook(fold, iid, "wakeup")


def _projected_url(fold: _Fold) -> tuple[str, str | None]:
    root = fold.instances.get(fold.stack[0]) if fold.stack else None
    if root is None:
        return "replace", None
    comp = root.component
    _mount(fold, comp, root.iid)
    spec = cast(object, comp.url())  # user code: check the shape, whatever the annotation says
    if spec is None:
        return "replace", None
    if isinstance(spec, str):
        return "replace", spec
    if isinstance(spec, tuple):
        pair = cast(tuple[object, ...], spec)
        if len(pair) == 2 and isinstance(pair[1], str):
            if pair[0] == "push":
                return "push", pair[1]
            if pair[0] == "replace":
                return "replace", pair[1]
    raise EffectError(
        f"{type(comp).__qualname__}.url() must return None, a URL string, or "
        f"('push'|'replace', url); got {spec!r}"
    )


def _project_url(fold: _Fold, effects: Sequence[fx.Effect]) -> None:
    mode, url = _projected_url(fold)
    if url is None or url == fold.last_url:
        return
    fold.last_url = url
    if any(isinstance(e, fx.History) for e in effects):
        return
    _step(fold, fx.History(url, "push" if mode == "push" else "replace"), None)


# -- keyed children ----------------------------------------------------------------------------


def _spec(comp: Component) -> bytes:
    return type(comp).__parlour_name__.encode() + b"\0" + encode_state(comp)


def _reconcile(
    fold: _Fold, parent_iid: str, slot: str, pairs: Sequence[tuple[str, Component]]
) -> None:
    parent = fold.instances[parent_iid]
    current = parent.keyed.get(slot, KeyedSlot())
    rendered = parent.rendered
    container = f"{parent_iid}--{slot}"
    new_order = tuple(k for k, _ in pairs)
    wanted = dict(pairs)
    children = dict(current.children)
    specs = dict(current.specs)

    for key in current.order:
        if key not in wanted:
            iid = children.pop(key)
            specs.pop(key, None)
            for gone in _subtree(fold, iid):
                _hook(fold, gone, "stop", keep_state=False)
            if (
                rendered
                and fold.instances.get(iid, None) is not None
                and fold.instances[iid].rendered
            ):
                fold.frags.append(fr.Elements("", f"#{iid}", "remove", key=iid))
            _remove_subtree(fold, iid)

    for key in new_order:
        if key in children and specs.get(key) != _spec(wanted[key]):
            iid = children[key]
            for gone in _subtree(fold, iid):
                _hook(fold, gone, "stop", keep_state=False)
            _remove_subtree(fold, iid)
            _, created = _instantiate(fold, wanted[key], parent=parent_iid, resume=None, iid=iid)
            specs[key] = _spec(wanted[key])
            for new in created:
                _hook(fold, new, "start")
            if rendered:
                _render(fold, iid, first=False)

    added = [k for k in new_order if k not in children]
    for key in added:
        iid, created = _instantiate(fold, wanted[key], parent=parent_iid, resume=None)
        children[key] = iid
        specs[key] = _spec(wanted[key])
        for new in created:
            _hook(fold, new, "start")
    parent = fold.instances[parent_iid]
    fold.instances[parent_iid] = replace(
        parent, keyed={**parent.keyed, slot: KeyedSlot(new_order, children, specs)}
    )
    if not rendered:
        return
    kept_old = tuple(k for k in current.order if k in wanted)
    kept_new = tuple(k for k in new_order if k in current.children)
    if kept_old != kept_new:
        _render_container(fold, parent_iid, slot)  # a reorder: one patch of the whole list
        return
    for key in added:
        iid = children[key]
        if iid not in fold.instances:
            continue
        position = new_order.index(key)
        html = _render_html_or_error(fold, iid)
        if html is None:
            continue
        if position == len(new_order) - 1:
            fold.frags.append(fr.Elements(html, f"#{container}", "append", key=None))
        elif position == 0:
            fold.frags.append(fr.Elements(html, f"#{container}", "prepend", key=None))
        else:
            prev = children[new_order[position - 1]]
            fold.frags.append(fr.Elements(html, f"#{prev}", "after", key=None))


def _render_container(fold: _Fold, parent_iid: str, slot: str) -> None:
    try:
        html = str(_Host(fold).render_keyed(parent_iid, slot))
    except Exception as exc:
        _error_in_page(fold, parent_iid, exc, "render")
        return
    fold.frags.append(fr.Elements(html, None, "outer", key=f"{parent_iid}--{slot}"))


# -- rendering ---------------------------------------------------------------------------------


class _Host:
    """What a component may ask the kernel during render: its children's HTML.

    It holds its fold weakly: a component keeps its mount after the fold that mounted it is
    over, so a strong reference would chain every conversation value to the one before it,
    and memory would grow with every event whatever `history_limit` says.
    """

    def __init__(self, fold: _Fold) -> None:
        self._ref = weakref.ref(fold)

    @property
    def _fold(self) -> _Fold:
        fold = self._ref()
        if fold is None:
            raise RuntimeError("slot() and keyed() can only be used inside render()")
        return fold

    @property
    def can_go_back(self) -> bool:
        fold = self._ref()
        return fold is not None and bool(fold.history)

    def render_slot(self, iid: str, slot: str) -> Markup:
        inst = self._fold.instances[iid]
        child = inst.children.get(slot)
        if child is None or child not in self._fold.instances:
            known = ", ".join(sorted(inst.children)) or "none"
            raise RenderError(
                f"{type(inst.component).__qualname__} has no child in slot {slot!r} "
                f"(slots: {known}). Declare it in children(), or show it with call_in_slot()."
            )
        return Markup(_render_html(self._fold, child))

    def component(self, iid: str) -> Component:
        inst = self._fold.instances.get(iid)
        if inst is None:
            raise LookupError(f"no instance {iid!r} in this conversation")
        _mount(self._fold, inst.component, iid)
        return inst.component

    def render_keyed(self, iid: str, slot: str) -> Markup:
        inst = self._fold.instances[iid]
        keyed = inst.keyed.get(slot, KeyedSlot())
        parts = [
            _render_html(self._fold, keyed.children[k])
            for k in keyed.order
            if keyed.children.get(k) in self._fold.instances
        ]
        return Markup(
            f'<div id="{htmllib.escape(iid)}--{htmllib.escape(slot)}">{"".join(parts)}</div>'
        )


def _to_html(node: object) -> str:
    if node is None:
        return ""
    if type(node) is Element and _FAST_HTPY:
        out: list[str] = []
        _serialise(node, out)
        return "".join(out)
    html = getattr(node, "__html__", None)
    if html is not None:
        return str(html())
    if isinstance(node, str):
        return str(Markup.escape(node))
    return str(htpy_fragment[node])  # pyright: ignore[reportArgumentType]


# A serialiser for the common htpy trees (plain elements, str, int, tuples and lists, Markup),
# which gives exactly htpy's output at a fraction of its cost: htpy's own walk checks every
# child against a runtime-checkable Protocol. Anything else (contexts, fragments, callables,
# generators, the <html> element, subclasses) is handed to htpy whole. It reads the three
# slots htpy elements are made of; `_FAST_HTPY` turns it off if a future htpy changes them.
_element_parts = attrgetter("_name", "_attrs", "_children")
_FAST_HTPY = (
    getattr(BaseElement, "__slots__", None) == ("_name", "_attrs", "_children")
    and Element.iter_chunks is BaseElement.iter_chunks
    and "iter_chunks" in VoidElement.__dict__
)


def _serialise(node: object, out: list[str]) -> None:
    kind = type(node)
    if kind is Element:
        name, attrs, children = _element_parts(node)
        out.append(f"<{name}{attrs}>")
        if children is not None:
            _serialise(children, out)
        out.append(f"</{name}>")
    elif kind is str:
        out.append(escape_html(node))
    elif kind is tuple or kind is list:
        for child in cast(Iterable[object], node):
            _serialise(child, out)
    elif kind is int:
        out.append(str(node))
    elif kind is Markup:
        out.append(cast(Markup, node))
    elif node is None or kind is bool:
        return
    elif kind is VoidElement:
        name, attrs, _ = _element_parts(node)
        out.append(f"<{name}{attrs}>")
    else:
        out.append(str(htpy_fragment[node]))  # pyright: ignore[reportArgumentType]


def _render_html(fold: _Fold, iid: str) -> str:
    inst = fold.instances[iid]
    comp = inst.component
    _mount(fold, comp, iid)
    html = _to_html(comp.render())
    found = root_id(html)
    if found != iid:
        raise RenderError(
            f"{type(comp).__qualname__}.render() must put self.root on its outermost element, "
            f"so later updates can find it by id: `return div(self.root)[...]`. The outermost "
            f"element had id={found!r}; expected {iid!r}. HTML began: {html[:80]!r}"
        )
    if fold.rendering is not None:
        fold.rendering.add(iid)
    return html


def _render_html_or_error(fold: _Fold, iid: str) -> str | None:
    outer = fold.rendering
    fold.rendering = set()
    try:
        html = _render_html(fold, iid)
    except Exception as exc:
        fold.rendering = outer
        _error_in_page(fold, iid, exc, "render")
        return None
    for done in fold.rendering:
        inst = fold.instances[done]
        if not inst.rendered:
            fold.instances[done] = _with_rendered(inst, True)
    fold.rendering = outer
    return html


def _render(fold: _Fold, iid: str, *, first: bool, selector: str | None = None) -> None:
    """Render `iid`: into `#root` (a frame's first render), or morph it by id."""
    html = _render_html_or_error(fold, iid)
    if html is None:
        return
    if first:
        fold.frags.append(fr.Elements(html, ROOT_SELECTOR, "inner", key=ROOT_SELECTOR))
    elif selector is not None:
        fold.frags.append(fr.Elements(html, selector, "outer", key=None))
    else:
        fold.frags.append(fr.Elements(html, None, "outer", key=iid))


# -- errors ------------------------------------------------------------------------------------


def _error_html(cid: str, iid: str, error: BaseException, phase: str) -> str:
    message = htmllib.escape(f"{type(error).__name__}: {error}")
    comment = htmllib.escape(f"parlour error: cid={cid} iid={iid} phase={phase}").replace(
        "--", "- -"
    )
    return (
        f'<div id="{htmllib.escape(iid or "root-error")}" class="parlour-error" role="alert">'
        f"<!-- {comment} -->"
        f'<strong class="parlour-error-title">Something went wrong</strong> '
        f'<span class="parlour-error-message">{message}</span></div>'
    )


def _error_block(
    conv: Conversation, iid: str | None, error: BaseException, phase: str
) -> fr.Elements:
    inst = conv.instances.get(iid) if iid else None
    html = _error_html(conv.id, iid or "", error, phase)
    if inst is not None and inst.rendered:
        return fr.Elements(html, f"#{iid}", "outer", key=iid, error=True)
    return fr.Elements(html, ROOT_SELECTOR, "inner", key=ROOT_SELECTOR, error=True)


def _error_in_page(fold: _Fold, iid: str, error: BaseException, phase: str) -> None:
    fold.errors.append(ErrorReport(fold.cid, iid, phase, error))
    inst = fold.instances.get(iid)
    on_page = inst is not None and (inst.rendered or iid == fold.top)
    if on_page:
        html = _error_html(fold.cid, iid, error, phase)
        if inst is not None and inst.rendered:
            fold.frags.append(fr.Elements(html, f"#{iid}", "outer", key=iid, error=True))
        else:
            fold.frags.append(
                fr.Elements(html, ROOT_SELECTOR, "inner", key=ROOT_SELECTOR, error=True)
            )
            if inst is not None:
                # The block fills the page and carries the instance's id, so the instance is
                # on the page (as its error): settling must not draw over the block.
                fold.instances[iid] = replace(inst, rendered=True)


def _failed(conv: Conversation, iid: str, error: BaseException, phase: str) -> Step:
    """The fold raised: keep the conversation as it was and show the error in place."""
    inst = conv.instances.get(iid)
    report = ErrorReport(conv.id, iid, phase, error)
    if inst is None or not (inst.rendered or iid == conv.top):
        return Step(conv, (), (), (report,))
    return Step(conv, (_error_block(conv, iid, error, phase),), (), (report,))
