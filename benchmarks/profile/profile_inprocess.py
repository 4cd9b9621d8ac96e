"""cProfile of parlour's own work, in-process, through `parlour.testing.AsgiClient` (no HTTP).

    python profile_inprocess.py click  --n 3000  --out click.pstats
    python profile_inprocess.py fanout --k 2000 --publishes 3 --out fanout.pstats
    python profile_inprocess.py micro                      # no profiler: µs per piece

`click`: the counter (`examples/counter.py`), one conversation with its stream open; each
click is the real `POST /_parlour/event/CID/p1/inc` through the App, then the stream's next
event is read. `fanout`: the fan-out viewer (`benchmarks/fanout/fanout_app.py`, window 0),
K conversations each with an open stream; each publish goes on the bus and every stream's
next event is read.

`micro`: the pieces of a counter click timed one by one with `timeit`, without a profiler
(a profiler inflates small functions): the kernel step (event + re-render), the same markup
built and rendered with htpy alone, the conversation codec (saved on every click), the
session cookie check, the SSE encoding of the patch, the signals body, and a whole click
through the in-process client. Each is a median of 5 rounds; no timing is asserted.

Profiled with `cProfile` (its default wall-clock timer: `process_time` would cost a system
call per function call here). Nothing waits on I/O in-process and the fan-out app runs with
`window=0`, so wall time is CPU time. The in-process client's own queues and tasks are in
the profile too, while uvicorn, httptools and the sockets are not: read the parlour rows
(kernel, runtime, web, wire, htpy rendering) and compare with the server-side profile
(`peer-bench/parlour/profile_server.py`). A warm-up runs before profiling starts. Prints a
summary (see `pstats_summary.py`); no timing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE), str(HERE.parent / "fanout")]
os.environ["PARLOUR_DATASTAR_JS"] = ""

from pstats_summary import summary  # noqa: E402

from parlour.testing import AsgiClient, SseStream  # noqa: E402
from parlour.web.app import App  # noqa: E402

CID = re.compile(r"/_parlour/sse/([A-Za-z0-9_-]+)")


async def open_tab(client: AsgiClient, stack: contextlib.AsyncExitStack) -> tuple[str, SseStream]:
    shell = await client.get("/")
    found = CID.search(shell.text)
    assert shell.status == 200, shell.status
    assert found is not None, "no conversation id in the shell"
    cid = found.group(1)
    stream = await stack.enter_async_context(client.stream(f"/_parlour/sse/{cid}"))
    await stream.next_event()  # the full render
    return cid, stream


async def clicks(n: int, warm: int, profile: cProfile.Profile) -> int:
    from examples.counter import Counter

    app = App(Counter, secret="profile-only")
    client = AsgiClient(app)
    async with contextlib.AsyncExitStack() as stack:
        cid, stream = await open_tab(client, stack)
        path = f"/_parlour/event/{cid}/p1/inc"
        for i in range(warm + n):
            if i == warm:
                profile.enable()
            r = await client.post(path, json={})
            assert r.status == 204, r.status
            event = await stream.next_event()
            assert f'class="count">{i + 1}<' in event.elements
            await stream.next_event()  # the address bar's `?n=` (the counter's `url()`)
        profile.disable()
    await app.runtime.close()
    return n


async def fanout(k: int, publishes: int, profile: cProfile.Profile) -> int:
    from fanout_app import TEXT, TOPIC, Viewer

    app = App(Viewer, secret="profile-only", window=0)
    client = AsgiClient(app)
    bus = app.runtime.bus
    assert bus is not None
    delivered = 0
    async with contextlib.AsyncExitStack() as stack:
        streams = [(await open_tab(client, stack))[1] for _ in range(k)]
        for n in range(1, publishes + 2):  # the first publish is the warm-up
            if n == 2:
                profile.enable()
            await bus.publish(TOPIC, {"n": n, "text": TEXT})
            events = await asyncio.gather(*(s.next_event(timeout=60) for s in streams))
            assert all(f'data-tick="{n}"' in e.elements for e in events)
            if n >= 2:
                delivered += len(events)
        profile.disable()
    await app.runtime.close()
    return delivered


def micro(rounds: int = 5, number: int = 2000) -> str:
    """Median µs per call of each piece of a counter click, without a profiler."""
    import statistics
    import timeit

    from examples.counter import Counter
    from htpy import button, div, span

    from parlour.core import kernel
    from parlour.core.codec import decode, encode
    from parlour.core.fragments import Elements
    from parlour.web.session import Sessions
    from parlour.wire import encode as sse_encode
    from parlour.wire import signals_from_body

    conv = kernel.boot(Counter(), cid="micro", base="/_parlour").conversation
    for _ in range(60):  # steady state: the history (50 steps by default) is full
        conv = kernel.dispatch(conv, kernel.Event("p1", "inc")).conversation
    step = kernel.dispatch(conv, kernel.Event("p1", "inc"))
    patch = next(f for f in step.fragments if isinstance(f, Elements))
    data = encode(step.conversation)
    sessions = Sessions("micro-secret")
    _, cookie = sessions.new()
    url = "/_parlour/event/micro/p1/"

    def markup() -> str:
        on = {"data-on:click": f"@post('{url}inc', {{requestCancellation: 'disabled'}})"}
        return str(
            div({"id": "p1"}, class_="parlour-card parlour-row")[
                button(".parlour-button", on)["-"],
                span(".count")[1],
                button(".parlour-button", on)["+"],
            ]
        )

    pieces = {
        "kernel.dispatch (inc + re-render)": lambda: kernel.dispatch(
            conv, kernel.Event("p1", "inc")
        ),
        "  the same markup, htpy alone (build + str)": markup,
        "conversation encode (saved each click)": lambda: encode(step.conversation),
        "conversation decode (a restore)": lambda: decode(data),
        "session cookie check (itsdangerous)": lambda: sessions.verify(cookie),
        "SSE encoding of the patch": lambda: sse_encode(patch),
        "signals body ({})": lambda: signals_from_body(b"{}", "application/json"),
    }
    out = [f"µs per call, median of {rounds} rounds of {number} (no profiler):"]
    for name, fn in pieces.items():
        runs = timeit.repeat(fn, number=number, repeat=rounds)
        out.append(f"  {1e6 * statistics.median(runs) / number:8.1f}  {name}")

    async def whole(n: int) -> float:
        app = App(Counter, secret="profile-only")
        client = AsgiClient(app)
        async with contextlib.AsyncExitStack() as stack:
            cid, stream = await open_tab(client, stack)
            path = f"/_parlour/event/{cid}/p1/inc"
            loop = asyncio.get_running_loop()
            for i in range(2 * n):
                if i == n:
                    t0 = loop.time()
                await client.post(path, json={})
                await stream.next_event()
            elapsed = loop.time() - t0
        await app.runtime.close()
        return elapsed / n

    per = statistics.median(asyncio.run(whole(number)) for _ in range(3))
    out.append(f"  {1e6 * per:8.1f}  a whole click in-process (AsgiClient POST + stream event)")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", choices=["click", "fanout", "micro"])
    ap.add_argument("--n", type=int, default=3000, help="profiled clicks")
    ap.add_argument("--warm", type=int, default=300, help="clicks before profiling")
    ap.add_argument("--k", type=int, default=2000, help="viewers (fanout)")
    ap.add_argument("--publishes", type=int, default=3, help="profiled publishes (fanout)")
    ap.add_argument("--out", default=None, help="where to write the .pstats")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    if args.scenario == "micro":
        print(micro(), end="")
        return
    out = args.out or f"{args.scenario}-inprocess.pstats"
    profile = cProfile.Profile()
    if args.scenario == "click":
        count = asyncio.run(clicks(args.n, args.warm, profile))
        unit = "click"
    else:
        count = asyncio.run(fanout(args.k, args.publishes, profile))
        unit = "delivery"
    profile.dump_stats(out)
    print(summary(out, per=count, unit=unit, top=args.top), end="")


if __name__ == "__main__":
    main()
