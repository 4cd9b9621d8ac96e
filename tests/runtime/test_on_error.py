"""`App(on_error=...)` (`Runtime(on_error=...)`): the app decides what a failure looks like.

Whatever fails (a handler, a render, a hook, a flow's code, io work), the runtime tells
`on_error(cid, component, phase, error)` before the step's fragments leave, and what it
returns stands in for the stock error block, keeping the failed instance's id. None keeps the
stock block; a raising `on_error` is logged and the stock block is shown. Every failure is
logged once, with its conversation id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from htpy import Element, div, p

import parlour.wire  # noqa: F401  (the block's buttons, the prompt's actions: Datastar)
from parlour import Component, call, event, flow, io
from parlour.core import kernel
from parlour.core.fragments import Elements, Fragment
from parlour.runtime import Runtime
from parlour.runtime.connection import Connection
from parlour.ui import prompt

BASE = "/_parlour"


class Child(Component, name="tests.runtime.on_error.Child"):
    def start(self) -> None:
        raise LookupError("the child cannot start")

    def render(self) -> Element:
        return div(self.root)["child"]


class Fragile(Component, name="tests.runtime.on_error.Fragile"):
    n: int = 0
    broken: bool = False

    def render(self) -> Element:
        if self.broken:
            raise RuntimeError("cannot draw")
        return div(self.root)[p[f"n = {self.n}"]]

    @event
    def explode(self) -> None:
        self.n = 99
        raise ValueError("handler broke")

    @event
    def break_render(self) -> None:
        self.broken = True

    @event
    def open_child(self) -> Any:
        return call(Child())

    @event
    def work(self) -> Any:
        return io(_failing_work, resume=self.worked)

    def worked(self, value: Any) -> None:
        self.n = value


def _failing_work() -> int:
    raise ConnectionError("the service is down")


@flow
def signup() -> Any:
    name = yield prompt("Name?")
    raise KeyError(f"no account for {name}")


@dataclass
class Told:
    cid: str
    component: Component | None
    phase: str
    error: BaseException


class Recorder:
    """An `on_error` that records what it is told and answers `answer`."""

    def __init__(self, answer: object = None) -> None:
        self.answer = answer
        self.told: list[Told] = []

    def __call__(
        self, cid: str, component: Component | None, phase: str, error: BaseException
    ) -> object:
        self.told.append(Told(cid, component, phase, error))
        return self.answer


@pytest.fixture
async def runtimes() -> AsyncIterator[Callable[..., Runtime]]:
    made: list[Runtime] = []

    def make(**options: Any) -> Runtime:
        made.append(Runtime(**options))
        return made[-1]

    yield make
    for runtime in made:
        await runtime.close()


async def opened(rt: Runtime, root: Component) -> tuple[str, Connection]:
    live, _ = await rt.mint(root, owner=None, base=BASE)
    connection = await rt.connect(live.conv.id)
    assert connection is not None
    await connection.take(0)  # the first render
    return live.conv.id, connection


async def send(rt: Runtime, cid: str, iid: str, name: str, **signals: Any) -> None:
    await rt.dispatch(cid, kernel.Event(iid, name, signals=signals))


async def blocks(connection: Connection) -> list[Elements]:
    """The error blocks the stream gets next (waiting for the first, up to 5 s)."""
    seen: list[Fragment] = []
    async with asyncio.timeout(5):
        while not any(isinstance(f, Elements) and f.error for f in seen):
            seen += await connection.take(5) or []
    return [f for f in seen if isinstance(f, Elements) and f.error]


async def test_on_error_is_told_who_failed_where_and_why(
    runtimes: Callable[..., Runtime],
) -> None:
    told = Recorder()
    rt = runtimes(on_error=told)
    cid, connection = await opened(rt, Fragile())
    await send(rt, cid, "p1", "explode")
    await blocks(connection)

    [failure] = told.told
    assert (failure.cid, failure.phase) == (cid, "handler")
    assert isinstance(failure.error, ValueError)
    assert failure.component == Fragile(n=0)  # as it was before the failed event
    assert failure.component is not rt.live[cid].conv.instances["p1"].component  # a copy


async def test_what_on_error_returns_stands_in_for_the_block_with_the_instances_id(
    runtimes: Callable[..., Runtime],
) -> None:
    rt = runtimes(on_error=Recorder(p(".sorry")["Sorry, that did not work."]))
    cid, connection = await opened(rt, Fragile())
    await send(rt, cid, "p1", "explode")
    [block] = await blocks(connection)
    assert block.selector == "#p1"
    assert block.html == (
        '<div id="p1" class="parlour-error-custom" role="alert" data-parlour-phase="handler">'
        '<p class="sorry">Sorry, that did not work.</p></div>'
    )


async def test_html_that_carries_the_id_itself_is_used_as_it_is(
    runtimes: Callable[..., Runtime],
) -> None:
    rt = runtimes(on_error=Recorder(div("#p1.mine")["mine"]))
    cid, connection = await opened(rt, Fragile())
    await send(rt, cid, "p1", "explode")
    [block] = await blocks(connection)
    assert block.html == '<div id="p1" class="mine">mine</div>'


async def test_none_keeps_the_stock_block_with_its_way_out(
    runtimes: Callable[..., Runtime],
) -> None:
    rt = runtimes(on_error=Recorder(None))
    cid, connection = await opened(rt, Fragile())
    await send(rt, cid, "p1", "explode")
    [block] = await blocks(connection)
    assert block.html.startswith('<div id="p1" class="parlour-error" role="alert">')
    assert f"{BASE}/retry/{cid}" in block.html
    assert f"{BASE}/restart/{cid}" in block.html


@pytest.mark.parametrize(
    ("iid", "name", "phase", "error"),
    [
        ("p1", "break_render", "render", RuntimeError),
        ("p1", "open_child", "hook", LookupError),
        ("p1", "work", "io", ConnectionError),
    ],
)
async def test_each_kind_of_failure_has_its_phase(
    runtimes: Callable[..., Runtime], iid: str, name: str, phase: str, error: type[Exception]
) -> None:
    told = Recorder()
    rt = runtimes(on_error=told)
    cid, connection = await opened(rt, Fragile())
    await send(rt, cid, iid, name)
    await blocks(connection)
    [failure] = told.told
    assert failure.phase == phase
    assert isinstance(failure.error, error)
    assert isinstance(failure.component, Fragile)


async def test_a_flows_own_code_failing_is_the_flow_phase_and_names_the_flow(
    runtimes: Callable[..., Runtime],
) -> None:
    told = Recorder()
    rt = runtimes(on_error=told)
    cid, connection = await opened(rt, signup())
    await send(rt, cid, "p2", "submit", **{"value-p2": "Ada"})
    await blocks(connection)
    [failure] = told.told
    assert failure.phase == "flow"
    assert isinstance(failure.error, KeyError)
    assert isinstance(failure.component, signup)


async def test_a_root_that_cannot_start_has_no_component(
    runtimes: Callable[..., Runtime],
) -> None:
    told = Recorder(p["We could not open this page."])
    rt = runtimes(on_error=told)
    _, step = await rt.mint(Child(), owner=None, base=BASE)
    [failure] = told.told
    assert (failure.component, failure.phase) == (None, "hook")
    [block] = step.fragments
    assert isinstance(block, Elements)
    assert block.selector == "#root"
    assert "We could not open this page." in block.html


async def test_an_on_error_that_raises_is_logged_and_the_stock_block_shown(
    runtimes: Callable[..., Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> object:
        raise RuntimeError("on_error itself broke")

    rt = runtimes(on_error=broken)
    cid, connection = await opened(rt, Fragile())
    with caplog.at_level(logging.ERROR, logger="parlour"):
        await send(rt, cid, "p1", "explode")
        [block] = await blocks(connection)
    assert 'class="parlour-error"' in block.html
    assert any("on_error failed" in m and cid in m for m in caplog.messages)


async def test_each_failure_is_logged_once_with_its_conversation(
    runtimes: Callable[..., Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    rt = runtimes()
    cid, connection = await opened(rt, Fragile())
    with caplog.at_level(logging.INFO, logger="parlour"):
        await send(rt, cid, "p1", "explode")
        await blocks(connection)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert f"cid={cid}" in errors[0].getMessage()
    assert "handler broke" in errors[0].getMessage()


async def test_a_stream_whose_first_render_fails_logs_it_once(
    runtimes: Callable[..., Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    rt = runtimes()
    live, _ = await rt.mint(Fragile(broken=True), owner=None, base=BASE)  # logged: one failure
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="parlour"):
        connection = await rt.connect(live.conv.id)  # the stream's render fails again
    assert connection is not None
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert f"cid={live.conv.id}" in errors[0]
