"""The app context: shared views and services a render may read, and only inside a runtime."""

from __future__ import annotations

import pytest

from parlour.core.context import Context, service, shared, using
from parlour.core.errors import ParlourError


class Views:
    def html(self, name: str) -> str:
        if name != "clock":
            raise KeyError(name)
        return '<div id="clock">12:00</div>'


class Base:
    pass


class Special(Base):
    pass


def test_shared_outside_a_runtime_says_how_to_provide_a_context() -> None:
    with pytest.raises(ParlourError, match=r"outside a parlour runtime.*using\(Context"):
        shared("clock")


def test_shared_returns_markup_and_records_what_the_render_read() -> None:
    with using(Context(views=Views())) as used:
        html = shared("clock")
    assert html == '<div id="clock">12:00</div>'
    assert html.__html__() == html  # Markup: embedded as it is, not escaped again
    assert used == {"clock"}


def test_an_unknown_view_names_the_fix() -> None:
    with using(Context(views=Views())), pytest.raises(ParlourError, match=r"app\.views\.add"):
        shared("weather")


def test_service_finds_by_type_and_by_base_class() -> None:
    special = Special()
    with using(Context(services=[special])):
        assert service(Special) is special
        assert service(Base) is special


def test_a_missing_service_lists_the_ones_there_are() -> None:
    with (
        using(Context(services=[Special()])),
        pytest.raises(ParlourError, match=r"it has: Special.*services=\[int"),
    ):
        service(int)


def test_contexts_nest_and_restore() -> None:
    outer, inner = Special(), Special()
    with using(Context(services=[outer])):
        with using(Context(services=[inner])):
            assert service(Special) is inner
        assert service(Special) is outer
