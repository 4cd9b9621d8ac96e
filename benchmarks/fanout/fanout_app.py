"""The parlour side of the fan-out and idle-memory benchmarks: a server for `fanout_bench.py`.

    python fanout_app.py --app viewer  --port 8000 [--window 0.05]
    python fanout_app.py --app shared  --port 8000 [--window 0.05]
    python fanout_app.py --app counter --port 8000
    python fanout_app.py --app viewer  --port 8000 --store sqlite [--gc-threshold 20000,20,20]

`--app viewer`: every tab's conversation shows one `Viewer`, which subscribes to the bus
topic `bench.fanout` when it starts and shows the latest event's tick and text (the same
content for every viewer, about as many bytes as the floor's 200-byte event). A publish
reaches every viewer the way any parlour app's bus events do: the bus puts the event in each
conversation's subscription queue, each conversation applies it under its lock (kernel
`deliver`, re-render, save to the store), and each stream sends its patch after the
coalescing window (`--window`, the App's default 0.05 s; 0 sends at once).

`--app shared`: the same tile as a *shared view* (decision 0004): every conversation's page
embeds `shared("tile")`; one bus subscriber updates the tile's data and invalidates the view,
which is rendered once per window and the same patch pushed to every open stream. No
conversation is dispatched, rendered or saved per update.

`--app counter`: `examples/counter.py` as it is (for memory per idle conversation).

Both are parlour `App`s on their real routes (shell `GET /`, stream
`GET /_parlour/sse/CID`), no Datastar bundle served. The store is the App's default, in
memory, or with `--store sqlite` the CLI's default kind, SQLite, in a fresh file in a temporary
folder removed at exit. Two knobs for experiments with the garbage collector:
`--gc-threshold` sets `gc.set_threshold`, `--gc-freeze` calls `gc.freeze()` before each
publish (everything alive then, the viewers' conversations included, is no longer scanned).
Two benchmark-only routes sit in front of the App, outside parlour:

    GET /_bench/publish?n=N     publish {"n": N, "text": ...} on bench.fanout once; JSON reply
    GET /_bench/stats           JSON: live conversations, open streams, subscriptions, and
                                the garbage collector's passes and seconds per generation
    GET /_bench/profile?op=start|stop   with --profile PATH only: the profiler on / off (on
                                the event loop's thread); each stop writes what it has so far
                                to PATH: cProfile stats, or with --profiler pyinstrument (a
                                sample every 0.5 ms) its flat self times and call tree as text

Served by uvicorn with the settings the floor (`bench-baseline/sse_app.py`) runs with:
httptools, uvloop, log level warning, no access log, backlog 4096. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvicorn
from htpy import Element, div, span

import parlour
from parlour import App, Component, shared, subscribe
from parlour.bus import Event
from parlour.stores import SqliteStore
from parlour.stores.protocol import ConversationStore

TOPIC = "bench.fanout"
TEXT = "x" * 150  # the floor's event carries about 200 bytes of element HTML


class GcClock:
    """Counts the collector's passes and the CPU seconds they take (its thread), per generation."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.passes = [0, 0, 0]
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.thread_time()
        else:
            g = int(info["generation"])
            self.seconds[g] += time.thread_time() - self._t0
            self.passes[g] += 1

    def install(self) -> GcClock:
        gc.callbacks.append(self)
        return self


GC = GcClock().install()


def _repo() -> Path:
    env = os.environ.get("PARLOUR_REPO")
    return Path(env) if env else Path(parlour.__file__).resolve().parents[2]


class Viewer(Component):
    """A dashboard tile that every viewer shares: the latest tick published on the bus."""

    tick: int = 0
    text: str = "-"

    def start(self) -> Any:
        return subscribe(TOPIC, self.on_tick)

    def render(self) -> Element:
        return div(self.root, class_="parlour-card")[
            span(".tick", data_tick=str(self.tick))[f"tick {self.tick}"],
            span(".text")[self.text],
        ]

    def on_tick(self, event: Event) -> None:
        self.tick = int(event.payload["n"])
        self.text = str(event.payload["text"])


class SharedTile(Component):
    """A page that embeds the shared tile: its HTML is rendered once for all viewers."""

    def render(self) -> Element:
        return div(self.root, class_="parlour-card")[shared("tile")]


LATEST: dict[str, Any] = {"n": 0, "text": "-"}


def tile() -> Element:
    n = int(LATEST["n"])
    return div("#tile")[span(".tick", data_tick=str(n))[f"tick {n}"], span(".text")[LATEST["text"]]]


async def follow_ticks(app: App) -> None:
    """The one subscriber: the latest tick into LATEST, then the view is invalidated."""
    bus = app.runtime.bus
    assert bus is not None
    async for event in bus.subscribe(TOPIC):
        LATEST.update(n=int(event.payload["n"]), text=str(event.payload["text"]))
        app.views.invalidate("tile")


def make_app(kind: str, window: float, store: ConversationStore | None = None) -> App:
    if kind == "viewer":
        return App(Viewer, title="fan-out viewer", window=window, store=store)
    if kind == "shared":
        app = App(SharedTile, title="fan-out shared view", window=window, store=store)
        app.views.add("tile", tile)
        return app
    sys.path.insert(0, str(_repo()))
    from examples.counter import Counter

    return App(Counter, title="parlour counter", window=window, store=store)


class BenchProfiler:
    """cProfile or pyinstrument behind one start/stop/save interface."""

    def __init__(self, kind: str, path: str) -> None:
        self.kind, self.path = kind, path
        if kind == "pyinstrument":
            from pyinstrument import Profiler

            self.sampler = Profiler(interval=0.0005, async_mode="disabled")
        else:
            self.profile = cProfile.Profile()

    def start(self) -> None:
        if self.kind == "pyinstrument":
            self.sampler.start()
        else:
            self.profile.enable()

    def stop(self) -> None:
        """Stop and write everything sampled so far (the runs accumulate)."""
        if self.kind == "cprofile":
            self.profile.disable()
            self.profile.dump_stats(self.path)
            return
        self.sampler.stop()
        flat = self.sampler.output_text(flat=True, time="percent_of_total")
        tree = self.sampler.output_text(
            time="percent_of_total", processor_options={"filter_threshold": 0.01}
        )
        with open(self.path, "w") as fh:
            fh.write("pyinstrument, during the publishes only\n\n== self time by function ==\n")
            fh.write("\n".join(flat.splitlines()[:60]) + "\n\n== call tree ==\n" + tree)


def with_bench_routes(app: App, profile: BenchProfiler | None = None, freeze: bool = False) -> Any:
    """The App, plus the /_bench/ routes in front of it (plain ASGI)."""

    async def reply(send: Any, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    follower: list[Any] = []

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if "tile" in app.views and not follower:
            import asyncio

            follower.append(asyncio.ensure_future(follow_ticks(app)))
        if scope["type"] == "http" and path == "/_bench/publish":
            query = dict(
                p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p
            )
            bus = app.runtime.bus
            assert bus is not None
            if freeze:  # the experiment: move everything alive now out of the collector's reach
                gc.freeze()
            t0 = time.perf_counter()
            event = await bus.publish(TOPIC, {"n": int(query.get("n", "1")), "text": TEXT})
            await reply(send, {"id": event.id, "publish_s": time.perf_counter() - t0})
            return
        if scope["type"] == "http" and path == "/_bench/profile" and profile is not None:
            op = scope["query_string"].decode()
            if op == "op=start":
                profile.start()
            elif op == "op=stop":
                profile.stop()
            await reply(send, {"op": op})
            return
        if scope["type"] == "http" and path == "/_bench/stats":
            rt = app.runtime
            await reply(
                send,
                {
                    "live": len(rt.live),
                    "connections": rt.connection_count,
                    "subscriptions": rt.subscription_count,
                    "gc_seconds": GC.seconds,
                    "gc_passes": GC.passes,
                },
            )
            return
        await app(scope, receive, send)

    return asgi


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--app", choices=["viewer", "shared", "counter"], default="viewer")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--window", type=float, default=0.05, help="App(window=...), seconds")
    ap.add_argument("--profile", default=None, help="enable /_bench/profile, output to this path")
    ap.add_argument("--profiler", choices=["cprofile", "pyinstrument"], default="cprofile")
    ap.add_argument("--store", choices=["memory", "sqlite"], default="memory")
    ap.add_argument("--gc-threshold", default=None, help="gc.set_threshold(*N), e.g. 20000,20,20")
    ap.add_argument("--gc-freeze", action="store_true", help="gc.freeze() before each publish")
    args = ap.parse_args()
    raise_nofile()
    os.environ["PARLOUR_DATASTAR_JS"] = ""  # the shell points at the CDN; nothing is served
    os.environ.setdefault("PARLOUR_SECRET", "fanout-bench-only-not-a-secret")
    # uvicorn re-raises the SIGTERM it caught once it has shut down; with the default handler
    # that would end the process before the temporary folder (SQLite store) is removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    if args.gc_threshold:
        gc.set_threshold(*(int(n) for n in args.gc_threshold.split(",")))
    with tempfile.TemporaryDirectory(prefix="parlour-fanout-") as tmp:
        store = SqliteStore(Path(tmp) / "state.sqlite") if args.store == "sqlite" else None
        app = make_app(args.app, args.window, store)
        profile = BenchProfiler(args.profiler, args.profile) if args.profile else None
        asgi = with_bench_routes(app, profile, args.gc_freeze)
        serve(asgi, args.port)


def serve(asgi: Any, port: int) -> None:
    uvicorn.run(
        asgi,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        backlog=4096,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
