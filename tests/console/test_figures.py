"""Figures for the Status and Config pages: levels, the banner rule, meters, config facts.

The loop-lag test blocks the event loop on purpose and waits (bounded) for the meter to
see it; everything else is synchronous or uses fake clocks and temporary folders.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import math
import os
import platform
import re
import stat
import sys
import time
from pathlib import Path

import msgspec
import pytest

from parlour.console import figures
from parlour.console.figures import (
    DEFAULT_BINARIES,
    ENV_HINTS,
    ENV_NAMES,
    Binary,
    CpuMeter,
    EnvVar,
    Figures,
    GcWatch,
    LoopLag,
    binaries,
    build_info,
    env_counter,
    environment,
    health,
    memory_level,
    process_figures,
    process_started,
)

# -- memory level and the health banner ---------------------------------------------------------


@pytest.mark.parametrize(
    ("percent", "level"),
    [
        (0.0, "ok"),
        (64.9, "ok"),
        (65.0, "warn"),
        (84.9, "warn"),
        (85.0, "critical"),
        (100.0, "critical"),
        (math.nan, "ok"),
    ],
)
def test_memory_level_thresholds(percent: float, level: str) -> None:
    assert memory_level(percent) == level


OK = ("ok", "All systems operational")
DEGRADED = ("degraded", "Degraded")
CRITICAL = ("critical", "Attention required")


@pytest.mark.parametrize(
    ("levels", "banner"),
    [
        ([], OK),
        (["Running", "Standby", "Running"], OK),
        (["running", " RUNNING ", "ok"], OK),
        (["Running", "Running", "Running", "Stale"], DEGRADED),
        (["Running", "Running", "Running", "Stopped"], DEGRADED),
        (["Running", "Running", "Running", "Conflict"], DEGRADED),
        (["Running", "Running", "Running", "In Use"], DEGRADED),
        (["Running", "Stale"], DEGRADED),  # exactly half is not "most"
        (["Running", "ok", "warn"], DEGRADED),  # a memory level counts like a service
        (["Running", "Running", "Rebooting"], DEGRADED),  # unknown statuses count as bad
        (["Running", "Stale", "Stopped"], CRITICAL),  # most are bad
        (["Stale"], CRITICAL),
        (["Running", "Running", "Running", "critical"], CRITICAL),
        (["Running", "error"], CRITICAL),
    ],
)
def test_health_banner_rule(levels: list[str], banner: tuple[str, str]) -> None:
    assert health(levels) == banner
    assert health(iter(levels)) == banner  # any iterable, read once


def test_health_documents_its_rule() -> None:
    doc = health.__doc__ or ""
    for phrase in ("All systems operational", "Degraded", "Attention required", "half"):
        assert phrase in doc


# -- the environment ----------------------------------------------------------------------------

SECRET = "hunter2-s3cr3t-value"


def test_environment_reports_presence_in_the_given_order() -> None:
    env = {"PARLOUR_SECRET": SECRET, "PARLOUR_BUS": "nats://127.0.0.1:4222", "PARLOUR_STORE": ""}
    got = environment(env, names=["PARLOUR_STORE", "PARLOUR_SECRET", "PARLOUR_BUS", "OTHER"])
    assert [(v.name, v.set) for v in got] == [
        ("PARLOUR_STORE", False),  # empty counts as not set
        ("PARLOUR_SECRET", True),
        ("PARLOUR_BUS", True),
        ("OTHER", False),
    ]
    assert got[1].hint == ENV_HINTS["PARLOUR_SECRET"]
    assert got[3].hint == ""
    assert env_counter(got) == "2 of 4 set"


def test_environment_never_exposes_a_value() -> None:
    env = {name: f"{SECRET}-{name}" for name in ENV_NAMES}
    got = environment(env)
    assert all(v.set for v in got)
    for text in (repr(got), str(got), msgspec.json.encode(got).decode()):
        assert SECRET not in text
    assert all(set(msgspec.structs.asdict(v)) == {"name", "set", "hint"} for v in got)


def test_environment_defaults_to_os_environ_and_the_console_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PARLOUR_CONSOLE_TOKEN", SECRET)
    got = environment()
    assert [v.name for v in got] == list(ENV_NAMES)
    assert {v.name for v in got if v.set} == {"PARLOUR_CONSOLE_TOKEN"}
    assert env_counter(got) == f"1 of {len(ENV_NAMES)} set"
    assert SECRET not in repr(got)


def test_the_console_names_and_their_hints() -> None:
    assert set(ENV_NAMES) == {
        "PARLOUR_SECRET",
        "PARLOUR_CONSOLE_TOKEN",
        "PARLOUR_DATASTAR_JS",
        "PARLOUR_BUS",
        "PARLOUR_STORE",
    }
    assert all(ENV_HINTS[name] for name in ENV_NAMES)


@pytest.mark.parametrize(
    ("flags", "text"),
    [([], "0 of 0 set"), ([True], "1 of 1 set"), ([True, False, True], "2 of 3 set")],
)
def test_env_counter(flags: list[bool], text: str) -> None:
    assert env_counter(EnvVar(f"V{i}", flag) for i, flag in enumerate(flags)) == text


# -- build info and binaries --------------------------------------------------------------------

HASH = "0123456789abcdef0123456789abcdef01234567"
OTHER_HASH = "fedcba9876543210fedcba9876543210fedcba98"


def make_repo(root: Path, head: str) -> Path:
    gitdir = root / ".git"
    (gitdir / "refs" / "heads").mkdir(parents=True)
    (gitdir / "HEAD").write_text(head + "\n")
    return gitdir


def test_build_info_reads_a_loose_ref(tmp_path: Path) -> None:
    gitdir = make_repo(tmp_path, "ref: refs/heads/main")
    (gitdir / "refs" / "heads" / "main").write_text(HASH + "\n")
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    info = build_info(tmp_path / "src" / "pkg")  # found by walking up
    assert info["git"] == HASH[:12]
    assert info["python"] == platform.python_version()
    assert info["implementation"] == platform.python_implementation()
    assert info["platform"].count("/") == 1
    assert set(info) == {"parlour", "git", "python", "implementation", "platform"}


def test_build_info_reads_packed_refs_and_a_detached_head(tmp_path: Path) -> None:
    packed = tmp_path / "packed"
    gitdir = make_repo(packed, "ref: refs/heads/release")
    (gitdir / "packed-refs").write_text(
        f"# pack-refs with: peeled fully-peeled sorted\n{OTHER_HASH} refs/heads/main\n"
        f"{HASH} refs/heads/release\n"
    )
    assert build_info(packed)["git"] == HASH[:12]
    detached = tmp_path / "detached"
    make_repo(detached, OTHER_HASH)
    assert build_info(detached)["git"] == OTHER_HASH[:12]


def test_build_info_follows_a_worktree_gitdir_file(tmp_path: Path) -> None:
    main = make_repo(tmp_path / "main", "ref: refs/heads/main")
    (main / "refs" / "heads" / "feature").write_text(HASH)
    wt = main / "worktrees" / "feature"
    wt.mkdir(parents=True)
    (wt / "HEAD").write_text("ref: refs/heads/feature\n")
    (wt / "commondir").write_text("../..\n")
    checkout = tmp_path / "feature"
    checkout.mkdir()
    (checkout / ".git").write_text(f"gitdir: {wt}\n")
    assert build_info(checkout)["git"] == HASH[:12]


def test_build_info_without_a_repository_or_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    (tmp_path / ".git").mkdir()  # a broken repository: no HEAD
    info = build_info(tmp_path)
    assert info["parlour"] == "dev"
    assert info["git"] == "unknown"


def test_build_info_of_this_checkout() -> None:
    info = build_info()
    assert info["parlour"]
    assert info["git"] == "unknown" or re.fullmatch(r"[0-9a-f]{12}", info["git"])


def test_binaries_on_path_and_beside_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = tmp_path / "bin" / "parlour-test-tool"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    got = binaries(["sh", "parlour-test-tool", "parlour-no-such-binary"])
    assert got[0].name == "sh"
    assert got[0].path is not None
    assert got[1] == Binary("parlour-test-tool", str(tool))
    assert got[2] == ("parlour-no-such-binary", None)
    assert [b.name for b in binaries()] == list(DEFAULT_BINARIES)


# -- meters ---------------------------------------------------------------------------------------


def test_cpu_meter_with_fake_clocks() -> None:
    wall = iter([10.0, 11.0, 11.0, 13.0, 14.0])
    cpu = iter([1.0, 1.5, 1.6, 3.6, 3.0])
    meter = CpuMeter(cpu_time=lambda: next(cpu), clock=lambda: next(wall))
    assert meter.percent() == 0.0  # nothing to compare with yet
    assert meter.percent() == pytest.approx(50.0)
    assert meter.percent() == 0.0  # no wall time passed
    assert meter.percent() == pytest.approx(100.0)
    assert meter.percent() == 0.0  # never negative


def test_cpu_meter_is_never_negative() -> None:
    meter = CpuMeter()
    assert meter.percent() == 0.0
    sum(i * i for i in range(200_000))
    assert meter.percent() >= 0.0


async def test_loop_lag_sees_a_blocked_loop() -> None:
    lag = LoopLag(interval=0.05)
    assert lag.lag_ms == 0.0
    lag.start()
    lag.start()  # a no-op when running
    try:
        await asyncio.sleep(0.01)  # the meter is asleep now
        time.sleep(0.3)  # noqa: ASYNC251 - blocking the loop is the point
        for _ in range(200):  # up to ~2 s
            if lag.lag_ms > 200:
                break
            await asyncio.sleep(0.01)
        assert lag.lag_ms > 200
        assert lag.running
    finally:
        await lag.aclose()
    assert not lag.running
    assert lag.lag_ms > 200  # samples are kept after stopping


async def test_loop_lag_stop_ends_its_task() -> None:
    lag = LoopLag(interval=0.01)
    lag.start()
    assert lag.running
    lag.stop()
    for _ in range(100):
        if not lag.running:
            break
        await asyncio.sleep(0.001)
    assert not lag.running
    assert lag.last_ms >= 0.0


def test_loop_lag_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"LoopLag\(interval=0"):
        LoopLag(interval=0.0)
    with pytest.raises(ValueError, match=r"LoopLag\(window=0"):
        LoopLag(window=0)


def test_gc_watch_times_a_collection() -> None:
    watch = GcWatch()
    assert watch.collections == 0
    assert watch.last_pause_ms == 0.0
    before = len(gc.callbacks)
    watch.install()
    watch.install()  # idempotent: one callback
    try:
        assert len(gc.callbacks) == before + 1
        assert watch.installed
        gc.collect()
        assert watch.collections >= 1
        assert watch.last_generation == 2
        assert watch.last_pause_ms >= 0.0
        assert watch.max_pause_ms >= watch.last_pause_ms
        assert watch.total_pause_ms >= watch.max_pause_ms
    finally:
        watch.uninstall()
    assert not watch.installed
    assert len(gc.callbacks) == before
    watch.uninstall()  # idempotent too
    seen = watch.collections
    gc.collect()
    assert watch.collections == seen


def test_gc_watch_as_a_context_manager() -> None:
    before = len(gc.callbacks)
    with GcWatch() as watch:
        assert len(gc.callbacks) == before + 1
        gc.collect(0)
    assert len(gc.callbacks) == before
    assert watch.collections >= 1
    assert watch.last_generation == 0


# -- process figures ------------------------------------------------------------------------------


async def test_process_figures() -> None:
    with GcWatch() as watch:
        gc.collect()
        got = process_figures(gc_watch=watch)
    assert isinstance(got, Figures)
    assert got.pid == os.getpid()
    assert got.python == platform.python_version()
    assert got.implementation == platform.python_implementation()
    assert got.platform.startswith(sys.platform)
    assert got.rss > 0
    assert got.memory_total > got.rss
    assert 0.0 < got.memory_percent < 100.0
    assert 0.0 <= got.system_memory_percent <= 100.0
    assert len(got.load) == 3
    assert got.cpu_count >= 1
    assert got.threads >= 1
    assert got.tasks >= 1  # this test's own task
    assert len(got.gc_counts) == 3
    assert got.gc_collections >= 1
    assert got.gc_last_pause_ms == watch.last_pause_ms
    assert got.uptime >= 0.0
    assert msgspec.json.decode(msgspec.json.encode(got), type=Figures) == got


def test_process_figures_uptime_from_a_given_start() -> None:
    got = process_figures(started=1_000.0, now=1_060.5)
    assert got.uptime == 60.5
    assert got.started == 1_000.0
    assert got.tasks == 0  # no running loop here
    assert got.gc_last_pause_ms == 0.0


def test_process_started_is_in_the_past() -> None:
    started = process_started()
    assert 0 < started <= time.time()
    assert process_figures().started == pytest.approx(started, abs=1.0)


def test_process_figures_without_proc_or_load(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_load() -> tuple[float, float, float]:
        raise OSError("no load average here")

    monkeypatch.setattr(figures, "_meminfo", dict)
    monkeypatch.setattr(figures, "_sysconf_total", lambda: 0)
    monkeypatch.setattr(os, "getloadavg", no_load)
    got = process_figures()
    assert got.memory_total == 0
    assert got.memory_percent == 0.0
    assert got.system_memory_percent == 0.0
    assert got.load == (0.0, 0.0, 0.0)
    assert memory_level(got.memory_percent) == "ok"
