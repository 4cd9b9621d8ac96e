#!/usr/bin/env python3
"""Fan-out across repetitions: one table from several `fanout_bench.py` runs (stdlib only).

    python3 fanout_reps.py RUN1 RUN2 RUN3 [--skip-first] [--out FILE.md]

Each RUN is a `--out` folder of fanout_bench.py (its `fanout.jsonl`). Per K and app: the
median of the repetitions' figures (each repetition's figure is the median of its publishes),
their range, the ratio to the floor's median, each repetition's own ratio (the floor of the
same run), server CPU per delivery, KB per idle viewer. A publish during which the server or
the client waited on a run queue for more than 2 ms, or 3 % of the publish, is left out (the
box was busy with something else: `srv_wait_ms`, `cli_wait_ms`). `--skip-first` leaves out
the first publish of every step as a warm-up (the first update after a ramp is slower for
every app, the floor included).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

X = "\u00d7"
DASH = "\u2013"


def undisturbed(publishes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def waited(p: dict[str, Any]) -> float:
        return p.get("srv_wait_ms", 0.0) + p.get("cli_wait_ms", 0.0)

    return [p for p in publishes if waited(p) <= max(2.0, 30 * p["all_done_s"])]


def load(run: Path, skip: int) -> dict[tuple[str, int], dict[str, float]]:
    figures: dict[tuple[str, int], dict[str, float]] = {}
    for line in (run / "fanout.jsonl").read_text().splitlines():
        record = json.loads(line)
        for step in record["result"].get("steps", []):
            publishes = step["publishes"][skip:]
            kept = undisturbed(publishes)
            if not kept:
                continue
            figures[record["app"], step["k"]] = {
                "dps": statistics.median(p["deliveries_per_s"] for p in kept),
                "cpu": statistics.median(p["srv_cpu_us_per_delivery"] for p in kept),
                "kb": step["kb_per_viewer"],
                "kept": len(kept),
                "left": len(publishes) - len(kept),
            }
    return figures


def table(runs: list[dict[tuple[str, int], dict[str, float]]]) -> str:
    keys = sorted({key for run in runs for key in run}, key=lambda k: (k[1], k[0] != "floor", k))
    out = [
        f"| K | app | deliveries/s, median (range) | {X} floor | {X} floor per run "
        f"| server CPU µs/delivery | {X} floor | KB/idle viewer | publishes kept (left out) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for app, k in keys:
        mine = [run[app, k] for run in runs if (app, k) in run]
        floors = [run.get(("floor", k)) for run in runs if (app, k) in run]
        dps = [f["dps"] for f in mine]
        cpu = statistics.median(f["cpu"] for f in mine)
        floor_dps = [f["dps"] for run in runs if (f := run.get(("floor", k)))]
        floor_cpu = [f["cpu"] for run in runs if (f := run.get(("floor", k)))]
        per_run = [f"{m['dps'] / f['dps']:.2f}" for m, f in zip(mine, floors, strict=True) if f]
        ratio = statistics.median(dps) / statistics.median(floor_dps) if floor_dps else 0.0
        cpu_ratio = cpu / statistics.median(floor_cpu) if floor_cpu else 0.0
        out.append(
            f"| {k:,} | {app} | {statistics.median(dps):,.0f} "
            f"({min(dps):,.0f}{DASH}{max(dps):,.0f}) "
            f"| {ratio:.2f}{X} | {', '.join(per_run)} | {cpu:.1f} | {cpu_ratio:.2f}{X} "
            f"| {statistics.median(f['kb'] for f in mine):.1f} "
            f"| {sum(int(f['kept']) for f in mine)} ({sum(int(f['left']) for f in mine)}) |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--skip-first", action="store_true", help="leave out a warm-up publish")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    text = table([load(run, 1 if args.skip_first else 0) for run in args.runs])
    print(text, end="")
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
