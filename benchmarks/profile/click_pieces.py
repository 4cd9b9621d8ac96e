"""The pieces of a click that issue 17 rewrote, timed without a profiler, before and after.

    .venv/bin/python benchmarks/profile/click_pieces.py            # µs per call, median of 5

Each "before" is what the code did before (datastar-py's generator for the SSE framing,
Starlette's `Headers` and `cookie_parser` for the event route's headers, the whole encode of
the conversation for its save); each "after" is what it does now, on the same inputs (the
counter after 60 clicks: a full history of 50). No timing is asserted.
"""

from __future__ import annotations

import statistics
import sys
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from datastar_py import ServerSentEventGenerator as SDK  # noqa: E402
from datastar_py.consts import ElementPatchMode  # noqa: E402
from examples.counter import Counter  # noqa: E402
from starlette.datastructures import Headers  # noqa: E402
from starlette.requests import cookie_parser  # noqa: E402

import parlour.wire  # noqa: E402, F401  (plugs the Datastar actions in)
from parlour.core import kernel  # noqa: E402
from parlour.core.codec import encode, encode_head, history_records  # noqa: E402
from parlour.core.fragments import Elements, History  # noqa: E402
from parlour.stores.protocol import Change  # noqa: E402
from parlour.web.events import _EventHeaders as EventHeaders  # noqa: E402  # pyright: ignore[reportPrivateUsage]
from parlour.web.events import cross_origin  # noqa: E402
from parlour.wire import encode as sse  # noqa: E402
from parlour.wire.actions import history_script  # noqa: E402


def median_us(fn: object, number: int = 3000) -> float:
    return statistics.median(
        min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6  # type: ignore[arg-type]
        for _ in range(5)
    )


def main() -> None:
    conv = kernel.boot(Counter(), cid="pieces", base="/_parlour").conversation
    for _ in range(60):
        conv = kernel.dispatch(conv, kernel.Event("p1", "inc")).conversation
    step = kernel.dispatch(conv, kernel.Event("p1", "inc"))
    after = step.conversation
    patch = next(f for f in step.fragments if isinstance(f, Elements))
    moved = next(f for f in step.fragments if isinstance(f, History))
    nonce = "abcdefghijklmnopqrstuvwx"

    def framing_before() -> None:
        SDK.patch_elements(patch.html, selector=None, mode=ElementPatchMode.OUTER, event_id="a.1")
        SDK.execute_script(history_script(moved), attributes={"nonce": nonce}, event_id="a.1")

    def framing_after() -> None:
        sse(patch, event_id="a.1")
        sse(moved, event_id="a.1", nonce=nonce)

    raw = [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"),
        (b"accept", b"*/*"),
        (b"content-type", b"application/json"),
        (b"datastar-request", b"true"),
        (b"content-length", b"2"),
        (b"origin", b"http://127.0.0.1:8000"),
        (b"sec-fetch-site", b"same-origin"),
        (b"cookie", b"parlour_session=abcdefghijklmnopqrstuvwx.signature-of-it; theme=dark"),
    ]
    scope = {"type": "http", "headers": raw}

    def headers_before() -> None:
        h = Headers(scope=scope)
        cross_origin(h)
        cookie_parser(h.get("cookie", "")).get("parlour_session")
        h.get("content-length")
        h.get("content-type")

    def headers_after() -> None:
        h = EventHeaders(raw)
        h.cross_origin()
        h.cookies()

    records = history_records(conv)

    def save_before() -> None:
        encode(after)

    def save_after() -> None:
        Change.of(
            encode_head(after),
            touched=1.0,
            base=after.history_base,
            records=history_records(after),
            before=(conv.history_base, records),
        )

    rows = [
        ("SSE framing: the patch and its history script", framing_before, framing_after),
        ("event route: origin, cookie, length, type", headers_before, headers_after),
        ("the save's encoding after a click (whole / in parts)", save_before, save_after),
    ]
    print("| piece | before µs | after µs |")
    print("|---|---|---|")
    for name, before, now in rows:
        print(f"| {name} | {median_us(before):.2f} | {median_us(now):.2f} |")


if __name__ == "__main__":
    main()
