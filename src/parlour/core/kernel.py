"""The kernel: pure functions from a conversation and an event to the next conversation.

    dispatch(conv, event)      -> Step(conversation, fragments, commands, errors)
    boot(root, cid=…, visit=…) -> Step     a new conversation showing `root`, opened by `visit`
    render_top(conv, wake=…)   -> Step     a full render of the top frame (a new SSE stream)
    back(conv, to=…)           -> Step     restore a snapshot from history
    fire_timer(conv, id, now)  -> Step     a recorded `after` timer is due
    deliver(conv, iid, m, p)   -> Step     call iid.m(p): bus events, io results, dispatch_to
    fail(conv, iid, m, error)  -> Step     io work failed: on_error_m(error), or an error block
    finish(conv, now)          -> Step     end the conversation (stop hooks), e.g. for the reaper

No I/O, no clock, no randomness: time comes in with the event, ids come from a counter in the
conversation, and side effects leave as commands. A fold accumulates into a private `Fold`
(see `fold`) and every effect passes through one `match` in `_step`. The most common event, a
click whose handler returns nothing, takes a short way with the same result (`click`).

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, assert_never, cast

from . import commands as cmd
from . import effects as fx
from . import fragments as fr
from . import handlers, history
from .click import plain_click, settle, store
from .component import Component
from .conversation import Conversation, Subscription, Timer
from .errors import EffectError
from .fold import ErrorReport, Fold, Step, record_diff, unchanged
from .fragments import ROOT_SELECTOR
from .keyed import reconcile
from .render import error_block, error_html, error_in_page, mount, render, root_id
from .state import clone
from .tree import descendants, instantiate, mark_unrendered, remove, remove_subtree, shown, subtree
from .values import fast_init
from .visit import Visit

if TYPE_CHECKING:
    from .codec import Snapshot

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


@fast_init
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
    signals: Mapping[str, Any] = field(default_factory=lambda: {})
    source: Literal["browser", "internal"] = "browser"
    now: float = 0.0


# -- public entry points -----------------------------------------------------------------------


def boot(
    root: Component,
    *,
    cid: str,
    base: str = "/_parlour",
    owner: str | None = None,
    now: float = 0.0,
    history_limit: int = 50,
    visit: Visit | None = None,
) -> Step:
    """A new conversation whose root frame is `root`, rendered into `#root`.

    `root.visited(visit)` runs first (`Visit()`, the path `/`, when none is given), so the
    state it sets from the URL is there when the root's children are made and it starts.
    """
    conv = Conversation(
        id=cid, base=base, owner=owner, created=now, touched=now, history_limit=history_limit
    )
    fold = Fold(conv, now)
    try:
        _visited(root, Visit() if visit is None else visit)
        _step(fold, fx.Call(root), None)
        fold.last_url = history.projected_url(fold)[1] if fold.stack else None
    except Exception as exc:
        return Step(
            conv,
            (error_block(conv, None, exc, "start"),),
            (),
            (ErrorReport(cid, "", "start", exc),),
        )
    return _finish(fold)


def _visited(root: Component, visit: Visit) -> None:
    returned = cast(object, root.visited(visit))  # user code: check what it returned
    if returned is not None:
        raise EffectError(
            f"{type(root).__qualname__}.visited() returned {returned!r}; it sets state from "
            "the visit and returns nothing. Return effects from start() instead."
        )


def dispatch(conv: Conversation, event: Event) -> Step:
    """Apply one event. Stale events change nothing: an unknown instance, an ended
    conversation, or a browser event for an instance that is not on the page."""
    return _dispatch(conv, event, plain=True)


def _dispatch(conv: Conversation, event: Event, *, plain: bool) -> Step:
    """`dispatch`; `plain`: a browser event whose handler returns nothing takes the short way
    (`click.plain_click`), which tests/core/test_plain_click.py holds to the general one."""
    inst = conv.instances.get(event.iid)
    if inst is None or conv.ended:
        return Step(conv)
    browser = event.source == "browser"
    if browser and not shown(conv, inst.iid):
        # A click on something no longer on the page (the second click of a double click on
        # a button that called a frame, a slot child since covered): stale as well.
        return Step(conv)
    fold = Fold(conv, event.now)
    try:
        comp = clone(inst.component)
        mount(fold, comp, inst.iid)
        lifted = handlers.lift_signals(comp, inst.iid, event.signals)
        if browser:
            # Snapshot with the kept signals already lifted: going back shows what the user
            # had typed, not the state before they typed it. Nothing lifted: the snapshot is
            # the previous conversation value itself, shared (it is immutable).
            if lifted:
                fold.instances[inst.iid] = inst.with_component(clone(comp), None)
            snapshot = history.snapshot_of(fold, shared=not lifted)
        else:
            snapshot = None
        result = handlers.call(comp, event.name, event.payload, browser=browser)
        if result is None and snapshot is not None and plain:
            step = plain_click(fold, inst.iid, comp, snapshot)
        else:
            step = _general(fold, inst.iid, comp, event, snapshot, result)
    except Exception as exc:
        return _failed(conv, inst.iid, exc, "handle")
    failed = next((r for r in step.errors if r.phase == "render"), None) if step.errors else None
    if failed is not None:
        # The new state cannot be drawn: keep the conversation as it was, like a handler error.
        return replace(_failed(conv, inst.iid, failed.error, "render"), errors=(failed,))
    return step


def _general(
    fold: Fold, iid: str, comp: Component, event: Event, snapshot: Snapshot | None, result: object
) -> Step:
    """The rest of any event: the handler's effects folded, the URL, the top frame settled."""
    effects = handlers.coerce(comp, event.name, result)
    store(fold, iid, comp)
    went_back = bool(effects) and any(isinstance(e, fx.Back) for e in effects)
    if snapshot is not None and not went_back:
        fold.push_history(snapshot)
    fold.touched = event.now
    top_before = fold.top
    _run(fold, effects, iid, auto_render=iid)
    if event.source == "browser":
        change = history.url_change(fold, effects)
        if change is not None:
            _step(fold, change, None)
        settle(fold)
        if fold.top != top_before and fold.top is not None and not fold.ended and not went_back:
            fold.frags.append(fr.History(fold.depth))
    return _finish(fold)


def render_top(conv: Conversation, *, wake: bool = False) -> Step:
    """Render the top frame into `#root` (a stream just opened); `wake` runs wakeup hooks first."""
    if not conv.stack or conv.ended:
        return Step(conv)
    fold = Fold(conv, conv.touched)
    fold.mark_all_unrendered()
    top = conv.stack[-1]
    try:
        if wake:
            for iid in descendants(fold, top):
                _hook(fold, iid, "wakeup")
    except Exception as exc:
        # A stream that just opened shows an empty page: the error goes into #root.
        html = error_html(conv.id, top, exc, "wakeup", base=conv.base)
        return Step(
            conv,
            (fr.Elements(html, ROOT_SELECTOR, "inner", key=ROOT_SELECTOR, error=True),),
            (),
            (ErrorReport(conv.id, top, "wakeup", exc),),
        )
    return _finish(fold)


def back(conv: Conversation, *, to: int | None = None, now: float | None = None) -> Step:
    """Step back one snapshot, or to absolute history depth `to` (the browser's Back button)."""
    if conv.ended or not conv.history or (to is not None and to >= conv.depth):
        return Step(conv)  # nothing to restore (or the browser went forward): a no-op
    fold = Fold(conv, conv.touched if now is None else now)
    top = conv.top or ""
    try:
        _step(fold, fx.Back(), None, to=to)
    except Exception as exc:
        return _failed(conv, top, exc, "wakeup")
    return _finish(fold)


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
    handler = handlers.error_method_name(method)
    if callable(getattr(type(inst.component), handler, None)):
        return deliver(conv, iid, handler, error, now=now)
    return _failed(conv, iid, error, "io")


def finish(conv: Conversation, now: float) -> Step:
    """End the conversation: stop hooks run, then the stream is told to close."""
    if conv.ended:
        return Step(conv)
    fold = Fold(conv, now)
    try:
        _step(fold, fx.End(None), None)
    except Exception as exc:
        fold = Fold(conv, now)
        fold.ended = True
        fold.frags.append(fr.Close())
        fold.cmds.append(cmd.Ended(conv.id, None))
        fold.errors.append(ErrorReport(conv.id, conv.top or "", "stop", exc))
    return _finish(fold)


# -- folding ---------------------------------------------------------------------------------


def _finish(fold: Fold) -> Step:
    """Settle, and build the Step: the new conversation, what the page and the world get."""
    settle(fold)
    fold.close()
    old = fold.conv
    # Positionally, in field order (`dataclasses.replace` costs a few µs on every click):
    # a new field of Conversation is added here too.
    conv = Conversation(
        old.id,
        old.base,
        tuple(fold.stack),
        fold.instances,
        tuple(fold.history),
        fold.history_base,
        old.history_limit,
        old.created,
        fold.touched,
        old.owner,
        fold.next_id,
        fold.last_url,
        fold.ended,
        unchanged(fold.timers, old.timers),
        unchanged(fold.subscriptions, old.subscriptions),
    )
    commands = tuple(fold.cmds)
    if old.timers is not conv.timers or old.subscriptions is not conv.subscriptions:
        commands = (*commands, *record_diff(old, conv))
    return Step(conv, tuple(fold.frags), commands, tuple(fold.errors))


def _run(
    fold: Fold, effects: Sequence[fx.Effect], origin: str | None, *, auto_render: str | None
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
            render(fold, auto_render, first=False)
            fold.frags.extend(tail)


def _step(fold: Fold, effect: fx.Effect, origin: str | None, *, to: int | None = None) -> None:
    """Apply one effect. The single place where the effect language is interpreted."""
    match effect:
        case fx.Call(component, resume):
            owner = _owner(resume, origin)
            fold.mark_all_unrendered()
            iid, created = instantiate(
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
            iid, created = instantiate(
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
                    render(fold, iid, first=False, selector=f"#{old_inst.iid}")
                    mark_unrendered(fold, descendants(fold, old_inst.iid))
                elif fold.instances[parent_iid].rendered:
                    render(fold, parent_iid, first=False)
        case fx.Answer(value):
            _answer(fold, origin, value, None)
        case fx.AnswerError(error):
            _answer(fold, origin, None, error)
        case fx.Replace(component):
            if not fold.stack:
                raise EffectError("replace() needs a frame to replace, but the stack is empty")
            old = fold.instances[fold.stack[-1]]
            for iid in subtree(fold, old.iid):
                _hook(fold, iid, "stop", keep_state=False)
            remove_subtree(fold, old.iid)
            fold.stack.pop()
            fold.mark_all_unrendered()
            iid, created = instantiate(fold, component, parent=old.parent, resume=old.resume)
            fold.stack.append(iid)
            for new in created:
                _hook(fold, new, "start")
        case fx.SetKeyedChildren(slot, pairs, rerender_parent):
            parent_iid = _require_origin(fold, origin, "set_keyed_children()")
            reconcile(fold, parent_iid, slot, pairs, _hook)
            parent = fold.instances.get(parent_iid)
            if rerender_parent and parent is not None and parent.rendered:
                render(fold, parent_iid, first=False)
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
        case fx.Unsubscribe(pattern):
            fold.subscriptions = [
                s
                for s in fold.subscriptions
                if not (s.iid == origin and (pattern is None or s.pattern == pattern))
            ]
        case fx.Publish(topic, payload):
            fold.cmds.append(cmd.Publish(topic, payload, fold.cid))
        case fx.Back():
            if history.restore(fold, to) and fold.top is not None:
                for iid in descendants(fold, fold.top):
                    _hook(fold, iid, "wakeup")
        case fx.End(value):
            if fold.ended:
                return  # ended already in this fold (a stop hook's own end()): nothing more
            fold.ended = True
            for frame in list(fold.stack):
                for iid in subtree(fold, frame):
                    _hook(fold, iid, "stop", keep_state=False)
            fold.timers = []
            fold.subscriptions = []
            fold.frags.append(fr.Close())
            # The result of the conversation (a root frame's answer, a root flow's return
            # value, end(value)) has no caller to resume: it goes to the app.
            fold.cmds.append(cmd.Ended(fold.cid, value))
        case _:
            assert_never(effect)


# -- call / answer ------------------------------------------------------------------------------


def _owner(target: fx.Target | None, origin: str | None) -> str | None:
    if target is None or target.owner is None:
        return origin
    return target.owner


def _require_origin(fold: Fold, origin: str | None, what: str) -> str:
    if origin is None or origin not in fold.instances:
        raise EffectError(f"{what} must be returned by a handler of a live instance")
    return origin


def _answer(fold: Fold, origin: str | None, value: Any, error: BaseException | None) -> None:
    if origin is None or origin not in fold.instances:
        return
    leaving = fold.instances[origin]
    if origin == fold.top:
        for iid in subtree(fold, origin):
            _hook(fold, iid, "stop", keep_state=False)
        remove_subtree(fold, origin)
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
        back_in: set[str] = set(subtree(fold, leaving.previous)) if leaving.previous else set()
        gone = [iid for iid in subtree(fold, origin) if iid not in back_in]
        for iid in gone:
            _hook(fold, iid, "stop", keep_state=False)
        parent = fold.instances.get(leaving.parent)
        remove(fold, gone)
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
    fold: Fold, parent_iid: str, method: str | None, value: Any, error: BaseException | None
) -> None:
    parent = fold.instances.get(parent_iid)
    if parent is None:
        return
    if method is None:
        if error is not None:
            error_in_page(fold, parent_iid, error, "answer-error")
            return
        if parent.rendered:
            render(fold, parent_iid, first=False)
        return
    if error is not None:
        handler = handlers.error_method_name(method)
        if not callable(getattr(type(parent.component), handler, None)):
            error_in_page(fold, parent_iid, error, "answer-error")
            return
        method, value = handler, error
    comp = clone(parent.component)
    mount(fold, comp, parent_iid)
    effects = handlers.coerce(comp, method, handlers.call(comp, method, value, browser=False))
    store(fold, parent_iid, comp)
    _run(fold, effects, parent_iid, auto_render=parent_iid)


def _hook(fold: Fold, iid: str, name: str, *, keep_state: bool = True) -> None:
    inst = fold.instances.get(iid)
    if inst is None:
        return
    comp = clone(inst.component)
    mount(fold, comp, iid)
    effects = handlers.coerce(comp, name, getattr(comp, name)())
    if keep_state:
        store(fold, iid, comp)
    if effects:
        _run(fold, effects, iid, auto_render=None)


# -- errors ------------------------------------------------------------------------------------


def _failed(conv: Conversation, iid: str, error: BaseException, phase: str) -> Step:
    """The fold raised: keep the conversation as it was and show the error in place."""
    inst = conv.instances.get(iid)
    report = ErrorReport(conv.id, iid, phase, error)
    if inst is None or not (inst.rendered or iid == conv.top):
        return Step(conv, (), (), (report,))
    return Step(conv, (error_block(conv, iid, error, phase),), (), (report,))
