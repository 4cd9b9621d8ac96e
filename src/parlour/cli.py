"""The `parlour` command.

    parlour --version
    parlour run MODULE:ATTR [--host 127.0.0.1] [--port 8000] [--store SPEC] [--bus URL]
                            [--allowed-host H ...] [--dev] [--no-compress] [--log-level info]

`run` imports MODULE (from the current directory first) and serves its ASGI app ATTR with
uvicorn; a file path (`examples/counter.py:app`) or a misspelt name gets the closest names
as a hint, not a traceback. `--store` picks where conversations live (`memory`, `file:DIR`,
`sqlite:PATH`, or `nats://HOST:PORT[/BUCKET]` for a cluster of processes that any request
may reach); an `App` that was built without an explicit store gets it. `--bus` picks the
event bus (`memory`, or `nats://HOST:PORT` to share events between processes); it needs an
`App`, and replaces the bus the App was built with when serving starts. Both default to the
environment's `PARLOUR_STORE` and `PARLOUR_BUS` when set. `--allowed-host` names a host
the app is reached by (repeatable; the bound address and the local names are always
allowed): any other `Host` gets 400. `--dev` turns the inspector on: every page gets a panel
on its conversation (Alt+Shift+D; `parlour.devtools`). `--no-compress` sends the streams
uncompressed (they are gzipped for browsers that accept it; `PARLOUR_COMPRESS=0` does the
same). `--help` shows every default.

    parlour inspect [CID] [--store SPEC] [--json] [--app MODULE]

`inspect` reads a store, its server running or not: the conversations it holds, or one of
them as a tree with each instance's state and its history (`parlour.cli_inspect`).

    parlour console [--demo [--demo-pace S]] [--host] [--port] [--store SPEC] [--bus URL]
                    [--token T] [--allowed-host H ...] [--state-dir DIR] [--no-compress]
                    [--log-level info]
    parlour console user add NAME | user list | user remove NAME   [--state-dir DIR]

`console` serves the parlour console (`parlour.console.app.Console`): the Agents, Status and
Config pages and the HTTP API under /api. `--token` (or `PARLOUR_CONSOLE_TOKEN`) makes the
API require `Authorization: Bearer T` and, without users, the pages ask for it at sign-in;
`console user add` adds a person who signs in to the pages with a name and password (asked
twice on a terminal, else one line of stdin). `--allowed-host` names a host the console is
reached by (repeatable; the bound address and localhost are always allowed). `--demo` runs
a simulated swarm of agents (`--no-demo-swarm`: the demo without it here). With
`--bus nats://…` the console's events and question claims live in NATS; with
`--store nats://…` as well, consoles behind any load balancer are one console (give
`--demo --no-demo-swarm` to all but one of them; `parlour.console.cluster`).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import importlib.metadata
import logging
import os
import pkgutil
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["load_app", "main"]


SHUTDOWN_GRACE = 2
"""Seconds uvicorn waits for open requests after SIGTERM. SSE streams never end by
themselves, so without a limit a server with a tab open would wait for SIGKILL; the tabs
reconnect (Datastar retries) to whichever process serves next."""


def load_app(target: str) -> Any:
    """Import `module:attr`, with a message that says what went wrong and how to fix it."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise SystemExit(
            f"parlour: expected MODULE:ATTR such as examples.counter:app, got {target!r}"
        )
    dotted = _as_module_name(module_name)
    if dotted != module_name:
        raise SystemExit(
            f"parlour: {module_name!r} is a file path; MODULE is a dotted module name: "
            f"did you mean {dotted}:{attr}?"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise SystemExit(
            f"parlour: cannot import {module_name!r}: {exc}{_module_hint(module_name, attr, exc)}"
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        names = [n for n in vars(module) if not n.startswith("_")]
        raise SystemExit(
            f"parlour: module {module_name!r} has no attribute {attr!r}"
            + _did_you_mean(attr, names, lambda n: f"{module_name}:{n}")
        ) from None


def _as_module_name(name: str) -> str:
    """`examples/counter.py` -> `examples.counter`; a dotted name is returned unchanged."""
    path = name.replace("\\", "/")
    if "/" not in path and not path.endswith(".py"):
        return name
    path = path.removesuffix(".py").strip("/")
    while path.startswith("./"):
        path = path[2:]
    return ".".join(part for part in path.split("/") if part and part != ".")


def _did_you_mean(wrong: str, names: Iterable[str], spell: Callable[[str], str]) -> str:
    close = difflib.get_close_matches(wrong, sorted(set(names)), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(spell(n) for n in close)}?" if close else ""


def _module_hint(module_name: str, attr: str, exc: ModuleNotFoundError) -> str:
    """The closest importable names, when the missing module is the one asked for (a typo),
    not one that it imports (a missing dependency)."""
    missing = exc.name or ""
    if not missing or not (module_name == missing or module_name.startswith(missing + ".")):
        return ""
    parent, _, last = missing.rpartition(".")
    if parent:
        try:
            package = importlib.import_module(parent)
        except ImportError:
            return ""
        where = getattr(package, "__path__", None)
        if where is None:
            return ""
        found = [m.name for m in pkgutil.iter_modules(where)]
    else:
        found = [m.name for m in pkgutil.iter_modules()]  # sys.path, the current directory first
    rest = module_name[len(missing) :]
    prefix = parent + "." if parent else ""
    return _did_you_mean(last, found, lambda n: f"{prefix}{n}{rest}:{attr}")


def _version() -> str:
    try:
        return importlib.metadata.version("parlour")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _serving_options(command: argparse.ArgumentParser) -> None:
    """The options every serving command shares: address, store, bus, log level, and
    whether streams are compressed."""
    command.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)"
    )
    command.add_argument(
        "--port", type=int, default=8000, help="the port to listen on (default: %(default)s)"
    )
    command.add_argument(
        "--store",
        default=os.environ.get("PARLOUR_STORE") or None,
        help="memory | file:DIR | sqlite:PATH | nats://HOST:PORT[/BUCKET] (a cluster: any "
        "process on the bucket serves any request; docs/deployment.md) "
        "(default: $PARLOUR_STORE, else sqlite:.parlour/state.sqlite)",
    )
    command.add_argument(
        "--bus",
        default=os.environ.get("PARLOUR_BUS") or None,
        help="memory | nats://HOST:PORT (default: $PARLOUR_BUS, else the in-process bus)",
    )
    command.add_argument(
        "--log-level",
        default="info",
        help="debug | info | warning | error (default: %(default)s)",
    )
    command.add_argument(
        "--no-compress",
        action="store_true",
        help="send the streams uncompressed, even to browsers that accept gzip "
        "(the same as PARLOUR_COMPRESS=0)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parlour", description="Serve parlour apps.")
    parser.add_argument("--version", action="version", version=f"parlour {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve an app with uvicorn")
    run.add_argument(
        "target", metavar="MODULE:ATTR", help="the app to serve, e.g. examples.counter:app"
    )
    _serving_options(run)
    run.add_argument(
        "--allowed-host",
        action="append",
        default=None,
        metavar="HOST",
        help="a host name the app is reached by, e.g. app.example.com; any other Host gets "
        "400 (repeatable; the bound address, localhost, 127.0.0.1 and [::1] are always "
        "allowed; '*' allows any)",
    )
    run.add_argument(
        "--dev",
        action="store_true",
        help="turn the inspector on: a panel on every page's conversation (Alt+Shift+D)",
    )
    from parlour import cli_inspect

    cli_inspect.add_parser(commands)
    console = commands.add_parser(
        "console", help="serve the parlour console (agents, status, config, HTTP API)"
    )
    console.add_argument("--demo", action="store_true", help="run a simulated agent swarm")
    console.add_argument(
        "--demo-pace",
        type=float,
        default=1.0,
        help="the swarm's speed: seconds per step, roughly; smaller is faster "
        "(default: %(default)s)",
    )
    console.add_argument(
        "--no-demo-swarm",
        dest="demo_swarm",
        action="store_false",
        help="with --demo, run no swarm here: in a cluster one node runs it",
    )
    _serving_options(console)
    console.add_argument(
        "--token",
        default=None,
        help="require 'Authorization: Bearer TOKEN' on /api, and TOKEN to sign in to the "
        "pages when there are no users (default: $PARLOUR_CONSOLE_TOKEN)",
    )
    console.add_argument(
        "--allowed-host",
        action="append",
        default=None,
        metavar="HOST",
        help="a host name the console is reached by, e.g. console.example.com; any other "
        "Host gets 400 (repeatable; the bound address, localhost, 127.0.0.1 and [::1] are "
        "always allowed)",
    )
    console.add_argument(
        "--state-dir",
        default=".parlour",
        help="where the journal and the users file live (default: %(default)s)",
    )
    _user_commands(console)
    args = parser.parse_args(argv)

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "no_compress", False):
        from parlour.web.stream import COMPRESS_ENV

        os.environ[COMPRESS_ENV] = "0"  # read by every App built from here on
    if args.command == "run":
        return _run(args)
    if args.command == "console":
        return _console(args)
    if args.command == "inspect":
        return cli_inspect.run(args)
    return 2


def _user_commands(console: argparse.ArgumentParser) -> None:
    """`parlour console user add NAME | list | remove NAME`."""
    commands = console.add_subparsers(dest="console_command", metavar="{user}")
    user = commands.add_parser("user", help="manage the people who may sign in to the pages")
    actions = user.add_subparsers(dest="user_action", required=True, metavar="{add,list,remove}")
    add = actions.add_parser(
        "add", help="add a user, or give one a new password (asked twice, or one stdin line)"
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument(
        "--group",
        action="append",
        metavar="GROUP",
        help="put the user in GROUP (repeatable; replaces their groups): questions assigned "
        "to group:GROUP are theirs to answer, and members of 'admin' may answer any",
    )
    listing = actions.add_parser("list", help="list the users' names")
    remove = actions.add_parser("remove", help="remove a user (their sessions end)")
    remove.add_argument("name", metavar="NAME")
    for action in (add, listing, remove):  # SUPPRESS: `console --state-dir D user …` works too
        action.add_argument(
            "--state-dir", default=argparse.SUPPRESS, help="where the users file lives"
        )


def _console(args: argparse.Namespace) -> int:
    if getattr(args, "console_command", None) == "user":
        from parlour.console.users import run_user_command

        return run_user_command(
            args.user_action,
            getattr(args, "name", None),
            args.state_dir,
            groups=getattr(args, "group", None),
        )

    import uvicorn

    from parlour.bus import validate_bus_url
    from parlour.console.app import TOKEN_ENV, Console
    from parlour.web.security import allowed_hosts

    try:
        validate_bus_url(args.bus)
    except ValueError as exc:
        raise SystemExit(f"parlour: --bus: {exc}") from None
    token = args.token if args.token is not None else (os.environ.get(TOKEN_ENV) or None)
    if token is not None and not token.strip():
        raise SystemExit(f"parlour: --token: expected a non-empty token (or unset {TOKEN_ENV})")
    bound = f"[{args.host}]" if ":" in args.host else args.host
    extra = [bound, *(args.allowed_host or ())]
    try:
        hosts = allowed_hosts(extra)
    except ValueError as exc:
        raise SystemExit(f"parlour: --allowed-host: {exc}") from None
    try:
        console = Console(
            store=args.store,
            bus=args.bus,
            token=token or None,
            demo=args.demo,
            state_dir=args.state_dir,
            swarm={"pace": args.demo_pace},
            demo_swarm=args.demo_swarm,
            allowed_hosts=extra,
        )
    except ValueError as exc:
        raise SystemExit(f"parlour: --store: {exc}") from None
    where = f"http://{args.host}:{args.port}/"
    swarm = args.demo and args.demo_swarm
    events = "the bus's stream" if console.journal_spec == "stream" else console.journal_spec
    print(
        f"parlour console on {where}{' with a simulated swarm' if swarm else ''}; "
        f"conversations in {console.store_spec}, events in {events}; "
        f"it answers the hosts {', '.join(hosts)}",
        file=sys.stderr,
    )
    uvicorn.run(
        console,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from parlour.bus import validate_bus_url
    from parlour.stores import DEFAULT_STORE_SPEC
    from parlour.web.app import App

    app = load_app(args.target)
    if args.bus is not None:
        try:
            validate_bus_url(args.bus)  # now, not when serving starts (a traceback, then exit)
        except ValueError as exc:
            raise SystemExit(f"parlour: --bus: {exc}") from None
    if isinstance(app, App):
        spec = args.store or DEFAULT_STORE_SPEC
        try:
            chosen = app.use_store(spec, fallback=args.store is None)
        except ValueError as exc:
            raise SystemExit(f"parlour: --store: {exc}") from None
        if chosen:
            print(f"parlour: conversations in {spec}", file=sys.stderr)
        if args.bus is not None:
            app.use_bus(args.bus)
            print(f"parlour: events on {args.bus}", file=sys.stderr)
        bound = f"[{args.host}]" if ":" in args.host else args.host
        try:
            app.allow_hosts(bound, *(args.allowed_host or ()))
        except ValueError as exc:
            raise SystemExit(f"parlour: --allowed-host: {exc}") from None
        if args.dev:
            app.use_dev()
            print(
                "parlour: dev mode: the inspector is on (Alt+Shift+D on a page); it shows each "
                "page's state and history to its user: for development only",
                file=sys.stderr,
            )
        if args.host in ("0.0.0.0", "::") and not args.allowed_host:
            print(
                "parlour: only requests for localhost, 127.0.0.1 and [::1] are answered (any "
                "other Host gets 400); name the hosts this server is reached by with "
                "--allowed-host",
                file=sys.stderr,
            )
    elif args.bus is not None:
        raise SystemExit(f"parlour: --bus needs a parlour App, and {args.target} is not one")
    elif args.dev:
        raise SystemExit(f"parlour: --dev needs a parlour App, and {args.target} is not one")
    elif args.allowed_host:
        raise SystemExit(
            f"parlour: --allowed-host needs a parlour App, and {args.target} is not one "
            "(wrap it in parlour.web.security.guard yourself)"
        )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
