"""The upload example in-process: up to 3 files of at most 10 MB, each listed with its exact size;
an 11 MB file is refused with the limit named and nothing listed.

The example's component in an app of the test's own (its files in tmp_path, not the repo's
.parlour/), driven with `parlour.testing.Page` from the plugin's `parlour_page`; the browser
side is tests/e2e/test_upload.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from examples.upload import Uploader

from parlour import MB
from parlour.testing import Page

BOUNDARY = "example-boundary"


def body(*files: tuple[str, int]) -> bytes:
    out = b""
    for name, size in files:
        out += (
            (
                f"--{BOUNDARY}\r\n"
                f'Content-Disposition: form-data; name="files"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + b"x" * size
            + b"\r\n"
        )
    return out + f"--{BOUNDARY}--\r\n".encode()


@pytest.fixture
async def page(parlour_page: Callable[..., Awaitable[Page]]) -> Page:
    """A tab on an App of the component built for this test (the plugin's fixture keeps its
    files under the test's tmp_path and closes it when the test ends)."""
    return await parlour_page(Uploader)


async def upload(page: Page, data: bytes) -> int:
    url = page.attr("input[type=file]", "data-parlour-upload") or ""
    response = await page.client.post(
        url, body=data, headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    )
    await page.settle()
    return response.status


async def test_the_input_takes_up_to_three_files(page: Page) -> None:
    assert page.attr("input[type=file]", "multiple") is not None
    assert page.text("label") == "Choose files"


async def test_each_uploaded_file_is_listed_with_its_exact_size(page: Page) -> None:
    assert await upload(page, body(("a.txt", 5), ("b.bin", 12345))) == 204
    assert [li.text_content for li in page.all(".uploaded li")] == [
        "a.txt — 5 bytes",
        "b.bin — 12345 bytes",
    ]


async def test_an_11_mb_file_is_too_large_and_nothing_is_listed(page: Page) -> None:
    assert await upload(page, body(("ok.txt", 1), ("big.bin", 11 * MB))) == 413
    assert page.text(".parlour-error") == "big.bin: too large (limit 10 MB)"
    assert page.all(".uploaded li") == []


async def test_a_good_upload_after_a_refusal_clears_the_message(page: Page) -> None:
    await upload(page, body(*[(f"{n}.txt", 1) for n in "abcd"]))
    assert page.text(".parlour-error") == "too many files (limit 3)"
    await upload(page, body(("fine.txt", 2)))
    assert page.all(".parlour-error") == []
    assert [li.text_content for li in page.all(".uploaded li")] == ["fine.txt — 2 bytes"]
