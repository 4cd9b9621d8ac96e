"""Summarise a cProfile dump: time by package, then the top functions by self and by cumulative.

    python pstats_summary.py FILE.pstats [--per N] [--unit click] [--top 25]

`--per N` divides every time by N (clicks, deliveries) to show µs per unit; `--per-func
web/app.py:_event` takes N from how often that function was called.

"By package" sums each function's *self* time (`tottime`) under the package its file belongs
to: `parlour.core.kernel`, `htpy`, `starlette`, `uvicorn`, `stdlib asyncio`, ... Built-in
functions (`isinstance`, `str.join`, `msgspec` encoders) have no file: their time is folded into
the package of whoever called them. `event loop (uvloop)` is the self time of
`asyncio.runners.run`: uvloop's C loop, with its socket reads and writes, runs inside it and
cProfile cannot see into it. Paths are shortened (site-packages and stdlib prefixes cut).
"""

from __future__ import annotations

import argparse
import io
import pstats
import re
from typing import Any

PARLOUR = re.compile(r"/(parlour)/([a-z_]+)(?:/([a-z_]+))?\.py$")
SITE = re.compile(r"site-packages/([A-Za-z0-9_]+)")
STDLIB = re.compile(r"/lib/python3\.\d+/([A-Za-z0-9_]+)")


def package(filename: str, func: str) -> str:
    if filename == "~":
        return "builtins"
    if filename.endswith("asyncio/runners.py") and func == "run":
        return "event loop (uvloop)"
    m = PARLOUR.search(filename)
    if m:
        return ".".join(p for p in m.groups() if p)
    if "/examples/" in filename or "/benchmarks/" in filename:
        return "app (examples/, benchmarks/)"
    m = SITE.search(filename)
    if m:
        return m.group(1)
    m = STDLIB.search(filename)
    if m:
        return "stdlib " + m.group(1).removesuffix(".py")
    return filename


def plural(word: str) -> str:
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def short(line: str) -> str:
    line = re.sub(r"\S*/site-packages/", "", line)
    line = re.sub(r"\S*/lib/python3\.\d+/", "", line)
    return re.sub(r"\S*/src/parlour/", "parlour/", line)


def calls_of(raw: dict[Any, Any], where: str) -> int:
    """How many times the function named `where` (`FILE-SUFFIX:NAME`) was called."""
    suffix, _, name = where.rpartition(":")
    return sum(v[1] for (f, _line, func), v in raw.items() if func == name and f.endswith(suffix))


def summary(path: str, per: int = 0, unit: str = "unit", top: int = 25, per_func: str = "") -> str:
    stats = pstats.Stats(path)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    if per_func:
        per = calls_of(raw, per_func)
    total = stats.total_tt  # type: ignore[attr-defined]
    scale = 1e6 / per if per else 1e3
    what = f"µs per {unit}" if per else "ms"
    groups: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tt, _ct, callers) in raw.items():
        if filename == "~" and callers:
            # A built-in: charge its self time to the packages of its callers.
            for (cfile, _cl, cfunc), entry in callers.items():
                key = package(cfile, cfunc)
                groups[key] = groups.get(key, 0.0) + entry[2]
            continue
        key = package(filename, func)
        groups[key] = groups.get(key, 0.0) + tt
    out = [
        f"profile {path}: {total:.3f} s in total" + (f", {per:,} {plural(unit)}" if per else ""),
        "",
    ]
    out.append(f"Self time by package ({what}, share of the total):")
    for key, tt in sorted(groups.items(), key=lambda kv: -kv[1])[:20]:
        out.append(f"  {tt * scale:10.1f}  {100 * tt / total:5.1f} %  {key}")
    views = (
        ("tottime", f"Top {top} functions by self time:", ()),
        ("cumulative", f"Top {top} functions by cumulative time:", ()),
        ("cumulative", f"Top {top} of parlour's functions by cumulative time:", ("src/parlour/",)),
    )
    for order, title, only in views:
        buf = io.StringIO()
        st = pstats.Stats(path, stream=buf)
        st.sort_stats(order).print_stats(*only, top)
        lines = buf.getvalue().splitlines()
        start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
        out += ["", title, *map(short, lines[start:])]
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pstats")
    ap.add_argument("--per", type=int, default=0)
    ap.add_argument("--per-func", default="", help="per call of FILE-SUFFIX:NAME")
    ap.add_argument("--unit", default="unit")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    print(summary(args.pstats, args.per, args.unit, args.top, args.per_func), end="")


if __name__ == "__main__":
    main()
