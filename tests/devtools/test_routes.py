"""The inspector on the wire: off by default and then absent; in dev mode, a panel on each
page's own conversation, live, with time travel that never changes what it looks at."""

from __future__ import annotations

import json
import re

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from parlour.core.codec import encode
from parlour.testing import AsgiClient

from .components import Board, Counter
from .conftest import Inspected, InspectedPage, MakeApp


def cid_of(html: str) -> str:
    found = re.search(r"/_parlour/sse/([A-Za-z0-9_-]+)", html)
    assert found is not None, html
    return found.group(1)


async def opened(client: AsgiClient) -> str:
    shell = await client.get("/")
    assert shell.status == 200
    return cid_of(shell.text)


# -- off by default ------------------------------------------------------------------------


async def test_off_by_default_the_inspector_routes_answer_404(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Counter))
    cid = await opened(client)

    for method, path in [
        ("GET", f"/_parlour/dev/{cid}"),
        ("GET", f"/_parlour/dev/{cid}/sse"),
        ("GET", "/_parlour/dev/static/inspector.js"),
        ("POST", f"/_parlour/dev/{cid}/view/0"),
        ("POST", f"/_parlour/dev/{cid}/resume/0"),
    ]:
        response = await client.request(method, path)
        assert response.status == 404, (method, path, response.status)


async def test_off_by_default_nothing_of_the_inspector_is_in_the_page(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Counter))
    shell = await client.get("/")

    assert "inspector" not in shell.text
    assert "/_parlour/dev" not in shell.text
    assert shell.text.endswith(
        '<div id="parlour-overlay" class="parlour-overlay"></div></body></html>'
    )


async def test_without_dev_mode_the_runtime_records_nothing(make_app: MakeApp) -> None:
    app = make_app(Counter)

    assert app.inspector is None
    assert "_run" not in vars(app.runtime)  # the runtime's own method: no recording wrapper


# -- on ------------------------------------------------------------------------------------


async def test_in_dev_mode_every_page_has_the_toggle_with_its_shortcut(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Counter, dev=True))
    shell = await client.get("/")
    cid = cid_of(shell.text)

    assert 'id="parlour-inspector-toggle"' in shell.text
    assert 'title="parlour inspector (Alt+Shift+D)"' in shell.text
    assert f"@get(&#34;/_parlour/dev/{cid}/sse&#34;" in shell.text
    assert 'src="/_parlour/dev/static/inspector.js"' in shell.text
    script = await client.get("/_parlour/dev/static/inspector.js")
    assert script.status == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "Alt+Shift+D" in script.text
    assert (await client.get("/_parlour/dev/static/inspector.css")).status == 200
    assert (await client.get("/_parlour/dev/static/missing.js")).status == 404


async def test_use_dev_turns_the_inspector_on_before_serving_only(make_app: MakeApp) -> None:
    app = make_app(Counter)
    app.use_dev()
    client = AsgiClient(app)
    cid = await opened(client)
    assert (await client.get(f"/_parlour/dev/{cid}")).status == 200

    served = make_app(Counter)
    await opened(AsgiClient(served))
    with pytest.raises(RuntimeError, match="before the app serves"):
        served.use_dev()


async def test_another_sessions_conversation_is_refused(make_app: MakeApp) -> None:
    app = make_app(Counter, dev=True)
    owner = AsgiClient(app)
    cid = await opened(owner)
    stranger = AsgiClient(app)
    await opened(stranger)  # a session of its own

    assert (await stranger.get(f"/_parlour/dev/{cid}")).status == 403
    assert (await stranger.get(f"/_parlour/dev/{cid}/sse")).status == 403
    assert (await stranger.post(f"/_parlour/dev/{cid}/view/0")).status == 403
    assert (await stranger.post(f"/_parlour/dev/{cid}/select/p1")).status == 403
    assert (await owner.get(f"/_parlour/dev/{cid}")).status == 200


async def test_unknown_conversations_routes_and_steps_are_404(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Counter, dev=True))
    cid = await opened(client)

    assert (await client.get("/_parlour/dev/nobody")).status == 404
    assert (await client.get(f"/_parlour/dev/{cid}/nothing")).status == 404
    assert (await client.post(f"/_parlour/dev/{cid}/select/p99")).status == 404
    missing = await client.post(f"/_parlour/dev/{cid}/view/9")
    assert missing.status == 404
    assert "its steps are 0 to 0" in missing.text
    assert (await client.post(f"/_parlour/dev/{cid}/view/x")).status == 404
    assert (await client.get(f"/_parlour/dev/{cid}/view/0")).status == 405


async def test_a_post_from_another_site_is_refused(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Counter, dev=True))
    cid = await opened(client)

    response = await client.post(
        f"/_parlour/dev/{cid}/view/0", headers={"origin": "https://evil.example"}
    )

    assert response.status == 403


async def test_the_json_view_has_tree_state_steps_records_and_streams(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Counter, dev=True))
    cid = await opened(client)
    for _ in range(2):
        await client.post(f"/_parlour/event/{cid}/p1/inc", json={"draft": "x"})

    data = json.loads((await client.get(f"/_parlour/dev/{cid}")).text)

    assert data["tree"][0]["type"] == "devtools_tests.Counter"
    assert data["tree"][0]["state"] == {"count": 2}
    assert [s["depth"] for s in data["steps"]] == [0, 1, 2]
    assert [(r["kind"], r["what"], r["depth"]) for r in data["records"]] == [
        ("event", "p1.inc", 1),
        ("event", "p1.inc", 2),
    ]
    assert data["signals"] == {"draft": "x"}
    assert data["streams"] == []


# -- the panel -----------------------------------------------------------------------------


async def test_the_panel_shows_the_tree_and_the_top_frames_state_live(
    make_app: MakeApp, inspected: Inspected
) -> None:
    page = await inspected(make_app(Counter, dev=True))

    assert page.text("#parlour-inspector-panel .pi-tree") == "Counter p1 frame 0"
    assert page.field("count") == "0"

    for _ in range(3):
        await page.click("#root button", text="+")
    await page.panel(lambda p: p.field("count") == "3")

    steps = page.all("#parlour-inspector-panel .pi-step")
    assert [s.get("data-step") for s in steps] == ["3", "2", "1", "0"]
    assert "event p1.inc" in steps[0].text
    assert "p1.count: 2 -> 3" in steps[0].text
    assert "Streams" in page.text("#parlour-inspector-panel")
    assert "1 open" in page.text("#parlour-inspector-panel")


async def test_choosing_an_instance_in_the_tree_shows_its_state(
    make_app: MakeApp, inspected: Inspected
) -> None:
    page = await inspected(make_app(Board, dev=True))
    assert page.field("title") == "'board'"

    await page.click("#parlour-inspector-panel .pi-node[data-parlour-iid=p2]")
    await page.panel(lambda p: p.field("count") == "0")

    assert "State of Counter p2" in page.text("#parlour-inspector-panel")
    assert "items[a]" in page.text("#parlour-inspector-panel .pi-tree")
    assert "t5: p1.tick(None) in 60.0 s" in page.text("#parlour-inspector-panel")
    assert "'news.*' -> p1.heard" in page.text("#parlour-inspector-panel")


async def test_looking_at_a_past_step_shows_it_read_only_and_changes_nothing(
    make_app: MakeApp, inspected: Inspected
) -> None:
    app = make_app(Counter, dev=True)
    page = await inspected(app)
    for _ in range(3):
        await page.click("#root button", text="+")
    await page.panel(lambda p: p.field("count") == "3")
    cid = page.cid
    assert cid is not None
    stored = await app.store.load(cid)
    value = encode(app.runtime.live[cid].conv)

    await page.click("#parlour-inspector-panel .pi-step[data-step='1'] .pi-view")
    await page.panel(lambda p: p.document.query(".pi-past") is not None)

    banner = page.text("#parlour-inspector-travel .pi-banner")
    assert banner.startswith("Step 1 of 3 — the page as it was then, read-only.")
    past = page.query("#parlour-inspector-travel .pi-past")
    assert past.get("inert") is not None
    assert past.get("data-ignore") is not None
    assert page.text("#parlour-inspector-travel .pi-past .count") == "1"
    assert past.query("[id]") is None  # the live page's ids stay the live page's
    assert page.text("#root .count") == "3"
    assert "State of Counter p1 at step 1" in page.text("#parlour-inspector-panel")
    assert page.field("count") == "1"  # the panel shows the step looked at, too
    assert await app.store.load(cid) == stored
    assert encode(app.runtime.live[cid].conv) == value


async def test_return_goes_back_to_the_page_as_it_is(
    make_app: MakeApp, inspected: Inspected
) -> None:
    page = await inspected(make_app(Counter, dev=True))
    await page.click("#root button", text="+")
    await page.post(f"/_parlour/dev/{page.cid}/view/0")
    await page.panel(lambda p: p.document.query(".pi-past") is not None)

    await page.click(".pi-banner .pi-return")
    await page.panel(lambda p: p.document.query(".pi-past") is None)

    assert page.query("#parlour-inspector-travel").children == []
    assert page.text("#root .count") == "1"


async def test_resume_from_a_step_makes_it_current_and_clicks_go_on_from_there(
    make_app: MakeApp, inspected: Inspected
) -> None:
    app = make_app(Counter, dev=True)
    page = await inspected(app)
    for _ in range(3):
        await page.click("#root button", text="+")
    await page.post(f"/_parlour/dev/{page.cid}/view/2")
    await page.panel(lambda p: p.document.query(".pi-past") is not None)

    await page.click(".pi-banner .pi-resume")
    await page.panel(lambda p: p.document.query(".pi-past") is None and p.field("count") == "2")

    assert page.text("#root .count") == "2"
    cid = page.cid
    assert cid is not None
    assert app.runtime.live[cid].conv.depth == 2
    await page.click("#root button", text="+")
    assert page.text("#root .count") == "3"
    await page.panel(lambda p: p.field("count") == "3")
    steps = page.all("#parlour-inspector-panel .pi-step")
    assert [s.get("data-step") for s in steps] == ["3", "2", "1", "0"]
    assert "back to step 2" in steps[1].text


async def test_resume_from_now_changes_nothing(make_app: MakeApp) -> None:
    app = make_app(Counter, dev=True)
    client = AsgiClient(app)
    cid = await opened(client)
    await client.post(f"/_parlour/event/{cid}/p1/inc")

    assert (await client.post(f"/_parlour/dev/{cid}/resume/1")).status == 204

    assert app.runtime.live[cid].conv.depth == 1


async def test_the_panels_own_requests_tell_it_the_pages_signals(
    make_app: MakeApp, inspected: Inspected
) -> None:
    page: InspectedPage = await inspected(make_app(Counter, dev=True))
    page.document.patch_signals({"draft": "typed"})

    await page.post(f"/_parlour/dev/{page.cid}/now")
    await page.panel(lambda p: "'draft': 'typed'" in p.text("#parlour-inspector-panel"))


async def test_an_app_mounted_below_a_path_serves_its_inspector_there(make_app: MakeApp) -> None:
    host = Starlette(routes=[Mount("/app", app=make_app(Counter, dev=True))])
    client = AsgiClient(host)
    shell = await client.get("/app/")
    found = re.search(r"/app/_parlour/sse/([A-Za-z0-9_-]+)", shell.text)
    assert found is not None
    cid = found.group(1)

    assert f"@get(&#34;/app/_parlour/dev/{cid}/sse&#34;" in shell.text
    assert (await client.get(f"/app/_parlour/dev/{cid}")).status == 200
    async with client.stream(f"/app/_parlour/dev/{cid}/sse") as stream:
        panel = await stream.next_event()
    assert f"@post(&#39;/app/_parlour/dev/{cid}/select/p1&#39;" in panel.elements
