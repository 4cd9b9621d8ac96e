#!/usr/bin/env python3
"""What the inspector costs a page: nothing when it is off (the default), and what it costs on.

    .venv/bin/python benchmarks/inspector_cost.py                  # about 20 s
    .venv/bin/python benchmarks/inspector_cost.py --clicks 3000 --rounds 7

Three builds of the counter (examples/counter.py), driven in-process (no sockets, so the
numbers are parlour's own work, not the network's):

  without   the app as it was before the inspector existed: the shell is built without the
            inspector's `tail` (the one hook on a page's way out); the runtime and the
            render path never had a hook, since dev mode wraps them only when it is on
  off       `App(Counter)`: dev mode off, the default
  on        `App(Counter, dev=True)`: the inspector on (the step log records every click;
            nobody has the panel open, so no panel is rendered)

Measured, the builds interleaved round by round (medians of `--rounds`):

  shell bytes         the page a tab loads (GET /)
  patch bytes         what one click sends on the conversation's own stream (its SSE batch)
  µs per page load    GET /: mint, first render, shell
  µs per click        POST event -> dispatch, render, save (memory), push to the open stream

"off" must equal "without": zero bytes more, and a difference in µs within the rounds' spread.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from examples.counter import Counter  # noqa: E402

import parlour.web.app as web_app  # noqa: E402
from parlour.testing import AsgiClient  # noqa: E402
from parlour.web.app import App  # noqa: E402

BUILDS = ("without", "off", "on")
SECRET = "inspector-cost-benchmark"


@contextlib.contextmanager
def build(name: str) -> Iterator[App]:
    """The app of build `name` (for "without", the shell as it was built before the hook)."""
    original = web_app.shell_html

    def without_tail(**kwargs: Any) -> str:
        kwargs.pop("tail", None)
        return original(**kwargs)

    if name == "without":
        web_app.shell_html = without_tail
    try:
        yield App(Counter, secret=SECRET, dev=name == "on")
    finally:
        web_app.shell_html = original


def cid_of(html: str) -> str:
    found = re.search(r"/_parlour/sse/([A-Za-z0-9_-]+)", html)
    assert found is not None
    return found.group(1)


async def timed(n: int, work: Callable[[], Any]) -> float:
    """The mean µs of `n` awaited calls of `work` (after one warm-up call)."""
    await work()
    start = time.perf_counter()
    for _ in range(n):
        await work()
    return (time.perf_counter() - start) / n * 1e6


async def measure(name: str, clicks: int, loads: int) -> dict[str, float]:
    with build(name) as app:
        client = AsgiClient(app)
        shell = await client.get("/")
        cid = cid_of(shell.text)
        url = f"/_parlour/event/{cid}/p1/inc"
        async with client.stream(f"/_parlour/sse/{cid}") as stream:
            await stream.next_event()  # the first render
            await client.post(url)
            # The click's batch as it left the server: its SSE bytes, before parsing.
            batch = await asyncio.wait_for(stream._chunks.get(), 5)
            patch_bytes = len(batch or b"")

            async def click() -> None:
                await client.post(url)
                stream.drain()  # what the stream received, read as a tab would

            per_click = await timed(clicks, click)
        per_load = await timed(loads, lambda: client.get("/"))
        await app.runtime.close()
    return {
        "shell bytes": len(shell.body),
        "patch bytes": patch_bytes,
        "µs per page load": per_load,
        "µs per click": per_click,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=1500, help="clicks per build per round")
    parser.add_argument("--loads", type=int, default=200, help="page loads per build per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (builds interleaved)")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {b: [] for b in BUILDS}
    for round_ in range(args.rounds):
        order = BUILDS if round_ % 2 == 0 else tuple(reversed(BUILDS))
        for name in order:
            results[name].append(await measure(name, args.clicks, args.loads))
    keys = list(results["off"][0])
    print(
        f"counter, in-process; medians of {args.rounds} rounds ({args.clicks} clicks, "
        f"{args.loads} page loads per build per round)"
    )
    print(f"{'':<18}" + "".join(f"{b:>12}" for b in BUILDS) + f"{'off - without':>16}")
    for key in keys:
        medians = {b: statistics.median(r[key] for r in results[b]) for b in BUILDS}
        spread = statistics.pstdev(r[key] for r in results["without"])
        diff = medians["off"] - medians["without"]
        fmt = "{:>12.0f}" if "bytes" in key else "{:>12.1f}"
        row = "".join(fmt.format(medians[b]) for b in BUILDS)
        note = f"{diff:>+16.0f}" if "bytes" in key else f"{diff:>+10.1f} (±{spread:.1f})"
        print(f"{key:<18}{row}{note}")


if __name__ == "__main__":
    asyncio.run(main())
