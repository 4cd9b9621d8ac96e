"""Declaring uploads: `@upload(...)` says what a handler takes, and a bad declaration is refused
when the class is defined; the handler receives `Upload`s through the kernel like any event."""

from __future__ import annotations

import re
from typing import Any

import pytest
from htpy import Element, div

from parlour import MB, Component, Upload, UploadRefused, event, upload
from parlour.core.codec import decode, encode
from parlour.core.errors import ComponentDefinitionError
from parlour.core.uploads import KB, Accept, UploadHandler, accepting, size_text
from parlour.testing import Harness
from parlour.ui import file_input


class Album(Component):
    names: list[str] = []
    kept: list[Upload] = []
    problem: str = ""

    def render(self) -> Element:
        return div(self.root)[file_input(self.add_photos, label="Add photos"), self.problem]

    @upload(max_size=10 * MB, max_files=3, types=["image/*", ".pdf"])
    def add_photos(self, files: list[Upload]) -> None:
        self.names = [f.name for f in files]
        self.kept = files

    def on_error_add_photos(self, error: UploadRefused) -> None:
        self.problem = str(error)


class Avatar(Component):
    """One file of any type, 10 MB (the defaults); no error handler."""

    def render(self) -> Element:
        return div(self.root)[file_input(self.replace_avatar)]

    @upload()
    def replace_avatar(self, files: list[Upload]) -> None:
        pass


# -- the declaration ---------------------------------------------------------------------------


def test_upload_records_what_the_handler_accepts() -> None:
    found = accepting(Album, "add_photos")
    assert isinstance(found, UploadHandler)
    assert found.accept == Accept(max_size=10 * MB, max_files=3, types=("image/*", ".pdf"))
    assert accepting(Avatar, "replace_avatar") == Avatar.__dict__["replace_avatar"]
    assert accepting(Avatar, "replace_avatar").accept == Accept(10 * MB, 1, ())  # type: ignore[union-attr]


def test_a_name_that_is_not_an_upload_handler_has_no_declaration() -> None:
    assert accepting(Album, "on_error_add_photos") is None
    assert accepting(Album, "render") is None
    assert accepting(Album, "missing") is None


def test_an_upload_handler_is_not_an_event_the_browser_may_call() -> None:
    assert "add_photos" not in Album.__parlour_events__


def test_types_are_matched_by_family_exact_type_or_name_ending() -> None:
    accept = Accept(types=("image/*", "application/pdf", ".csv"))
    assert accept.admits("a.png", "image/png")
    assert accept.admits("a.PDF", "application/pdf")
    assert accept.admits("table.CSV", "application/octet-stream")  # the name decides
    assert accept.admits("a.pdf", "Application/PDF; charset=binary")
    assert not accept.admits("a.txt", "text/plain")
    assert not accept.admits("imagefile", "imagex/png")
    assert Accept().admits("anything.bin", "")


def test_the_body_limit_allows_every_file_at_its_largest_and_little_more() -> None:
    accept = Accept(max_size=MB, max_files=3)
    assert 3 * MB < accept.body_limit < 3 * MB + 64 * KB


def test_the_input_accept_attribute_lists_the_types() -> None:
    assert Accept(types=("image/*", ".pdf")).accept_attribute == "image/*,.pdf"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (100, "100 bytes"),
        (KB, "1 KB"),
        (1536, "1.5 KB"),
        (10 * MB, "10 MB"),
        (11 * MB + 1, "11.0 MB"),
    ],
)
def test_sizes_are_shown_in_bytes_kb_or_mb(size: int, text: str) -> None:
    assert size_text(size) == text


# -- refused at class definition ---------------------------------------------------------------


def define(**options: Any) -> None:
    class Bad(Component):
        @upload(**options)
        def take(self, files: list[Upload]) -> None:
            pass


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_size": 0}, "max_size=...) must be a number of bytes >= 1, got 0"),
        ({"max_size": 1.5}, "max_size=...) must be a number of bytes >= 1, got 1.5"),
        ({"max_size": "10MB"}, "e.g. max_size=10 * MB"),
        ({"max_size": True}, "must be a number of bytes"),
        ({"max_files": 0}, "max_files=...) must be a whole number >= 1, got 0"),
        ({"types": "image/*"}, "got the string 'image/*'; write types=['image/*']"),
        ({"types": ["images"]}, "names 'images', which is neither a MIME type"),
        ({"types": ["pdf"]}, "a file name ending ('.pdf')"),
        ({"types": [3]}, "names 3"),
    ],
)
def test_a_bad_declaration_is_refused_naming_the_fix(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentDefinitionError, match=re.escape(message)):
        define(**options)


def test_an_upload_handler_that_is_also_an_event_is_refused_either_way_round() -> None:
    with pytest.raises(ComponentDefinitionError, match=r"both @upload and @event"):

        class Outer(Component):
            @event
            @upload()
            def take(self, files: list[Upload]) -> None:
                pass

    with pytest.raises(ComponentDefinitionError, match=r"both @upload and @event"):

        class Inner(Component):
            @upload()
            @event
            def take(self, files: list[Upload]) -> None:
                pass


def test_a_handler_without_a_parameter_for_the_files_is_refused() -> None:
    with pytest.raises(ComponentDefinitionError, match=r"def take\(self, files: list\[Upload\]\)"):

        class NoFiles(Component):
            @upload()
            def take(self) -> None:
                pass


def test_a_private_upload_handler_is_refused() -> None:
    with pytest.raises(ComponentDefinitionError, match="private name"):

        class Private(Component):
            @upload()
            def _take(self, files: list[Upload]) -> None:
                pass


def test_upload_without_parentheses_says_to_add_them() -> None:
    with pytest.raises(
        ComponentDefinitionError, match=r"needs its parentheses: write `@upload\(\)`"
    ):

        class Bare(Component):
            @upload  # type: ignore[arg-type]
            def take(self, files: list[Upload]) -> None:
                pass


# -- the input -----------------------------------------------------------------------------------


def test_the_file_input_posts_to_the_upload_route_and_says_what_it_accepts() -> None:
    h = Harness(Album, cid="c1")
    iid = h.find(Album)
    html = h.html
    assert f'data-parlour-upload="/_parlour/upload/c1/{iid}/add_photos"' in html
    assert 'accept="image/*,.pdf"' in html
    assert " multiple" in html
    assert 'data-parlour-upload-errors="component"' in html  # it has on_error_add_photos
    assert ">Add photos " in html
    assert 'src="/_parlour/static/parlour-upload.js"' in html
    assert "data-ignore-morph" in html


def test_a_single_file_input_without_error_handler() -> None:
    html = Harness(Avatar).html
    assert " multiple" not in html
    assert "accept=" not in html
    assert 'data-parlour-upload-errors="page"' in html
    assert ">Choose files " in html


def test_the_file_input_needs_an_upload_handler() -> None:
    class Wrong(Component):
        def render(self) -> Element:
            return div(self.root)[file_input(self.go)]

        @event
        def go(self) -> None:
            pass

    h = Harness(Wrong)
    [report] = h.errors
    assert "Wrong.go is not an @upload handler" in str(report.error)


# -- delivery through the kernel ---------------------------------------------------------------


def test_the_handler_receives_the_files_as_an_internal_event_and_may_keep_them() -> None:
    h = Harness(Album)
    iid = h.find(Album)
    files = [Upload("a.png", 3, "image/png", "/tmp/x/0.png")]
    h.deliver(iid, "add_photos", files)
    album = h.instance(iid)
    assert isinstance(album, Album)
    assert album.names == ["a.png"]
    # An Upload is plain data: a conversation holding one is stored and restored.
    restored = decode(encode(h.conversation)).instances[iid].component
    assert isinstance(restored, Album)
    assert restored.kept == files


def test_a_refusal_reaches_the_error_handler_with_a_sentence_to_show() -> None:
    h = Harness(Album)
    iid = h.find(Album)
    h.deliver(iid, "on_error_add_photos", Accept(max_size=10 * MB).too_large("big.png"))
    assert "big.png: too large (limit 10 MB)" in h.html


def test_refusals_say_their_kind_and_status() -> None:
    accept = Accept(max_size=10 * MB, max_files=3, types=("image/*",))
    assert (accept.too_large("a").kind, accept.too_large("a").status) == ("too_large", 413)
    assert (accept.too_many().kind, accept.too_many().status) == ("too_many", 413)
    wrong = accept.wrong_type("a.exe", "application/x-msdownload")
    assert (wrong.kind, wrong.status, wrong.file) == ("wrong_type", 415, "a.exe")
    assert str(wrong) == "a.exe: wrong type application/x-msdownload (accepted: image/*)"
