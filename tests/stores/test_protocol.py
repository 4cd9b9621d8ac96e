"""The shared rules: what a cid may be, and what a format error says."""

from __future__ import annotations

import secrets

import pytest

from parlour.stores import STORE_FORMAT_VERSION, StoreFormatError, check_cid, check_touched


@pytest.mark.parametrize(
    "cid",
    ["a", "A-z_0.9", "x" * 128, "-leading-dash", "_", *(secrets.token_urlsafe() for _ in range(5))],
)
def test_valid_cids(cid: str) -> None:
    assert check_cid(cid) == cid


def test_store_format_error_says_what_why_and_how_to_fix() -> None:
    error = StoreFormatError("conversation 'abc' in sqlite:/x/state.sqlite", found=7)
    message = str(error)
    assert message.startswith("conversation 'abc' in sqlite:/x/state.sqlite is stored in")
    assert "format version 7, written by a newer parlour" in message
    assert f"reads format version {STORE_FORMAT_VERSION} only" in message
    assert "Fix: upgrade parlour" in message
    assert "clear the store" in message
    assert (error.found, error.supported) == (7, STORE_FORMAT_VERSION)


def test_check_touched_accepts_ints_and_floats() -> None:
    assert check_touched(5) == 5.0
    assert check_touched(1.5) == 1.5
    with pytest.raises(ValueError, match="unix seconds"):
        check_touched(True)
