"""Instructions per click, counted by valgrind: a click's cost that other load cannot blur.

    .venv/bin/python benchmarks/profile/click_instructions.py            # this checkout
    .venv/bin/python benchmarks/profile/click_instructions.py --rev a89f69d --rev HEAD

A click is the counter's (`examples/counter.py`) real `POST /_parlour/event/CID/p1/inc`
through the App in-process (`parlour.testing.AsgiClient`, no HTTP server), then its patch and
its address-bar script read from the open stream. The child process is run twice under
`valgrind --tool=callgrind` (no instrumentation until the clicks start), with 100 and with
400 clicks after a warm-up; the difference of the two totals divided by 300 is what one click
costs, without start-up, imports or the warm-up. Wall-clock timings on a shared 2-core box
move with whatever else runs; instruction counts move only with the code (PYTHONHASHSEED is
fixed). The in-process client's own work is in the count and is the same for every revision.

`--rev REV` measures REV's `src/` (extracted with `git archive`) with this checkout's
benchmark and examples; give it several times to compare. No figure is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WARM = 200
sys.path.insert(0, str(HERE))

from callgrind import instructions, revision_src, toggle  # noqa: E402


async def _clicks(n: int) -> None:
    os.environ["PARLOUR_DATASTAR_JS"] = ""
    from examples.counter import Counter

    from parlour.testing import AsgiClient
    from parlour.web.app import App

    app = App(Counter, secret="instructions-only")
    client = AsgiClient(app)
    async with contextlib.AsyncExitStack() as stack:
        shell = await client.get("/")
        found = re.search(r"/_parlour/sse/([A-Za-z0-9_-]+)", shell.text)
        assert shell.status == 200, shell.status
        assert found is not None, "no conversation in the shell"
        cid = found.group(1)
        stream = await stack.enter_async_context(client.stream(f"/_parlour/sse/{cid}"))
        await stream.next_event()  # the full render
        path = f"/_parlour/event/{cid}/p1/inc"
        for i in range(WARM + n):
            if i == WARM:
                toggle()
            response = await client.post(path, json={})
            assert response.status == 204, response.status
            patch = await stream.next_event()
            assert f'class="count">{i + 1}<' in patch.elements, patch
            await stream.next_event()  # the address bar's `?n=` (the counter's `url()`)
        toggle()
    await app.runtime.close()


def _count(src: Path, n: int, workdir: Path) -> int:
    return instructions(__file__, ["--child", str(n)], src, workdir)


def measure(src: Path) -> float:
    """Thousands of instructions per click with `src` first on the path."""
    with tempfile.TemporaryDirectory(prefix="parlour-instr-") as tmp:
        small, large = _count(src, 100, Path(tmp)), _count(src, 400, Path(tmp))
    return (large - small) / 300 / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rev", action="append", default=[], help="a git revision (repeatable)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        asyncio.run(_clicks(args.child))
        return
    if shutil.which("valgrind") is None:
        sys.exit("click_instructions: needs valgrind (apt-get install valgrind)")
    if not args.rev:
        print(f"{measure(REPO / 'src'):8.0f}k instructions per click  (this checkout)")
        return
    for rev in args.rev:
        with revision_src(rev) as src:
            print(f"{measure(src):8.0f}k instructions per click  ({rev})", flush=True)


if __name__ == "__main__":
    main()
