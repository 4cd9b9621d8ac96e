"""When a component fails: what the user sees (the app's `on_error`), and one log line.

    def on_error(cid: str, component: Component | None, phase: Phase, error: BaseException):
        report_to_my_tracker(cid, error)
        if phase == "io":
            return p(".notice")["The price service is down; try again in a minute."]
        return None                               # the stock block: Try again / Start over

    App(Root, on_error=on_error)

The kernel turns every failure into an `ErrorReport` and, where the failed instance is on the
page, an error block carrying the instance's id (`core.render.error_html`). Before the step's
fragments leave for any page, the runtime hands each report to `on_error` (`shown`):

    cid        the conversation
    component  a copy of the instance that failed (or whose event set the failure off: a
               handler that called a component whose `start` raised), as it was before (the
               conversation keeps its last good state); for a `@flow`'s own code, the flow;
               None when the conversation has no instance yet (the root's `start` raised)
    phase      "handler"  an `@event`, a resume method, or `on_error_*` raised
               "render"   `render()` raised, or returned what cannot be drawn
               "hook"     `start`, `wakeup` or `stop` raised
               "flow"     a `@flow`'s own code raised (or its replay no longer matches)
               "io"       `io(...)` work failed and no `on_error_<method>` took it
    error      the exception

What it returns stands in for the stock block, in the block's place: htpy, `Markup`, anything
with `__html__`, or a str (shown as text); wrapped in an element with the block's id unless its
own outermost element has it, so later renders still find the instance. None keeps the stock
block. `on_error` is called for every failure, on the page or not, so it is also the place to
report errors; it runs in the app's context (`service(...)` works) and must be quick and
synchronous. If it raises, that is logged and the stock block is shown.

Each failure is logged once, at ERROR, with the conversation id, when its step is committed
(`log_failures`); the web layer logs none of them.
"""

from __future__ import annotations

import html as htmllib
import logging
import traceback
from collections.abc import Callable
from dataclasses import replace
from types import CodeType
from typing import Literal

from parlour.core import kernel
from parlour.core.component import Component
from parlour.core.conversation import Conversation
from parlour.core.errors import FlowReplayError
from parlour.core.flow import Flow
from parlour.core.fold import ErrorReport, Step
from parlour.core.fragments import Elements
from parlour.core.render import root_id, to_html
from parlour.core.state import clone

__all__ = ["OnError", "Phase", "component_of", "log_failures", "phase_of", "shown"]

log = logging.getLogger("parlour")

type Phase = Literal["handler", "render", "hook", "flow", "io"]

type OnError = Callable[[str, Component | None, Phase, BaseException], object]
"""`on_error(cid, component, phase, error)`: what the user sees instead of the stock error
block (htpy, Markup, a str, or None for the stock block)."""

_PHASES: dict[str, Phase] = {
    "handle": "handler",
    "answer-error": "handler",
    "render": "render",
    "start": "hook",
    "wakeup": "hook",
    "stop": "hook",
    "io": "io",
}
_FLOW_CODE = Flow._advance.__code__  # pyright: ignore[reportPrivateUsage]
_HOOK_CODE = kernel._hook.__code__  # pyright: ignore[reportPrivateUsage]


def _through(error: BaseException, code: CodeType) -> bool:
    """Did `error` pass through `code` on its way up?"""
    return any(frame.f_code is code for frame, _ in traceback.walk_tb(error.__traceback__))


def phase_of(report: ErrorReport) -> Phase:
    """The phase `on_error` is told, from the kernel's finer one (`report.phase`) and from
    where the error came: a flow's own code, or a hook run by a handler's effect (a called
    component's `start`) that the kernel reports on the handler's instance."""
    if report.phase == "render":
        return "render"
    if isinstance(report.error, FlowReplayError) or _through(report.error, _FLOW_CODE):
        return "flow"
    if _through(report.error, _HOOK_CODE):
        return "hook"
    return _PHASES.get(report.phase, "handler")


def component_of(conv: Conversation, report: ErrorReport, phase: Phase) -> Component | None:
    """A copy of the instance that failed (for a flow's code, the nearest flow), or None."""
    inst = conv.instances.get(report.iid)
    if phase == "flow":
        found = inst
        while found is not None and not isinstance(found.component, Flow):
            found = conv.instances.get(found.parent) if found.parent else None
        inst = found or inst
    return None if inst is None else clone(inst.component)


def shown(step: Step, on_error: OnError | None) -> Step:
    """`step` with the app's own blocks in place of the stock ones `on_error` replaced."""
    if on_error is None or not step.errors:
        return step
    fragments = list(step.fragments)
    for report in step.errors:
        phase = phase_of(report)
        try:
            custom = on_error(
                report.cid, component_of(step.conversation, report, phase), phase, report.error
            )
            if custom is None:
                continue
            block = report.iid or "root-error"
            at = next(
                (
                    i
                    for i, f in enumerate(fragments)
                    if isinstance(f, Elements) and f.error and root_id(f.html) == block
                ),
                None,
            )
            if at is None:
                continue  # the failed instance is not on the page: nothing to show
            fragments[at] = replace(fragments[at], html=_in_place(to_html(custom), block, phase))
        except Exception:
            log.exception(
                "parlour: on_error failed for cid=%s iid=%s; the stock error block is shown",
                report.cid,
                report.iid,
            )
    return replace(step, fragments=tuple(fragments))


def _in_place(html: str, block: str, phase: Phase) -> str:
    """`html` as the block `block`: with that id on its outermost element."""
    if root_id(html) == block:
        return html
    return (
        f'<div id="{htmllib.escape(block)}" class="parlour-error-custom" role="alert" '
        f'data-parlour-phase="{phase}">{html}</div>'
    )


def log_failures(step: Step) -> None:
    """Log each failure of `step` once, with its conversation id, instance and phase."""
    for report in step.errors:
        log.error(
            "parlour: component error cid=%s iid=%s phase=%s: %r",
            report.cid,
            report.iid,
            report.phase,
            report.error,
            exc_info=report.error,
        )
