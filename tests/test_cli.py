"""`parlour.cli`: `parlour run MODULE:ATTR`, its argument errors, and a real server process."""

from __future__ import annotations

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

from parlour.cli import load_app, main
from parlour.stores import DEFAULT_STORE_SPEC, MemoryStore, SqliteStore
from parlour.web.app import App

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


# -- main ----------------------------------------------------------------------------------------


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
