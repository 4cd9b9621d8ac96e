"""parlour.console: an operations console where agents report events and ask questions.

    from parlour.console import Client
    client = Client("http://127.0.0.1:8000")
    answer = client.ask("deployer", "Ship 1.4 to prod?", options=["yes", "no"])

Modules, one concept each:

    model       the state and its pure fold (the only writer of the state)
    questions   the questions part of that state: their fold rules, answer validity
    payloads    reading event payloads leniently; `errors` the console's errors
    journal     the event log, SQLite or memory
    hub         asyncio: state + journal + bus subscription, the fold's one caller
    asking      asking, answering at most once, expiry, long polls (part of the hub)
    launcher    the run launcher (part of the hub)
    api         the HTTP API, Starlette
    client      a synchronous client, standard library only
    async_client  the same for asyncio (asyncio streams), standard library only
    client_core   what both clients share: building requests, reading answers
    answers     the kinds of question, their forms, and the answers each takes
    bodies      the API's request and response bodies (msgspec Structs)
    openapi     /api/openapi.json and /api/docs, generated from `bodies`
    cards       the question cards and a page's answer
    mcp         the Model Context Protocol at /mcp: ask_human and report
    access      who may use it: the token, the users, the signed sign-in cookie
    users       the named people: scrypt-hashed passwords in a 0600 file, `console user`
    signin      the sign-in page, sign-out, the guard in front of the pages
    origin      refusing requests another site's page makes a browser send
    app         the `Console` ASGI app: pages, shared panels, API, ticker
    pages, panels, status, figures    what the pages show
    demo        the simulated agent swarm of `parlour console --demo`

Everything here is loaded on first use, so `import parlour.console.client` (an agent's
only need) loads neither Starlette nor asyncio nor the bus.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parlour.console.async_client import AsyncClient as AsyncClient
    from parlour.console.client import Answer as Answer
    from parlour.console.client import Client as Client
    from parlour.console.client import ClientError as ClientError
    from parlour.console.client import QuestionCancelled as QuestionCancelled
    from parlour.console.errors import ConsoleError as ConsoleError
    from parlour.console.errors import InvalidAnswer as InvalidAnswer
    from parlour.console.errors import QuestionClosed as QuestionClosed
    from parlour.console.errors import QuestionNotFound as QuestionNotFound
    from parlour.console.hub import Hub as Hub
    from parlour.console.journal import Journal as Journal
    from parlour.console.journal import MemoryJournal as MemoryJournal
    from parlour.console.journal import SqliteJournal as SqliteJournal
    from parlour.console.journal import open_journal as open_journal
    from parlour.console.model import ConsoleState as ConsoleState
    from parlour.console.model import Settings as Settings
    from parlour.console.questions import Question as Question

__all__ = [
    "Answer",
    "AsyncClient",
    "Client",
    "ClientError",
    "ConsoleError",
    "ConsoleState",
    "Hub",
    "InvalidAnswer",
    "Journal",
    "MemoryJournal",
    "Question",
    "QuestionCancelled",
    "QuestionClosed",
    "QuestionNotFound",
    "Settings",
    "SqliteJournal",
    "open_journal",
]

_HOMES = {
    "Answer": "client",
    "AsyncClient": "async_client",
    "QuestionCancelled": "client",
    "Client": "client",
    "ClientError": "client",
    "Hub": "hub",
    "Journal": "journal",
    "MemoryJournal": "journal",
    "SqliteJournal": "journal",
    "open_journal": "journal",
    "ConsoleError": "errors",
    "ConsoleState": "model",
    "InvalidAnswer": "errors",
    "Question": "questions",
    "QuestionClosed": "errors",
    "QuestionNotFound": "errors",
    "Settings": "model",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
