"""Conversations survive SIGKILL: a real `parlour run` on a SQLite store, killed and restarted.

Driven over HTTP like a browser would (cookie, SSE stream, event POSTs), so this covers the
store, the codec, flows' replay and the runtime's restore path together.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from parlour.testing import Action, Document, parse_sse

pytestmark = pytest.mark.subprocess

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`parlour run TARGET` on a SQLite file; start, kill -9, start again."""

    def __init__(self, target: str, store: Path, port: int) -> None:
        self.target, self.store, self.port = target, store, port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "PARLOUR_SECRET": "restart-test-secret"}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parlour",
                "run",
                self.target,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--store",
                f"sqlite:{self.store}",
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env=env,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"parlour run exited early with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"parlour run did not listen on {self.port} within 15 s")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=10) == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[type[Server]]:
    started: list[Server] = []

    class Tracked(Server):
        def start(self) -> None:
            started.append(self)
            super().start()

    yield Tracked
    for server in started:
        server.stop()


def first_render(client: httpx.Client, cid: str) -> str:
    """Open the conversation's stream, return the HTML of its first event, close it."""
    with client.stream("GET", f"/_parlour/sse/{cid}", timeout=10) as response:
        assert response.status_code == 200
        text = ""
        for chunk in response.iter_text():
            text += chunk
            events, _, _ = parse_sse(text)
            if events:
                return events[0].elements
    raise AssertionError("the stream ended without an event")


def post(
    client: httpx.Client, cid: str, iid: str, name: str, signals: dict[str, object] | None = None
) -> None:
    response = client.post(f"/_parlour/event/{cid}/{iid}/{name}", json=signals or {}, params=None)
    assert response.status_code == 204, response.text


def actions_in(html: str, *events: str) -> list[Action]:
    """What the elements of `html` (a shell or a patch) would request on `events` (their
    `data-on:EVENT`, or `data-init` for `init`), read as the browser reads them."""
    doc = Document(html)
    return [a for element in doc.all("*") for event in events for a in doc.actions(element, event)]


def cid_of(shell: str) -> str:
    """The conversation of a shell page: the last part of the stream it opens."""
    [stream] = [a.url for a in actions_in(shell, "init") if a.method == "GET"]
    return stream.rpartition("/")[2]


def iid_of(html: str, event: str) -> str:
    """The instance whose control in `html` posts `event`."""
    for action in actions_in(html, "click", "submit"):
        *_, iid, name = action.url.partition("?")[0].split("/")
        if name == event:
            return iid
    raise AssertionError(f"no {event!r} event in {html!r}")


def test_a_counter_keeps_its_value_across_sigkill(serve: type[Server], tmp_path: Path) -> None:
    server = serve("examples.counter:app", tmp_path / "state.sqlite", free_port())
    server.start()
    with httpx.Client(base_url=server.url) as client:
        shell = client.get("/")
        cid = cid_of(shell.text)
        for _ in range(3):
            post(client, cid, "p1", "inc")
        server.kill()
        server.start()
        html = first_render(client, cid)
        assert '<span class="count">3</span>' in html
        post(client, cid, "p1", "inc")
        assert '<span class="count">4</span>' in first_render(client, cid)


def test_a_wizard_resumes_mid_flow_after_sigkill(serve: type[Server], tmp_path: Path) -> None:
    server = serve("examples.wizard:app", tmp_path / "state.sqlite", free_port())
    server.start()
    with httpx.Client(base_url=server.url) as client:
        shell = client.get("/")
        cid = cid_of(shell.text)
        post(client, cid, iid_of(shell.text, "begin"), "begin")
        prompt = first_render(client, cid)
        prompt_iid = iid_of(prompt, "submit")
        post(client, cid, prompt_iid, "submit", {f"value-{prompt_iid}": "Ada"})
        assert "Plan" in first_render(client, cid)

        server.kill()
        server.start()

        choose = first_render(client, cid)
        assert "Plan" in choose
        assert ">pro<" in choose
        response = client.post(f"/_parlour/event/{cid}/{iid_of(choose, 'pick')}/pick?p=1", json={})
        assert response.status_code == 204
        confirm = first_render(client, cid)
        assert "Sign Ada up for pro?" in confirm
        post(client, cid, iid_of(confirm, "yes"), "yes")
        assert "Welcome, Ada (pro)" in first_render(client, cid)


def test_an_unknown_conversation_after_a_wiped_store_reloads_the_page(
    serve: type[Server], tmp_path: Path
) -> None:
    server = serve("examples.counter:app", tmp_path / "state.sqlite", free_port())
    server.start()
    with httpx.Client(base_url=server.url) as client:
        shell = client.get("/")
        cid = cid_of(shell.text)
        server.kill()
        (tmp_path / "state.sqlite").unlink()
        for leftover in tmp_path.glob("state.sqlite-*"):
            leftover.unlink()
        server.start()
        with client.stream("GET", f"/_parlour/sse/{cid}", timeout=10) as response:
            assert response.status_code == 200
            body = response.read().decode()
        assert "window.location.reload()" in body
