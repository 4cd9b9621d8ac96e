"""Counting instructions with valgrind's callgrind: what `click_instructions.py` and
`push_instructions.py` share.

A script runs a child of itself under callgrind with instrumentation off (`toggle()` turns it
on around the part to count) and reads the total; the caller runs it at two sizes and takes
the difference, so start-up, imports and warm-up cancel out. `revision_src(rev)` gives a git
revision's `src/` to measure instead of this checkout's.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_on = False


def toggle() -> None:
    """Switch callgrind's instrumentation of this process (a no-op outside valgrind)."""
    global _on
    _on = not _on
    subprocess.run(
        ["callgrind_control", "-i", "on" if _on else "off", str(os.getpid())],
        check=False,
        capture_output=True,
    )


def instructions(script: str, args: list[str], src: Path, workdir: Path) -> int:
    """Instructions `python SCRIPT ARGS` executes while instrumented, `src` first on the path
    (PYTHONHASHSEED fixed, so the count moves only with the code)."""
    out = workdir / f"callgrind.{os.getpid()}.{'-'.join(args)}.out"
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=f"{src}{os.pathsep}{REPO}")
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            script,
            *args,
        ],
        check=True,
        env=env,
        capture_output=True,
        timeout=900,
    )
    totals = re.search(r"^totals:\s+(\d+)", out.read_text(), re.MULTILINE)
    assert totals is not None, f"no totals in {out}"
    return int(totals.group(1))


@contextlib.contextmanager
def revision_src(rev: str) -> Iterator[Path]:
    """REV's `src/`, extracted with `git archive` into a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="parlour-rev-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", rev, "src"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield Path(tmp) / "src"
