"""How long one save and one load of a 2 KB conversation take on each disk store.

Measured as the awaiting coroutine sees it: the worker-thread hop included, because that
is what a dispatch pays. Each round saves (or loads) one of 100 conversations, so the
numbers reflect a store holding some data rather than a single hot row. The `(hop)` line
is the cost of awaiting a no-op on a worker thread: the floor under every disk operation.

    .venv/bin/python benchmarks/stores_bench.py [--rounds 2000] [--dir PATH] [--size 2048]

`--dir` chooses where the store files go (default: a temporary directory under the
current directory, so the numbers describe the disk the app would use, not a tmpfs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from parlour.stores import ConversationStore, FileStore, MemoryStore, SqliteStore


def summary(samples: list[float]) -> str:
    us = sorted(s * 1e6 for s in samples)
    p95 = us[int(len(us) * 0.95) - 1]
    return f"median {statistics.median(us):8.1f} us   p95 {p95:8.1f} us   max {us[-1]:9.1f} us"


async def bench(
    store: ConversationStore, rounds: int, size: int
) -> tuple[list[float], list[float]]:
    blobs = [os.urandom(size) for _ in range(100)]
    cids = [f"bench-{i:03d}" for i in range(100)]
    for cid, blob in zip(cids, blobs, strict=True):  # warm up: every row exists
        await store.save(cid, blob, touched=time.time())
    saves: list[float] = []
    loads: list[float] = []
    for i in range(rounds):
        cid = cids[i % 100]
        started = time.perf_counter()
        await store.save(cid, blobs[(i + 1) % 100], touched=time.time())
        saves.append(time.perf_counter() - started)
        started = time.perf_counter()
        data = await store.load(cid)
        loads.append(time.perf_counter() - started)
        assert data == blobs[(i + 1) % 100]
    await store.close()
    return saves, loads


async def thread_hop(rounds: int) -> list[float]:
    """The floor under every disk-store operation: await a no-op on a worker thread."""
    loop = asyncio.get_running_loop()
    samples: list[float] = []
    with ThreadPoolExecutor(max_workers=1) as executor:
        for _ in range(rounds):
            started = time.perf_counter()
            await loop.run_in_executor(executor, int)
            samples.append(time.perf_counter() - started)
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser(description="Median save/load time of the stores.")
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--size", type=int, default=2048, help="bytes per conversation")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the stores")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parlour-bench-", dir=args.dir or Path.cwd()) as tmp:
        print(f"{args.rounds} rounds, {args.size}-byte blobs, stores under {tmp}")
        stores: dict[str, ConversationStore] = {
            "memory": MemoryStore(),
            "sqlite": SqliteStore(Path(tmp) / "state.sqlite"),
            "file": FileStore(Path(tmp) / "convs"),
        }
        print(f"{'(hop)':7} noop  {summary(await thread_hop(args.rounds))}")
        for name, store in stores.items():
            saves, loads = await bench(store, args.rounds, args.size)
            print(f"{name:7} save  {summary(saves)}")
            print(f"{name:7} load  {summary(loads)}")


if __name__ == "__main__":
    asyncio.run(main())
