"""Uploads in a real browser: progress while the bytes travel, Cancel, refusals, and a server
whose memory does not grow with the size of the file.

The upload is slowed with Chromium's own network emulation (DevTools protocol), so the
progress bar is observed mid-way for certain rather than by sleeping and hoping.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from htpy import Element, div, li, ul
from playwright.async_api import CDPSession, Page, expect

from parlour import MB, App, Component, Upload, upload
from parlour.ui import file_input
from tests.e2e.conftest import expect_console_error

pytestmark = pytest.mark.browser

Visit = Callable[[str], Awaitable[Page]]

MID_WAY = """() => [...document.querySelectorAll('progress.parlour-upload-bar')]
    .some(bar => bar.value > 0 && bar.value < 100)"""


def a_file(folder: Path, name: str, size: int) -> Path:
    """A file of exactly `size` bytes (not all zeros: nothing on the way may shrink it)."""
    path = folder / name
    block = bytes(range(256)) * 4096  # 1 MB
    with path.open("wb") as out:
        for _ in range(size // len(block)):
            out.write(block)
        out.write(block[: size % len(block)])
    return path


async def throttle(page: Page, bytes_per_second: int) -> CDPSession:
    """Slow this page's uploads to `bytes_per_second` (downloads, the stream, stay fast)."""
    client = await page.context.new_cdp_session(page)
    await client.send("Network.enable")
    await client.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )
    return client


async def test_a_file_uploads_with_a_moving_progress_bar_and_is_listed_with_its_exact_size(
    visit: Visit, tmp_path: Path, screenshot: Callable[[str], Awaitable[None]]
) -> None:
    page = await visit("examples.upload:app")
    five = a_file(tmp_path, "five.bin", 5 * MB)
    await throttle(page, 2 * MB)  # about 2.5 s for the whole file

    await page.get_by_label("Choose files").set_input_files(five)

    # The bar of five.bin, seen strictly between 0 and 100 %.
    await page.wait_for_function(MID_WAY, polling=50, timeout=10_000)
    await screenshot("upload-progress")
    await expect(page.locator(".uploaded li")).to_have_text(
        [f"five.bin — {5 * MB} bytes"], timeout=20_000
    )
    await expect(page.locator("progress")).to_have_count(0)  # the list is emptied when done


async def test_several_files_are_listed_together(visit: Visit, tmp_path: Path) -> None:
    page = await visit("examples.upload:app")
    files = [a_file(tmp_path, f"{n}.bin", size) for n, size in (("a", 1), ("b", 12345))]
    await page.get_by_label("Choose files").set_input_files(files)
    await expect(page.locator(".uploaded li")).to_have_text(
        ["a.bin — 1 bytes", "b.bin — 12345 bytes"]
    )


async def test_cancel_stops_the_upload_and_nothing_is_listed(visit: Visit, tmp_path: Path) -> None:
    page = await visit("examples.upload:app")
    await throttle(page, 256 * 1024)  # 4 MB would take 16 s
    await page.get_by_label("Choose files").set_input_files(a_file(tmp_path, "slow.bin", 4 * MB))
    await page.wait_for_function(MID_WAY, polling=50, timeout=10_000)

    await page.get_by_role("button", name="Cancel").click()

    await expect(page.get_by_text("upload cancelled")).to_be_visible()
    await expect(page.locator("progress")).to_have_count(0)
    await expect(page.locator(".uploaded li")).to_have_count(0)
    # The page is still live: a next upload goes through.
    await throttle(page, -1)
    await page.get_by_label("Choose files").set_input_files(a_file(tmp_path, "ok.bin", 10))
    await expect(page.locator(".uploaded li")).to_have_text(["ok.bin — 10 bytes"])


async def test_a_file_over_the_limit_is_refused_naming_the_limit(
    visit: Visit, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_console_error(request, "413")  # the browser logs the refused request
    page = await visit("examples.upload:app")
    small = a_file(tmp_path, "small.bin", 100)
    big = a_file(tmp_path, "big.bin", 11 * MB)

    await page.get_by_label("Choose files").set_input_files([small, big])

    await expect(page.get_by_role("alert")).to_have_text("big.bin: too large (limit 10 MB)")
    await expect(page.locator(".uploaded li")).to_have_count(0)  # not even small.bin
    await expect(page.locator("progress")).to_have_count(0)


async def test_more_files_than_allowed_are_refused(
    visit: Visit, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_console_error(request, "413")
    page = await visit("examples.upload:app")
    files = [a_file(tmp_path, f"{n}.bin", 10) for n in "abcd"]
    await page.get_by_label("Choose files").set_input_files(files)
    await expect(page.get_by_role("alert")).to_have_text("too many files (limit 3)")
    await expect(page.locator(".uploaded li")).to_have_count(0)


# -- the server's memory during a 100 MB upload ------------------------------------------------


class Big(Component):
    """The example's component with the limit raised for a 100 MB file."""

    received: list[str] = []

    def render(self) -> Element:
        return div(self.root)[
            file_input(self.chosen, label="Choose files"),
            ul(".uploaded")[(li[line] for line in self.received)],
        ]

    @upload(max_size=200 * MB)
    def chosen(self, files: list[Upload]) -> None:
        self.received = [f"{f.name} — {f.size} bytes" for f in files]


big = App(Big, title="big uploads", state_dir=os.environ.get("PARLOUR_UPLOAD_TEST_DIR", ".parlour"))


def server_pid(url: str) -> int:
    """The pid of the `parlour run` serving `url` (a child of this test process)."""
    port = url.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"parlour" in args and b"--port" in args and port.encode() in args:
            return int(proc.name)
    raise AssertionError(f"no parlour process serves {url}")


def reset_peak(pid: int) -> None:
    """Reset the process's peak resident size (VmHWM) to its current one (VmRSS)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"/proc/{pid}/status has no {field}")


async def test_a_100_mb_upload_grows_the_server_by_less_than_20_mb(
    launch: Callable[..., str],
    page: Page,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARLOUR_UPLOAD_TEST_DIR", str(tmp_path / "state"))
    url = launch("tests.e2e.test_upload:big")
    pid = server_pid(url)
    async with page.expect_response(lambda r: "/_parlour/sse/" in r.url):
        await page.goto(url)
    chooser = page.get_by_label("Choose files")
    # Warm up (first upload: worker threads, lazily built objects), then measure from here.
    await chooser.set_input_files(a_file(tmp_path, "warm.bin", MB))
    await expect(page.locator(".uploaded li")).to_have_text([f"warm.bin — {MB} bytes"])
    reset_peak(pid)
    before = status_kb(pid, "VmRSS")
    hundred = a_file(tmp_path, "hundred.bin", 100 * MB)

    started = time.perf_counter()
    await chooser.set_input_files(hundred)
    await expect(page.locator(".uploaded li")).to_have_text(
        [f"hundred.bin — {100 * MB} bytes"], timeout=60_000
    )
    seconds = time.perf_counter() - started

    growth_mb = (status_kb(pid, "VmHWM") - before) / 1024
    print(f"100 MB upload: {seconds:.2f} s, server peak RSS growth {growth_mb:.1f} MB")
    assert growth_mb < 20, f"the server grew by {growth_mb:.1f} MB during a 100 MB upload"
    sizes = sorted(f.stat().st_size for f in (tmp_path / "state" / "uploads").rglob("*.bin"))
    assert sizes == [MB, 100 * MB]  # the warm-up's and this one, on the server's disk
