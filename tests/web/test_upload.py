"""The upload route: files reach an `@upload` handler whole, after the event route's checks,
or not at all (413/415 naming the limit, the component told, nothing left on disk)."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from htpy import Element, div, li, p, ul
from hypothesis import given, settings
from hypothesis import strategies as st

from parlour import Component, Upload, UploadRefused, event, upload
from parlour.core.codec import decode
from parlour.core.routes import upload_path
from parlour.testing import AsgiClient, Page
from parlour.ui import file_input
from parlour.web.app import App
from tests.web.conftest import MakeApp

BOUNDARY = "parlour-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


class Inbox(Component):
    """Takes up to 2 files of at most 100 bytes, text or images; lists what it got."""

    got: list[str] = []
    paths: list[str] = []
    problem: str = ""

    def render(self) -> Element:
        return div(self.root)[
            file_input(self.take),
            p(".problem")[self.problem],
            ul(".got")[(li[line] for line in self.got)],
        ]

    @upload(max_size=100, max_files=2, types=["text/plain", ".csv", "image/*"])
    def take(self, files: list[Upload]) -> None:
        self.problem = ""
        self.paths = [f.path for f in files]
        self.got = [
            f"{f.name}|{f.size}|{f.content_type}|{Path(f.path).read_bytes().decode()}"
            for f in files
        ]

    def on_error_take(self, error: UploadRefused) -> None:
        self.problem = f"{error.kind}: {error}"

    @event
    def poke(self) -> None:
        pass


class Quiet(Component):
    """An upload handler without on_error_: refusals are only the HTTP answer."""

    got: int = 0

    def render(self) -> Element:
        return div(self.root)[file_input(self.take), str(self.got)]

    @upload(max_size=10)
    def take(self, files: list[Upload]) -> None:
        self.got += len(files)


def body(*files: tuple[str, bytes, str], fields: Iterable[tuple[str, str]] = ()) -> bytes:
    """A multipart/form-data body as a browser's FormData sends it."""
    out = b""
    for name, value in fields:
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    for filename, data, ctype in files:
        out += (
            (
                f"--{BOUNDARY}\r\n"
                f'Content-Disposition: form-data; name="files"; filename="{filename}"\r\n'
                f"Content-Type: {ctype}\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return out + f"--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def app(make_app: MakeApp, tmp_path: Path) -> App:
    return make_app(Inbox, state_dir=tmp_path)


async def opened(app: App) -> tuple[Page, str]:
    """A tab on the app with its stream open, and the URL its file input posts to."""
    page = await Page(app).open()
    url = page.attr("input[type=file]", "data-parlour-upload")
    assert url is not None
    return page, url


def inbox(app: App, page: Page) -> Inbox:
    live = app.runtime.live[page.cid or ""]
    top = live.conv.instances[live.conv.stack[-1]].component
    assert isinstance(top, Inbox)
    return top


def files_on_disk(tmp_path: Path) -> list[str]:
    root = tmp_path / "uploads"
    return sorted(str(f.relative_to(root)) for f in root.rglob("*") if f.is_file())


async def post(page: Page, url: str, data: bytes, **headers: str) -> Any:
    return await page.client.post(url, body=data, headers={"content-type": MULTIPART, **headers})


# -- delivery ----------------------------------------------------------------------------------


async def test_the_handler_receives_every_file_with_name_size_type_and_a_readable_path(
    app: App,
) -> None:
    page, url = await opened(app)
    response = await post(
        page, url, body(("notes.txt", b"hello", "text/plain"), ("a.csv", b"x,y\n", "text/csv"))
    )
    assert response.status == 204
    await page.settle()
    assert [e.text_content for e in page.all(".got li")] == [
        "notes.txt|5|text/plain|hello",
        "a.csv|4|text/csv|x,y\n",
    ]
    await page.close()


async def test_the_new_state_is_saved_before_the_answer(app: App) -> None:
    page, url = await opened(app)
    assert (await post(page, url, body(("n.txt", b"saved", "text/plain")))).status == 204
    stored = await app.store.load(page.cid or "")
    assert stored is not None
    conv = decode(stored)
    top = conv.instances[conv.stack[-1]].component
    assert isinstance(top, Inbox)
    assert top.got == ["n.txt|5|text/plain|saved"]
    await page.close()


async def test_files_are_kept_in_a_folder_of_the_conversation(app: App, tmp_path: Path) -> None:
    page, url = await opened(app)
    await post(page, url, body(("photo.PNG", b"\x89PNG", "image/png")))
    [stored] = files_on_disk(tmp_path)
    assert stored.startswith(f"{page.cid}/")
    assert stored.endswith("/0.png")
    await page.close()


async def test_a_path_in_the_file_name_is_reduced_to_its_last_segment(app: App) -> None:
    page, url = await opened(app)
    await post(page, url, body(("C:\\Users\\me\\..\\notes.txt", b"hi", "text/plain")))
    assert inbox(app, page).got == ["notes.txt|2|text/plain|hi"]
    await page.close()


async def test_a_file_name_in_utf_8_arrives_as_written(app: App) -> None:
    page, url = await opened(app)
    await post(page, url, body(("Grüße 東京.txt", b"hi", "text/plain")))
    assert inbox(app, page).got == ["Grüße 東京.txt|2|text/plain|hi"]
    await page.close()


async def test_the_path_handed_over_is_absolute(app: App) -> None:
    page, url = await opened(app)
    await post(page, url, body(("n.txt", b"hi", "text/plain")))
    [path] = inbox(app, page).paths
    assert Path(path).is_absolute()
    await page.close()


async def test_plain_fields_beside_the_files_are_ignored(app: App) -> None:
    page, url = await opened(app)
    data = body(("n.txt", b"hi", "text/plain"), fields=[("note", "not a file")])
    assert (await post(page, url, data)).status == 204
    assert inbox(app, page).got == ["n.txt|2|text/plain|hi"]
    await page.close()


# -- the event route's checks ------------------------------------------------------------------


async def test_a_post_from_another_origin_is_refused_403(app: App) -> None:
    page, url = await opened(app)
    data = body(("n.txt", b"hi", "text/plain"))
    response = await post(page, url, data, origin="https://evil.example")
    assert response.status == 403
    assert inbox(app, page).got == []
    await page.close()


async def test_an_unknown_conversation_is_404(app: App) -> None:
    page, _ = await opened(app)
    response = await post(page, upload_path("/_parlour", "nope", "p1", "take"), body())
    assert response.status == 404
    assert "no conversation" in response.text
    await page.close()


async def test_another_session_may_not_upload_into_the_conversation_403(app: App) -> None:
    page, url = await opened(app)
    stranger = AsgiClient(app)
    await stranger.get("/")  # a session of its own
    response = await stranger.post(
        url, body=body(("n.txt", b"hi", "text/plain")), headers={"content-type": MULTIPART}
    )
    assert response.status == 403
    assert inbox(app, page).got == []
    await page.close()


async def test_an_unknown_instance_or_a_name_that_is_not_an_upload_handler_is_404(
    app: App,
) -> None:
    page, url = await opened(app)
    cid = page.cid or ""
    iid = url.split("/")[-2]
    data = body(("n.txt", b"hi", "text/plain"))
    for target, said in [
        (upload_path("/_parlour", cid, "p999", "take"), "no instance 'p999'"),
        (upload_path("/_parlour", cid, iid, "poke"), "no @upload handler 'poke'"),
        (upload_path("/_parlour", cid, iid, "on_error_take"), "no @upload handler"),
    ]:
        response = await post(page, target, data)
        assert (response.status, said in response.text) == (404, True), response.text
    await page.close()


async def test_an_upload_handler_cannot_be_reached_through_the_event_route(app: App) -> None:
    page, url = await opened(app)
    event_url = url.replace("/upload/", "/event/")
    forged = [{"name": "x", "size": 1, "content_type": "text/plain", "path": "/etc/passwd"}]
    response = await page.client.post(event_url, params={"p": json.dumps(forged)}, json={})
    assert response.status == 404
    assert inbox(app, page).got == []
    await page.close()


async def test_only_post_is_answered(app: App) -> None:
    page, url = await opened(app)
    assert (await page.client.get(url)).status == 405
    await page.close()


async def test_a_body_that_is_not_multipart_is_415_and_a_broken_one_400(app: App) -> None:
    page, url = await opened(app)
    response = await page.client.post(url, json={"files": []})
    assert response.status == 415
    assert "multipart/form-data" in response.text
    broken = await post(page, url, f"--{BOUNDARY}\r\nno headers end".encode())
    assert broken.status == 400
    empty = await post(page, url, body())
    assert (empty.status, "no file" in empty.text) == (400, True)
    assert inbox(app, page).got == []
    await page.close()


async def test_oversized_or_too_many_part_headers_are_400(app: App, tmp_path: Path) -> None:
    page, url = await opened(app)
    long = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n'
        f"X-Padding: {'p' * 10_000}\r\n\r\nhi\r\n--{BOUNDARY}--\r\n"
    ).encode()
    many = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n'
        + "".join(f"X-{n}: {n}\r\n" for n in range(50))
        + f"\r\nhi\r\n--{BOUNDARY}--\r\n"
    ).encode()
    for data in (long, many):
        response = await post(page, url, data)
        assert response.status == 400, response.text
    assert inbox(app, page).got == []
    assert files_on_disk(tmp_path) == []
    await page.close()


async def test_no_body_breaks_the_route(app: App) -> None:
    """Cut, corrupted or arbitrary bodies are answered (204, 400, 413 or 415), never a 500."""
    page, url = await opened(app)
    valid = body(("a.txt", b"hello", "text/plain"), ("b.csv", b"1,2", "text/csv"))
    data = st.one_of(
        st.binary(max_size=400),
        st.integers(0, len(valid)).map(lambda n: valid[:n]),
        st.tuples(st.integers(0, len(valid) - 1), st.binary(min_size=1, max_size=8)).map(
            lambda cut: valid[: cut[0]] + cut[1] + valid[cut[0] + len(cut[1]) :]
        ),
    )
    answers: set[int] = set()

    @settings(max_examples=150, deadline=None)
    @given(data)
    def check(raw: bytes) -> None:
        answers.add(asyncio.run_coroutine_threadsafe(post(page, url, raw), loop).result().status)

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(check)
    assert answers <= {204, 400, 413, 415}, answers
    assert 400 in answers
    await page.close()


# -- limits: nothing half-delivered ------------------------------------------------------------


async def test_a_file_over_max_size_is_413_naming_the_limit_and_the_component_is_told(
    app: App, tmp_path: Path
) -> None:
    page, url = await opened(app)
    response = await post(
        page, url, body(("ok.txt", b"fine", "text/plain"), ("big.txt", b"x" * 101, "text/plain"))
    )
    assert response.status == 413
    assert response.text.strip() == "big.txt: too large (limit 100 bytes)"
    await page.settle()
    assert page.text(".problem") == "too_large: big.txt: too large (limit 100 bytes)"
    assert inbox(app, page).got == []  # not even the good first file
    assert files_on_disk(tmp_path) == []  # and its bytes are gone
    await page.close()


async def test_more_files_than_max_files_is_413(app: App, tmp_path: Path) -> None:
    page, url = await opened(app)
    three = [(f"{n}.txt", b"x", "text/plain") for n in "abc"]
    response = await post(page, url, body(*three))
    assert (response.status, response.text.strip()) == (413, "too many files (limit 2)")
    assert inbox(app, page).problem == "too_many: too many files (limit 2)"
    assert inbox(app, page).got == []
    assert files_on_disk(tmp_path) == []
    await page.close()


async def test_a_type_not_accepted_is_415_naming_the_accepted_types(
    app: App, tmp_path: Path
) -> None:
    page, url = await opened(app)
    response = await post(page, url, body(("run.exe", b"MZ", "application/x-msdownload")))
    assert response.status == 415
    assert response.text.strip() == (
        "run.exe: wrong type application/x-msdownload (accepted: text/plain, .csv, image/*)"
    )
    assert inbox(app, page).problem.startswith("wrong_type: run.exe")
    assert files_on_disk(tmp_path) == []
    await page.close()


async def test_a_declared_length_over_the_declaration_is_refused_before_reading(
    app: App,
) -> None:
    """2 files of 100 bytes cannot need 1 MB: answered 413 without reading the body."""
    page, url = await opened(app)
    response = await post(page, url, b"", **{"content-length": str(1 << 20)})
    assert response.status == 413
    assert "too large: 1 MB (limit 2 files of 100 bytes)" in response.text
    assert inbox(app, page).problem.startswith("too_large: the upload is too large")
    await page.close()


async def test_without_an_error_handler_a_refusal_is_only_the_answer(
    make_app: MakeApp, tmp_path: Path
) -> None:
    app = make_app(Quiet, state_dir=tmp_path)
    page = await Page(app).open()
    url = page.attr("input[type=file]", "data-parlour-upload") or ""
    assert page.attr("input[type=file]", "data-parlour-upload-errors") == "page"
    response = await post(page, url, body(("big.txt", b"x" * 11, "text/plain")))
    assert (response.status, response.text.strip()) == (413, "big.txt: too large (limit 10 bytes)")
    assert page.warnings == []
    assert files_on_disk(tmp_path) == []
    await page.close()


# -- streaming: the body arrives in chunks and is never held whole ------------------------------


async def call_chunked(
    app: App, client: AsgiClient, url: str, chunks: Iterable[bytes], *, disconnect: bool = False
) -> tuple[int, bytes]:
    """POST `url` with a body that arrives in `chunks` (then a disconnect, if asked)."""
    pending = list(chunks)
    headers = [
        (b"host", b"testserver"),
        (b"content-type", MULTIPART.encode()),
        (b"cookie", "; ".join(f"{k}={v}" for k, v in client.cookies.items()).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": url,
        "raw_path": url.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            chunk = pending.pop(0)
            more = bool(pending) or disconnect
            return {"type": "http.request", "body": chunk, "more_body": more}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


class Big(Component):
    sizes: list[int] = []

    def render(self) -> Element:
        return div(self.root)[file_input(self.take)]

    @upload(max_size=64 << 20, max_files=2)
    def take(self, files: list[Upload]) -> None:
        self.sizes = [f.size for f in files]


async def test_a_large_upload_goes_to_disk_without_being_held_in_memory(
    make_app: MakeApp, tmp_path: Path
) -> None:
    app = make_app(Big, state_dir=tmp_path)
    page = await Page(app).open(stream=False)
    url = page.attr("input[type=file]", "data-parlour-upload") or ""
    content = bytes(range(256)) * (24 << 12)  # 24 MB
    chunks = split(body(("big.bin", content, "application/octet-stream")), 64 << 10)
    tracemalloc.start()
    try:
        status, _ = await call_chunked(app, page.client, url, chunks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 204
    # What the upload allocated at its peak, besides the test's own 24 MB body (allocated
    # before tracing started): a chunk, a pending megabyte, the parser.
    assert peak < 4 << 20, f"peak {peak / (1 << 20):.1f} MB"
    live = app.runtime.live[page.cid or ""]
    top = live.conv.instances[live.conv.stack[-1]].component
    assert isinstance(top, Big)
    assert top.sizes == [len(content)]
    [stored] = (tmp_path / "uploads").rglob("0.bin")
    assert stored.read_bytes() == content


async def test_a_client_that_goes_away_mid_upload_gets_nothing_delivered_and_leaves_nothing(
    app: App, tmp_path: Path
) -> None:
    page, url = await opened(app)
    data = body(("a.txt", b"complete", "text/plain"), ("b.txt", b"x" * 50, "text/plain"))
    cut = data.index(b"x" * 10)  # the first file whole, the second begun
    status, _ = await call_chunked(app, page.client, url, [data[:cut]], disconnect=True)
    assert status == 400
    assert inbox(app, page).got == []
    assert inbox(app, page).problem == ""  # a cancel is not a refusal
    assert files_on_disk(tmp_path) == []
    await page.close()


async def test_a_limit_crossed_in_a_later_chunk_deletes_what_was_written(
    app: App, tmp_path: Path
) -> None:
    page, url = await opened(app)
    data = body(("a.txt", b"a" * 90, "text/plain"), ("b.txt", b"b" * 150, "text/plain"))
    status, text = await call_chunked(app, page.client, url, split(data, 7))
    assert (status, text.decode().strip()) == (413, "b.txt: too large (limit 100 bytes)")
    assert inbox(app, page).got == []
    assert files_on_disk(tmp_path) == []
    await page.close()


# -- the folders follow the conversations ------------------------------------------------------


async def test_the_files_of_an_ended_conversation_are_deleted(app: App, tmp_path: Path) -> None:
    page, url = await opened(app)
    await post(page, url, body(("n.txt", b"hi", "text/plain")))
    assert files_on_disk(tmp_path) != []
    assert await app.runtime.end(page.cid or "")
    await app._uploads.close()  # pyright: ignore[reportPrivateUsage]  # the deletion's thread
    assert files_on_disk(tmp_path) == []
    assert not (tmp_path / "uploads" / (page.cid or "")).exists()
    await page.close()


async def test_the_reaper_ending_an_idle_conversation_deletes_its_files(
    make_app: MakeApp, tmp_path: Path
) -> None:
    clock = [1000.0]
    app = make_app(Inbox, state_dir=tmp_path, clock=lambda: clock[0], ttl=60)
    page, url = await opened(app)
    await post(page, url, body(("n.txt", b"hi", "text/plain")))
    clock[0] += 3600
    assert await app.runtime.reap() == [page.cid]
    await app._uploads.close()  # pyright: ignore[reportPrivateUsage]
    assert files_on_disk(tmp_path) == []
    await page.close()


async def test_the_app_on_end_is_still_told(make_app: MakeApp, tmp_path: Path) -> None:
    ended: list[str] = []
    app = make_app(Inbox, state_dir=tmp_path, on_end=lambda cid, value: ended.append(cid))
    page, _ = await opened(app)
    await app.runtime.end(page.cid or "")
    assert ended == [page.cid]
    await page.close()


async def test_folders_of_conversations_gone_while_the_app_was_down_are_swept(
    app: App, tmp_path: Path
) -> None:
    stale = tmp_path / "uploads" / "gone-conversation" / "tok"
    stale.mkdir(parents=True)
    (stale / "0.txt").write_bytes(b"left over")
    page, url = await opened(app)
    await post(page, url, body(("n.txt", b"hi", "text/plain")))
    assert not (tmp_path / "uploads" / "gone-conversation").exists()
    assert [f.split("/")[0] for f in files_on_disk(tmp_path)] == [page.cid]
    await page.close()


async def test_concurrent_uploads_of_one_conversation_are_both_delivered(app: App) -> None:
    page, url = await opened(app)
    first, second = await asyncio.gather(
        post(page, url, body(("1.txt", b"one", "text/plain"))),
        post(page, url, body(("2.txt", b"two", "text/plain"))),
    )
    assert (first.status, second.status) == (204, 204)
    assert inbox(app, page).got in (["1.txt|3|text/plain|one"], ["2.txt|3|text/plain|two"])
    await page.close()
