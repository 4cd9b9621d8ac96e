"""`parlour inspect`: the conversations a store holds, readable while their server is stopped.

    parlour inspect [--store SPEC] [--json]            one line per conversation: id, root
                                                       component, created, last touched,
                                                       size, history length
    parlour inspect CID [--store SPEC] [--json]        one conversation: its component tree
                                                       with each instance's state, and its
                                                       history step by step
    --app MODULE                                       import the app's components first

The store defaults to `$PARLOUR_STORE`, else `sqlite:.parlour/state.sqlite`, as for
`parlour run`; a file or SQLite store that does not exist is reported, never created. A
`memory` store is meaningless here: it lives inside its server's process and is gone when
the server stops (the inspector of a running app, `parlour run --dev`, shows its
conversations instead). The store is only read; a running server may go on using it.

Decoding a conversation needs its component classes: their modules are imported by their
registered names (`module.Class`, from the current directory first), or from `--app`. A
conversation whose classes cannot be found is still shown from its stored state (`parlour.
devtools.stored.peek`), without its history.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from parlour.core.codec import FormatError, decode
from parlour.core.conversation import Conversation
from parlour.core.errors import ParlourError
from parlour.devtools import model
from parlour.devtools.stored import NotAConversation, Peek, import_components, peek, type_names
from parlour.stores import DEFAULT_STORE_SPEC, ConversationStore, StoreFormatError, open_store

__all__ = ["add_parser", "run"]

_SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def add_parser(commands: Any) -> None:
    """Add `inspect` to the `parlour` command's subcommands."""
    inspect: argparse.ArgumentParser = commands.add_parser(
        "inspect",
        help="list the stored conversations, or show one (tree, state, history)",
        description="Read a store (its server may be stopped): list its conversations, or "
        "show one as a tree with each instance's state and its history.",
    )
    inspect.add_argument("cid", nargs="?", metavar="CID", help="the conversation to show")
    inspect.add_argument(
        "--store",
        default=os.environ.get("PARLOUR_STORE") or None,
        help=f"file:DIR | sqlite:PATH | nats://HOST:PORT[/BUCKET] (default: $PARLOUR_STORE, "
        f"else {DEFAULT_STORE_SPEC})",
    )
    inspect.add_argument("--json", action="store_true", help="print JSON, for machines")
    inspect.add_argument(
        "--app",
        action="append",
        default=None,
        metavar="MODULE",
        help="import MODULE first, so the components it defines can be read (repeatable)",
    )
    inspect.add_argument(
        "--log-level",
        default="warning",
        help="debug | info | warning | error (default: %(default)s)",
    )


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """`parlour inspect ...`; 0 when it printed what was asked, else SystemExit's message."""
    stream = sys.stdout if out is None else out
    spec = (args.store or DEFAULT_STORE_SPEC).strip()
    _check_spec(spec)
    for module in args.app or ():
        _import(module)
    try:
        store = open_store(spec)
    except ValueError as exc:
        raise SystemExit(f"parlour inspect: --store: {exc}") from None
    return asyncio.run(_inspect(store, spec, args.cid, as_json=args.json, out=stream))


def _check_spec(spec: str) -> None:
    """Refuse `memory`, and file or SQLite stores that do not exist (opening would make them)."""
    if spec == "memory":
        raise SystemExit(
            "parlour inspect: a memory store is meaningless here: it lives inside its "
            "server's process and its conversations are gone when the server stops. Inspect a "
            "file: or sqlite: store, or run the app with `parlour run --dev` and open the "
            "inspector on its pages."
        )
    scheme, sep, rest = spec.partition(":")
    if sep and scheme == "file":
        folder = Path(rest).expanduser()
        if not folder.is_dir():
            raise SystemExit(f"parlour inspect: no file store at {folder} (no such directory)")
    elif (sep and scheme == "sqlite") or spec.lower().endswith(_SQLITE_SUFFIXES):
        path = Path(rest if sep and scheme == "sqlite" else spec).expanduser()
        if not path.is_file():
            raise SystemExit(
                f"parlour inspect: no SQLite store at {path}. `parlour run` makes it in the "
                "directory it runs in: run this there, or name the store with --store."
            )


def _import(module: str) -> None:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    name = module.partition(":")[0]
    try:
        importlib.import_module(name)
    except ImportError as exc:
        raise SystemExit(
            f"parlour inspect: --app {module}: cannot import {name!r}: {exc}"
        ) from None


async def _inspect(
    store: ConversationStore, spec: str, cid: str | None, *, as_json: bool, out: TextIO
) -> int:
    try:
        if cid is None:
            await _list(store, spec, as_json=as_json, out=out)
        else:
            await _show(store, spec, cid, as_json=as_json, out=out)
    except StoreFormatError as exc:
        raise SystemExit(f"parlour inspect: {exc}") from None
    finally:
        await store.close()
    return 0


async def _list(store: ConversationStore, spec: str, *, as_json: bool, out: TextIO) -> None:
    # Every conversation was touched at a finite time (stores refuse others): all of them,
    # oldest first. The reaper's query doubles as a listing that every store already has.
    rows: list[tuple[Peek | None, str, int]] = []
    for cid in await store.idle_since(math.inf):
        data = await store.load(cid)
        if data is None:
            continue  # deleted while we listed
        try:
            rows.append((peek(data), cid, len(data)))
        except NotAConversation:
            rows.append((None, cid, len(data)))
    if as_json:
        json.dump([_row_json(p, cid, size) for p, cid, size in rows], out, indent=2)
        out.write("\n")
        return
    if not rows:
        print(f"no conversations in {spec}", file=out)
        return
    width = max(len(cid) for _, cid, _ in rows)
    print(
        f"{'ID':<{width}}  {'ROOT':<32}  {'CREATED':<19}  {'TOUCHED':<19}  {'SIZE':>8}  HISTORY",
        file=out,
    )
    for p, cid, size in rows:
        if p is None:
            print(f"{cid:<{width}}  (not a parlour conversation){'':>10}{_size(size):>8}", file=out)
            continue
        root = (p.root or "-") + (" (ended)" if p.ended else "")
        print(
            f"{cid:<{width}}  {root:<32}  {_when(p.created):<19}  {_when(p.touched):<19}  "
            f"{_size(size):>8}  {p.history}",
            file=out,
        )
    print(f"{len(rows)} conversation(s) in {spec}", file=out)


def _row_json(p: Peek | None, cid: str, size: int) -> dict[str, Any]:
    if p is None:
        return {"id": cid, "size": size, "error": "not a parlour conversation"}
    return {
        "id": cid,
        "root": p.root,
        "created": p.created,
        "touched": p.touched,
        "size": size,
        "history": p.history,
        "ended": p.ended,
    }


async def _show(
    store: ConversationStore, spec: str, cid: str, *, as_json: bool, out: TextIO
) -> None:
    try:
        data = await store.load(cid)
    except ValueError as exc:
        raise SystemExit(f"parlour inspect: {exc}") from None
    if data is None:
        raise SystemExit(
            f"parlour inspect: no conversation {cid!r} in {spec} (`parlour inspect` lists them)"
        )
    missing: list[str] = []
    try:
        missing = import_components(type_names(data))
        conv = decode(data)
    except NotAConversation as exc:
        raise SystemExit(f"parlour inspect: {cid}: {exc}") from None
    except (FormatError, ParlourError) as exc:
        _show_raw(peek(data), len(data), spec, exc, missing, as_json=as_json, out=out)
        return
    if as_json:
        json.dump({"store": spec, **model.describe(conv, size=len(data))}, out, indent=2)
        out.write("\n")
        return
    _print(conv, len(data), spec, out)


def _print(conv: Conversation, size: int, spec: str, out: TextIO) -> None:
    def line(text: str = "") -> None:
        print(text, file=out)

    root = conv.instances.get(conv.stack[0]) if conv.stack else None
    line(f"conversation {conv.id} in {spec}" + (" (ended)" if conv.ended else ""))
    line(f"  root      {root.type_name if root else '-'}")
    line(f"  created   {_when(conv.created)}")
    line(f"  touched   {_when(conv.touched)}")
    line(f"  size      {_size(size)}")
    line(
        f"  history   {len(conv.history)} snapshot(s): steps {conv.history_base} to {conv.depth}"
        f" (now), at most {conv.history_limit} kept"
    )
    if conv.last_url is not None:
        line(f"  url       {conv.last_url}")
    line()
    line("tree")
    for level, node in model.walk(model.tree(conv)):
        pad = "  " * (level + 1)
        where = f"frame {node.frame}" if node.frame is not None else f"slot {node.slot}"
        flags = ", top" if node.iid == conv.top else "" if node.shown else ", not shown"
        line(f"{pad}{node.type} {node.iid}  ({where}{flags}; {node.name})")
        for name, value in model.state(conv.instances[node.iid]).items():
            line(f"{pad}    {name} = {model.short(value, 200)}")
    line()
    line("history")
    for step in model.steps(conv):
        label = f"step {step.depth}" + (" (now)" if step.now else "")
        what = (
            "; ".join(str(c) for c in step.changes)
            if step.changes
            else f"{step.top_type} {step.top} on top"
            if step.depth == conv.history_base
            else "no state changed"
        )
        line(f"  {label:<14} {what}")
    line()
    line(f"timers         {len(conv.timers) or 'none'}")
    for t in conv.timers:
        line(f"  {t.id}: {t.iid}.{t.method}({model.short(t.payload, 60)}) due {_when(t.due)}")
    line(f"subscriptions  {len(conv.subscriptions) or 'none'}")
    for s in conv.subscriptions:
        line(f"  {s.pattern!r} -> {s.iid}.{s.method}")


def _show_raw(
    p: Peek,
    size: int,
    spec: str,
    error: Exception,
    missing: list[str],
    *,
    as_json: bool,
    out: TextIO,
) -> None:
    why = (
        f"cannot find the component(s) {', '.join(missing)}: import their app with --app MODULE"
        if missing
        else str(error)
    )
    if as_json:
        data: dict[str, Any] = {
            "store": spec,
            **_row_json(p, p.id, size),
            "stack": list(p.stack),
            "instances": {
                i.iid: {"type": i.type, "parent": i.parent, "state": i.state} for i in p.instances
            },
            "error": why,
        }
        json.dump(data, out, indent=2, default=repr)
        out.write("\n")
        return
    print(f"conversation {p.id} in {spec}: shown from its stored state only ({why})", file=out)
    print(f"  root      {p.root or '-'}", file=out)
    print(f"  created   {_when(p.created)}", file=out)
    print(f"  touched   {_when(p.touched)}", file=out)
    print(f"  size      {_size(size)}", file=out)
    print(f"  history   {p.history} snapshot(s)", file=out)
    print("instances", file=out)
    for i in p.instances:
        print(f"  {i.type} {i.iid}  (parent {i.parent or '-'})", file=out)
        for name, value in i.state.items():
            print(f"      {name} = {model.short(value, 200)}", file=out)


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} kB" if n < 1 << 20 else f"{n / 2**20:.1f} MB"
