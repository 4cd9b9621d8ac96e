"""An App serves one lifespan: a closed App says so, to the developer and to the client.

Closing an App closes its store, bus and streams for good. Starting it again (a second
`with TestClient(app)` on a module-level app, the usual Starlette test pattern) fails at that
`with`, saying how to make an App per test; a request reaching a closed App is answered 503,
which a client retries, never a 500 from a closed store.
"""

from __future__ import annotations

import pytest
from examples.counter import Counter
from starlette.testclient import TestClient

from parlour import App
from parlour.testing import AsgiClient, Page

SECRET = "s" * 32


def test_a_second_lifespan_is_refused_where_it_starts_with_the_fix() -> None:
    app = App(Counter, secret=SECRET)
    with TestClient(app) as client:
        assert client.get("/").status_code == 200

    with pytest.raises(RuntimeError) as refused, TestClient(app):
        pass  # pragma: no cover - the lifespan's start raises first
    message = str(refused.value)
    assert "App('Counter'" in message  # which app
    assert "cannot start again" in message  # what was received
    assert "one lifespan per App" in message  # what was expected
    assert "pytest fixture returning `App(...)`" in message  # the fix


async def test_a_closed_app_answers_every_route_503_and_names_no_internals() -> None:
    app = App(Counter, secret=SECRET)
    async with Page(app) as page:
        await page.open("/")
        cid = page.cid
        assert cid is not None
    await app.close()

    client = AsgiClient(app)
    answers = [
        await client.get("/"),
        await client.get(f"/_parlour/sse/{cid}"),
        await client.post(f"/_parlour/event/{cid}/p1/inc", body=b"{}"),
    ]
    for response in answers:
        assert response.status == 503
        assert response.headers["retry-after"] == "1"  # the client comes back, as when busy
        assert response.text.strip() == "this server has shut down; retry shortly"
        assert response.headers["x-content-type-options"] == "nosniff"  # still guarded
