"""parlour.console: an operations console where agents report events and ask questions.

    from parlour.console import Client
    client = Client("http://127.0.0.1:8000")
    answer = client.ask("deployer", "Ship 1.4 to prod?", options=["yes", "no"])

Modules, one concept each: `model` (the state and its pure fold), `journal` (the event
log, SQLite or memory), `hub` (asyncio: state + journal + bus + questions), `api` (the
HTTP API, Starlette), `client` (a synchronous client, standard library only); the pages,
panels and the `Console` app are in `app`, `pages`, `panels`, `status`.

Everything here is loaded on first use, so `import parlour.console.client` (an agent's
only need) loads neither Starlette nor asyncio nor the bus.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parlour.console.client import Client as Client
    from parlour.console.client import ClientError as ClientError
    from parlour.console.hub import Hub as Hub
    from parlour.console.journal import Journal as Journal
    from parlour.console.journal import MemoryJournal as MemoryJournal
    from parlour.console.journal import SqliteJournal as SqliteJournal
    from parlour.console.journal import open_journal as open_journal
    from parlour.console.model import ConsoleError as ConsoleError
    from parlour.console.model import ConsoleState as ConsoleState
    from parlour.console.model import InvalidAnswer as InvalidAnswer
    from parlour.console.model import Question as Question
    from parlour.console.model import QuestionClosed as QuestionClosed
    from parlour.console.model import QuestionNotFound as QuestionNotFound
    from parlour.console.model import Settings as Settings

__all__ = [
    "Client",
    "ClientError",
    "ConsoleError",
    "ConsoleState",
    "Hub",
    "InvalidAnswer",
    "Journal",
    "MemoryJournal",
    "Question",
    "QuestionClosed",
    "QuestionNotFound",
    "Settings",
    "SqliteJournal",
    "open_journal",
]

_HOMES = {
    "Client": "client",
    "ClientError": "client",
    "Hub": "hub",
    "Journal": "journal",
    "MemoryJournal": "journal",
    "SqliteJournal": "journal",
    "open_journal": "journal",
    "ConsoleError": "model",
    "ConsoleState": "model",
    "InvalidAnswer": "model",
    "Question": "model",
    "QuestionClosed": "model",
    "QuestionNotFound": "model",
    "Settings": "model",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
