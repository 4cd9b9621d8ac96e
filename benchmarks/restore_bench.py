"""How long a conversation takes to come back from SQLite, and how big it is there.

    .venv/bin/python benchmarks/restore_bench.py [--rounds 500]

Restore = load the bytes from the store + decode + `wakeup` + a full render of the top frame:
what the first stream after a restart costs. Measured for the counter (after 3 clicks) and
the wizard halfway through its flow (name answered, plan pending).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples.counter import Counter
from examples.wizard import Wizard

from parlour.core import kernel
from parlour.core.codec import decode, encode
from parlour.core.conversation import Conversation
from parlour.stores import SqliteStore


def counter_conversation() -> Conversation:
    conv = kernel.boot(Counter(), cid="counter").conversation
    for _ in range(3):
        conv = kernel.dispatch(conv, kernel.Event("p1", "inc")).conversation
    return conv


def wizard_conversation() -> Conversation:
    conv = kernel.boot(Wizard(), cid="wizard").conversation
    conv = kernel.dispatch(conv, kernel.Event("p1", "begin")).conversation
    prompt = conv.top or ""
    step = kernel.dispatch(conv, kernel.Event(prompt, "submit", signals={f"value-{prompt}": "Ada"}))
    return step.conversation


async def measure(store: SqliteStore, conv: Conversation, rounds: int) -> tuple[int, float]:
    data = encode(conv)
    await store.save(conv.id, data, touched=time.time())
    times: list[float] = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        loaded = await store.load(conv.id)
        assert loaded is not None
        step = kernel.render_top(decode(loaded), wake=True)
        assert step.fragments
        times.append(time.perf_counter() - t0)
    return len(data), statistics.median(times) * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "state.sqlite")
        try:
            print("| conversation | stored bytes | median restore (load+decode+wakeup+render) |")
            print("|---|---|---|")
            for name, conv in (
                ("counter, 3 clicks", counter_conversation()),
                ("wizard, mid-flow", wizard_conversation()),
            ):
                size, micros = await measure(store, conv, args.rounds)
                print(f"| {name} | {size} B | {micros:.0f} µs |")
        finally:
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
