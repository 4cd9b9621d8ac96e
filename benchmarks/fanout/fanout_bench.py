#!/usr/bin/env python3
"""Fan-out and idle memory: parlour against the raw ASGI floor, in one run (stdlib only).

    python3 fanout_bench.py --venv VENV --baseline DIR --out DIR
    python3 fanout_bench.py --report DIR/fanout.jsonl          # re-print the tables

For each entry of `--apps` (default `floor,parlour,parlour-w0,parlour-sqlite,counter`), one
fresh server process, pinned to `--server-cpu` with taskset, and one run of
`fanout_client.py`, pinned to `--client-cpu`, which ramps viewers up through `--steps`
(1,000, 5,000, 10,000), measures server RSS per viewer at each step and times `--publishes`
single updates to all of them.

    floor        bench-baseline's `sse_app.py` (raw ASGI, one queue per stream, the event
                 encoded once) under uvicorn with httptools + uvloop, exactly as its drive.py
                 runs it; `--baseline` is a copy of that folder
    parlour      `fanout_app.py --app viewer`: a parlour App whose every conversation
                 subscribes to one bus topic; default coalescing window (50 ms)
    parlour-w0   the same with `window=0` (a background update is sent at once)
    parlour-shared, parlour-shared-w0   the tile as a shared view (rendered once per update)
    parlour-shared-w0-gzip, parlour-shared-gzip   the same, every stream gzipped (the client
                 asks for it as a browser does, and decodes it)
    parlour-sqlite    the same as parlour with a SQLite store (the CLI's default kind)
    counter      `examples/counter.py` (shell + stream per viewer; memory only, no publish)
  Not in the default list:
    parlour-w0-gc     parlour-w0 with gc.set_threshold(20000, 20, 20): does the collector's
                 share shrink? (an experiment for docs/benchmarks.md)
    parlour-sqlite-freeze   parlour-sqlite with gc.freeze() before each publish (the same)
    parlour-profile   parlour-w0 with cProfile on during the publishes only; writes
                 OUT/fanout-server.pstats (its figures are slowed by the profiler)
    parlour-pyinstrument   the same with pyinstrument; writes OUT/fanout-server.pyinstrument.txt

`VENV` must hold parlour (this repo), uvicorn[standard], psutil and uvloop: the bench venv
that `live_bench.py` builds. Everything binds 127.0.0.1; every wait is bounded; each server
is stopped by PID (SIGTERM, SIGKILL after 10 s).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"
X = "\u00d7"  # multiplication sign, for ratios
NONE = "\u2013"  # en dash, for a missing figure

APPS: dict[str, dict[str, Any]] = {
    "floor": {
        "label": "bench-baseline sse_app.py: raw ASGI, one asyncio.Queue per stream, "
        "event encoded once (uvicorn, httptools, uvloop)",
        "kind": "floor",
        "ready": "/stats",
    },
    "parlour": {
        "label": "parlour App, every conversation subscribed to one bus topic, "
        "coalescing window 50 ms (default)",
        "kind": "parlour",
        "ready": "/_bench/stats",
        "args": ["--app", "viewer", "--window", "0.05"],
    },
    "parlour-shared": {
        "label": "the tile as a shared view: rendered once per update, the same patch pushed "
        "to every stream (window 50 ms)",
        "kind": "parlour",
        "ready": "/_bench/stats",
        "args": ["--app", "shared", "--window", "0.05"],
    },
    "parlour-shared-w0": {
        "label": "the shared view with window=0",
        "kind": "parlour",
        "ready": "/_bench/stats",
        "args": ["--app", "shared", "--window", "0"],
    },
    "parlour-shared-w0-gzip": {
        "label": "the shared view with window=0, every stream gzipped (the client sends "
        "Accept-Encoding: gzip like a browser, and decodes)",
        "kind": "parlour",
        "ready": "/_bench/stats",
        "args": ["--app", "shared", "--window", "0"],
        "client": ["--gzip"],
    },
    "parlour-shared-gzip": {
        "label": "the shared view (window 50 ms), every stream gzipped",
        "kind": "parlour",
        "ready": "/_bench/stats",
        "args": ["--app", "shared", "--window", "0.05"],
        "client": ["--gzip"],
    },
    "parlour-w0": {
        "label": "the same parlour App with window=0 (background updates sent at once)",
        "kind": "parlour",
        "ready": "/_bench/stats",
        "args": ["--app", "viewer", "--window", "0"],
    },
    "parlour-sqlite": {
        "label": "the parlour App with a SQLite store (the CLI's default kind): every delivery "
        "is saved",
        "kind": "parlour",
        "ready": "/_bench/stats",
        "args": ["--app", "viewer", "--window", "0.05", "--store", "sqlite"],
    },
    "parlour-w0-gc": {
        "label": "parlour-w0 with gc.set_threshold(20000, 20, 20) (an experiment)",
        "kind": "parlour",
        "ready": "/_bench/stats",
        "args": ["--app", "viewer", "--window", "0", "--gc-threshold", "20000,20,20"],
    },
    "parlour-sqlite-freeze": {
        "label": "parlour-sqlite with gc.freeze() before each publish (an experiment)",
        "kind": "parlour",
        "ready": "/_bench/stats",
        "args": ["--app", "viewer", "--window", "0.05", "--store", "sqlite", "--gc-freeze"],
    },
    "parlour-profile": {
        "label": "parlour-w0 under cProfile, switched on for the publishes only "
        "(for the profile: its figures are not comparable)",
        "kind": "parlour",
        "ready": "/_bench/stats",
        "args": ["--app", "viewer", "--window", "0", "--profile", "{out}/fanout-server.pstats"],
        "client": ["--profile"],
    },
    "parlour-pyinstrument": {
        "label": "parlour-w0 under pyinstrument, switched on for the publishes only "
        "(for the profile: its figures are not comparable)",
        "kind": "parlour",
        "ready": "/_bench/stats",
        "args": [
            *("--app", "viewer", "--window", "0", "--profiler", "pyinstrument"),
            *("--profile", "{out}/fanout-server.pyinstrument.txt"),
        ],
        "client": ["--profile"],
    },
    "parlour-shared-profile": {
        "label": "parlour-shared-w0 under cProfile, switched on for the publishes only "
        "(for the profile: its figures are not comparable)",
        "kind": "parlour",
        "ready": "/_bench/stats",
        "args": [
            *("--app", "shared", "--window", "0"),
            *("--profile", "{out}/fanout-shared-server.pstats"),
        ],
        "client": ["--profile"],
    },
    "counter": {
        "label": "parlour examples/counter.py (shell + stream per viewer; memory only)",
        "kind": "counter",
        "ready": "/_bench/stats",
        "args": ["--app", "counter"],
        "publishes": 0,
    },
}


def server_cmd(name: str, venv: str, baseline: str, port: int, out: str) -> tuple[list[str], str]:
    if name == "floor":
        return [
            os.path.join(venv, "bin", "uvicorn"),
            "sse_app:app",
            "--host",
            HOST,
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--log-level",
            "warning",
            "--no-access-log",
            "--backlog",
            "4096",
        ], baseline
    py = os.path.join(venv, "bin", "python")
    extra = [a.replace("{out}", out) for a in APPS[name]["args"]]
    return [py, os.path.join(HERE, "fanout_app.py"), "--port", str(port), *extra], HERE


def raise_nofile() -> int:
    """Raise this process's soft fd limit to the hard one; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                for c in fh.read().split():
                    out += [int(c), *children(int(c))]
        except OSError:
            pass
    return out


def stop(proc: subprocess.Popen[bytes]) -> None:
    kids = children(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for k in kids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(k, signal.SIGKILL)


def wait_ready(port: int, path: str, proc: subprocess.Popen[bytes], limit: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=10) as r:
                r.read()
            return time.monotonic() - t0
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server not ready in time")


def busy_cores(window: float) -> float:
    def snap() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            v = list(map(int, fh.readline().split()[1:9]))
        return sum(v), v[3] + v[4]

    t0, i0 = snap()
    time.sleep(window)
    t1, i1 = snap()
    return (os.cpu_count() or 1) * (1 - (i1 - i0) / max(1, t1 - t0))


def wait_quiet(limit: float, threshold: float = 0.15) -> float:
    t0 = time.monotonic()
    b = busy_cores(1.0)
    while b > threshold and time.monotonic() - t0 < limit:
        b = busy_cores(1.0)
    return b


def run_app(name: str, args: argparse.Namespace, port: int, logdir: str) -> dict[str, Any]:
    spec = APPS[name]
    cmd, cwd = server_cmd(name, args.venv, args.baseline, port, os.path.abspath(args.out))
    env = dict(os.environ, PARLOUR_DATASTAR_JS="")
    rec: dict[str, Any] = {
        "app": name,
        "label": spec["label"],
        "port": port,
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "busy_before": wait_quiet(args.quiet_wait),
    }
    with open(os.path.join(logdir, f"fanout-{name}.log"), "w") as log:
        srv = subprocess.Popen(
            ["taskset", "-c", str(args.server_cpu), *cmd],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            rec["ready_s"] = wait_ready(port, spec["ready"], srv, 30)
            publishes = spec.get("publishes", args.publishes)
            cli = [
                "taskset",
                "-c",
                str(args.client_cpu),
                os.path.join(args.venv, "bin", "python"),
                os.path.join(HERE, "fanout_client.py"),
                "--kind",
                spec["kind"],
                "--port",
                str(port),
                "--server-pid",
                str(srv.pid),
                "--steps",
                args.steps,
                "--publishes",
                str(publishes),
                "--max-seconds",
                str(args.max_seconds),
                *spec.get("client", []),
            ]
            p = subprocess.run(
                cli, capture_output=True, text=True, timeout=args.max_seconds + 90, check=False
            )
            log.write(p.stderr)
            lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
            rec["result"] = json.loads(lines[-1]) if lines else {"error": p.stderr[-2000:]}
            if p.returncode:
                rec["result"]["client_rc"] = p.returncode
        except Exception as exc:
            rec["result"] = {"error": repr(exc)}
        finally:
            stop(srv)
    return rec


# ------------------------------------------------------------------------------- report


def fmt(v: float | None, nd: int = 0) -> str:
    return NONE if v is None else f"{v:,.{nd}f}"


def ratio(v: float | None, floor: float | None) -> str:
    return NONE if v is None or not floor else f"{v / floor:.2f}{X}"


def med(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def gc_text(ps: list[dict[str, Any]]) -> str:
    """The median publish's collector time, and how many full (generation 2) passes it had."""
    if not all("gc_s" in p for p in ps):
        return NONE
    ms = med([1000 * sum(p["gc_s"]) for p in ps])
    full = med([p["gc_passes"][2] for p in ps])
    return f"{fmt(ms)} ({fmt(full)})"


def waits(ps: list[dict[str, Any]]) -> str:
    """The median publish's time on a run queue, server / client (others had the core)."""
    if not all("srv_wait_ms" in p for p in ps):
        return NONE
    server = med([p["srv_wait_ms"] for p in ps])
    client = med([p["cli_wait_ms"] for p in ps])
    return f"{fmt(server, 1)} / {fmt(client, 1)}"


def steps_of(recs: list[dict[str, Any]], app: str) -> dict[int, dict[str, Any]]:
    for r in recs:
        if r["app"] == app and "steps" in r.get("result", {}):
            return {s["k"]: s for s in r["result"]["steps"]}
    return {}


def report(recs: list[dict[str, Any]]) -> str:
    out: list[str] = []
    apps = [r["app"] for r in recs]
    floor = steps_of(recs, "floor")
    ks = sorted({k for a in apps for k in steps_of(recs, a)})
    fan = [
        a
        for a in apps
        if a != "counter" and any(steps_of(recs, a)[k]["publishes"] for k in steps_of(recs, a))
    ]
    if fan:
        out.append("### Fan-out: one update to K viewers (median of the publishes at each K)\n")
        out.append(
            f"| K | app | deliveries/s | {X} floor | all delivered ms | p50 / p99 ms "
            f"| server CPU µs/delivery | {X} floor | server GC CPU ms (full passes) "
            "| client core busy | server / client waited ms | complete |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for k in ks:
            fp = floor.get(k, {}).get("publishes", [])
            f_dps = med([p["deliveries_per_s"] for p in fp])
            f_cpu = med([p["srv_cpu_us_per_delivery"] for p in fp])
            for a in fan:
                st = steps_of(recs, a).get(k)
                if not st or not st["publishes"]:
                    continue
                ps = st["publishes"]
                dps = med([p["deliveries_per_s"] for p in ps])
                cpu = med([p["srv_cpu_us_per_delivery"] for p in ps])
                done = sum(1 for p in ps if p["complete"])
                out.append(
                    f"| {k:,} | {a} | {fmt(dps)} | {ratio(dps, f_dps)} "
                    f"| {fmt(med([1000 * p['all_done_s'] for p in ps]))} "
                    f"| {fmt(med([p['lat_p50_ms'] for p in ps]))} / "
                    f"{fmt(med([p['lat_p99_ms'] for p in ps]))} "
                    f"| {fmt(cpu, 1)} | {ratio(cpu, f_cpu)} | {gc_text(ps)} "
                    f"| {med([p['cli_cpu_frac'] for p in ps]) or 0:.0%} "
                    f"| {waits(ps)} | {done}/{len(ps)} |"
                )
        out.append("")
    if not ks:
        return "\n".join([*out, "No step completed: see the errors in fanout.jsonl.", ""])
    out.append("### Memory per idle viewer (server RSS delta / open viewers, one ramp)\n")
    out.append(
        "| app | base RSS MB | "
        + " | ".join(f"KB/viewer @{k:,} | {X} floor | open @{k:,}" for k in ks)
        + " | viewers opened/s |"
    )
    out.append("|---|---|" + "---|---|---|" * len(ks) + "---|")
    for a in apps:
        st = steps_of(recs, a)
        if not st:
            continue
        base = next(r["result"]["rss_base_MB"] for r in recs if r["app"] == a)
        row = f"| {a} | {base:.1f} |"
        for k in ks:
            s = st.get(k)
            fk = floor.get(k, {}).get("kb_per_viewer")
            if s is None:
                row += f" {NONE} | {NONE} | {NONE} |"
            else:
                kb = s["kb_per_viewer"]
                row += f" {kb:.1f} | {ratio(kb, fk)} | {s['alive']:,} |"
        row += f" {fmt(med([s['opens_per_s'] for s in st.values()]))} |"
        out.append(row)
    out.append("")
    out.append("Apps:\n")
    for r in recs:
        err = r.get("result", {}).get("error")
        out.append(
            f"- **{r['app']}**: {r['label']}" + (f" (**error**: {err[:300]})" if err else "")
        )
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--venv", help="bench venv: parlour, uvicorn[standard], psutil, uvloop")
    ap.add_argument("--baseline", help="a copy of shared/bench-baseline (holds sse_app.py)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument(
        "--apps",
        default="floor,parlour,parlour-shared,parlour-shared-w0,parlour-shared-w0-gzip,"
        "parlour-w0,counter",
    )
    ap.add_argument("--steps", default="1000,5000,10000")
    ap.add_argument("--publishes", type=int, default=3)
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--port-base", type=int, default=18600)
    ap.add_argument("--max-seconds", type=float, default=300.0, help="limit for one client run")
    ap.add_argument("--quiet-wait", type=float, default=20.0)
    ap.add_argument("--report", metavar="JSONL")
    args = ap.parse_args()
    if args.report:
        with open(args.report) as fh:
            print(report([json.loads(ln) for ln in fh if ln.strip()]))
        return
    if not args.venv or not args.baseline:
        ap.error("--venv and --baseline are needed to run")
    limit = raise_nofile()
    need = max(int(s) for s in args.steps.split(",")) + 500
    if limit != resource.RLIM_INFINITY and limit < need:
        sys.exit(f"fanout_bench: {need} file descriptors needed per process, the limit is {limit}")
    logdir = os.path.join(args.out, "logs")
    os.makedirs(logdir, exist_ok=True)
    path = os.path.join(args.out, "fanout.jsonl")
    t0 = time.time()
    with open(path, "w") as fh:
        for i, name in enumerate(a for a in args.apps.split(",") if a):
            rec = run_app(name, args, args.port_base + i, logdir)
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            brief = [
                (
                    s["k"],
                    round(s["kb_per_viewer"], 1),
                    [round(p["deliveries_per_s"]) for p in s["publishes"]],
                )
                for s in rec["result"].get("steps", [])
            ] or rec["result"]
            print(f"[{time.time() - t0:5.0f}s] fanout {name:11s} {brief}", flush=True)
    with open(path) as fh:
        table = report([json.loads(ln) for ln in fh if ln.strip()])
    with open(os.path.join(args.out, "fanout-summary.md"), "w") as fh:
        fh.write(table)
    print(table)


if __name__ == "__main__":
    main()
