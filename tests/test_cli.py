"""`parlour.cli`: `parlour run MODULE:ATTR`, its argument errors, and a real server process."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parlour.bus import InProcessBus
from parlour.bus.nats import NatsBus
from parlour.cli import load_app, main
from parlour.stores import DEFAULT_STORE_SPEC, MemoryStore, SqliteStore
from parlour.testing import AsgiClient
from parlour.web.app import App
from tests.support.nats import NatsServer, start_nats_server

REPO = Path(__file__).resolve().parent.parent

APP_MODULE = """
from htpy import div
from parlour import App, Component

class Hello(Component):
    def render(self):
        return div(self.root)["hello"]

app = App(Hello, secret="cli-test")
explicit = App(Hello, secret="cli-test", store=STORE)
not_an_app = 42
"""


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh importable module in the current directory (as `parlour run` finds it)."""
    name = f"cli_probe_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        "from parlour.stores import MemoryStore\nSTORE = MemoryStore()\n" + APP_MODULE
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delenv("PARLOUR_DATASTAR_JS", raising=False)
    yield name
    sys.modules.pop(name, None)


# -- load_app ----------------------------------------------------------------------------------


def test_load_app_imports_module_attr_from_the_current_directory(module: str) -> None:
    app = load_app(f"{module}:app")
    assert isinstance(app, App)
    assert load_app(f"{module}:not_an_app") == 42


@pytest.mark.parametrize("target", ["nocolon", ":app", "module:", ":", ""])
def test_load_app_wants_module_colon_attr(target: str) -> None:
    with pytest.raises(SystemExit) as info:
        load_app(target)
    assert "expected MODULE:ATTR such as examples.counter:app" in str(info.value.code)
    assert repr(target) in str(info.value.code)


def test_load_app_names_a_module_it_cannot_import(module: str) -> None:
    with pytest.raises(SystemExit) as info:
        load_app("no_such_module_here:app")
    assert "cannot import 'no_such_module_here'" in str(info.value.code)


def test_load_app_names_a_missing_attribute(module: str) -> None:
    with pytest.raises(SystemExit) as info:
        load_app(f"{module}:nope")
    assert f"module {module!r} has no attribute 'nope'" in str(info.value.code)


@pytest.mark.parametrize(
    "target", ["examples/counter.py:app", "./examples/counter.py:app", "examples/counter:app"]
)
def test_load_app_turns_a_file_path_into_a_module_name_hint(target: str) -> None:
    with pytest.raises(SystemExit) as info:
        load_app(target)
    assert "did you mean examples.counter:app?" in str(info.value.code)


def test_load_app_suggests_the_closest_module_for_a_typo(module: str) -> None:
    with pytest.raises(SystemExit) as info:
        load_app(f"{module[:-1]}:app")
    message = str(info.value.code)
    assert f"cannot import {module[:-1]!r}" in message
    assert f"did you mean {module}:app?" in message


def test_load_app_suggests_the_closest_submodule_for_a_typo(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(SystemExit) as info:
        load_app("examples.countr:app")
    assert "did you mean examples.counter:app?" in str(info.value.code)


def test_load_app_suggests_the_closest_attribute_for_a_typo(module: str) -> None:
    with pytest.raises(SystemExit) as info:
        load_app(f"{module}:ap")
    message = str(info.value.code)
    assert f"module {module!r} has no attribute 'ap'" in message
    assert f"did you mean {module}:app?" in message


def test_load_app_does_not_guess_when_a_dependency_of_the_module_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"cli_needs_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text("import no_such_dependency_anywhere\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(SystemExit) as info:
        load_app(f"{name}:app")
    message = str(info.value.code)
    assert "No module named 'no_such_dependency_anywhere'" in message
    assert "did you mean" not in message


# -- main ----------------------------------------------------------------------------------------


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"parlour {importlib.metadata.version('parlour')}"


@pytest.mark.parametrize(
    ("command", "defaults"),
    [
        ("run", ["(default: 127.0.0.1)", "(default: 8000)", "(default: info)"]),
        ("console", ["(default: 127.0.0.1)", "(default: 8000)", "(default: .parlour)"]),
    ],
)
def test_help_shows_the_defaults(
    command: str, defaults: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for default in defaults:
        assert default in text
    assert "$PARLOUR_STORE" in text


class FakeUvicorn:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, dict[str, Any]]] = []

    def __call__(self, app: Any, **options: Any) -> None:
        self.calls.append((app, options))


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> FakeUvicorn:
    fake = FakeUvicorn()
    monkeypatch.setattr("uvicorn.run", fake)
    return fake


def test_run_without_a_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage: parlour" in capsys.readouterr().err


def test_run_without_a_target_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run"])
    assert info.value.code == 2
    assert "MODULE:ATTR" in capsys.readouterr().err


def test_run_with_a_bad_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "examples.counter:app", "--port", "eighty"])
    assert info.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_run_with_a_bad_target_exits_with_the_message(served: FakeUvicorn) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "nocolon"])
    assert "expected MODULE:ATTR" in str(info.value.code)
    assert served.calls == []


def test_run_with_a_bad_store_exits_with_the_message(module: str, served: FakeUvicorn) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", f"{module}:app", "--store", "bogus"])
    message = str(info.value.code)
    assert message.startswith("parlour: --store:")
    assert "'bogus'" in message
    assert served.calls == []


def test_run_serves_the_app_with_uvicorn(module: str, served: FakeUvicorn) -> None:
    assert main(["run", f"{module}:app", "--host", "0.0.0.0", "--port", "8123"]) == 0
    [(app, options)] = served.calls
    assert app is load_app(f"{module}:app")
    assert options["host"] == "0.0.0.0"
    assert options["port"] == 8123
    assert options["lifespan"] == "on"


async def test_run_gives_an_app_without_a_store_the_default_store(
    module: str, served: FakeUvicorn
) -> None:
    assert DEFAULT_STORE_SPEC.startswith("sqlite:")
    main(["run", f"{module}:app"])
    [(app, _)] = served.calls
    assert isinstance(app, App)
    try:
        assert isinstance(app.runtime.store, SqliteStore)
        assert not app.runtime.store_is_default
    finally:
        await app.runtime.store.close()


def test_run_store_memory(module: str, served: FakeUvicorn) -> None:
    main(["run", f"{module}:app", "--store", "memory"])
    [(app, _)] = served.calls
    assert isinstance(app.runtime.store, MemoryStore)


def test_run_keeps_a_store_the_app_chose(module: str, served: FakeUvicorn) -> None:
    main(["run", f"{module}:explicit"])
    [(app, _)] = served.calls
    mod = sys.modules[module]
    assert app.runtime.store is mod.STORE


def test_run_serves_any_asgi_app_as_is(module: str, served: FakeUvicorn) -> None:
    main(["run", f"{module}:not_an_app"])
    assert served.calls[0][0] == 42


# -- --bus ---------------------------------------------------------------------------------------


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsServer]:
    yield from start_nats_server(tmp_path)


async def close(app: App) -> None:
    """What the lifespan would do at shutdown (AsgiClient runs no lifespan)."""
    await app.runtime.close()
    if app.runtime.bus is not None:
        await app.runtime.bus.close()


@pytest.mark.parametrize("url", ["memory", "nats://127.0.0.1:4222", "nats://a:4222,nats://b:4222"])
def test_run_bus_is_parsed_and_announced(
    module: str, served: FakeUvicorn, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    assert main(["run", f"{module}:app", "--store", "memory", "--bus", url]) == 0
    [(app, options)] = served.calls
    assert isinstance(app, App)
    assert options["lifespan"] == "on"  # the lifespan is what connects the bus
    assert f"parlour: events on {url}" in capsys.readouterr().err
    assert isinstance(app.runtime.bus, InProcessBus)  # nothing connects before serving starts


async def test_run_bus_memory_gives_the_app_a_fresh_in_process_bus(
    module: str, served: FakeUvicorn
) -> None:
    main(["run", f"{module}:app", "--store", "memory", "--bus", "memory"])
    [(app, _)] = served.calls
    built_with = app.runtime.bus
    assert isinstance(built_with, InProcessBus)
    try:
        assert (await AsgiClient(app).get("/")).status == 200  # serving starts: the bus opens
        assert isinstance(app.runtime.bus, InProcessBus)
        assert app.runtime.bus is not built_with
        assert built_with.closed
    finally:
        await close(app)


async def test_run_without_bus_keeps_the_bus_the_app_was_built_with(
    module: str, served: FakeUvicorn, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["run", f"{module}:app", "--store", "memory"])
    [(app, _)] = served.calls
    built_with = app.runtime.bus
    try:
        assert (await AsgiClient(app).get("/")).status == 200
        assert app.runtime.bus is built_with
        assert not built_with.closed
    finally:
        await close(app)
    assert "events on" not in capsys.readouterr().err


@pytest.mark.subprocess
async def test_run_bus_nats_connects_the_app_to_nats(
    module: str, served: FakeUvicorn, nats: NatsServer
) -> None:
    main(["run", f"{module}:app", "--store", "memory", "--bus", nats.url])
    [(app, _)] = served.calls
    try:
        assert (await AsgiClient(app).get("/")).status == 200
        bus = app.runtime.bus
        assert isinstance(bus, NatsBus)
        assert bus.stream == "PARLOUR"
        async with bus.subscribe("cli.>") as sub:
            sent = await bus.publish("cli.hello", "hi")
            async with asyncio.timeout(5):
                assert await anext(sub) == sent
    finally:
        await close(app)


def test_run_bus_needs_a_parlour_app(module: str, served: FakeUvicorn) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", f"{module}:not_an_app", "--bus", "memory"])
    assert str(info.value.code) == (
        f"parlour: --bus needs a parlour App, and {module}:not_an_app is not one"
    )
    assert served.calls == []


@pytest.mark.parametrize("url", ["bogus", "redis://127.0.0.1:6379", "127.0.0.1:4222", ""])
def test_run_with_a_bad_bus_url_exits_before_serving(
    module: str, served: FakeUvicorn, url: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", f"{module}:app", "--store", "memory", "--bus", url])
    message = str(info.value.code)
    assert message.startswith("parlour: --bus:")
    assert repr(url) in message
    assert "nats://127.0.0.1:4222" in message  # it says what a good URL looks like
    assert served.calls == []


def test_run_bus_nats_without_nats_py_exits_with_the_install_hint(
    module: str, served: FakeUvicorn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nats", None)  # as if nats-py were not installed
    with pytest.raises(SystemExit) as info:
        main(["run", f"{module}:app", "--bus", "nats://127.0.0.1:4222"])
    assert "pip install 'parlour[nats]'" in str(info.value.code)
    assert served.calls == []


# -- a real server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listened on port {port} within {timeout} s")


@pytest.mark.subprocess
def test_parlour_run_serves_the_counter(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PARLOUR_DATASTAR_JS"}
    env["PARLOUR_SECRET"] = "subprocess-test"  # leave the repo's .parlour/ alone
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
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
                "memory",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
            body = response.read().decode()
            cookie = response.headers["set-cookie"]
        assert "data-init" in body
        assert 'class="count">0<' in body
        assert cookie.startswith("parlour_session=")
    except BaseException:
        print(log.read_text())
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
            raise AssertionError("the server did not stop on SIGTERM") from None
    # uvicorn shuts down cleanly, then re-raises the signal it caught (so -SIGTERM, not 0).
    assert proc.returncode in (0, -signal.SIGTERM), log.read_text()
    output = log.read_text()
    assert "conversations in memory" in output
    assert "Application shutdown complete" in output


@pytest.mark.subprocess
def test_parlour_run_with_no_nats_server_there_fails_fast_and_says_where(tmp_path: Path) -> None:
    url = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    env = {k: v for k, v in os.environ.items() if k != "PARLOUR_DATASTAR_JS"}
    env["PARLOUR_SECRET"] = "subprocess-test"
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parlour",
                "run",
                "examples.counter:app",
                "--port",
                str(free_port()),
                "--store",
                "memory",
                "--bus",
                url,
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # Two tries per server, 2 s apart; nats-py alone would retry for two minutes.
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
        raise AssertionError(
            f"parlour run --bus {url} was still trying to connect after 20 s:\n"
            + log.read_text()[-3000:]
        ) from None
    output = log.read_text()
    assert code != 0, output
    assert f"no NATS server at {url} accepted a connection" in output
    assert "Application startup failed" in output
