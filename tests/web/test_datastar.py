"""Where pages load Datastar from: the bundle the package serves itself, unless told otherwise.

An app works with no internet and no setting once `make setup` has fetched the bundle; when
the bundle is missing the server says so once, at start, and the page carries a notice that
Datastar hides when it runs (the browser side is tests/e2e/test_offline_notice.py).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from htpy import Element, div

from parlour import Component
from parlour.testing import AsgiClient
from parlour.web.datastar import DATASTAR_CDN

from .conftest import MakeApp, open_page

BUNDLE = "/_parlour/static/datastar.js"


class Hello(Component, name="tests.web.datastar.Hello"):
    def render(self) -> Element:
        return div(self.root)["hello"]


@pytest.fixture
def packaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bundle `make setup` puts in the package, as if it had been fetched."""
    bundle = tmp_path / "package" / "datastar.js"
    bundle.parent.mkdir()
    bundle.write_text("// the verified bundle\n")
    monkeypatch.setattr("parlour.web.datastar.PACKAGED", bundle)
    return bundle


def script_of(html: str) -> tuple[str, str]:
    match = re.search(r'<script type="module" src="([^"]+)"([^>]*)>', html)
    assert match is not None, html
    return match.group(1), match.group(2)


async def test_by_default_the_app_serves_the_packaged_bundle(
    make_app: MakeApp, packaged: Path
) -> None:
    client = AsgiClient(make_app(Hello))
    page = await open_page(client)
    assert script_of(page.html) == (BUNDLE, "")
    response = await client.get(BUNDLE)
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.text == "// the verified bundle\n"


async def test_without_the_bundle_the_server_says_once_how_to_get_it(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    client = AsgiClient(make_app(Hello))
    with caplog.at_level(logging.WARNING, logger="parlour"):
        page = await open_page(client)
        await open_page(client)
        missing = await client.get(BUNDLE)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "no Datastar bundle" in warnings[0]
    assert "make setup" in warnings[0]
    assert "scripts/fetch-datastar" in warnings[0]
    # The page still points at the app's own URL (a later `make setup` fixes it), and that
    # URL answers with the same advice.
    assert script_of(page.html)[0] == BUNDLE
    assert missing.status == 404
    assert "make setup" in missing.text


async def test_cdn_in_the_environment_opts_into_the_pinned_cdn(
    make_app: MakeApp, packaged: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLOUR_DATASTAR_JS", "cdn")
    client = AsgiClient(make_app(Hello))
    src, rest = script_of((await open_page(client)).html)
    assert src == DATASTAR_CDN
    assert 'integrity="sha384-' in rest
    assert (await client.get(BUNDLE)).status == 404


async def test_the_cdn_option_logs_no_missing_bundle(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="parlour"):
        await open_page(AsgiClient(make_app(Hello, datastar="cdn")))
    assert "no Datastar bundle" not in caplog.text


async def test_the_page_carries_a_notice_that_datastar_hides(make_app: MakeApp) -> None:
    page = await open_page(AsgiClient(make_app(Hello, datastar="cdn")))
    notice = re.search(
        r'<div id="parlour-offline" role="alert" data-show="false"[^>]*>([^<]*)</div>', page.html
    )
    assert notice is not None, page.html
    assert "could not go live" in notice.group(1)
    # Outside the root: a full render replaces the root's content, never the notice.
    assert page.html.index("parlour-offline") < page.html.index('<div id="root">')
