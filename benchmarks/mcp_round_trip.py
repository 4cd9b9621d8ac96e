"""The console's MCP round trip: an agent calls `ask_human`, a person answers through the API,
the tool returns. Serves a console with uvicorn on 127.0.0.1 and drives it with the `mcp`
SDK's own client (one session, N questions in a row).

    .venv/bin/python benchmarks/mcp_round_trip.py [--rounds 30]

Prints the median and 90th percentile of the whole round trip (call -> the card exists ->
answer POSTed -> the tool's result) and of its last leg (the answer's POST returned -> the
tool returned), which is what a waiting agent feels after a person clicks.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import statistics
import tempfile
import threading
import time

import uvicorn
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from parlour.console import AsyncClient
from parlour.console.app import Console

TOKEN = "bench-token"


async def measure(url: str, rounds: int) -> tuple[list[float], list[float]]:
    api = AsyncClient(url, token=TOKEN)
    whole: list[float] = []
    last_leg: list[float] = []
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        for n in range(rounds):
            started = time.perf_counter()
            call = asyncio.create_task(
                session.call_tool("ask_human", {"question": f"q{n}?", "options": ["yes", "no"]})
            )
            for _ in range(5000):  # until the card exists (at most 10 s)
                if pending := await api.questions("pending"):
                    break
                await asyncio.sleep(0.002)
            else:
                raise SystemExit("the question never became pending")
            await api.answer(pending[0]["id"], "yes")
            answered = time.perf_counter()
            result = await call
            returned = time.perf_counter()
            if result.is_error:
                raise SystemExit(f"ask_human failed: {result.content}")
            whole.append(returned - started)
            last_leg.append(returned - answered)
    return whole, last_leg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    console = Console(
        store="memory",
        journal="memory",
        secret="bench",
        token=TOKEN,
        tick=3600,
        state_dir=tempfile.mkdtemp(),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(console, log_level="warning", lifespan="on", http="h11", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(1000):
        if server.started:
            break
        time.sleep(0.01)
    try:
        whole, last_leg = asyncio.run(measure(url, args.rounds))
    finally:
        server.should_exit = True
        thread.join(5)

    def ms(values: list[float]) -> str:
        ordered = sorted(values)
        p90 = ordered[int(0.9 * (len(ordered) - 1))]
        return f"median {1000 * statistics.median(values):.1f} ms, p90 {1000 * p90:.1f} ms"

    print(f"MCP ask_human round trip over {args.rounds} questions: {ms(whole)}")
    print(f"answer POST returned -> the tool returned: {ms(last_leg)}")


if __name__ == "__main__":
    main()
