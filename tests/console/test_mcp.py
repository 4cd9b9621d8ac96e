"""The console over MCP, driven by the official SDK's own client (streamable HTTP) against the
console served by uvicorn on 127.0.0.1: `ask_human` blocks until a person answers through
the API and returns that answer; `report` publishes events; /mcp is guarded like /api."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from parlour.console import AsyncClient
from parlour.console.app import Console

TOKEN = "mcp-test-token"
WAIT = 10.0


@dataclass
class Served:
    url: str
    console: Console


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    state = tmp_path_factory.mktemp("mcp-console")
    console = Console(
        store="memory", journal="memory", secret="s", token=TOKEN, tick=3600, state_dir=state
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        console, log_level="warning", lifespan="on", http="h11", ws="none",
        timeout_graceful_shutdown=2,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "the console did not start"
    try:
        yield Served(f"http://127.0.0.1:{port}", console)
    finally:
        server.should_exit = True
        thread.join(WAIT)
        sock.close()
        assert not thread.is_alive(), "the server did not stop"


@contextlib.asynccontextmanager
async def mcp_session(url: str, token: str | None = TOKEN) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def api(served: Served) -> AsyncClient:
    return AsyncClient(served.url, token=TOKEN)


async def pending_question(client: AsyncClient, text: str) -> dict[str, Any]:
    """The pending question with `text`, once the console has it (bounded)."""
    async with asyncio.timeout(WAIT):
        while True:
            for question in await client.questions("pending"):
                if question["question"] == text:
                    return question
            await asyncio.sleep(0.01)


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        data: Any = result.structured_content
        return data.get("result", data) if set(data) == {"result"} else data
    return json.loads(result.content[0].text)


async def test_the_console_offers_ask_human_and_report(served: Served) -> None:
    async with mcp_session(served.url) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(tools) >= {"ask_human", "report"}
    params = tools["ask_human"].input_schema["properties"]
    for name in ("question", "options", "multiple", "kind", "schema", "timeout", "default"):
        assert name in params, name
    assert tools["ask_human"].input_schema["required"] == ["question"]


async def test_ask_human_returns_the_answer_a_person_gives_through_the_api(
    served: Served,
) -> None:
    client = api(served)
    async with mcp_session(served.url) as session:
        started = time.perf_counter()
        call = asyncio.create_task(
            session.call_tool(
                "ask_human",
                {"question": "Ship 1.4 to prod?", "options": ["yes", "no"], "agent": "deployer"},
            )
        )
        question = await pending_question(client, "Ship 1.4 to prod?")
        assert question["agent"] == "deployer"
        assert not call.done()  # it blocks until someone answers
        asked = time.perf_counter()
        await client.answer(question["id"], "yes")
        answered = time.perf_counter()
        result = structured(await asyncio.wait_for(call, WAIT))
        returned = time.perf_counter()
    assert result == {
        "id": question["id"],
        "answer": "yes",
        "defaulted": False,
        "answered_by": "api",
    }
    print(
        f"\nMCP round trip: ask -> card {1000 * (asked - started):.1f} ms, "
        f"answer POST {1000 * (answered - asked):.1f} ms, "
        f"answered -> tool returns {1000 * (returned - answered):.1f} ms, "
        f"whole {1000 * (returned - started):.1f} ms"
    )


async def test_ask_human_takes_typed_questions_and_returns_typed_answers(served: Served) -> None:
    client = api(served)
    schema = {
        "type": "object",
        "properties": {"replicas": {"type": "integer", "minimum": 1}, "note": {"type": "string"}},
        "required": ["replicas"],
    }
    async with mcp_session(served.url) as session:
        call = asyncio.create_task(
            session.call_tool("ask_human", {"question": "Scale web to?", "schema": schema})
        )
        question = await pending_question(client, "Scale web to?")
        assert question["kind"] == "form"
        await client.answer(question["id"], {"replicas": 3})
        result = structured(await asyncio.wait_for(call, WAIT))
    assert result["answer"] == {"replicas": 3}


async def test_a_default_answers_through_mcp_when_nobody_does(served: Served) -> None:
    async with mcp_session(served.url) as session:
        result = structured(
            await asyncio.wait_for(
                session.call_tool(
                    "ask_human",
                    {
                        "question": "Proceed without review?",
                        "kind": "approve",
                        "timeout": 0.2,
                        "default": {"approved": False, "reason": "nobody reviewed"},
                    },
                ),
                WAIT,
            )
        )
    assert result["answer"] == {"approved": False, "reason": "nobody reviewed"}
    assert result["defaulted"] is True
    assert result["answered_by"] is None


async def test_a_cancelled_or_refused_question_is_a_tool_error(served: Served) -> None:
    client = api(served)
    async with mcp_session(served.url) as session:
        call = asyncio.create_task(session.call_tool("ask_human", {"question": "Cancel me?"}))
        question = await pending_question(client, "Cancel me?")
        await client.cancel(question["id"])
        cancelled = await asyncio.wait_for(call, WAIT)
        assert cancelled.is_error
        assert "cancelled" in cancelled.content[0].text  # type: ignore[union-attr]
        refused = await session.call_tool(
            "ask_human", {"question": "Which?", "options": ["a", "a"]}
        )
        assert refused.is_error
        assert "options: expected a non-empty list of distinct" in refused.content[0].text  # type: ignore[union-attr]


async def test_report_publishes_progress_status_and_results(served: Served) -> None:
    async with mcp_session(served.url) as session:
        for arguments in (
            {"kind": "status", "message": "indexing", "agent": "indexer"},
            {"kind": "progress", "message": "half way", "agent": "indexer"},
            {"kind": "result", "message": "indexed 42 files", "agent": "indexer"},
        ):
            assert structured(await session.call_tool("report", arguments))["id"] > 0
    snapshot = await api(served).snapshot()
    [agent] = [a for a in snapshot["agents"] if a["name"] == "indexer"]
    assert agent["state"] == "completed"
    assert agent["detail"] == "indexed 42 files"
    assert any(r["summary"] == "indexed 42 files" for r in snapshot["results"])


def post_mcp(url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    request = urllib.request.Request(
        f"{url}/mcp",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json", "accept": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status, {}
    except urllib.error.HTTPError as exc:
        with exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw.startswith(b"{") else {"text": raw.decode()}


@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        ({}, 401, "missing or wrong token"),
        ({"authorization": "Bearer wrong"}, 401, "missing or wrong token"),
        (
            {"authorization": f"Bearer {TOKEN}", "origin": "https://evil.example"},
            403,
            "cross-site request refused",
        ),
        (
            {"authorization": f"Bearer {TOKEN}", "sec-fetch-site": "cross-site"},
            403,
            "cross-site request refused",
        ),
    ],
)
def test_mcp_is_guarded_like_the_api(
    served: Served, headers: dict[str, str], status: int, words: str
) -> None:
    code, body = post_mcp(served.url, headers)
    assert code == status
    assert words in body["error"]


def test_mcp_answers_post_only(served: Served) -> None:
    for method in ("GET", "DELETE"):
        request = urllib.request.Request(
            f"{served.url}/mcp",
            method=method,
            headers={"authorization": f"Bearer {TOKEN}", "accept": "text/event-stream"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=WAIT)
        with refused.value as response:
            assert response.code == 405
            assert response.headers["allow"] == "POST"
            assert json.loads(response.read())["error"].startswith("/mcp answers POST")


def test_mcp_wants_a_json_body_and_says_so_in_json(served: Served) -> None:
    code, body = post_mcp(
        served.url, {"authorization": f"Bearer {TOKEN}", "content-type": "text/plain"}
    )
    assert code == 415
    assert body["error"].startswith("expected a JSON-RPC body with 'Content-Type: application")


def test_mcp_refuses_a_host_that_is_not_allowed(served: Served) -> None:
    code, _ = post_mcp(served.url, {"authorization": f"Bearer {TOKEN}", "host": "evil.example"})
    assert code == 400


async def test_the_sdk_client_without_the_token_cannot_connect(served: Served) -> None:
    # The SDK turns the 401 into an error of its initialize request, in a task group.
    with pytest.raises(BaseExceptionGroup) as caught:
        async with asyncio.timeout(WAIT), mcp_session(served.url, token=None):
            pytest.fail("connected without the token")
    assert "MCPError" in repr(caught.value)


async def test_mcp_answers_503_until_the_console_has_started(tmp_path: Path) -> None:
    # The SDK's server is built when the console starts.
    console = Console(store="memory", journal="memory", secret="s", state_dir=tmp_path)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json")]
    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": headers}
    await console.mcp(scope, receive, send)
    assert sent[0]["status"] == 503
