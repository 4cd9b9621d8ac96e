"""Any node serves any request: nodes (Apps in this process) sharing one NATS KV bucket.

Each node is a full `App` on its own connection to a real nats-server, exactly as separate
processes would be; one browser (one cookie jar) talks to them through different doors.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from htpy import Element, button, div, span

from parlour import Component, after, event, subscribe
from parlour.bus import Event
from parlour.bus.nats import NatsBus
from parlour.core.codec import decode
from parlour.runtime import cluster as cluster_module
from parlour.runtime.cluster_wire import WireError, unpack
from parlour.stores.nats_kv import NatsKvStore
from parlour.testing import AsgiClient, SseStream
from parlour.web.app import App

from .conftest import MakeNode, RestartableNats, node_clients

COUNT = re.compile(r'class="count">(-?\d+)<')


class Shell:
    """What a page needs from its shell: the conversation and the control ids."""

    def __init__(self, html: str) -> None:
        found = re.search(r"/_parlour/sse/([A-Za-z0-9_-]+)", html)
        assert found is not None, html
        self.cid = found.group(1)
        self.html = html

    def iid(self, name: str) -> str:
        found = re.search(rf"/_parlour/event/{self.cid}/([^/]+)/{name}\b", self.html)
        assert found is not None, f"no control for {name!r} in {self.html}"
        return found.group(1)


async def open_shell(client: AsgiClient) -> Shell:
    response = await client.get("/")
    assert response.status == 200, response.text
    return Shell(response.text)


async def click(client: AsgiClient, shell: Shell, name: str = "inc") -> None:
    response = await client.post(f"/_parlour/event/{shell.cid}/{shell.iid(name)}/{name}", json={})
    assert response.status == 204, (response.status, response.text)


async def count_on(sse: SseStream, wanted: int, *, timeout: float = 5.0) -> list[str]:
    """Read the stream until the page shows `wanted` (and its batch has ended); the SSE ids of
    the batches read (a batch's id is on its last event)."""
    ids: list[str] = []
    shown = False
    for _ in range(400):
        event = await sse.next_event(timeout=timeout)
        found = COUNT.search(event.elements)
        if found is not None:
            shown = int(found.group(1)) == wanted
        if event.id:
            ids.append(event.id)
            if shown:
                return ids
    raise AssertionError(f"the page never showed {wanted}")


async def stored(node: App, cid: str) -> Any:
    """The conversation's root component as the KV bucket holds it now."""
    store = node.store
    assert isinstance(store, NatsKvStore)
    data = await store.load(cid)
    assert data is not None, f"{cid} is not in the bucket"
    conv = decode(unpack(data).conversation)
    return conv.instances[conv.stack[0]].component


async def test_clicks_on_either_node_reach_the_stream_on_one_of_them(make_node: MakeNode) -> None:
    a, b = make_node(), make_node()
    door_a, door_b = node_clients(a, b)
    shell = await open_shell(door_a)  # minted on A
    async with door_b.stream(f"/_parlour/sse/{shell.cid}") as sse:  # streamed from B
        first = await sse.next_event()
        assert COUNT.search(first.elements) is not None
        for n in range(10):
            await click(door_a if n % 2 == 0 else door_b, shell)
        ids = await count_on(sse, 10)
    # One patch per click, in order, numbered by the conversation, not by the node.
    epochs = {i.partition(".")[0] for i in ids}
    seqs = [int(i.partition(".")[2]) for i in ids]
    assert len(epochs) == 1
    assert seqs == sorted(seqs)
    assert len(seqs) == 10
    assert (await stored(a, shell.cid)).count == 10


async def test_twenty_clicks_on_two_nodes_survive_a_restart_of_both(make_node: MakeNode) -> None:
    a, b = make_node(), make_node()
    door_a, door_b = node_clients(a, b)
    shell = await open_shell(door_a)
    for n in range(20):
        await click(door_a if n % 2 == 0 else door_b, shell)
    await a.close()
    await b.close()

    a2, b2 = make_node(), make_node()
    door_a2, door_b2 = node_clients(a2, b2)
    door_a2.cookies.update(door_a.cookies)
    for door in (door_a2, door_b2):
        async with door.stream(f"/_parlour/sse/{shell.cid}") as sse:
            first = await sse.next_event()
            assert 'class="count">20<' in first.elements
    assert (await stored(a2, shell.cid)).count == 20


async def test_a_stream_that_moves_to_another_node_gets_exactly_what_it_missed(
    make_node: MakeNode,
) -> None:
    a, b = make_node(), make_node()
    door_a, door_b = node_clients(a, b)
    shell = await open_shell(door_a)
    async with door_a.stream(f"/_parlour/sse/{shell.cid}") as sse:
        first = await sse.next_event()
        await click(door_a, shell)
        seen = (await count_on(sse, 1))[-1]
    for _ in range(3):  # while the tab is away; B saves, A is not asked
        await click(door_b, shell)

    async with door_b.stream(f"/_parlour/sse/{shell.cid}", headers={"last-event-id": seen}) as sse:
        ids = await count_on(sse, 4)
        assert all(e.selector != "#root" for e in sse.drain())
    # The three missed batches, replayed (and coalesced: one write, the newest id), with no
    # full render: the page carries on from where it was.
    epoch, _, seq = seen.partition(".")
    assert ids == [f"{epoch}.{int(seq) + 3}"]
    assert first.selector == "#root"


async def test_concurrent_clicks_on_two_nodes_are_each_applied_once(make_node: MakeNode) -> None:
    a, b = make_node(), make_node()
    door_a, door_b = node_clients(a, b)
    shell = await open_shell(door_a)
    await click(door_b, shell)  # both nodes hold the conversation
    await asyncio.gather(*(click(door_a if n % 2 else door_b, shell) for n in range(30)))
    assert (await stored(a, shell.cid)).count == 31
    cluster_a, cluster_b = a.runtime.cluster, b.runtime.cluster
    assert cluster_a is not None
    assert cluster_b is not None
    assert cluster_a.conflicts + cluster_b.conflicts > 0, "the nodes never raced"


class Alarm(Component):
    rings: int = 0

    def render(self) -> Element:
        return div(self.root)[button(self.on("click", "arm"))["arm"], span(".count")[self.rings]]

    @event
    def arm(self) -> Any:
        return after(0.3, self.ring)

    def ring(self) -> None:
        self.rings += 1


async def test_a_timer_fires_once_and_fires_when_the_node_that_armed_it_is_gone(
    make_node: MakeNode,
) -> None:
    a, b, c = make_node(Alarm), make_node(Alarm), make_node(Alarm)
    door_a, door_b, door_c = node_clients(a, b, c)
    shell = await open_shell(door_a)
    await click(door_c, shell, "arm")  # armed on C, every node watches it
    async with door_b.stream(f"/_parlour/sse/{shell.cid}") as sse:
        await sse.next_event()
        await count_on(sse, 1)
        await asyncio.sleep(0.5)
        assert (await stored(b, shell.cid)).rings == 1  # once, though three nodes were due

        await click(door_a, shell, "arm")
        await a.close()  # the node that armed it is gone before it is due
        await count_on(sse, 2)
    assert (await stored(b, shell.cid)).rings == 2


class Listener(Component):
    heard: list[str] = []

    def start(self) -> Any:
        return subscribe(f"{TOPIC}.>", self.arrived)

    def render(self) -> Element:
        return div(self.root)[
            button(self.on("click", "noop"))["noop"], span(".count")[len(self.heard)]
        ]

    @event
    def noop(self) -> None:
        pass

    def arrived(self, event: Event) -> None:
        self.heard = [*self.heard, str(event.payload)]


TOPIC = "clustertest"


async def test_bus_events_reach_the_conversation_once_and_in_order_from_any_node(
    make_node: MakeNode, nats_url: str
) -> None:
    a, b = make_node(Listener, bus=nats_url), make_node(Listener, bus=nats_url)
    door_a, door_b = node_clients(a, b)
    shell = await open_shell(door_a)
    await click(door_b, shell, "noop")  # B holds it too, and joins its subscription
    publisher = await NatsBus.connect(nats_url)
    try:
        async with door_b.stream(f"/_parlour/sse/{shell.cid}") as sse:
            await sse.next_event()
            for n in range(5):
                await publisher.publish(f"{TOPIC}.x", f"m{n}")
            await count_on(sse, 5)
            await asyncio.sleep(0.3)  # a second delivery would land by now
    finally:
        await publisher.close()
    assert (await stored(a, shell.cid)).heard == ["m0", "m1", "m2", "m3", "m4"]


async def test_a_cookie_minted_by_one_node_is_accepted_by_another(make_node: MakeNode) -> None:
    # No secret configured anywhere: the nodes agree on the one kept in NATS.
    a, b = make_node(secret=None), make_node(secret=None)
    door_a, door_b = node_clients(a, b)
    shell = await open_shell(door_a)
    await click(door_b, shell)
    stranger = AsgiClient(b)
    response = await stranger.post(f"/_parlour/event/{shell.cid}/{shell.iid('inc')}/inc", json={})
    assert response.status == 403


async def test_a_conversation_ended_on_one_node_is_gone_on_every_node(make_node: MakeNode) -> None:
    a, b = make_node(), make_node()
    door_a, door_b = node_clients(a, b)
    shell = await open_shell(door_a)
    async with door_b.stream(f"/_parlour/sse/{shell.cid}") as sse:
        await sse.next_event()
        assert await a.runtime.end(shell.cid)
        for _ in range(10):
            if shell.cid not in b.runtime.live:
                break
            await asyncio.sleep(0.05)
        assert shell.cid not in b.runtime.live
    response = await door_b.post(f"/_parlour/event/{shell.cid}/{shell.iid('inc')}/inc", json={})
    assert response.status == 404


async def test_the_nodes_carry_on_after_nats_restarts(
    restartable_nats: RestartableNats, make_node: MakeNode
) -> None:
    url = restartable_nats.start()
    a, b = make_node(nats=url), make_node(nats=url)
    door_a, door_b = node_clients(a, b)
    shell = await open_shell(door_a)
    async with door_b.stream(f"/_parlour/sse/{shell.cid}") as sse:
        await sse.next_event()
        for n in range(5):
            await click(door_a if n % 2 else door_b, shell)
        await count_on(sse, 5)

        back: list[asyncio.Event] = []
        for node in (a, b):
            store = node.store
            assert isinstance(store, NatsKvStore)
            back.append(asyncio.Event())
            store.on_reconnect(back[-1].set)
        restartable_nats.stop()
        restartable_nats.start()  # same port, same JetStream directory
        async with asyncio.timeout(15):  # nats-py reconnects within a few seconds
            for event in back:
                await event.wait()

        for n in range(5):
            await click(door_a if n % 2 else door_b, shell)
        await count_on(sse, 10)
    assert (await stored(a, shell.cid)).count == 10


async def test_timers_armed_after_nats_restarts_still_fire_once(
    restartable_nats: RestartableNats, make_node: MakeNode
) -> None:
    url = restartable_nats.start()
    a, b = make_node(Alarm, nats=url), make_node(Alarm, nats=url)
    door_a, door_b = node_clients(a, b)
    shell = await open_shell(door_a)
    await open_shell(door_b)  # both nodes are serving (connected) before NATS goes
    back: list[asyncio.Event] = []
    for node in (a, b):
        store = node.store
        assert isinstance(store, NatsKvStore)
        back.append(asyncio.Event())
        store.on_reconnect(back[-1].set)
    restartable_nats.stop()
    restartable_nats.start()
    async with asyncio.timeout(15):
        for event in back:
            await event.wait()
    async with door_b.stream(f"/_parlour/sse/{shell.cid}") as sse:
        await sse.next_event()
        await click(door_a, shell, "arm")
        await count_on(sse, 1)
        await asyncio.sleep(0.5)
    assert (await stored(a, shell.cid)).rings == 1


class Note(Component):
    """A frame another node shows: its `ok` answers the frame below."""

    def render(self) -> Element:
        return div(self.root)[button(self.on("click", "ok"))["ok"]]

    @event
    def ok(self) -> Any:
        from parlour import answer

        return answer("seen")


class Opener(Component):
    said: str = ""

    def render(self) -> Element:
        return div(self.root)[span(".said")[self.said], button(self.on("click", "open"))["open"]]

    @event
    def open(self) -> Any:
        from parlour import call

        return call(Note(), resume=self.heard)

    def heard(self, value: str) -> None:
        self.said = value


async def test_a_click_on_what_another_node_just_made_is_applied_before_its_notice_arrives(
    make_node: MakeNode, monkeypatch: Any
) -> None:
    a, b = make_node(Opener), make_node(Opener)
    door_a, door_b = node_clients(a, b)
    shell = await open_shell(door_a)  # A holds the conversation: the Opener alone

    def deaf(data: bytes) -> Any:
        raise WireError("not heard (the test holds every notice back)")

    monkeypatch.setattr(cluster_module, "decode_notice", deaf)
    await click(door_b, shell, "open")  # B loads it and shows a Note: an instance A never saw
    conv = decode(unpack((await b.store.load(shell.cid)) or b"").conversation)
    (note,) = conv.stack[1:]
    assert note not in a.runtime.live[shell.cid].conv.instances

    # The tab's next click reaches A, whose copy is behind: it must be applied, not dropped
    # as a click on something no longer shown.
    response = await door_a.post(f"/_parlour/event/{shell.cid}/{note}/ok", json={})
    assert response.status == 204
    assert (await stored(a, shell.cid)).said == "seen"


async def test_a_click_stale_on_a_copy_that_is_behind_is_applied_to_the_newest_value(
    make_node: MakeNode, monkeypatch: Any
) -> None:
    a, b = make_node(Opener), make_node(Opener)
    door_a, door_b = node_clients(a, b)
    shell = await open_shell(door_a)
    await click(door_a, shell, "open")  # A's copy: the Note covers the Opener
    conv = decode(unpack((await a.store.load(shell.cid)) or b"").conversation)
    (note,) = conv.stack[1:]

    def deaf(data: bytes) -> Any:
        raise WireError("not heard (the test holds every notice back)")

    monkeypatch.setattr(cluster_module, "decode_notice", deaf)
    # B answers the Note; A never hears of it, so on A's copy the Opener is still covered.
    assert (await door_b.post(f"/_parlour/event/{shell.cid}/{note}/ok", json={})).status == 204
    assert (await stored(a, shell.cid)).said == "seen"
    # The page (shown by B) offers "open" again, and the click reaches A: on A's copy it is a
    # click on something covered, on the newest value a real one. It must be applied.
    opener = shell.iid("open")
    assert (await door_a.post(f"/_parlour/event/{shell.cid}/{opener}/open", json={})).status == 204
    conv = decode(unpack((await a.store.load(shell.cid)) or b"").conversation)
    assert len(conv.stack) == 2, "the second Note is open"
