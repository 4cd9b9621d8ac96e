"""Effects: what a handler returns to say what should happen next.

A handler mutates its own state directly; everything else it wants is an effect, returned as
a value (one effect, or a list). The kernel folds them in order, in one `match` (see
`kernel._step`). Effects are frozen and never stored, so they may hold live values (a component
to show, an exception, a function for `io`).

    call(c, resume=self.m)         push c as a full-page frame; its answer calls self.m(answer)
    call_in_slot(s, c, resume=…)   show c in slot s of this instance; the old occupant comes back
    answer(v) / answer_error(e)    leave, giving v (or e, to on_error_<m>) to whoever called us
    replace(c)                     put c in the top frame's place; c answers to our caller
    set_keyed_children(s, pairs)   reconcile a keyed list of children (add/remove/reorder)
    patch(html)                    morph html into the page by id (suppresses the auto-render)
    patch_signals(d)               merge d into the browser's signals
    execute_script(js)             run js once in the page
    redirect(url)                  navigate the tab away
    history(url, mode="push")      push or replace the page URL without navigating
    dispatch_to(target, m, p)      send an event to another instance of this conversation
    io(fn, resume=self.m)          run fn() off the event loop; its result calls self.m(result)
    after(seconds, self.m, p)      call self.m(p) later (persisted: survives restarts)
    subscribe(pattern, self.m)     call self.m(event) for every bus event on pattern
    unsubscribe(pattern=None)      stop (all of this instance's subscriptions when None)
    publish(topic, payload)        publish on the bus
    back()                         restore the conversation as it was before the last event
    end(v)                         end the conversation

Targets are bound methods (`self.added`), stored by *name* with the instance id, so they
survive serialisation: the kernel calls `getattr(instance, name)` when the time comes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from markupsafe import Markup

from .component import Component
from .errors import EffectError
from .fragments import PatchMode, single_line

__all__ = [
    "After",
    "Answer",
    "AnswerError",
    "Back",
    "Call",
    "CallInSlot",
    "DispatchTo",
    "Effect",
    "End",
    "ExecuteScript",
    "History",
    "Io",
    "Patch",
    "PatchSignals",
    "Publish",
    "Redirect",
    "Replace",
    "SetKeyedChildren",
    "Subscribe",
    "Unsubscribe",
    "after",
    "answer",
    "answer_error",
    "back",
    "call",
    "call_in_slot",
    "dispatch_to",
    "end",
    "execute_script",
    "history",
    "io",
    "patch",
    "patch_signals",
    "publish",
    "redirect",
    "replace",
    "set_keyed_children",
    "subscribe",
    "unsubscribe",
]


@dataclass(frozen=True, slots=True)
class Target:
    """A method of an instance, by name: `owner` is an iid, or None for "the emitter"."""

    owner: str | None
    method: str


@dataclass(frozen=True, slots=True)
class Call:
    component: Component
    resume: Target | None = None


@dataclass(frozen=True, slots=True)
class CallInSlot:
    slot: str
    component: Component
    resume: Target | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    value: Any = None


@dataclass(frozen=True, slots=True)
class AnswerError:
    error: BaseException


@dataclass(frozen=True, slots=True)
class Replace:
    component: Component


@dataclass(frozen=True, slots=True)
class SetKeyedChildren:
    slot: str
    pairs: tuple[tuple[str, Component], ...]
    rerender_parent: bool = False


@dataclass(frozen=True, slots=True)
class Patch:
    html: str
    selector: str | None = None
    mode: PatchMode = "outer"


@dataclass(frozen=True, slots=True)
class PatchSignals:
    signals: Mapping[str, Any] = field(default_factory=lambda: {})


@dataclass(frozen=True, slots=True)
class ExecuteScript:
    js: str


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str


@dataclass(frozen=True, slots=True)
class History:
    url: str
    mode: Literal["push", "replace"] = "push"


@dataclass(frozen=True, slots=True)
class DispatchTo:
    target: Target
    payload: Any = None


@dataclass(frozen=True, slots=True)
class Io:
    fn: Callable[[], Any]
    resume: Target


@dataclass(frozen=True, slots=True)
class After:
    seconds: float
    target: Target
    payload: Any = None


@dataclass(frozen=True, slots=True)
class Subscribe:
    pattern: str
    target: Target


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Stop the emitter's subscriptions on `pattern` (all of them when None)."""

    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: Any = None


@dataclass(frozen=True, slots=True)
class Back:
    """Restore the conversation as it was before the last browser event."""


@dataclass(frozen=True, slots=True)
class End:
    """End the conversation; `value` reaches the app as `commands.Ended` (its result)."""

    value: Any = None


Effect = (
    Call
    | CallInSlot
    | Answer
    | AnswerError
    | Replace
    | SetKeyedChildren
    | Patch
    | PatchSignals
    | ExecuteScript
    | Redirect
    | History
    | DispatchTo
    | Io
    | After
    | Subscribe
    | Unsubscribe
    | Publish
    | Back
    | End
)

EFFECT_TYPES: tuple[type, ...] = (
    Call,
    CallInSlot,
    Answer,
    AnswerError,
    Replace,
    SetKeyedChildren,
    Patch,
    PatchSignals,
    ExecuteScript,
    Redirect,
    History,
    DispatchTo,
    Io,
    After,
    Subscribe,
    Unsubscribe,
    Publish,
    Back,
    End,
)


# -- constructors ------------------------------------------------------------------------------


def target_of(fn: Callable[..., Any] | str, what: str) -> Target:
    """Turn `self.method` (or a method name, meaning "on the emitter") into a stored Target."""
    if isinstance(fn, str):
        return Target(None, fn)
    owner = getattr(fn, "__self__", None)
    name = getattr(fn, "__name__", None)
    if not isinstance(owner, Component) or name is None:
        raise EffectError(
            f"{what} needs a method of a component, such as `self.added`, got {fn!r}. Lambdas "
            "and plain functions cannot be stored in a conversation; write a method instead."
        )
    mount = owner.__dict__.get("_parlour")
    return Target(None if mount is None else mount.iid, name)


def _component(value: object, what: str) -> Component:
    if isinstance(value, Component):
        return value
    if isinstance(value, type) and issubclass(value, Component):
        return value()
    raise EffectError(
        f"{what} needs a component instance, such as `Prompt(label='Name?')`, got {value!r}"
    )


def call(component: Component | type[Component], resume: Callable[..., Any] | None = None) -> Call:
    """Show `component` as a new full-page frame; when it answers, call `resume(answer)`."""
    comp = _component(component, "call()")
    return Call(comp, None if resume is None else target_of(resume, "call(resume=...)"))


def call_in_slot(
    slot: str,
    component: Component | type[Component],
    resume: Callable[..., Any] | None = None,
) -> CallInSlot:
    """Show `component` in this instance's `slot`; when it answers, the old occupant returns."""
    comp = _component(component, "call_in_slot()")
    return CallInSlot(
        slot, comp, None if resume is None else target_of(resume, "call_in_slot(resume=...)")
    )


def answer(value: Any = None) -> Answer:
    """Leave this frame (or slot), giving `value` to the caller's resume method."""
    return Answer(value)


def answer_error(error: BaseException) -> AnswerError:
    """Leave, handing `error` to the caller's `on_error_<resume>` method (or an error block)."""
    if not isinstance(error, BaseException):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise EffectError(f"answer_error() needs an exception, got {error!r}")
    return AnswerError(error)


def replace(component: Component | type[Component]) -> Replace:
    """Put `component` in the top frame's place (Seaside's become:); it answers our caller."""
    return Replace(_component(component, "replace()"))


def set_keyed_children(
    slot: str,
    pairs: Sequence[tuple[str, Component]] | Mapping[str, Component],
    *,
    rerender_parent: bool = False,
) -> SetKeyedChildren:
    """Make `slot` hold exactly these children, in this order, reusing instances by key.

    A child whose key is kept keeps its state; a key whose component changed is rebuilt; new
    keys are added and missing ones removed, each with the smallest patch.
    """
    try:
        single_line("set_keyed_children() slot", slot)  # part of an element id and selector
    except ValueError as exc:
        raise EffectError(str(exc)) from None
    items = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
    seen: set[str] = set()
    checked: list[tuple[str, Component]] = []
    for key, comp in items:
        if not isinstance(key, str) or not key:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise EffectError(f"set_keyed_children() keys must be non-empty strings, got {key!r}")
        if key in seen:
            raise EffectError(f"set_keyed_children() got the key {key!r} twice; keys are unique")
        seen.add(key)
        checked.append((key, _component(comp, "set_keyed_children()")))
    return SetKeyedChildren(slot, tuple(checked), rerender_parent)


def patch(html: Any, *, selector: str | None = None, mode: PatchMode = "outer") -> Patch:
    """Patch HTML into the page (by the ids it carries, unless a selector is given)."""
    text = html.__html__() if hasattr(html, "__html__") else str(Markup.escape(html))
    if selector is not None:
        try:
            single_line("patch() selector", selector)
        except ValueError as exc:
            raise EffectError(str(exc)) from None
    return Patch(str(text), selector, mode)


def patch_signals(signals: Mapping[str, Any] | None = None, /, **more: Any) -> PatchSignals:
    """Merge signals into the browser's store (a value of None removes a signal)."""
    return PatchSignals({**(signals or {}), **more})


def execute_script(js: str) -> ExecuteScript:
    """Run `js` once in the page."""
    return ExecuteScript(js)


def redirect(url: str) -> Redirect:
    """Navigate the tab to `url` (a full page load)."""
    return Redirect(url)


def history(url: str, mode: Literal["push", "replace"] = "push") -> History:
    """Push (or replace) the browser URL without navigating."""
    if mode not in ("push", "replace"):
        raise EffectError(f"history() mode must be 'push' or 'replace', got {mode!r}")
    return History(url, mode)


def dispatch_to(target: Callable[..., Any], payload: Any = None) -> DispatchTo:
    """Call another instance's method (`other.method`) as a separate event, with `payload`."""
    return DispatchTo(target_of(target, "dispatch_to()"), payload)


def io(fn: Callable[[], Any], resume: Callable[..., Any]) -> Io:
    """Run `fn()` off the event loop; then call `resume(result)`.

    A plain function runs on a worker thread (blocking work); an `async def` function (or a
    `functools.partial` of one) is awaited on the event loop (async clients, app services).
    If `fn` raises, `on_error_<resume>(error)` is called when defined, else the instance shows
    an error block. Without a runtime (pure `dispatch`, `replay`) nothing runs.
    """
    if not callable(fn):
        raise EffectError(f"io() needs a callable, got {fn!r}")
    return Io(fn, target_of(resume, "io(resume=...)"))


def after(seconds: float, target: Callable[..., Any], payload: Any = None) -> After:
    """Call `target(payload)` after `seconds`. Timers are stored with the conversation."""
    if seconds < 0:
        raise EffectError(f"after() needs a delay of 0 seconds or more, got {seconds!r}")
    return After(float(seconds), target_of(target, "after()"), payload)


def subscribe(pattern: str, target: Callable[..., Any]) -> Subscribe:
    """Call `target(event)` for every bus event whose topic matches `pattern`."""
    if not pattern:
        raise EffectError("subscribe() needs a topic pattern such as 'agent.*'")
    return Subscribe(pattern, target_of(target, "subscribe()"))


def unsubscribe(pattern: str | None = None) -> Unsubscribe:
    """Stop a subscription of this instance (all of them when `pattern` is None)."""
    return Unsubscribe(pattern)


def publish(topic: str, payload: Any = None) -> Publish:
    """Publish `payload` on the bus under `topic`."""
    if not topic:
        raise EffectError("publish() needs a topic such as 'chat.message'")
    return Publish(topic, payload)


def back() -> Back:
    """Restore the conversation as it was before the last event."""
    return Back()


def end(value: Any = None) -> End:
    """End the conversation (stop hooks run; the stream closes)."""
    return End(value)
