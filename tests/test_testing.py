"""`parlour.testing`: the Harness, `replay`, the SSE parser and the in-process ASGI client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from htpy import Element, div, span

from parlour import Component, after, answer, call, event, io, publish
from parlour.core import commands as cmd
from parlour.core import fragments as fr
from parlour.core import kernel
from parlour.core.effects import Effect
from parlour.testing import AsgiClient, Dispatch, Harness, SseEvent, parse_sse, replay


class Clock(Component):
    ticks: int = 0
    log: list[str | int] = []  # notes, and the answer of a called Clock (its ticks)

    def render(self) -> Element:
        return div(self.root)[span(".ticks")[self.ticks]]

    @event
    def start_ticking(self, every: float) -> Effect:
        return after(every, self.tick, every)

    def tick(self, every: float) -> Effect:
        self.ticks += 1
        return after(every, self.tick, every)  # a clock that keeps going

    @event
    def two_timers(self) -> list[Effect]:
        return [after(5, self.note, "late"), after(1, self.note, "early")]

    def note(self, what: str | int) -> None:
        self.log = [*self.log, what]

    @event
    def ask(self) -> Effect:
        return call(Clock(), resume=self.note)

    @event
    def finish(self) -> Effect:
        return answer(self.ticks)

    @event
    def work(self) -> list[Effect]:
        return [io(lambda: 1, resume=self.note), publish("clock.tick", self.ticks)]


# -- Harness ----------------------------------------------------------------------------------


def test_the_harness_boots_the_root_and_shows_the_page() -> None:
    h = Harness(Clock)
    assert h.top == Clock()
    assert h.html == '<div id="p1"><span class="ticks">0</span></div>'
    assert repr(h).startswith("Harness(Conversation(id='test'")


def test_events_go_to_a_class_an_iid_an_instance_or_the_top() -> None:
    h = Harness(Clock)
    h.dispatch(None, "ask")  # the top frame: p1
    assert h.conversation.stack == ("p1", "p2")
    h.dispatch(Clock, "start_ticking", 1)  # the newest Clock: p2
    h.dispatch("p2", "two_timers")
    h.dispatch(h.top, "two_timers")
    assert [t.iid for t in h.conversation.timers] == ["p2"] * 5


def test_find_names_what_exists_when_nothing_matches() -> None:
    class Absent(Component):
        pass

    with pytest.raises(LookupError, match=r"Absent in the conversation \(present: \['Clock'\]\)"):
        Harness(Clock).find(Absent)


def test_top_fails_clearly_once_the_conversation_ended() -> None:
    h = Harness(Clock)
    h.dispatch(None, "finish")
    with pytest.raises(LookupError, match="no frame"):
        _ = h.top
    with pytest.raises(LookupError, match="no frame to send the event to"):
        h.dispatch(None, "finish")


def test_steps_fragments_and_commands_accumulate() -> None:
    h = Harness(Clock)
    h.dispatch(None, "work")
    assert len(h.steps) == 2
    assert h.last is h.steps[-1]
    assert [type(f) for f in h.fragments] == [fr.Elements, fr.Elements]
    assert [type(c) for c in h.commands] == [cmd.RunIo, cmd.Publish]


def test_the_clock_is_manual_and_advance_fires_due_timers_in_order() -> None:
    h = Harness(Clock, now=100.0)
    h.dispatch(None, "two_timers")
    assert h.advance(0.5) == []
    fired = h.advance(10)
    assert len(fired) == 2
    assert h.top.log == ["early", "late"]
    assert h.now == 110.5


def test_advance_keeps_firing_timers_that_reschedule_themselves() -> None:
    h = Harness(Clock)
    h.dispatch(None, "start_ticking", 2)
    h.advance(7)
    assert h.top.ticks == 3
    assert [t.due for t in h.conversation.timers] == [8.0]


def test_deliver_sends_an_internal_event() -> None:
    h = Harness(Clock)
    h.deliver(Clock, "note", "from the bus")
    assert h.top.log == ["from the bus"]
    assert h.conversation.history == ()


def test_back_through_the_harness() -> None:
    h = Harness(Clock)
    h.dispatch(None, "ask")
    h.back()
    assert h.conversation.stack == ("p1",)


def test_history_limit_and_base_reach_the_conversation() -> None:
    h = Harness(Clock, history_limit=2, base="/x", cid="c")
    assert (h.conversation.history_limit, h.conversation.base, h.conversation.id) == (2, "/x", "c")


def test_replay_takes_typed_events_for_the_top_frame_an_iid_or_as_they_are() -> None:
    run = replay(
        Clock,
        [
            Dispatch("ask", to="p1"),
            Dispatch("two_timers"),  # the top frame: p2
            kernel.Event("p2", "finish"),
            Dispatch("start_ticking", 3),  # p1 again
        ],
        cid="r",
    )
    assert run.conversation.id == "r"
    assert run.conversation.stack == ("p1",)
    assert run.conversation.instances["p1"].component.log == [0]  # p2 answered its ticks
    assert sum(isinstance(c, cmd.ScheduleTimer) for c in run.commands) == 3
    assert sum(isinstance(c, cmd.CancelTimer) for c in run.commands) == 2  # p2's, when it left
    assert len(run.steps) == 5  # the boot and one step per event
    assert run.errors == ()


def test_replay_returns_what_handlers_raised_and_the_page_they_left() -> None:
    class Fragile(Component):
        n: int = 0

        def render(self) -> Element:
            return div(self.root)[span(".n")[self.n]]

        @event
        def inc(self) -> None:
            self.n += 1

        @event
        def crash(self, why: str) -> None:
            raise ValueError(why)

    run = replay(Fragile, [Dispatch("inc"), Dispatch("crash", "boom"), Dispatch("inc")])
    [report] = run.errors
    assert isinstance(report.error, ValueError)
    assert str(report.error) == "boom"
    assert (report.iid, report.phase) == ("p1", "handle")
    assert run.conversation.instances["p1"].component.n == 2  # the crash changed nothing
    assert run.html == '<div id="p1"><span class="n">2</span></div>'


def test_replay_refuses_the_old_tuples_with_the_fix() -> None:
    with pytest.raises(TypeError, match=r"Dispatch\('inc', 5\)"):
        replay(Clock, [("start_ticking", 3)])  # type: ignore[list-item]


def test_the_harness_collects_errors_too() -> None:
    h = Harness(Clock)
    h.dispatch(None, "no_such_event")
    assert [e.phase for e in h.errors] == ["handle"]


# -- SSE parsing ------------------------------------------------------------------------------


def test_parse_sse_splits_events_comments_and_the_unfinished_rest() -> None:
    text = (
        ": heartbeat\n\n"
        "event: datastar-patch-elements\nid: e1.4\nretry: 1000\n"
        "data: selector #root\ndata: mode inner\n"
        'data: elements <div id="p1">\ndata: elements </div>\n\n'
        'event: datastar-patch-signals\r\ndata: signals {"a": 1}\r\n\r\n'
        "data: no type\n\n"
        "event: datastar-patch-elem"
    )
    events, comments, rest = parse_sse(text)
    assert comments == ["heartbeat"]
    assert rest == "event: datastar-patch-elem"
    first, second, third = events
    assert (first.type, first.id, first.retry) == ("datastar-patch-elements", "e1.4", 1000)
    assert (first.selector, first.mode) == ("#root", "inner")
    assert first.elements == '<div id="p1">\n</div>'
    assert second.signals == {"a": 1}
    assert second.mode == "outer"
    assert second.selector is None
    assert third.type == "message"


def test_an_sse_event_without_signals_reads_as_empty() -> None:
    assert SseEvent("datastar-patch-signals").signals == {}


# -- the in-process ASGI client ---------------------------------------------------------------


async def tiny_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers /cookie with a Set-Cookie, /echo with the request, /sse with two events."""
    assert scope["type"] == "http"
    message = await receive()
    body = message.get("body", b"")
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    if scope["path"] == "/cookie":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"set-cookie", b"sid=abc123; Path=/; HttpOnly")],
            }
        )
        await send({"type": "http.response.body", "body": b"set"})
    elif scope["path"] == "/echo":
        echo = {
            "method": scope["method"],
            "query": scope["query_string"].decode(),
            "cookie": headers.get("cookie"),
            "type": headers.get("content-type"),
            "body": body.decode(),
        }
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(echo).encode()})
    elif scope["path"] == "/sse":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        first = b'event: datastar-patch-elements\ndata: elements <b id="x">1</b>\n\n: ping\n\n'
        await send({"type": "http.response.body", "body": first, "more_body": True})
        half = b"event: datastar-patch-signals\ndata: sig"
        await send({"type": "http.response.body", "body": half, "more_body": True})
        await send({"type": "http.response.body", "body": b'nals {"n": 2}\n\n', "more_body": False})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def test_the_client_keeps_cookies_like_a_browser() -> None:
    client = AsgiClient(tiny_app)
    assert (await client.get("/cookie")).text == "set"
    assert client.cookies == {"sid": "abc123"}
    echo = json.loads((await client.get("/echo")).text)
    assert echo["cookie"] == "sid=abc123"


async def test_the_client_posts_json_with_query_parameters() -> None:
    client = AsgiClient(tiny_app)
    response = await client.post("/echo?a=1", json={"x": [1]}, params={"b": "two words"})
    assert response.status == 201
    echo = json.loads(response.text)
    assert echo == {
        "method": "POST",
        "query": "a=1&b=two+words",
        "cookie": None,
        "type": "application/json",
        "body": '{"x": [1]}',
    }


async def test_the_client_reads_a_stream_event_by_event_until_it_ends() -> None:
    client = AsgiClient(tiny_app)
    async with client.stream("/sse") as sse:
        assert sse.status == 200
        assert sse.headers["content-type"] == "text/event-stream"
        first = await sse.next_event()
        assert first.elements == '<b id="x">1</b>'
        second = await sse.next_event()  # arrived in two chunks
        assert second.signals == {"n": 2}
        assert sse.comments == ["ping"]
        with pytest.raises(EOFError):
            await sse.next_event()


async def test_waiting_for_an_event_that_never_comes_times_out() -> None:
    async def silent(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass

    client = AsgiClient(silent)
    async with client.stream("/") as sse:
        with pytest.raises(TimeoutError):
            await sse.next_event(timeout=0.05)
