"""Shared views: rendered once per update, only what changed leaves, and only when it did."""

from __future__ import annotations

import asyncio

import pytest
from htpy import div, li, ul
from markupsafe import Markup

from parlour.core.errors import ParlourError
from parlour.core.fragments import Elements, Fragment
from parlour.runtime.views import SharedViews


def collecting(views: SharedViews) -> list[tuple[str, tuple[Fragment, ...]]]:
    sent: list[tuple[str, tuple[Fragment, ...]]] = []
    views.sink = lambda name, fragments: sent.append((name, fragments))
    return sent


def test_a_view_is_rendered_when_added_and_read_as_html() -> None:
    views = SharedViews()
    views.add("clock", lambda: div("#clock")["12:00"])
    assert views.html("clock") == '<div id="clock">12:00</div>'
    assert "clock" in views


def test_a_view_without_an_id_is_refused_with_the_fix() -> None:
    views = SharedViews()
    with pytest.raises(ParlourError, match="expected one element with an id"):
        views.add("anon", lambda: div["no id"])


def test_two_views_cannot_share_a_name() -> None:
    views = SharedViews()
    views.add("a", lambda: div("#a"))
    with pytest.raises(ParlourError, match="exists already"):
        views.add("a", lambda: div("#a"))


def test_invalidating_an_unknown_view_names_the_known_ones() -> None:
    views = SharedViews()
    views.add("a", lambda: div("#a"))
    with pytest.raises(ParlourError, match=r"\['a'\]"):
        views.invalidate("b")


def test_flush_sends_the_new_html_once_and_nothing_when_unchanged() -> None:
    state = {"n": 0}
    views = SharedViews()
    views.add("n", lambda: div("#n")[str(state["n"])])
    sent = collecting(views)
    state["n"] = 1
    views._dirty.add("n")  # pyright: ignore[reportPrivateUsage]
    views.flush()
    assert sent == [("n", (Elements('<div id="n">1</div>', key="view:n"),))]
    views._dirty.add("n")  # pyright: ignore[reportPrivateUsage]
    views.flush()
    assert len(sent) == 1  # same HTML: nothing to send


async def test_a_burst_of_invalidations_renders_once_per_window() -> None:
    state = {"n": 0}
    views = SharedViews(window=0.01)
    views.add("n", lambda: div("#n")[str(state["n"])])
    sent = collecting(views)
    renders = views.renders
    flushed = asyncio.Event()
    sink = views.sink
    assert sink is not None

    def record(name: str, fragments: tuple[Fragment, ...]) -> None:
        sink(name, fragments)
        flushed.set()

    views.sink = record
    for n in range(1, 501):
        state["n"] = n
        views.invalidate("n")
    await asyncio.wait_for(flushed.wait(), 2)
    assert views.renders == renders + 1
    assert sent == [("n", (Elements('<div id="n">500</div>', key="view:n"),))]


def agents_view(rows: dict[str, str]) -> tuple[SharedViews, list[tuple[str, tuple[Fragment, ...]]]]:
    views = SharedViews()
    views.add_list(
        "agents",
        lambda items: ul("#agents")[items],
        lambda: [(f"agent-{k}", li(id=f"agent-{k}")[v]) for k, v in sorted(rows.items())],
    )
    return views, collecting(views)


def test_a_list_view_renders_its_items_inside_its_container() -> None:
    views, _ = agents_view({"a": "running", "b": "pending"})
    assert views.html("agents") == (
        '<ul id="agents"><li id="agent-a">running</li><li id="agent-b">pending</li></ul>'
    )


def test_when_only_an_item_changed_only_that_item_is_sent() -> None:
    rows = {"a": "running", "b": "pending"}
    views, sent = agents_view(rows)
    rows["b"] = "completed"
    views._dirty.add("agents")  # pyright: ignore[reportPrivateUsage]
    views.flush()
    assert sent == [
        ("agents", (Elements('<li id="agent-b">completed</li>', key="view:agents:agent-b"),))
    ]


def test_when_items_come_or_go_the_whole_list_is_sent() -> None:
    rows = {"a": "running"}
    views, sent = agents_view(rows)
    rows["c"] = "pending"
    views._dirty.add("agents")  # pyright: ignore[reportPrivateUsage]
    views.flush()
    [(name, (patch,))] = sent
    assert name == "agents"
    assert isinstance(patch, Elements)
    assert patch.key == "view:agents"
    assert patch.html.startswith('<ul id="agents">')
    assert views.html("agents") == patch.html


def test_item_text_is_escaped() -> None:
    views, _ = agents_view({"x": "<script>alert(1)</script>"})
    assert "<script>" not in views.html("agents")
    assert "&lt;script&gt;" in views.html("agents")


def test_a_frame_marker_in_user_text_cannot_inject_items() -> None:
    views = SharedViews()
    views.add_list(
        "l",
        lambda items: div("#l")[Markup("<h2>title</h2>"), items],
        lambda: [("i", div("#i")["\x00parlour-items\x00"])],
    )
    assert views.html("l").count('id="i"') == 1


def feed_view(entries: list[str]) -> tuple[SharedViews, list[tuple[str, tuple[Fragment, ...]]]]:
    views = SharedViews()
    views.add_list(
        "log",
        lambda items: ul("#log")[items],
        lambda: [(f"e-{e}", li(id=f"e-{e}")[e]) for e in entries],
    )
    return views, collecting(views)


def flush(views: SharedViews, name: str) -> None:
    views._dirty.add(name)  # pyright: ignore[reportPrivateUsage]
    views.flush()


def test_new_items_at_the_front_are_prepended_not_the_whole_feed_resent() -> None:
    entries = ["2", "1"]
    views, sent = feed_view(entries)
    entries[:0] = ["4", "3"]
    flush(views, "log")
    [(name, (patch,))] = sent
    assert name == "log"
    assert isinstance(patch, Elements)
    assert (patch.html, patch.selector, patch.mode) == (
        '<li id="e-4">4</li><li id="e-3">3</li>',
        "#log",
        "prepend",
    )
    assert (patch.key or "").startswith("view:log:")  # shared, and never coalesced away


def test_items_gone_from_the_end_are_removed_by_id() -> None:
    entries = ["3", "2", "1"]
    views, sent = feed_view(entries)
    entries[:] = ["4", "3"]  # a bounded feed: one in, two out
    flush(views, "log")
    [(_, (removal, prepend))] = sent
    assert isinstance(removal, Elements)
    assert isinstance(prepend, Elements)
    assert (removal.html, removal.selector, removal.mode) == ("", "#e-2, #e-1", "remove")
    assert (prepend.html, prepend.selector, prepend.mode) == (
        '<li id="e-4">4</li>',
        "#log",
        "prepend",
    )
    assert removal.key != prepend.key


def test_a_reordered_list_is_sent_whole() -> None:
    entries = ["a", "b", "c"]
    views, sent = feed_view(entries)
    entries[:] = ["c", "a", "b"]
    flush(views, "log")
    [(_, (patch,))] = sent
    assert isinstance(patch, Elements)
    assert patch.key == "view:log"
    assert patch.mode == "outer"


def test_items_after_a_heading_are_never_prepended_before_it() -> None:
    entries = ["1"]
    views = SharedViews()
    views.add_list(
        "l",
        lambda items: div("#l")[Markup("<h2>feed</h2>"), items],
        lambda: [(f"e-{e}", li(id=f"e-{e}")[e]) for e in entries],
    )
    sent = collecting(views)
    entries.insert(0, "2")
    flush(views, "l")
    [(_, (patch,))] = sent
    assert isinstance(patch, Elements)
    assert patch.mode == "outer"  # the whole list: a prepend would land before the heading


def test_many_changed_items_are_sent_as_one_patch_of_the_list() -> None:
    rows = {f"{n:02}": "pending" for n in range(40)}
    views, sent = agents_view(rows)
    for key in rows:
        rows[key] = "running"
    flush(views, "agents")
    [(_, (patch,))] = sent
    assert isinstance(patch, Elements)
    assert patch.key == "view:agents"
