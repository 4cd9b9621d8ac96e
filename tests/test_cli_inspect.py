"""`parlour inspect`: a store's conversations, read while their server is stopped; and
`parlour run --dev`, which turns the live inspector on."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parlour.cli import main
from parlour.core import component as registry
from parlour.core.codec import encode
from parlour.stores import FileStore, SqliteStore, open_store
from parlour.stores.protocol import ConversationStore
from parlour.testing import AsgiClient, Harness
from parlour.web.app import App
from tests.support.nats import start_nats_server

COMPONENTS = """
from htpy import div, span, button
from parlour import Component, event

class Counter(Component):
    count: int = 0

    def render(self):
        return div(self.root)[span(".count")[self.count], button(self.on("click", "inc"))["+"]]

    @event
    def inc(self):
        self.count += 1

app = None
"""


@pytest.fixture
def components(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module of components in the current directory (where `parlour inspect` looks)."""
    name = f"inspect_probe_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(COMPONENTS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARLOUR_STORE", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def counter_class(module: str) -> Any:
    __import__(module)
    return sys.modules[module].Counter


async def fill(store: ConversationStore, root: Any, clicks: list[int]) -> list[str]:
    """Conversations made the way a server makes them: one tab per entry, clicked N times."""
    app = App(root, secret="inspect-test", store=store)
    cids: list[str] = []
    for count in clicks:
        client = AsgiClient(app)
        shell = await client.get("/")
        found = re.search(r"/_parlour/sse/([A-Za-z0-9_-]+)", shell.text)
        assert found is not None
        cid = found.group(1)
        for _ in range(count):
            assert (await client.post(f"/_parlour/event/{cid}/p1/inc")).status == 204
        cids.append(cid)
    await app.runtime.close()  # the server stops; its store stays
    return cids


def inspect(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["inspect", *args]) == 0
    return capsys.readouterr().out


def test_lists_the_conversations_of_the_default_sqlite_store(
    components: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SqliteStore(".parlour/state.sqlite")
    cids = asyncio.run(fill(store, counter_class(components), [3, 1]))

    out = inspect(capsys)

    lines = out.splitlines()
    assert lines[0].split() == ["ID", "ROOT", "CREATED", "TOUCHED", "SIZE", "HISTORY"]
    rows = {line.split()[0]: line for line in lines[1:-1]}
    assert set(rows) == set(cids)
    assert f"{components}.Counter" in rows[cids[0]]
    assert rows[cids[0]].endswith("  3")
    assert rows[cids[1]].endswith("  1")
    assert lines[-1] == "2 conversation(s) in sqlite:.parlour/state.sqlite"


def test_lists_as_json_for_machines(components: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = SqliteStore(".parlour/state.sqlite")
    (cid,) = asyncio.run(fill(store, counter_class(components), [2]))

    (row,) = json.loads(inspect(capsys, "--json"))

    assert row["id"] == cid
    assert row["root"] == f"{components}.Counter"
    assert row["history"] == 2
    assert row["size"] > 0
    assert row["created"] <= row["touched"]
    assert row["ended"] is False


def test_shows_one_conversation_as_a_tree_with_state_and_its_history(
    components: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(".parlour/state.sqlite")
    (cid,) = asyncio.run(fill(store, counter_class(components), [3]))
    # As in a fresh command, the component is not imported: it is found by its stored name.
    sys.modules.pop(components)
    monkeypatch.delitem(registry._registry, f"{components}.Counter")  # pyright: ignore[reportPrivateUsage]

    out = inspect(capsys, cid)

    assert f"conversation {cid} in sqlite:.parlour/state.sqlite" in out
    assert "  history   3 snapshot(s): steps 0 to 3 (now), at most 50 kept" in out
    assert f"  Counter p1  (frame 0, top; {components}.Counter)\n      count = 3\n" in out
    assert "  step 1         p1.count: 0 -> 1\n" in out
    assert "  step 3 (now)   p1.count: 2 -> 3\n" in out
    assert f"{components}.Counter" in registry.registered()


def test_shows_one_conversation_as_json(
    components: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SqliteStore(".parlour/state.sqlite")
    (cid,) = asyncio.run(fill(store, counter_class(components), [1]))

    data = json.loads(inspect(capsys, cid, "--json"))

    assert data["id"] == cid
    assert data["tree"][0]["state"] == {"count": 1}
    assert [s["depth"] for s in data["steps"]] == [0, 1]


def test_reads_a_file_store(components: str, capsys: pytest.CaptureFixture[str]) -> None:
    (cid,) = asyncio.run(fill(FileStore("convs"), counter_class(components), [2]))

    assert cid in inspect(capsys, "--store", "file:convs")
    assert "count = 2" in inspect(capsys, cid, "--store", "file:convs")


async def save_to(spec: str, cid: str, data: bytes) -> None:
    store = open_store(spec)
    try:
        await store.save(cid, data, touched=1.0)
    finally:
        await store.close()


def test_reads_a_nats_kv_store(
    components: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    conversation = Harness(counter_class(components)(), cid="kv1").conversation
    for server in start_nats_server(tmp_path):
        spec = f"{server.url}/inspect-test"
        asyncio.run(save_to(spec, "kv1", encode(conversation)))

        assert "kv1" in inspect(capsys, "--store", spec)
        assert "count = 0" in inspect(capsys, "kv1", "--store", spec)


def test_without_the_components_it_shows_the_stored_state(
    components: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(".parlour/state.sqlite")
    (cid,) = asyncio.run(fill(store, counter_class(components), [2]))
    (Path.cwd() / f"{components}.py").unlink()  # the app is not here any more
    sys.modules.pop(components)
    monkeypatch.delitem(registry._registry, f"{components}.Counter")  # pyright: ignore[reportPrivateUsage]

    out = inspect(capsys, cid)

    assert f"cannot find the component(s) {components}.Counter" in out
    assert "--app MODULE" in out
    assert "count = 2" in out


def test_a_memory_store_is_meaningless_and_says_so(components: str) -> None:
    with pytest.raises(SystemExit, match="a memory store is meaningless here"):
        main(["inspect", "--store", "memory"])


def test_a_store_that_does_not_exist_is_reported_not_created(components: str) -> None:
    with pytest.raises(SystemExit, match=re.escape("no SQLite store at .parlour/state.sqlite")):
        main(["inspect"])
    assert not Path(".parlour").exists()
    with pytest.raises(SystemExit, match="no file store at"):
        main(["inspect", "--store", "file:nowhere"])


def test_an_unknown_conversation_is_reported(
    components: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(fill(SqliteStore(".parlour/state.sqlite"), counter_class(components), [0]))

    with pytest.raises(SystemExit, match="no conversation 'nobody'"):
        main(["inspect", "nobody"])


def test_an_empty_store_says_it_is_empty(
    components: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(SqliteStore(".parlour/state.sqlite").close())

    assert inspect(capsys) == "no conversations in sqlite:.parlour/state.sqlite\n"


# -- parlour run --dev ---------------------------------------------------------------------


class FakeUvicorn:
    def __init__(self) -> None:
        self.apps: list[Any] = []

    def __call__(self, app: Any, **options: Any) -> None:
        self.apps.append(app)


def test_run_dev_turns_the_inspector_on(
    components: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served = FakeUvicorn()
    monkeypatch.setattr("uvicorn.run", served)
    module = sys.modules.get(components) or __import__(components)
    module.app = App(module.Counter, secret="inspect-test")

    assert main(["run", f"{components}:app", "--store", "memory", "--dev"]) == 0

    (app,) = served.apps
    assert app.inspector is not None
    assert "the inspector is on (Alt+Shift+D" in capsys.readouterr().err


def test_run_dev_needs_a_parlour_app(components: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("uvicorn.run", FakeUvicorn())
    __import__(components)

    with pytest.raises(SystemExit, match="--dev needs a parlour App"):
        main(["run", f"{components}:app", "--dev"])
