"""The step log: what made each step of a conversation, kept only while the inspector is on.

    log = StepLog(clock)
    log.attach(runtime)        from now on every kernel step of `runtime` is recorded, per cid
    log.records(cid)           the recent records of `cid`, oldest first
    log.listen(cid) / poke     wake the inspector panels that show `cid`

The cost when the inspector is off is nothing at all: an app without dev mode never builds a
`StepLog`, and nothing in the runtime checks for one. `attach` wraps the runtime's one entry
point for kernel calls (`Runtime._run`, which local and cluster nodes both use) on that one
runtime object, so only an app in dev mode pays for the recording.

A record holds the cause of the step (a browser event with its payload and signals, a step
back, a timer, a bus event, an io result or failure, a `dispatch_to`, the end), the history
depth before and after, the state fields that changed, and one line per fragment, command and
error. The cause is read from the kernel call the runtime was about to make (the function
and the values it closes over); a call it does not recognise is still recorded, as a "step"
naming the kernel function. A plain re-render (a stream opened) changes nothing and is not
recorded.

Records are kept per conversation, at most `limit` (the newest), for at most `conversations`
conversations (the least recently changed are forgotten). When a conversation goes back, the
records of the steps it left are dropped, so the log always describes the history the
conversation has now.

What this module does not do: store anything (the log lives in this process's memory and
dies with it), or render (see `parlour.devtools.panel`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from parlour.core import commands as cmd
from parlour.core import fragments as fr
from parlour.core import kernel
from parlour.core.conversation import Conversation, Subscription, Timer
from parlour.devtools.model import Change, changes, short

if TYPE_CHECKING:
    from parlour.runtime.live import Live
    from parlour.runtime.runtime import Runtime

__all__ = ["QUIET", "Record", "StepLog", "describe_command", "describe_fragment"]

log = logging.getLogger("parlour")

type KernelCall = Callable[[Conversation], kernel.Step]

QUIET = "__parlour_quiet__"
"""An attribute that marks a kernel call of the inspector's own as not worth recording."""

_KERNEL_CALLS = (
    "dispatch",
    "back",
    "fire_timer",
    "deliver",
    "fail",
    "finish",
    "render_top",
    "boot",
)


@dataclass(frozen=True, slots=True)
class Record:
    """One recorded kernel step of a conversation."""

    seq: int
    at: float
    kind: str
    """event | back | timer | bus | io | io error | dispatch_to | internal | end | wakeup | step"""
    what: str
    """Which instance and method, e.g. `p1.inc`; for a step back, where it went."""
    depth_before: int
    depth: int
    payload: str | None = None
    signals: Mapping[str, Any] = field(default_factory=dict[str, Any])
    changes: tuple[Change, ...] = ()
    fragments: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """One line: `event p1.inc`, `back to step 2`, `timer p3.tick`."""
        return self.what if self.kind in ("back", "end") else f"{self.kind} {self.what}"


@dataclass(frozen=True, slots=True)
class _Cause:
    kind: str
    what: str
    payload: str | None = None
    signals: Mapping[str, Any] = field(default_factory=dict[str, Any])


class StepLog:
    """Recent kernel steps per conversation, for the inspector (dev mode only)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        limit: int = 200,
        conversations: int = 256,
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.conversations = conversations
        self._records: OrderedDict[str, deque[Record]] = OrderedDict()
        self._seq = itertools.count(1)
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self.signals: dict[str, tuple[float, Mapping[str, Any]]] = {}
        """The page's signals as it last sent them (with an event or an inspector request)."""

    def __repr__(self) -> str:
        return f"StepLog({len(self._records)} conversations)"

    def attach(self, runtime: Runtime) -> None:
        """Record every kernel step `runtime` runs from now on (wraps `runtime._run`)."""
        run: Callable[[Live, KernelCall], kernel.Step] = runtime._run  # pyright: ignore[reportPrivateUsage]

        def recorded(live: Live, fn: KernelCall) -> kernel.Step:
            before = live.conv
            step = run(live, fn)
            try:
                self.record(before, fn, step)
            except Exception:  # the inspector must never break the app it inspects
                log.exception("parlour: the inspector could not record a step of %s", before.id)
            return step

        setattr(runtime, "_run", recorded)  # noqa: B010 (an instance attribute on purpose)

    # -- recording -----------------------------------------------------------------------

    def record(self, before: Conversation, fn: KernelCall, step: kernel.Step) -> Record | None:
        """Note `step`, which `fn` made from `before`; None when there is nothing to note."""
        if getattr(fn, QUIET, False):
            return None
        cause = _cause(fn)
        if cause is None:
            return None
        after = step.conversation
        record = Record(
            seq=next(self._seq),
            at=self.clock(),
            kind=cause.kind,
            what=cause.what,
            depth_before=before.depth,
            depth=after.depth,
            payload=cause.payload,
            signals=cause.signals,
            changes=tuple(changes(before, after)),
            fragments=tuple(describe_fragment(f) for f in step.fragments),
            commands=tuple(describe_command(c) for c in step.commands),
            errors=tuple(f"{e.phase} in {e.iid or 'the page'}: {e.error!r}" for e in step.errors),
        )
        cid = after.id
        records = self._records.get(cid)
        if records is None:
            records = self._records[cid] = deque(maxlen=self.limit)
            while len(self._records) > self.conversations:
                self._records.popitem(last=False)
        else:
            self._records.move_to_end(cid)
        if record.depth < record.depth_before:
            # Went back: the steps after the restored one are no longer the conversation's.
            kept = [r for r in records if r.depth <= record.depth]
            records.clear()
            records.extend(kept)
        records.append(record)
        if cause.kind == "event":
            self.signals[cid] = (record.at, cause.signals)
        self.poke(cid)
        return record

    def records(self, cid: str) -> list[Record]:
        """The recorded steps of `cid`, oldest first."""
        return list(self._records.get(cid, ()))

    def forget(self, cid: str) -> None:
        self._records.pop(cid, None)
        self.signals.pop(cid, None)

    def saw_signals(self, cid: str, signals: Mapping[str, Any]) -> None:
        """The page sent its signals with a request of the inspector's."""
        self.signals[cid] = (self.clock(), signals)

    # -- the panels that watch a conversation ---------------------------------------------

    def listen(self, cid: str) -> asyncio.Event:
        """An event set whenever `cid` takes a step (or `poke(cid)` is called)."""
        waiter = asyncio.Event()
        self._waiters.setdefault(cid, set()).add(waiter)
        return waiter

    def unlisten(self, cid: str, waiter: asyncio.Event) -> None:
        waiters = self._waiters.get(cid)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[cid]

    def poke(self, cid: str) -> None:
        """Wake the panels of `cid` (something they show changed)."""
        for waiter in self._waiters.get(cid, ()):
            waiter.set()


# -- reading a kernel call ----------------------------------------------------------------


def _values(fn: Callable[..., Any]) -> dict[str, Any]:
    """The names and values a kernel call closes over (and its keyword defaults)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return {}
    found: dict[str, Any] = {}
    for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or (), strict=False):
        try:
            found[name] = cell.cell_contents
        except ValueError:  # an empty cell
            continue
    defaults: tuple[Any, ...] = getattr(fn, "__defaults__", None) or ()
    if defaults:
        names = code.co_varnames[code.co_argcount - len(defaults) : code.co_argcount]
        found.update(zip(names, defaults, strict=False))
    return found


def _called(fn: Callable[..., Any]) -> str:
    """Which kernel function `fn` is, or calls (`dispatch`, `fire_timer`, ...); else ""."""
    if getattr(fn, "__module__", None) == kernel.__name__:
        return str(getattr(fn, "__name__", ""))
    code = getattr(fn, "__code__", None)
    if code is None:
        return ""
    return next((n for n in code.co_names if n in _KERNEL_CALLS), "")


def _first[T](values: Mapping[str, Any], kind: type[T]) -> T | None:
    return next((v for v in values.values() if isinstance(v, kind)), None)


def _cause(fn: Callable[..., Any]) -> _Cause | None:
    called = _called(fn)
    values = _values(fn)
    code = getattr(fn, "__code__", None)
    match called:
        case "dispatch":
            ev = _first(values, kernel.Event)
            if ev is None:
                return _Cause("event", "?")
            payload = None if ev.payload is None else short(ev.payload)
            kind = "event" if ev.source == "browser" else "internal"
            return _Cause(kind, f"{ev.iid}.{ev.name}", payload, dict(ev.signals))
        case "back":
            to = values.get("to")
            return _Cause("back", "back one step" if to is None else f"back to step {to}")
        case "fire_timer":
            timer = _first(values, Timer)
            return _Cause("timer", "?" if timer is None else f"{timer.iid}.{timer.method}")
        case "deliver":
            iid, method = values.get("iid", "?"), values.get("method", "?")
            sub = _first(values, Subscription)
            if sub is not None:
                event = values.get("e", values.get("event"))
                topic = getattr(event, "topic", None)
                return _Cause("bus", f"{sub.iid}.{sub.method}", None if topic is None else topic)
            if "result" in values:
                return _Cause("io", f"{iid}.{method}", short(values["result"]))
            if "payload" in values:
                return _Cause("dispatch_to", f"{iid}.{method}", short(values["payload"]))
            return _Cause("internal", f"{iid}.{method}")
        case "fail":
            error = values.get("error")
            what = f"{values.get('iid', '?')}.{values.get('method', '?')}"
            return _Cause("io error", what, None if error is None else repr(error))
        case "finish":
            return _Cause("end", "the conversation ended")
        case "render_top":
            # `lambda conv: kernel.render_top(conv, wake=True)`: the keyword is in its constants.
            woke = (
                fn is not kernel.render_top
                and code is not None
                and any(isinstance(c, tuple) and "wake" in c for c in code.co_consts)
            )
            return _Cause("wakeup", "restored from the store: wakeup") if woke else None
        case _:
            name = str(getattr(fn, "__qualname__", None) or type(fn).__name__)
            return _Cause("step", called or name)


def describe_fragment(fragment: fr.Fragment) -> str:
    """One line for a fragment: what it patches, how, and how big it is."""
    match fragment:
        case fr.Elements(html, selector, mode, key, error):
            where = selector or (f"#{key}" if key else "by id")
            flag = " (an error block)" if error else ""
            return f"patch {where} {mode}, {len(html)} bytes{flag}"
        case fr.Signals(data):
            return f"signals {short(dict(data))}"
        case fr.Script(js):
            return f"script, {len(js)} bytes"
        case fr.History(depth, url, mode):
            return f"history {mode} depth {depth}" + ("" if url is None else f" {url}")
        case fr.Redirect(url):
            return f"redirect to {url}"
        case fr.Close():
            return "close the stream"


def describe_command(command: cmd.Command) -> str:
    """One line for a command the runtime performs."""
    match command:
        case cmd.ScheduleTimer(_, timer):
            return f"schedule timer {timer.id}: {timer.iid}.{timer.method} at {timer.due:.3f}"
        case cmd.CancelTimer(_, timer):
            return f"cancel timer {timer.id}"
        case cmd.Subscribe(_, sub):
            return f"subscribe {sub.pattern!r} -> {sub.iid}.{sub.method}"
        case cmd.Unsubscribe(_, sub):
            return f"unsubscribe {sub.pattern!r} of {sub.iid}"
        case cmd.RunIo(_, iid, method, _fn):
            return f"io -> {iid}.{method}"
        case cmd.DispatchTo(_, iid, method, payload):
            return f"dispatch_to {iid}.{method}({short(payload)})"
        case cmd.Publish(topic, payload, _source):
            return f"publish {topic!r} {short(payload)}"
        case cmd.Ended(_, value):
            return f"ended with {short(value)}"
