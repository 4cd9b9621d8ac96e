"""`Runtime(on_end=...)`: the runtime performs the kernel's `Ended(cid, value)` command.

The kernel has nowhere to send what a conversation ended with (its root frame's answer); the
runtime hands it to the host and logs the end once. A failing or slow `on_end` never breaks
the conversation machinery.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from htpy import Element, div

from parlour import Component
from parlour.core import commands as cmd
from parlour.core import kernel
from parlour.core.conversation import Conversation
from parlour.runtime import Runtime


class Root(Component, name="tests.runtime.on_end.Root"):
    def render(self) -> Element:
        return div(self.root)["root"]


@pytest.fixture
async def runtimes() -> AsyncIterator[Callable[..., Runtime]]:
    made: list[Runtime] = []

    def make(**options: Any) -> Runtime:
        runtime = Runtime(**options)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        await runtime.close()


def ended(value: Any) -> Callable[[Conversation], kernel.Step]:
    """A kernel step that says the conversation ended with `value` (what the kernel emits)."""
    return lambda conv: kernel.Step(conv, commands=(cmd.Ended(conv.id, value),))


async def test_on_end_is_called_with_the_cid_and_the_value(
    runtimes: Callable[..., Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    told: list[tuple[str, Any]] = []
    runtime = runtimes(on_end=lambda cid, value: told.append((cid, value)))
    live, _ = await runtime.mint(Root(), owner=None, base="/_parlour")
    cid = live.conv.id
    with caplog.at_level(logging.INFO, logger="parlour"):
        assert await runtime.apply(cid, ended({"answer": 42}))
    assert told == [(cid, {"answer": 42})]
    assert [r.getMessage() for r in caplog.records] == [f"parlour: conversation {cid} ended"]
    assert caplog.records[0].levelno == logging.INFO


async def test_an_async_on_end_is_awaited(runtimes: Callable[..., Runtime]) -> None:
    told: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def on_end(cid: str, value: Any) -> None:
        await told.put((cid, value))

    runtime = runtimes(on_end=on_end)
    live, _ = await runtime.mint(Root(), owner=None, base="/_parlour")
    await runtime.apply(live.conv.id, ended("done"))
    async with asyncio.timeout(5):
        assert await told.get() == (live.conv.id, "done")


async def test_a_failing_on_end_is_logged_and_changes_nothing_else(
    runtimes: Callable[..., Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    def on_end(cid: str, value: Any) -> None:
        raise RuntimeError("the host broke")

    runtime = runtimes(on_end=on_end)
    live, _ = await runtime.mint(Root(), owner=None, base="/_parlour")
    with caplog.at_level(logging.INFO, logger="parlour"):
        assert await runtime.apply(live.conv.id, ended(None))
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"parlour: on_end failed for conversation {live.conv.id}"
    ]
    assert "the host broke" in caplog.text


async def test_without_on_end_the_end_is_only_logged(
    runtimes: Callable[..., Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    runtime = runtimes()
    live, _ = await runtime.mint(Root(), owner=None, base="/_parlour")
    with caplog.at_level(logging.INFO, logger="parlour"):
        assert await runtime.apply(live.conv.id, ended(1))
    assert caplog.messages == [f"parlour: conversation {live.conv.id} ended"]
