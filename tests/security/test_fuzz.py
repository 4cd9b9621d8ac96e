"""Thousands of malformed, oversized and hostile requests: never a 5xx, never a hang, and a
normal user is served as before once they stop.

Every route of every example (counter, todo, signup, wizard, chat, ticker) and of the console
(its pages and /api: events, replay, questions, answer, settings, runs, snapshot) is sent
requests built from what a normal page shows, then broken (`tests/security/hostile.py`):
in-process through ASGI (fast, thousands), then a short run against a real uvicorn server on
127.0.0.1 (a subprocess: the HTTP parser, sockets and hostile bytes no ASGI scope can carry).
Every request is bounded by a timeout; each run prints its figures (requests, statuses,
seconds). The generator is seeded, so a failure reproduces:

    PARLOUR_FUZZ_SEED=1207 .venv/bin/python -m pytest -q -s tests/security/test_fuzz.py
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parlour.console.app import Console
from parlour.testing import AsgiClient, Page
from tests.support.examples import private_example

from .hostile import RAW_GARBAGE, Hostile, Outcome, Request, Site, send_asgi, send_raw, send_socket

SEED = int(os.environ.get("PARLOUR_FUZZ_SEED", "1207"))
PER_EXAMPLE = {"counter": 400, "todo": 400, "signup": 400, "wizard": 400, "chat": 400}
TICKER = 100
"""The ticker's one button publishes 500 bus events, each delivered and saved: a few dozen
accepted clicks are seconds of honest work, so it gets fewer requests than the others."""
CONSOLE_REQUESTS = 900
SOCKET_REQUESTS = 500
REQUEST_TIMEOUT = 5.0  # seconds for any one answer (a stream: until it starts)
BUDGET = 30.0  # seconds for each run as a whole
EXAMPLES = [*PER_EXAMPLE, "ticker"]
REPO = Path(__file__).resolve().parents[2]


class Tally:
    """What one run sent and got back; the failures, described so they can be replayed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.statuses: Counter[str] = Counter()
        self.failures: list[str] = []
        self.started = time.monotonic()

    def add(self, request: Request, outcome: Outcome, *, socket_level: bool = False) -> None:
        status = outcome.status
        label = "no answer" if status is None else "closed" if status == 0 else str(status)
        self.statuses[label] += 1
        hung = status is None and "within" in outcome.error
        if status is None and socket_level and not hung and "closed" in outcome.error:
            return
        if status is None or status >= 500 or (outcome.error and status != 0):
            self.failures.append(f"{label} {outcome.error} <- {request.describe()}")

    @property
    def count(self) -> int:
        return sum(self.statuses.values())

    def report(self) -> str:
        seconds = time.monotonic() - self.started
        by_status = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"fuzz {self.name}: {self.count} requests in {seconds:.1f} s (seed {SEED}) - "
            + by_status
        )

    def check(self, record: Any) -> None:
        print(self.report())
        record(f"fuzz_{self.name}", self.report())
        assert not self.failures, (
            f"{len(self.failures)} of {self.count} requests got a 5xx, no answer or an error "
            f"(seed {SEED}):\n" + "\n".join(self.failures[:25])
        )
        assert time.monotonic() - self.started < BUDGET, self.report()


def site_of(name: str, html: str, client: AsgiClient, pages: list[str]) -> Site:
    """What the page a normal visitor got shows: its conversation, controls, kept signals."""
    html = html.replace("&#34;", '"').replace("&#39;", "'")
    match = re.search(r"/_parlour/sse/([\w-]+)", html)
    assert match, f"{name}: no stream in the shell"
    cid = match.group(1)
    events = sorted(set(re.findall(rf"/_parlour/event/{cid}/([\w-]+)/([\w-]+)", html)))
    signals = sorted(set(re.findall(r"data-bind:([\w.-]+?)__case", html)))
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return Site(name, pages, cid, events, signals, cookie)


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Bad requests are refused in one line each: nothing may log a traceback meanwhile."""
    caplog.set_level(logging.INFO)
    yield
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, "logged while fuzzing:\n" + "\n".join(
        f"{r.levelname} {r.name}: {r.getMessage()[:300]}" for r in tracebacks[:10]
    )
    lines = [r for r in caplog.records if r.name == "parlour" and "\n" in r.getMessage()]
    assert not lines, [r.getMessage()[:200] for r in lines[:5]]


# -- in-process: the examples -----------------------------------------------------------------


@pytest.fixture
async def example(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, Any]]:
    """The app of a private copy of the example, closed after the test (AsgiClient runs no
    lifespan, and a closed app is closed for good: no other test may be handed it)."""
    monkeypatch.setenv("PARLOUR_SECRET", "fuzz-test-secret")  # leave the repo's .parlour/ be
    monkeypatch.delenv("PARLOUR_DATASTAR_JS", raising=False)
    app = private_example(request.param).app
    yield request.param, app
    await app.close()


@pytest.mark.parametrize("example", EXAMPLES, indirect=True)
async def test_no_request_to_an_example_gets_a_5xx_or_hangs(
    example: tuple[str, Any], no_tracebacks: None, record_property: Any
) -> None:
    name, app = example
    client = AsgiClient(app)
    shell = await client.get("/")
    assert shell.status == 200
    site = site_of(name, shell.text, client, list(app.pages))
    assert site.events, f"{name}: no controls on the page"
    hostile = Hostile(random.Random(f"{SEED}:{name}"), site)
    tally = Tally(name)
    for _ in range(PER_EXAMPLE.get(name, TICKER)):
        request = hostile.next()
        tally.add(request, await send_asgi(app, request, timeout=REQUEST_TIMEOUT))
    tally.check(record_property)
    await still_serves_a_visitor(app)


async def still_serves_a_visitor(app: Any, runtime: Any = None) -> None:
    """A new visitor gets the page and its stream, and their first control's click (or
    submit) is answered 204 with the update on the stream (the page settles on it)."""
    async with Page(AsgiClient(app), runtime=runtime) as page:
        await page.open("/")
        assert page.streaming
        for kind in ("click", "submit"):
            for element in page.all("*"):
                expression = page.document.handler(element, kind)
                if expression and page.actions(element, kind):
                    response = await page.run(expression)  # runs it, then settles
                    assert response is not None
                    assert response.status == 204, response
                    assert page.streaming
                    return
        raise AssertionError(f"no control to click:\n{page.outline()}")


# -- in-process: the console ------------------------------------------------------------------


@pytest.fixture
async def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Console]:
    monkeypatch.delenv("PARLOUR_CONSOLE_TOKEN", raising=False)
    console = Console(
        store="memory", journal="memory", secret="fuzz-secret", tick=3600, state_dir=tmp_path
    )
    await console.start()
    try:
        yield console
    finally:
        await console.close()


async def test_no_request_to_the_console_gets_a_5xx_or_hangs(
    console: Console, no_tracebacks: None, record_property: Any
) -> None:
    client = AsgiClient(console)
    asked = await client.post(
        "/api/questions", json={"agent": "fuzz", "question": "Deploy?", "options": ["y", "n"]}
    )
    assert asked.status == 201, asked.text
    shell = await client.get("/")
    assert shell.status == 200, shell.text
    pages = ["/", "/status", "/config", "/projector", "/mobile"]
    site = site_of("console", shell.text, client, pages)
    site.api = True
    site.question = str(json_of(asked.body)["id"])
    site.static.append("../console.css")
    hostile = Hostile(random.Random(f"{SEED}:console"), site)
    tally = Tally("console")
    for _ in range(CONSOLE_REQUESTS):
        request = hostile.next()
        tally.add(request, await send_asgi(console, request, timeout=REQUEST_TIMEOUT))
    tally.check(record_property)
    # Afterwards a person and a program are served as before.
    await still_serves_a_visitor(console, console.pages.runtime)
    published = await client.post("/api/events", json={"topic": "agent.started", "source": "a"})
    assert published.status == 202, published.text
    assert (await client.get("/api/snapshot")).status == 200


def json_of(body: bytes) -> dict[str, Any]:
    import json

    value = json.loads(body)
    assert isinstance(value, dict)
    return value  # pyright: ignore[reportUnknownVariableType]


# -- a real server -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """`parlour run examples.counter:app` on 127.0.0.1, stopped (by its pid) afterwards."""
    port = _free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "PARLOUR_SECRET": "fuzz-test-secret"}
    env.pop("PARLOUR_DATASTAR_JS", None)
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
                "--log-level",
                "info",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        yield port, log
        assert proc.poll() is None, "the server died:\n" + log.read_text()[-3000:]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_a_real_server_survives_hostile_bytes_and_still_counts_clicks(
    server: tuple[int, Path], record_property: Any
) -> None:
    port, log = server
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        shell = await http.get("/")
        assert shell.status_code == 200
        site = Site(
            "server",
            ["/"],
            *_page_of(shell.text),
            cookie="; ".join(f"{k}={v}" for k, v in http.cookies.items()),
        )
    hostile = Hostile(random.Random(f"{SEED}:server"), site)
    tally = Tally("uvicorn")
    for _ in range(SOCKET_REQUESTS):
        request = hostile.next()
        request.headers = [
            (k, b"127.0.0.1" if k == b"host" and v == b"testserver" else v)
            for k, v in request.headers
            if b"\r" not in v and b"\n" not in v and b"\x00" not in v
        ]
        tally.add(
            request, await send_socket(port, request, timeout=REQUEST_TIMEOUT), socket_level=True
        )
    for data in RAW_GARBAGE:
        outcome = await send_raw(port, data, timeout=REQUEST_TIMEOUT)
        tally.add(Request("RAW", repr(data[:80]), kind="raw"), outcome, socket_level=True)
    tally.check(record_property)
    await _count_a_click(port)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert "Exception in ASGI" not in text, text[-3000:]


def _page_of(html: str) -> tuple[str, list[tuple[str, str]], list[str]]:
    html = html.replace("&#34;", '"').replace("&#39;", "'")
    match = re.search(r"/_parlour/sse/([\w-]+)", html)
    assert match
    cid = match.group(1)
    events = sorted(set(re.findall(rf"/_parlour/event/{cid}/([\w-]+)/([\w-]+)", html)))
    return cid, events, []


async def _count_a_click(port: int) -> None:
    """A visitor's round trip over real sockets: page, stream, click, the patch with 1."""
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http,
    ):
        shell = await http.get("/")
        assert shell.status_code == 200
        cid, events, _ = _page_of(shell.text)
        iid = next(i for i, name in events if name == "inc")
        async with http.stream("GET", f"/_parlour/sse/{cid}") as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()

            async def next_event() -> str:
                text = ""
                async with asyncio.timeout(5):
                    async for line in lines:
                        if not line:
                            if text:
                                return text
                            continue
                        text += line + "\n"
                raise AssertionError("the stream ended")

            await next_event()  # the first render
            clicked = await http.post(f"/_parlour/event/{cid}/{iid}/inc")
            assert clicked.status_code == 204
            patch = await next_event()
            assert re.search(r">\s*1\s*<", patch), patch
