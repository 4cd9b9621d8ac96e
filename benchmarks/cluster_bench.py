#!/usr/bin/env python3
"""What a cluster costs and gives: clicks through HAProxy on one node and on two, the price of
a KV save against SQLite, and how long a conversation takes to come back from KV.

    .venv/bin/python benchmarks/cluster_bench.py                 # everything, about 5 min
    .venv/bin/python benchmarks/cluster_bench.py --parts save,restore --rounds 500
    .venv/bin/python benchmarks/live_bench.py --parts cluster    # the same, from `make bench`

Parts:

  nodes    the counter (examples/counter.py) under the peer-bench click load (`--users` users,
           each: click, wait for its own patch on its stream, again), in three set-ups, the
           runs interleaved and repeated `--reps` times (medians shown):
             sqlite   one `parlour run` on SQLite, no balancer: the single-node path
             kv-1     one node on NATS KV behind HAProxy
             kv-2     two nodes on one NATS KV bucket behind HAProxy, round robin, no
                      stickiness (a click and its tab's stream are usually on different nodes)
             kv-2-affinity  the same two nodes, HAProxy hashing the conversation id in the
                      path (`haproxy_config(affinity=True)`): each conversation on one node
           Nothing is pinned: on a 2-core machine the nodes, nats-server, HAProxy and the load
           client share both cores, so "kv-2 / kv-1" says what a second node gives when it
           brings no core of its own.
  save     one save of a counter conversation (as the cluster stores it), awaited as a
           dispatch awaits it: `NatsKvStore.save_revision` (compare-and-set) against
           `SqliteStore.save`; and a whole click in-process (`AsgiClient`, no stream) on each.
  restore  a conversation saved by one node, brought back by another: load + decode + wakeup
           + full render (as benchmarks/restore_bench.py measures SQLite), and a fresh node's
           `Runtime.get` (what the first request of a moved tab pays).

The load client is peer-bench's (`--peer-bench`, default ../shared/peer-bench): its Datastar
adapter and raw-socket HTTP, run in this process. Everything binds 127.0.0.1; every process
is stopped by PID; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from tests.cluster.balancer import HAPROXY, haproxy_config  # noqa: E402  (the tests' config)

BIN = Path(sys.executable).parent
SETUPS = ("sqlite", "kv-1", "kv-2", "kv-2-affinity")


def log(msg: str) -> None:
    print(f"[cluster_bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(proc: subprocess.Popen[bytes], port: int, what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on {port} within 20 s")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of `pids` (from /proc; stdlib only)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


# -- part "nodes" ---------------------------------------------------------------------------


@contextlib.contextmanager
def nats_server(where: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    with (where / "nats.log").open("ab") as out:
        proc = subprocess.Popen(
            [
                str(BIN / "nats-server"),
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                str(port),
                "-sd",
                str(where / "js"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_listening(proc, port, "nats-server")
        yield f"nats://127.0.0.1:{port}", proc
    finally:
        stop([proc])


@contextlib.contextmanager
def setup(name: str, where: Path, nats: str, run: int) -> Iterator[tuple[int, list[int]]]:
    """Start one set-up; yield (the port the client uses, the PIDs whose CPU counts)."""
    procs: list[subprocess.Popen[bytes]] = []
    env = {k: v for k, v in os.environ.items() if k not in ("PARLOUR_DATASTAR_JS",)}
    env["PYTHONPATH"] = str(REPO)
    env["PARLOUR_SECRET"] = "cluster-bench-only-not-a-secret"
    nodes = 2 if name.startswith("kv-2") else 1
    ports = [free_port() for _ in range(nodes)]
    try:
        for index, port in enumerate(ports):
            store = (
                f"sqlite:{where}/state-{run}.sqlite" if name == "sqlite" else f"{nats}/bench-{run}"
            )
            with (where / f"{name}-{run}-node{index}.log").open("ab") as out:
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "parlour",
                            "run",
                            "examples.counter:app",
                            "--host",
                            "127.0.0.1",
                            "--port",
                            str(port),
                            "--store",
                            store,
                            "--log-level",
                            "warning",
                        ],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        cwd=where,
                        env=env,
                    )
                )
        for proc, port in zip(procs, ports, strict=True):
            wait_listening(proc, port, f"{name} node")
        if name == "sqlite":
            yield ports[0], [p.pid for p in procs]
            return
        port = free_port()
        config = where / f"haproxy-{run}.cfg"
        config.write_text(haproxy_config(port, ports, affinity=name.endswith("affinity")))
        with (where / f"haproxy-{run}.log").open("ab") as out:
            procs.append(
                subprocess.Popen(
                    [str(HAPROXY), "-db", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
                )
            )
        wait_listening(procs[-1], port, "haproxy")
        yield port, [p.pid for p in procs]
    finally:
        stop(procs)


async def click_load(
    peer_bench: Path, port: int, pids: list[int], users: int, warmup: float, duration: float
) -> dict[str, Any]:
    """peer-bench's click test: each user clicks and waits for its own patch, repeatedly."""
    sys.path.insert(0, str(peer_bench))
    from loadgen.proto_datastar import Adapter  # type: ignore[import-not-found]

    spec = json.loads((HERE / "peer-bench" / "parlour" / "framework.json").read_text())
    adapter = Adapter(spec, "127.0.0.1", port, {"timeout": 20.0, "accept_encoding": None})
    opened = await asyncio.gather(*(adapter.new_user(i) for i in range(users)))
    lats: list[float] = []
    fails: list[str] = []
    start = time.perf_counter()
    warm_end, end = start + warmup, start + warmup + duration
    cpu: dict[str, float] = {}

    async def user(u: Any) -> None:
        for _ in range(100_000):  # bounded; the clock ends it
            t0 = time.perf_counter()
            if t0 >= end:
                return
            try:
                lat = await asyncio.wait_for(u.increment(), 20.0)
            except Exception as exc:  # count and go on
                fails.append(repr(exc)[:120])
                if len(fails) > 100:
                    return
                continue
            if t0 >= warm_end and time.perf_counter() <= end:
                lats.append(lat)

    async def sampler() -> None:
        await asyncio.sleep(max(0.0, warm_end - time.perf_counter()))
        cpu["a"] = cpu_seconds(pids)
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        cpu["b"] = cpu_seconds(pids)

    await asyncio.gather(sampler(), *(user(u) for u in opened))
    await asyncio.gather(*(u.close() for u in opened), return_exceptions=True)
    done = len(lats)
    return {
        "clicks_per_s": done / duration,
        "p50_ms": 1000 * pct(lats, 0.5) if lats else None,
        "p99_ms": 1000 * pct(lats, 0.99) if lats else None,
        "server_cpu_us_per_click": 1e6 * (cpu["b"] - cpu["a"]) / max(1, done),
        "failures": len(fails),
        "fail_examples": sorted(set(fails))[:3],
    }


def part_nodes(args: argparse.Namespace, where: Path) -> dict[str, Any]:
    if not HAPROXY.exists():
        raise SystemExit(f"{HAPROXY} is missing: run `sh scripts/ensure-haproxy`")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in SETUPS}
    with nats_server(where) as (nats, nats_proc):
        run = 0
        for rep in range(args.reps):
            for name in SETUPS:
                run += 1
                with setup(name, where, nats, run) as (port, pids):
                    if name != "sqlite":
                        pids = [*pids, nats_proc.pid]
                    log(f"nodes: {name}, rep {rep + 1}/{args.reps}")
                    result = asyncio.run(
                        click_load(
                            Path(args.peer_bench),
                            port,
                            pids,
                            args.users,
                            args.warmup,
                            args.duration,
                        )
                    )
                    log(f"  {json.dumps(result)}")
                    results[name].append(result)
    return results


def nodes_table(results: dict[str, list[dict[str, Any]]]) -> str:
    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name] if r[key] is not None)

    rows = [
        "| set-up | clicks/s | p50 ms | p99 ms | server CPU µs/click (nodes+NATS+HAProxy) |",
        "|---|---|---|---|---|",
    ]
    for name in SETUPS:
        rows.append(
            f"| {name} | {med(name, 'clicks_per_s'):.0f} | {med(name, 'p50_ms'):.1f} | "
            f"{med(name, 'p99_ms'):.1f} | {med(name, 'server_cpu_us_per_click'):.0f} |"
        )
    ratio = med("kv-2", "clicks_per_s") / med("kv-1", "clicks_per_s")
    affine = med("kv-2-affinity", "clicks_per_s") / med("kv-1", "clicks_per_s")
    rows.append("")
    rows.append(
        f"kv-2 / kv-1 clicks/s: **{ratio:.2f}**; kv-2-affinity / kv-1: {affine:.2f}; "
        f"kv-1 / sqlite: {med('kv-1', 'clicks_per_s') / med('sqlite', 'clicks_per_s'):.2f}"
    )
    fails = {n: sum(r["failures"] for r in results[n]) for n in SETUPS}
    rows.append(f"failed clicks: {fails}")
    return "\n".join(rows)


# -- parts "save" and "restore" (in-process) --------------------------------------------------


def conversations() -> list[tuple[str, Any]]:
    from examples.counter import Counter
    from examples.wizard import Wizard

    from parlour.core import kernel

    counter = kernel.boot(Counter(), cid="counter").conversation
    for _ in range(3):
        counter = kernel.dispatch(counter, kernel.Event("p1", "inc")).conversation
    wizard = kernel.boot(Wizard(), cid="wizard").conversation
    wizard = kernel.dispatch(wizard, kernel.Event("p1", "begin")).conversation
    prompt = wizard.top or ""
    wizard = kernel.dispatch(
        wizard, kernel.Event(prompt, "submit", signals={f"value-{prompt}": "Ada"})
    ).conversation
    return [("counter, 3 clicks", counter), ("wizard, mid-flow", wizard)]


def stats(samples: list[float]) -> str:
    us = [s * 1e6 for s in samples]
    return f"{statistics.median(us):.0f} | {pct(us, 0.95):.0f} | {pct(us, 0.99):.0f}"


async def part_save(args: argparse.Namespace, where: Path, nats: str) -> str:
    from examples.counter import Counter

    from parlour.core.codec import encode
    from parlour.runtime.cluster_wire import Stored, pack
    from parlour.stores import SqliteStore
    from parlour.stores.nats_kv import NatsKvStore
    from parlour.testing import AsgiClient
    from parlour.web.app import App

    conv = conversations()[0][1]
    data = pack(Stored("00000000", 4, {}, encode(conv)))
    kv = NatsKvStore(nats, bucket="bench-save")
    sqlite = SqliteStore(where / "save.sqlite")
    rows = [
        f"Value: the counter conversation as the cluster stores it, {len(data)} bytes; "
        f"{args.rounds} rounds each, µs.",
        "",
        "| operation | median | p95 | p99 |",
        "|---|---|---|---|",
    ]
    try:
        rev = await kv.save_revision("c", data, touched=time.time(), revision=0)
        await sqlite.save("c", data, touched=time.time())
        kv_t: list[float] = []
        sq_t: list[float] = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            rev = await kv.save_revision("c", data, touched=time.time(), revision=rev)
            t1 = time.perf_counter()
            await sqlite.save("c", data, touched=time.time())
            t2 = time.perf_counter()
            kv_t.append(t1 - t0)
            sq_t.append(t2 - t1)
        rows.append(f"| SqliteStore.save | {stats(sq_t)} |")
        rows.append(f"| NatsKvStore.save_revision (compare-and-set) | {stats(kv_t)} |")
    finally:
        await kv.close()
        await sqlite.close()

    async def clicks(app: App) -> list[float]:
        client = AsgiClient(app)
        shell = await client.get("/")
        found = re.search(r"/_parlour/sse/([A-Za-z0-9_-]+)", shell.text)
        assert found is not None, shell.text
        cid = found.group(1)
        path = f"/_parlour/event/{cid}/p1/inc"
        times: list[float] = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            response = await client.post(path, json={})
            times.append(time.perf_counter() - t0)
            assert response.status == 204, response.status
        await app.close()
        return times

    sq_clicks = await clicks(App(Counter, store=SqliteStore(where / "clicks.sqlite"), secret="x"))
    kv_clicks = await clicks(
        App(Counter, store=NatsKvStore(nats, bucket="bench-clicks"), secret="x")
    )
    rows.append(f"| a whole click in-process, SQLite node | {stats(sq_clicks)} |")
    rows.append(f"| a whole click in-process, cluster node (KV, notice) | {stats(kv_clicks)} |")
    extra = statistics.median(kv_clicks) - statistics.median(sq_clicks)
    rows.append("")
    rows.append(
        f"A click on a cluster node costs {extra * 1e6:.0f} µs more (median) than on SQLite."
    )
    return "\n".join(rows)


async def part_restore(args: argparse.Namespace, nats: str) -> str:
    from parlour.core import kernel
    from parlour.core.codec import decode, encode
    from parlour.runtime.cluster_wire import Stored, pack, unpack
    from parlour.runtime.runtime import Runtime
    from parlour.stores.nats_kv import NatsKvStore

    rows = [
        "| conversation | stored bytes | load+decode+wakeup+render, median µs | p99 µs | "
        "a fresh node's `Runtime.get`, median µs |",
        "|---|---|---|---|---|",
    ]
    kv = NatsKvStore(nats, bucket="bench-restore")
    try:
        for name, conv in conversations():
            data = pack(Stored("00000000", 4, {}, encode(conv)))
            cids = [f"{conv.id}-{i}" for i in range(args.rounds)]
            for cid in cids:
                await kv.save_revision(cid, data, touched=time.time(), revision=0)
            times: list[float] = []
            for cid in cids[:200]:
                t0 = time.perf_counter()
                loaded = await kv.load(cid)
                assert loaded is not None
                step = kernel.render_top(decode(unpack(loaded).conversation), wake=True)
                assert step.fragments
                times.append(time.perf_counter() - t0)
            node = Runtime(store=NatsKvStore(nats, bucket="bench-restore"))
            await node.start()
            gets: list[float] = []
            for cid in cids:
                t0 = time.perf_counter()
                assert await node.get(cid) is not None
                gets.append(time.perf_counter() - t0)
            await node.close()
            us = [t * 1e6 for t in times]
            rows.append(
                f"| {name} | {len(data)} B | {statistics.median(us):.0f} | {pct(us, 0.99):.0f} | "
                f"{statistics.median(gets) * 1e6:.0f} |"
            )
    finally:
        await kv.close()
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--parts", default="nodes,save,restore")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1000, help="save/restore rounds")
    ap.add_argument("--peer-bench", default=str(REPO.parent / "shared" / "peer-bench"))
    ap.add_argument("--out", default=None, help="write cluster.md and cluster.json here too")
    args = ap.parse_args()
    parts = {p for p in args.parts.split(",") if p}
    if unknown := parts - {"nodes", "save", "restore"}:
        raise SystemExit(f"cluster_bench: unknown part(s) {sorted(unknown)}")
    sections: list[str] = []
    raw: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="parlour-cluster-bench-") as tmp:
        where = Path(tmp)
        if "nodes" in parts:
            raw["nodes"] = part_nodes(args, where)
            sections += [
                f"### Clicks through HAProxy ({args.users} users, {args.duration:.0f} s, "
                f"median of {args.reps})\n",
                nodes_table(raw["nodes"]),
            ]
        if parts & {"save", "restore"}:
            with nats_server(where) as (nats, _):
                if "save" in parts:
                    log("save")
                    sections += [
                        "\n### A save, and a click, on KV and on SQLite\n",
                        asyncio.run(part_save(args, where, nats)),
                    ]
                if "restore" in parts:
                    log("restore")
                    sections += [
                        "\n### A conversation back from KV\n",
                        asyncio.run(part_restore(args, nats)),
                    ]
    text = "\n".join(sections) + "\n"
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "cluster.md").write_text(text)
        (out / "cluster.json").write_text(json.dumps(raw, indent=2) + "\n")


if __name__ == "__main__":
    main()
