"""Serve the peer-bench counter (`app.py`) with instruments; write what they saw when it stops.

    python profile_server.py --host 127.0.0.1 --port 8000 --mode profile [--out FILE]
    python profile_server.py --host 127.0.0.1 --port 8000 --mode gc      [--out FILE]
    python profile_server.py --host 127.0.0.1 --port 8000 --mode pyinstrument [--out FILE]

The same app and server settings as `parlour run app:app --store memory` (uvicorn with
httptools and uvloop, in-memory store, log level warning), plus one instrument:

  profile  cProfile for the whole life of the process (the event loop's thread), dumped to
           FILE (default $PARLOUR_PROFILE_OUT, else click-PORT.pstats). cProfile slows
           everything down: the clicks/s of such a run are not comparable.
  pyinstrument  the statistical profiler pyinstrument (a sample every 0.5 ms of the event
           loop's thread, far less distortion than cProfile's per-call hooks): self time per
           function (flat) and the call tree, as text, to FILE (default
           $PARLOUR_PYINSTRUMENT_OUT, else click-PORT.pyinstrument.txt).
  gc       the garbage collector's passes and CPU seconds per generation (gc.callbacks), the
           process's CPU seconds and the number of clicks served, written as JSON to FILE
           (default $PARLOUR_GC_OUT, else gc-PORT.json). Cheap: the run stays comparable.

peer-bench stops the server with SIGTERM; uvicorn shuts down gracefully, then the file is
written.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import logging
import os
import resource
import signal
import time
from typing import Any

import uvicorn
from app import app


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


def pyinstrument_report(profiler: Any, title: str) -> str:
    """Self time per function (flat, top 40 lines), then the call tree (nodes >= 1 %)."""
    flat = profiler.output_text(flat=True, time="percent_of_total", unicode=False, color=False)
    flat_lines = flat.splitlines()
    tree = profiler.output_text(
        time="percent_of_total",
        unicode=False,
        color=False,
        processor_options={"filter_threshold": 0.01},
    )
    return (
        f"{title}\n\n== self time by function (flat) ==\n"
        + "\n".join(flat_lines[:60])
        + "\n\n== call tree ==\n"
        + tree
    )


def run_sampled(server: uvicorn.Server, out: str) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    try:
        server.run()
    finally:
        profiler.stop()
        with open(out, "w") as fh:
            fh.write(pyinstrument_report(profiler, "pyinstrument, the whole server run"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--mode", choices=["profile", "gc", "pyinstrument"], default="profile")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    clicks = 0

    async def counting(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal clicks
        if scope["type"] == "http" and scope["path"].startswith("/_parlour/event/"):
            clicks += 1
        await app(scope, receive, send)

    config = uvicorn.Config(
        counting if args.mode == "gc" else app,
        host=args.host,
        port=args.port,
        log_level="warning",
        lifespan="on",
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises the SIGTERM it caught once it has shut down; with the default handler
    # that would kill the process before the file is written, so handle it as a no-op.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    if args.mode == "profile":
        out = args.out or os.environ.get("PARLOUR_PROFILE_OUT") or f"click-{args.port}.pstats"
        profile = cProfile.Profile()
        profile.enable()
        try:
            server.run()
        finally:
            profile.disable()
            profile.dump_stats(out)
        return
    if args.mode == "pyinstrument":
        out = (
            args.out
            or os.environ.get("PARLOUR_PYINSTRUMENT_OUT")
            or f"click-{args.port}.pyinstrument.txt"
        )
        run_sampled(server, out)
        return
    out = args.out or os.environ.get("PARLOUR_GC_OUT") or f"gc-{args.port}.json"
    clock = GcClock()
    gc.callbacks.append(clock)
    try:
        server.run()
    finally:
        gc.callbacks.remove(clock)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime
        with open(out, "w") as fh:
            json.dump(
                {
                    "clicks": clicks,
                    "cpu_s": cpu,
                    "gc_seconds": clock.seconds,
                    "gc_passes": clock.passes,
                    "gc_share_of_cpu": sum(clock.seconds) / cpu if cpu else None,
                    "gc_us_per_click": 1e6 * sum(clock.seconds) / clicks if clicks else None,
                    "gc_threshold": gc.get_threshold(),
                },
                fh,
                indent=2,
            )


if __name__ == "__main__":
    main()
