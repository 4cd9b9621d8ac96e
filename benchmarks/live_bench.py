#!/usr/bin/env python3
"""`make bench`: the benchmarks of "Live data", in one run (stdlib only).

    python3 benchmarks/live_bench.py                     # everything, about 12 min on 2 cores
    python3 benchmarks/live_bench.py --parts fanout      # fanout | peer | profile | storm | cluster
                                                         # | compression
    python3 benchmarks/live_bench.py --parts peer,storm --before REV   # REV's parlour beside
    python3 benchmarks/live_bench.py --quick             # a small plan, to check the set-up

Parts (see docs/benchmarks.md for what each measures and how to read it):

  fanout   benchmarks/fanout/fanout_bench.py: one update to K = 1,000 / 5,000 / 10,000 viewers
           of a shared view, and memory per idle viewer, parlour against bench-baseline's raw
           ASGI floor (`sse_app.py`), measured in the same run with the same client.
  peer     shared/peer-bench with parlour added as a framework (benchmarks/peer-bench/parlour):
           clicks/s, server CPU per click, latency and KB per idle user beside `raw`,
           `stario` and the floors `asgi`, `proto` and `lean`, and our own floors `htpyfloor`
           (benchmarks/peer-bench/htpyfloor: the asgi floor rendering the counter with htpy)
           and `protohtpy` (the same render on an HTTP server of its own, no ASGI server).
  profile  where the time goes: cProfile and pyinstrument (sampling) of the server under the
           peer-bench click load and during fan-out publishes (5,000 viewers), the
           collector's share of a click run, and
           in-process cProfiles (parlour.testing.AsgiClient) of a click and of a delivery,
           and the pieces of a click timed without a profiler (`micro`).
  storm    benchmarks/storm_bench.py: 10,000 tabs of a restarted server (state in SQLite)
           reconnect at once while one user clicks: the time until all are back, errors,
           and the click's p99 (with --before, the same for that revision too).
  cluster  benchmarks/cluster_bench.py: clicks/s and p99 through HAProxy on one node and on
           two (NATS KV), against one SQLite node; a KV save and a click against SQLite; a
           conversation's restore from KV (needs haproxy: scripts/ensure-haproxy).
  click-fanout  benchmarks/fanout_click_bench.py: one user's click while a shared view fans
           out to 10,000 viewers: the click's p99, three rounds with the clicking user a
           process of its own, and one clicking from the viewers' client (the fan-out pushes
           500 streams per loop turn, runtime/fanout.py).
  compression  benchmarks/compression_bench.py: bytes on the wire of the console's Agents
           page under the demo swarm, one tab gzipped and one not, side by side for
           --compression-minutes (10; 1 with --quick), and the compression's CPU per delivery.

Nothing under `--shared` (default: ../shared next to this repository) is modified: peer-bench
and bench-baseline are copied to a temporary folder, parlour's framework directory is added to
the copy, and the copy is removed at the end. Virtualenvs are built by peer-bench's
`make_venvs.py` under `--venvs` (default $PARLOUR_BENCH_VENVS or /tmp/parlour-bench-venvs); the
parlour one installs this repository in editable mode. Results (raw JSONL records, server
logs, profiles and `summary.md`) go to `--out` (default benchmarks/results/DATE).

Safety: every server binds 127.0.0.1, runs pinned to one core and is stopped by PID by the
driver that started it; every step of this script has a time limit.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def log(msg: str) -> None:
    print(f"[live_bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd: list[str], *, cwd: Path, env: dict[str, str], limit: float, out: Path | None = None):
    """Run one step, bounded by `limit` seconds; its output goes to the console (and `out`)."""
    log(" ".join(str(c) for c in cmd))
    if out is None:
        return subprocess.run(cmd, cwd=cwd, env=env, timeout=limit, check=True)
    with open(out, "w") as fh:
        return subprocess.run(
            cmd, cwd=cwd, env=env, timeout=limit, check=True, stdout=fh, stderr=subprocess.STDOUT
        )


def machine(args: argparse.Namespace) -> dict[str, object]:
    def sh(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    cpu = ""
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        mem_kb = int(fh.readline().split()[1])
    os_name = ""
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    venv_py = Path(args.venvs) / "parlour" / "bin" / "python"
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_GB": round(mem_kb / 2**20, 1),
        "os": os_name,
        "kernel": platform.release(),
        "python_bench_venv": sh(str(venv_py), "-c", "import sys; print(sys.version.split()[0])"),
        "git_commit": sh("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
        "git_dirty": bool(sh("git", "-C", str(REPO), "status", "--porcelain", "--", "src")),
        "nofile_hard": sh("sh", "-c", "ulimit -Hn"),
        "argv": sys.argv[1:],
    }


def write_summary(out: Path) -> None:
    """summary.md: the tables of every part found under `out`, and the heads of the profiles."""
    info = json.loads((out / "machine.json").read_text())
    parts_md = [
        f"# parlour live-data benchmarks, {info['date']}\n",
        "```json",
        json.dumps(info, indent=2),
        "```\n",
    ]
    for title, path in (
        (
            "Fan-out and memory per idle viewer (vs bench-baseline floor)",
            out / "fanout" / "fanout-summary.md",
        ),
        ("peer-bench: counter clicks and memory per idle user", out / "peer-bench" / "summary.md"),
        ("A cluster: nodes on NATS KV behind HAProxy", out / "cluster" / "cluster.md"),
        ("Reconnect storm, this revision", out / "storm-now.txt"),
        ("A click during a fan-out to 10,000 viewers", out / "click-fanout.txt"),
        ("... round 2", out / "click-fanout-2.txt"),
        ("... round 3", out / "click-fanout-3.txt"),
        ("... clicking from the viewers' client", out / "click-fanout-in-client.txt"),
        ("Reconnect storm, --before revision", out / "storm-before.txt"),
        ("Stream compression: the console's Agents page", out / "compression-summary.md"),
    ):
        if path.exists():
            parts_md += [f"## {title}\n", path.read_text()]
    for name in (
        "micro",
        "server-click",
        "fanout-server",
        "click-inprocess",
        "fanout-inprocess",
    ):
        path = out / "profile" / f"{name}.txt"
        if path.exists():
            head = path.read_text().split("\n\n")[:2]
            parts_md += [f"## Profile: {name}\n", "```", "\n\n".join(head), "```\n"]
        for tree in (
            out / "profile" / f"{name}.pyinstrument.txt",
            out / "profile" / "fanout" / f"{name}.pyinstrument.txt",
        ):
            if tree.exists():
                text = tree.read_text()
                text = text[text.find("== call tree ==") :]
                parts_md += [f"## Profile: {name}, pyinstrument call tree\n", "```", text, "```\n"]
        if name == "server-click" and (out / "profile" / "server-click-gc.json").exists():
            gc_text = (out / "profile" / "server-click-gc.json").read_text()
            parts_md += ["Garbage collector during a click run (parlour:gc):\n", "```json"]
            parts_md += [gc_text.strip(), "```\n"]
    (out / "summary.md").write_text("\n".join(parts_md))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--parts", default="fanout,peer,profile,storm,click-fanout,cluster,compression")
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument(
        "--venvs", default=os.environ.get("PARLOUR_BENCH_VENVS", "/tmp/parlour-bench-venvs")
    )
    ap.add_argument("--out", default=None)
    ap.add_argument("--fanout-steps", default="1000,5000,10000")
    ap.add_argument(
        "--fanout-apps",
        default="floor,parlour,parlour-shared,parlour-shared-w0,parlour-shared-w0-gzip,parlour-w0,"
        "parlour-sqlite,counter,parlour-w0-gc,parlour-sqlite-freeze",
    )
    ap.add_argument("--publishes", type=int, default=3)
    # The floors of peer-bench (results-2026-12-07-floors.md) beside raw and Stario: asgi (a
    # bare ASGI callable on uvicorn), proto (asyncio.Protocol + httptools) and lean (parlour's
    # click duties on bare ASGI), htpyfloor (the asgi floor rendering the counter with htpy)
    # and protohtpy (that render on its own HTTP server), so every figure of issue 17 is a
    # ratio within one run.
    ap.add_argument(
        "--peer-frameworks",
        default="raw,stario,asgi,proto,lean,htpyfloor,protohtpy,parlour,parlour:sqlite",
    )
    ap.add_argument("--peer-reps", type=int, default=3, help="click-test repetitions")
    ap.add_argument("--hold-reps", type=int, default=1, help="memory-test repetitions")
    ap.add_argument("--hold-frameworks", default="raw,stario,asgi,lean,parlour")
    ap.add_argument("--hold-steps", default="1000,5000")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument(
        "--port-base", type=int, default=None, help="peer-bench's first port (two runs at once)"
    )
    ap.add_argument("--profile-clicks", type=int, default=3000)
    ap.add_argument("--profile-viewers", type=int, default=5000, help="fan-out profile K")
    ap.add_argument("--storm-tabs", type=int, default=10_000)
    ap.add_argument("--compression-minutes", type=float, default=10.0)
    ap.add_argument(
        "--before",
        metavar="REV",
        help="a git revision whose src/ runs beside this one (peer: parlour:before; storm)",
    )
    ap.add_argument("--quick", action="store_true", help="a small plan (checks the set-up)")
    ap.add_argument("--summarise", metavar="DIR", help="only rewrite DIR/summary.md")
    args = ap.parse_args()
    if args.summarise:
        write_summary(Path(args.summarise))
        return
    if args.quick:
        args.fanout_steps, args.publishes = "1000", 2
        args.peer_reps, args.duration, args.hold_steps = 1, 4.0, "500"
        args.profile_clicks, args.profile_viewers = 500, 1000
        args.compression_minutes = 1.0
    parts = {p for p in args.parts.split(",") if p}
    if unknown := parts - {
        "fanout",
        "peer",
        "profile",
        "storm",
        "click-fanout",
        "cluster",
        "compression",
    }:
        sys.exit(f"live_bench: unknown part(s) {sorted(unknown)}")
    shared = Path(args.shared).resolve()
    for need in ("peer-bench/bench.py", "bench-baseline/sse_app.py"):
        if not (shared / need).is_file():
            sys.exit(f"live_bench: {shared / need} not found (set --shared)")
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        sys.exit("live_bench: needs Linux with taskset and at least 2 cores")
    out = Path(args.out) if args.out else HERE / "results" / datetime.date.today().isoformat()
    if args.out is None and out.exists():
        n = 2
        while out.with_name(f"{out.name}-{n}").exists():
            n += 1
        out = out.with_name(f"{out.name}-{n}")
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    venvs = Path(args.venvs).resolve()
    py = sys.executable
    env = dict(os.environ, PEER_BENCH_VENVS=str(venvs), PARLOUR_REPO=str(REPO))
    env.pop("PARLOUR_DATASTAR_JS", None)  # Datastar-free: the servers serve no bundle
    t0 = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="parlour-live-bench-"))
    try:
        peer = tmp / "peer-bench"
        shutil.copytree(shared / "peer-bench", peer, ignore=shutil.ignore_patterns("results"))
        shutil.copytree(shared / "bench-baseline", tmp / "bench-baseline")
        for entry in sorted((HERE / "peer-bench").iterdir()):  # parlour and our own floors
            if (entry / "framework.json").is_file():
                shutil.copytree(entry, peer / "frameworks" / entry.name)
        before_src: Path | None = None
        if args.before:
            # REV's src/ beside this one: the `before` variant puts it first on the path.
            before_src = peer / "frameworks" / "parlour" / "before-src"
            before_src.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", args.before, "src"],
                check=True,
                capture_output=True,
                timeout=120,
            ).stdout
            subprocess.run(
                ["tar", "-x", "-C", str(before_src)], input=archive, check=True, timeout=120
            )
            before_src = before_src / "src"
            for name in ("peer_frameworks", "hold_frameworks"):
                frameworks = getattr(args, name).split(",")
                at = frameworks.index("parlour") if "parlour" in frameworks else len(frameworks)
                frameworks.insert(at, "parlour:before")
                setattr(args, name, ",".join(frameworks))
        names = {"parlour", "client"}
        if "peer" in parts:
            names |= {e.split("/")[0].split(":")[0] for e in args.peer_frameworks.split(",") if e}
        log(f"venvs under {venvs}: {sorted(names)}")
        run([py, "make_venvs.py", *sorted(names)], cwd=peer, env=env, limit=1800)
        info = machine(args)
        (out / "machine.json").write_text(json.dumps(info, indent=2) + "\n")
        venv = venvs / "parlour"
        vpy = str(venv / "bin" / "python")

        if "fanout" in parts:
            run(
                [
                    py,
                    str(HERE / "fanout" / "fanout_bench.py"),
                    "--venv",
                    str(venv),
                    "--baseline",
                    str(tmp / "bench-baseline"),
                    "--out",
                    str(out / "fanout"),
                    "--steps",
                    args.fanout_steps,
                    "--apps",
                    args.fanout_apps,
                    "--publishes",
                    str(args.publishes),
                ],
                cwd=HERE,
                env=env,
                limit=1800,
            )

        if "peer" in parts:
            common = [py, "bench.py", "--out", str(out / "peer-bench"), "--quiet-wait", "20"]
            if args.port_base is not None:
                common += ["--port-base", str(args.port_base)]
            run(
                [
                    *common,
                    "--frameworks",
                    args.peer_frameworks,
                    "--modes",
                    "throughput",
                    "--reps",
                    str(args.peer_reps),
                    "--duration",
                    str(args.duration),
                ],
                cwd=peer,
                env=env,
                limit=1800,
            )
            run(
                [
                    *common,
                    "--append",
                    "--frameworks",
                    args.hold_frameworks,
                    "--modes",
                    "hold",
                    "--reps",
                    str(args.hold_reps),
                    "--steps",
                    args.hold_steps,
                ],
                cwd=peer,
                env=env,
                limit=1800,
            )

        if "profile" in parts:
            prof = out / "profile"
            prof.mkdir(exist_ok=True)
            pstats = prof / "server-click.pstats"
            gc_json = prof / "server-click-gc.json"
            run(
                [
                    py,
                    "bench.py",
                    "--frameworks",
                    "parlour:profile,parlour:pyinstrument,parlour:gc",
                    "--modes",
                    "throughput",
                    "--reps",
                    "1",
                    "--retries",
                    "0",
                    "--duration",
                    "8",
                    "--out",
                    str(prof / "peer-bench"),
                ],
                cwd=peer,
                env=dict(
                    env,
                    PARLOUR_PROFILE_OUT=str(pstats),
                    PARLOUR_GC_OUT=str(gc_json),
                    PARLOUR_PYINSTRUMENT_OUT=str(prof / "server-click.pyinstrument.txt"),
                ),
                limit=600,
            )
            run(
                [
                    py,
                    str(HERE / "fanout" / "fanout_bench.py"),
                    "--venv",
                    str(venv),
                    "--baseline",
                    str(tmp / "bench-baseline"),
                    "--out",
                    str(prof / "fanout"),
                    "--apps",
                    "parlour-profile,parlour-pyinstrument",
                    "--steps",
                    str(args.profile_viewers),
                    "--publishes",
                    "3",
                ],
                cwd=HERE,
                env=env,
                limit=900,
            )
            summarise = str(HERE / "profile" / "pstats_summary.py")
            for name, per_func, unit in (
                ("server-click", "web/events.py:event", "click"),
                ("fanout/fanout-server", "runtime/connection.py:collect", "delivery"),
            ):
                source = str(prof / f"{name}.pstats")
                run(
                    [vpy, summarise, source, "--per-func", per_func, "--unit", unit],
                    cwd=HERE,
                    env=env,
                    limit=120,
                    out=prof / f"{name.split('/')[-1]}.txt",
                )
            inproc = str(HERE / "profile" / "profile_inprocess.py")
            run([vpy, inproc, "micro"], cwd=prof, env=env, limit=300, out=prof / "micro.txt")
            for scenario, extra in (
                ("click", ["--n", str(args.profile_clicks)]),
                ("fanout", ["--k", str(min(args.profile_viewers, 2000))]),
            ):
                dump = str(prof / f"{scenario}-inprocess.pstats")
                run(
                    [vpy, inproc, scenario, *extra, "--out", dump],
                    cwd=prof,
                    env=env,
                    limit=600,
                    out=prof / f"{scenario}-inprocess.txt",
                )
        if "click-fanout" in parts:
            viewers = "1000" if args.quick else "10000"
            # Three rounds: a p99 over ~300 clicks moves with one slow fan-out. The clicking
            # user is a process of its own; a fourth round clicks from the viewers' client, as
            # this part measured before 2026-12-08 (its patch waits behind 10,000 streams'
            # reads in that client's loop).
            for label, extra in (
                ("click-fanout", []),
                ("click-fanout-2", []),
                ("click-fanout-3", []),
                ("click-fanout-in-client", ["--clicker-in-client"]),
            ):
                run(
                    [vpy, str(HERE / "fanout_click_bench.py"), "--viewers", viewers, *extra],
                    cwd=REPO,
                    env=env,
                    limit=600,
                    out=out / f"{label}.txt",
                )
        if "storm" in parts:
            tabs = "1000" if args.quick else str(args.storm_tabs)
            for label, extra in (("before", before_src), ("now", None)):
                if label == "before" and extra is None:
                    continue
                storm_env = dict(env)
                if extra is not None:
                    storm_env["PYTHONPATH"] = str(extra)  # the server runs REV's parlour
                run(
                    [py, str(HERE / "storm_bench.py"), "--tabs", tabs, "--python", vpy],
                    cwd=REPO,
                    env=storm_env,
                    limit=900,
                    out=out / f"storm-{label}.txt",
                )
        if "cluster" in parts:
            quick = ["--reps", "1", "--duration", "4", "--rounds", "200"] if args.quick else []
            run(
                [
                    py,
                    str(HERE / "cluster_bench.py"),
                    "--out",
                    str(out / "cluster"),
                    "--peer-bench",
                    str(peer),
                    *quick,
                ],
                cwd=REPO,
                env=env,
                limit=1200,
            )
        if "compression" in parts:
            minutes = args.compression_minutes
            run(
                [
                    vpy,  # its in-process replay imports parlour
                    str(HERE / "compression_bench.py"),
                    *("--minutes", str(minutes), "--python", vpy, "--out", str(out)),
                ],
                cwd=REPO,
                env=env,
                limit=minutes * 60 + 300,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    write_summary(out)
    log(f"done in {(time.time() - t0) / 60:.1f} min; results in {out} (summary.md)")


if __name__ == "__main__":
    main()
