"""`parlour.runtime.connection`: the bounded, coalescing outgoing queue of one stream."""

from __future__ import annotations

import asyncio

from parlour.core.fragments import Close, Elements, Redirect, Script, Signals
from parlour.runtime import Connection
from parlour.runtime.connection import Heartbeat


def morph(key: str, html: str = "") -> Elements:
    return Elements(html or f'<div id="{key}"></div>', None, "outer", key=key)


def full(html: str = "<div id='p1'></div>") -> Elements:
    return Elements(html, "#root", "inner", key="#root")


async def test_take_returns_everything_queued_in_order() -> None:
    conn = Connection("c")
    frags = [morph("p1"), Signals({"a": 1}), morph("p2"), Script("x()")]
    conn.push(frags)
    assert len(conn) == 4
    assert await conn.take(0) == frags
    assert len(conn) == 0
    assert conn.sent == 4


async def test_a_newer_patch_with_the_same_key_replaces_the_queued_one() -> None:
    conn = Connection("c")
    old, new = morph("p1", '<div id="p1">old</div>'), morph("p1", '<div id="p1">new</div>')
    conn.push([old])
    conn.push([new])
    assert await conn.take(0) == [new]
    assert conn.coalesced == 1


async def test_the_newest_patch_takes_the_newest_place() -> None:
    conn = Connection("c")
    a1, b, a2 = (
        morph("p1", '<div id="p1">1</div>'),
        morph("p2"),
        morph("p1", '<div id="p1">2</div>'),
    )
    conn.push([a1, b])
    conn.push([a2])
    assert await conn.take(0) == [b, a2]


async def test_patches_with_different_keys_or_no_key_are_all_kept() -> None:
    conn = Connection("c")
    unkeyed = Elements("<li>x</li>", "#list", "append", key=None)
    frags = [morph("p1"), morph("p2"), unkeyed, unkeyed]
    conn.push(frags)
    assert await conn.take(0) == frags
    assert conn.coalesced == 0


async def test_a_burst_of_patches_to_one_instance_leaves_one() -> None:
    conn = Connection("c")
    for n in range(70):
        conn.push([morph("p1", f'<div id="p1">{n}</div>')])
    assert await conn.take(0) == [morph("p1", '<div id="p1">69</div>')]
    assert conn.coalesced == 69


async def test_a_root_render_supersedes_queued_element_patches_but_keeps_the_rest() -> None:
    conn = Connection("c")
    signals, script, redirect = Signals({"n": 1}), Script("go()"), Redirect("/x")
    conn.push(
        [
            morph("p1"),
            signals,
            Elements("<li></li>", "#list", "append", key=None),
            script,
            morph("p2"),
            redirect,
        ]
    )
    root = full()
    conn.push([root])
    assert await conn.take(0) == [signals, script, redirect, root]
    assert conn.coalesced == 3


async def test_patches_after_a_root_render_are_kept_behind_it() -> None:
    conn = Connection("c")
    root, after = full(), morph("p1")
    conn.push([root, after])
    assert await conn.take(0) == [root, after]


async def test_a_newer_root_render_replaces_the_older() -> None:
    conn = Connection("c")
    conn.push([full("<div id='p1'>1</div>")])
    conn.push([full("<div id='p1'>2</div>")])
    assert await conn.take(0) == [full("<div id='p1'>2</div>")]


async def test_overflow_drops_page_patches_keeps_signals_and_marks_it_stale() -> None:
    conn = Connection("c", limit=3)
    patches = [Elements(f"<li>{n}</li>", "#log", "append") for n in range(3)]
    conn.push(patches)
    assert len(conn) == 3
    assert not conn.stale
    conn.push([Signals({"n": 3})])
    # The backlog of patches is replaced by one fresh full render; the signals still go out.
    assert conn.stale
    assert conn.coalesced == 3
    async with asyncio.timeout(1):
        assert await conn.take(10) == [Signals({"n": 3})]


async def test_a_single_push_over_the_limit_overflows_too() -> None:
    conn = Connection("c", limit=2)
    conn.push([Script(str(n)) for n in range(5)])
    assert conn.stale
    assert len(conn) == 0


async def test_coalescing_keeps_a_busy_queue_under_the_limit() -> None:
    conn = Connection("c", limit=5)
    for n in range(1000):
        conn.push([morph(f"p{n % 3}", f'<div id="p{n % 3}">{n}</div>')])
    assert not conn.stale
    assert len(conn) == 3


async def test_take_waits_until_the_timeout_and_answers_none() -> None:
    conn = Connection("c")
    assert await conn.take(0.01) is None
    assert conn.sent == 0


async def test_take_wakes_up_when_something_is_pushed() -> None:
    conn = Connection("c")
    waiting = asyncio.ensure_future(conn.take(10))
    await asyncio.sleep(0)
    assert not waiting.done()
    conn.push([Signals({"x": 1})])
    async with asyncio.timeout(1):
        assert await waiting == [Signals({"x": 1})]


async def test_close_ends_with_close_after_what_is_queued() -> None:
    conn = Connection("c")
    conn.push([morph("p1")])
    conn.close()
    assert conn.closed
    conn.push([morph("p2")])  # ignored once closed
    assert await conn.take(0) == [morph("p1"), Close()]
    async with asyncio.timeout(1):
        assert await conn.take(10) == []  # a closed queue never blocks


async def test_close_wakes_a_waiting_writer() -> None:
    conn = Connection("c")
    waiting = asyncio.ensure_future(conn.take(10))
    await asyncio.sleep(0)
    conn.close()
    async with asyncio.timeout(1):
        assert await waiting == [Close()]


async def test_event_id_names_the_newest_batch() -> None:
    conn = Connection("c")
    conn.epoch = "e1"
    conn.push([Signals({})], seq=4)
    assert conn.event_id == "e1.4"
    conn.push([Signals({})])  # no seq: unchanged
    assert conn.event_id == "e1.4"


def test_connections_have_distinct_ids_and_a_useful_repr() -> None:
    a, b = Connection("c"), Connection("c")
    assert a.id != b.id
    assert "cid='c'" in repr(a)
    assert "queued=0" in repr(a)


async def test_background_updates_wait_for_the_window_and_leave_as_one_batch() -> None:
    conn = Connection("c")
    conn.push([Elements("<p id='a'>1</p>", key="a")])
    taking = asyncio.create_task(conn.take(10, window=5))
    await asyncio.sleep(0)  # let take() start waiting inside its window
    assert not taking.done()
    for n in range(2, 101):  # a burst of background updates to the same element
        conn.push([Elements(f"<p id='a'>{n}</p>", key="a")])
    assert not taking.done()
    conn.push([Elements("<p id='b'>clicked</p>", key="b")], urgent=True)  # this tab's click
    async with asyncio.timeout(1):  # the click ends the 5 s window at once
        batch = await taking
    assert batch == [
        Elements("<p id='a'>100</p>", key="a"),
        Elements("<p id='b'>clicked</p>", key="b"),
    ]


async def test_an_urgent_push_is_not_held_by_the_window() -> None:
    conn = Connection("c")
    conn.push([Signals({"n": 1})], urgent=True)
    async with asyncio.timeout(1):
        assert await conn.take(10, window=5) == [Signals({"n": 1})]


async def test_hang_up_wakes_the_writer_and_nothing_more_is_queued() -> None:
    conn = Connection("c")
    waiting = asyncio.ensure_future(conn.take(3600, window=3600))
    await asyncio.sleep(0)
    conn.hang_up()  # the client went away
    async with asyncio.timeout(1):
        await waiting
    assert conn.gone
    conn.push([Signals({"x": 1})])
    assert len(conn) == 0


async def test_a_background_push_does_not_end_the_window_early_but_the_timeout_does() -> None:
    conn = Connection("c")
    conn.push([Signals({"n": 1})])
    taking = asyncio.ensure_future(conn.take(10, window=0.05))
    await asyncio.sleep(0)
    conn.push([Signals({"n": 2})])  # background: still inside the window
    await asyncio.sleep(0)
    assert not taking.done()
    async with asyncio.timeout(1):
        assert await taking == [Signals({"n": 1}), Signals({"n": 2})]


async def test_a_heartbeat_wakes_a_writer_idle_for_two_sweeps_with_nothing() -> None:
    beats, conn = Heartbeat(3600), Connection("c")
    beats.add(conn)
    taking = asyncio.ensure_future(conn.take(None))
    await asyncio.sleep(0)  # take() is waiting now
    assert beats.sweep() == 0  # the first sweep only notes it idle
    assert not taking.done()
    assert beats.sweep() == 1
    assert await taking is None  # the writer sends a heartbeat
    beats.discard(conn)


async def test_a_batch_taken_between_sweeps_puts_off_the_heartbeat() -> None:
    beats, conn = Heartbeat(3600), Connection("c")
    beats.add(conn)
    taking = asyncio.ensure_future(conn.take(None))
    await asyncio.sleep(0)
    beats.sweep()
    conn.push([Signals({"n": 1})])
    assert await taking == [Signals({"n": 1})]
    taking = asyncio.ensure_future(conn.take(None))
    await asyncio.sleep(0)
    assert beats.sweep() == 0  # it sent something since the last sweep
    assert beats.sweep() == 1
    assert await taking is None
    beats.discard(conn)


async def test_a_heartbeat_neither_ends_a_window_nor_touches_a_busy_writer() -> None:
    beats, conn = Heartbeat(3600), Connection("c")
    beats.add(conn)
    assert beats.sweep() == 0  # not waiting: busy writing
    assert beats.sweep() == 0
    conn.push([Signals({"n": 1})])  # a background update: the writer waits out its window
    taking = asyncio.ensure_future(conn.take(None, window=3600))
    await asyncio.sleep(0)
    beats.sweep()
    assert beats.sweep() == 0
    assert not taking.done()
    conn.push([Signals({"n": 2})], urgent=True)
    assert await taking == [Signals({"n": 1}), Signals({"n": 2})]
    beats.discard(conn)


async def test_the_heartbeat_runs_only_while_it_has_connections() -> None:
    beats, conn = Heartbeat(0.01), Connection("c")
    beats.add(conn)
    taking = asyncio.ensure_future(conn.take(None))
    async with asyncio.timeout(5):
        assert await taking is None  # woken by the sweeps of its own task
    beats.discard(conn)
    assert not beats.connections
    await asyncio.sleep(0)
    assert all(t.get_coro().__qualname__ != "Heartbeat._sweep_forever" for t in asyncio.all_tasks())
