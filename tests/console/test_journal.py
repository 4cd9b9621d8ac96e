"""The console journal: idempotent appends, id-ordered reads after a cursor, bounded
retention, and (SQLite) persistence across reopening. Both journals keep one contract."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from parlour.bus import Event
from parlour.console.journal import (
    DEFAULT_KEEP,
    Journal,
    MemoryJournal,
    SqliteJournal,
    open_journal,
)

Opener = Callable[..., Journal]


def event(n: int, topic: str = "agent.started", payload: Any = None) -> Event:
    return Event(id=n, topic=topic, time=1_000.0 + n, source=f"s{n}", payload=payload)


@pytest.fixture(params=["memory", "sqlite"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    def memory(keep: int = DEFAULT_KEEP) -> Journal:
        return MemoryJournal(keep=keep)

    def sqlite(keep: int = DEFAULT_KEEP) -> Journal:
        return SqliteJournal(tmp_path / "journal.sqlite", keep=keep)

    return memory if request.param == "memory" else sqlite


@pytest.fixture
async def journal(opener: Opener) -> AsyncIterator[Journal]:
    journal = opener()
    yield journal
    await journal.close()


async def test_an_empty_journal(journal: Journal) -> None:
    assert journal.last_id() == 0
    assert await journal.read() == []
    assert await journal.count() == 0
    assert journal.keep == DEFAULT_KEEP


async def test_append_then_read_in_id_order_after_a_cursor(journal: Journal) -> None:
    events = [event(n, payload={"n": n, "list": [1, "two"], "none": None}) for n in range(1, 8)]
    for e in events:
        await journal.append(e)
    assert await journal.read() == events
    assert await journal.read(after=3) == events[3:]
    assert await journal.read(after=3, limit=2) == events[3:5]
    assert await journal.read(after=7) == []
    assert await journal.read(limit=0) == []
    assert journal.last_id() == 7


async def test_out_of_order_appends_read_back_in_id_order(journal: Journal) -> None:
    await journal.extend([event(5), event(2), event(9)])
    await journal.append(event(1))
    assert [e.id for e in await journal.read()] == [1, 2, 5, 9]
    assert journal.last_id() == 9


async def test_append_is_idempotent_on_the_id(journal: Journal) -> None:
    first = event(1, payload="original")
    await journal.append(first)
    await journal.append(event(1, payload="impostor"))
    await journal.extend([event(1), event(2), event(2)])
    assert await journal.read() == [first, event(2)]
    assert await journal.count() == 2


async def test_read_filters_by_topic_pattern(journal: Journal) -> None:
    # enough non-matching rows between matches that a filtered read needs several chunks
    events = [
        event(n, "question.asked" if n % 300 == 0 else "tool.call", {"n": n})
        for n in range(1, 1_501)
    ]
    await journal.extend(events)
    asked = await journal.read(pattern="question.*")
    assert [e.id for e in asked] == [300, 600, 900, 1200, 1500]
    assert [e.id for e in await journal.read(after=300, limit=2, pattern="question.>")] == [
        600,
        900,
    ]
    assert len(await journal.read(limit=1000, pattern="tool.call")) == 1000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"after": -1}, "expected an event id >= 0"),
        ({"limit": -1}, "expected a count >= 0"),
        ({"pattern": "a..b"}, "invalid pattern"),
    ],
)
async def test_read_refuses_bad_arguments(
    journal: Journal, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await journal.read(**kwargs)


async def test_retention_keeps_the_newest(opener: Opener) -> None:
    journal = opener(keep=5)
    for n in range(1, 13):
        await journal.append(event(n))
    assert [e.id for e in await journal.read()] == [8, 9, 10, 11, 12]
    assert await journal.count() == 5
    assert journal.last_id() == 12
    await journal.extend([event(n) for n in range(13, 20)])
    assert [e.id for e in await journal.read()] == [15, 16, 17, 18, 19]
    await journal.close()


@pytest.mark.parametrize("keep", [0, -1, 2.5, True])
def test_keep_must_be_a_whole_number_from_1(opener: Opener, keep: Any) -> None:
    with pytest.raises(ValueError, match=r"expected a whole number >= 1"):
        opener(keep=keep)


async def test_a_closed_journal_refuses_work(opener: Opener) -> None:
    journal = opener()
    await journal.close()
    await journal.close()  # idempotent
    with pytest.raises(RuntimeError, match="is closed"):
        await journal.append(event(1))
    with pytest.raises(RuntimeError, match="is closed"):
        await journal.read()


async def test_sqlite_keeps_events_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "console.sqlite"  # parents are created
    journal = SqliteJournal(path, keep=4)
    events = [event(n, payload={"n": n}) for n in range(1, 6)]
    await journal.extend(events)
    await journal.close()

    reopened = SqliteJournal(path, keep=4)
    assert reopened.last_id() == 5  # known at once, before any await
    assert await reopened.read() == events[1:]
    await reopened.append(event(6))
    assert [e.id for e in await reopened.read()] == [3, 4, 5, 6]  # retention continues
    await reopened.close()
    assert path.exists()


async def test_sqlite_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not SQLite\n" * 100)
    with pytest.raises(Exception, match="not a database") as info:
        SqliteJournal(path)
    assert any("console journal" in note for note in getattr(info.value, "__notes__", []))


async def test_open_journal_by_spec(tmp_path: Path) -> None:
    memory = open_journal("memory")
    assert isinstance(memory, MemoryJournal)
    assert memory.describe() == "memory"
    for spec in (str(tmp_path / "a.sqlite"), f"sqlite:{tmp_path / 'b.sqlite'}", tmp_path / "c"):
        journal = open_journal(spec, keep=10)
        assert isinstance(journal, SqliteJournal)
        assert journal.keep == 10
        assert journal.describe().startswith("sqlite:")
        await journal.close()
    with pytest.raises(ValueError, match="expected 'memory' or the path"):
        open_journal("sqlite:")
