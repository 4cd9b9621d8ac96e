"""Shared views, services and multi-page apps, through HTTP and SSE as a browser sees them."""

from __future__ import annotations

from typing import Any

import pytest
from htpy import Element, button, div, h1, span

from parlour import Component, event, io, service, shared
from parlour.testing import AsgiClient
from tests.web.conftest import MakeApp, open_page


class Board:
    """A service: data every viewer shares."""

    def __init__(self) -> None:
        self.score = 0
        self.calls = 0

    async def bump(self) -> int:
        self.calls += 1
        self.score += 1
        return self.score


class Scoreboard(Component, name="tests.web.Scoreboard"):
    last: int = 0

    def render(self) -> Element:
        return div(self.root)[
            shared("score"),
            span(".last")[f"last: {self.last}"],
            button(self.on("click", "bump"))["bump"],
        ]

    @event
    def bump(self) -> Any:
        return io(service(Board).bump, self.bumped)

    def bumped(self, score: int) -> None:
        self.last = score


class Plain(Component, name="tests.web.SharedPlain"):
    def render(self) -> Element:
        return div(self.root)["no shared view here"]


def score_app(make_app: MakeApp, board: Board, **options: Any) -> Any:
    app = make_app({"/": Scoreboard, "/plain": Plain}, services=[board], window=0.0, **options)
    app.views.add("score", lambda: h1("#score")[f"score {board.score}"])
    return app


@pytest.fixture
def board() -> Board:
    return Board()


async def test_a_page_embeds_the_current_html_of_a_shared_view(
    make_app: MakeApp, board: Board
) -> None:
    board.score = 41
    client = AsgiClient(score_app(make_app, board))
    page = await open_page(client)
    assert '<h1 id="score">score 41</h1>' in page.html


async def test_one_update_is_rendered_once_and_reaches_every_viewer(
    make_app: MakeApp, board: Board
) -> None:
    app = score_app(make_app, board)
    client = AsgiClient(app)
    first, second = await open_page(client), await open_page(client)
    async with (
        client.stream(f"/_parlour/sse/{first.cid}") as a,
        client.stream(f"/_parlour/sse/{second.cid}") as b,
    ):
        await a.next_event()
        await b.next_event()
        assert app.runtime.viewer_count("score") == 2
        renders = app.views.renders
        board.score = 7
        app.views.invalidate("score")
        patch_a, patch_b = await a.next_event(), await b.next_event()
    assert app.views.renders == renders + 1
    assert patch_a.elements == patch_b.elements == '<h1 id="score">score 7</h1>'
    assert patch_a.selector is None  # morphed by its id


async def test_pages_that_do_not_show_a_view_get_none_of_its_updates(
    make_app: MakeApp, board: Board
) -> None:
    app = score_app(make_app, board)
    client = AsgiClient(app)
    plain, viewer = await open_page(client, "/plain"), await open_page(client)
    assert "no shared view here" in plain.html
    async with (
        client.stream(f"/_parlour/sse/{plain.cid}") as p,
        client.stream(f"/_parlour/sse/{viewer.cid}") as v,
    ):
        await p.next_event()
        await v.next_event()
        assert app.runtime.viewer_count("score") == 1
        board.score = 3
        app.views.invalidate("score")
        assert "score 3" in (await v.next_event()).elements
        with pytest.raises(TimeoutError):
            await p.next_event(timeout=0.2)


async def test_an_event_handler_reaches_its_service_and_io_awaits_async_work(
    make_app: MakeApp, board: Board
) -> None:
    app = score_app(make_app, board)
    client = AsgiClient(app)
    page = await open_page(client)
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        await sse.next_event()
        response = await client.post(f"/_parlour/event/{page.cid}/{page.iid_of('bump')}/bump")
        assert response.status == 204
        patch = await sse.next_event()
    assert "last: 1" in patch.elements
    assert board.calls == 1


async def test_a_reconnecting_stream_gets_the_views_it_missed(
    make_app: MakeApp, board: Board
) -> None:
    app = score_app(make_app, board)
    client = AsgiClient(app)
    page = await open_page(client)
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        await sse.next_event()
        last_id = app.runtime.live[page.cid].last_event_id
    board.score = 99  # changes while the tab is away
    app.views.invalidate("score")
    app.views.flush()  # what the window's timer does; now, so the test does not wait
    async with client.stream(
        f"/_parlour/sse/{page.cid}", headers={"last-event-id": last_id}
    ) as sse:
        patch = await sse.next_event()
    assert patch.elements == '<h1 id="score">score 99</h1>'


async def test_ending_a_conversation_removes_it_from_the_viewers(
    make_app: MakeApp, board: Board
) -> None:
    app = score_app(make_app, board)
    client = AsgiClient(app)
    page = await open_page(client)
    assert app.runtime.viewer_count("score") == 1
    await app.runtime.end(page.cid)
    assert app.runtime.viewer_count("score") == 0


async def test_each_page_of_a_multi_page_app_is_its_own_root(
    make_app: MakeApp, board: Board
) -> None:
    client = AsgiClient(score_app(make_app, board))
    assert "no shared view here" in (await open_page(client, "/plain")).html
    assert "score 0" in (await open_page(client, "/")).html
    assert (await client.get("/nowhere")).status == 404


def test_page_paths_must_start_with_a_slash(make_app: MakeApp) -> None:
    with pytest.raises(ValueError, match="starting with '/'"):
        make_app({"status": Plain})


async def test_a_service_provided_after_construction_reaches_handlers(make_app: MakeApp) -> None:
    board = Board()
    app = make_app(Scoreboard, window=0.0)
    app.views.add("score", lambda: h1("#score")[f"score {board.score}"])
    app.provide(board)  # e.g. made once the loop runs, as the console's hub is
    client = AsgiClient(app)
    page = await open_page(client)
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        await sse.next_event()
        await client.post(f"/_parlour/event/{page.cid}/{page.iid_of('bump')}/bump")
        assert "last: 1" in (await sse.next_event()).elements
    assert board.calls == 1
