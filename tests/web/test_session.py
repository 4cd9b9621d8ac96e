"""`parlour.web.session`: signed session cookies and where their secret comes from."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from parlour.stores import FileStore
from parlour.testing import AsgiClient
from parlour.web.app import App
from parlour.web.session import COOKIE, Sessions, load_secret

from .conftest import open_page
from .test_app import Counter, event_url

# -- Sessions ------------------------------------------------------------------------------------


def test_a_minted_cookie_verifies_to_its_session_id() -> None:
    sessions = Sessions("secret")
    sid, cookie = sessions.new()
    assert sessions.verify(cookie) == sid
    assert sid in cookie  # signed, not encrypted: the id is visible, the signature protects it


def test_session_ids_are_unique() -> None:
    sessions = Sessions("secret")
    assert len({sessions.new()[0] for _ in range(200)}) == 200


@pytest.mark.parametrize("cookie", [None, "", "plain", ".", "a.b", "x" * 5000, "ä.ö", "\x00"])
def test_missing_or_malformed_cookies_do_not_verify(cookie: str | None) -> None:
    assert Sessions("secret").verify(cookie) is None


def test_a_tampered_cookie_does_not_verify() -> None:
    sessions = Sessions("secret")
    sid, cookie = sessions.new()
    value, _, signature = cookie.rpartition(".")
    assert sessions.verify(f"{value}x.{signature}") is None
    assert sessions.verify(f"{value}.{signature[:-1]}") is None
    assert sessions.verify(f"{value}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}") is None
    assert sessions.verify(f"other.{signature}") is None
    assert sessions.verify(cookie) == sid


def test_a_cookie_signed_with_another_secret_does_not_verify() -> None:
    _, cookie = Sessions("one").new()
    assert Sessions("two").verify(cookie) is None


def test_verified_cookies_are_remembered_in_a_bounded_lru() -> None:
    sessions = Sessions("secret", cache_size=2)
    minted = [sessions.new() for _ in range(3)]
    for sid, cookie in minted:
        assert sessions.verify(cookie) == sid
    assert list(sessions._verified) == [minted[1][1], minted[2][1]]  # pyright: ignore[reportPrivateUsage]
    assert sessions.verify(minted[1][1]) == minted[1][0]  # a hit: now the most recent
    assert list(sessions._verified) == [minted[2][1], minted[1][1]]  # pyright: ignore[reportPrivateUsage]
    # Evicted cookies verify again the slow way; tampered ones are never remembered.
    assert sessions.verify(minted[0][1]) == minted[0][0]
    value, _, signature = minted[0][1].rpartition(".")
    assert sessions.verify(f"{value}x.{signature}") is None
    assert f"{value}x.{signature}" not in sessions._verified  # pyright: ignore[reportPrivateUsage]
    assert Sessions("other", cache_size=2).verify(minted[0][1]) is None


def test_the_cache_can_be_turned_off() -> None:
    sessions = Sessions("secret", cache_size=0)
    sid, cookie = sessions.new()
    assert sessions.verify(cookie) == sid
    assert not sessions._verified  # pyright: ignore[reportPrivateUsage]


# -- the secret ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_secret_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLOUR_SECRET", raising=False)


def test_the_environment_secret_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secret").write_text("from-the-file")
    monkeypatch.setenv("PARLOUR_SECRET", "from-the-env")
    assert load_secret(tmp_path) == "from-the-env"
    fresh = tmp_path / "fresh"
    assert load_secret(fresh) == "from-the-env"
    assert not fresh.exists()  # nothing written when the environment provides it


def test_an_empty_environment_secret_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLOUR_SECRET", "")
    secret = load_secret(tmp_path)
    assert secret
    assert (tmp_path / "secret").read_text() == secret


def test_the_secret_file_is_created_private_and_reused(tmp_path: Path) -> None:
    state = tmp_path / "state" / "nested"
    secret = load_secret(state)
    path = state / "secret"
    assert path.read_text() == secret
    assert len(secret) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret(state) == secret
    assert load_secret(tmp_path / "elsewhere") != secret


def test_a_secret_file_with_a_trailing_newline_is_read_stripped(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("hand-written\n")
    assert load_secret(tmp_path) == "hand-written"


async def test_an_app_uses_the_environment_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLOUR_SECRET", "env-secret")
    monkeypatch.delenv("PARLOUR_DATASTAR_JS", raising=False)
    app = App(Counter, state_dir=tmp_path)
    try:
        client = AsgiClient(app)
        page = await open_page(client)
        assert Sessions("env-secret").verify(client.cookies[COOKIE]) is not None
        assert app.runtime.live[page.cid].conv.owner == Sessions("env-secret").verify(
            client.cookies[COOKIE]
        )
        assert not (tmp_path / "secret").exists()
    finally:
        await app.runtime.close()


async def test_sessions_survive_a_restart_through_the_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PARLOUR_DATASTAR_JS", raising=False)
    state, conversations = tmp_path / "state", tmp_path / "conversations"
    first = App(Counter, state_dir=state, store=FileStore(conversations))
    client = AsgiClient(first)
    try:
        page = await open_page(client)
        assert (await client.post(event_url(page))).status == 204
    finally:
        await first.runtime.close()
    path = state / "secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    # A new process: a new App on the same state directory and store.
    second = App(Counter, state_dir=state, store=FileStore(conversations))
    client.app = second
    try:
        assert (await client.post(event_url(page))).status == 204  # the old cookie still owns it
        async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
            assert '<span class="count">2</span>' in (await sse.next_event()).elements
        again = await open_page(client)
        assert "set-cookie" not in again.response.headers
        stranger = AsgiClient(second)
        assert (await stranger.post(event_url(page))).status == 403
    finally:
        await second.runtime.close()
    assert path.read_text() == load_secret(state)
