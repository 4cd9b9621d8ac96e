"""Hostile requests, made reproducibly from a seed, and two ways of sending them.

    site = Site(name, pages=["/"], cid=..., events=[(iid, name)], signals=["draft-p-1"], ...)
    request = Hostile(random.Random(seed), site).next()     # one malformed/oversized/hostile
    outcome = await send_asgi(app, request, timeout=5)      # in-process, bounded
    outcome = await send_socket(port, request, timeout=5)   # over TCP to a real server

Every request is built from what a real page of the site shows (its conversation, instance
ids, event names, kept signals, session cookie), then broken in one or more places: the
method, a path segment, the query, a header (Host, Origin, Cookie, Content-Type,
Content-Length, Last-Event-ID), the body (hostile JSON, wrong-typed signals, bytes that are
not text, bodies over the limit, bodies sent in pieces). Nothing here knows what the answer
should be beyond "not 5xx, and in time".
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

# -- what a site shows a normal visitor ---------------------------------------------------------


@dataclass
class Site:
    """What a normal page of an app showed: the raw material of hostile requests."""

    name: str
    pages: list[str]
    cid: str
    events: list[tuple[str, str]]
    signals: list[str]
    cookie: str
    api: bool = False
    question: str | None = None
    static: list[str] = field(default_factory=lambda: ["parlour.css", "datastar.js"])


@dataclass
class Request:
    method: str
    path: str
    query: str = ""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list[tuple[bytes, bytes]])
    chunks: list[bytes] = field(default_factory=lambda: [b""])
    kind: str = ""

    def describe(self) -> str:
        body = b"".join(self.chunks)
        shown = {k.decode("latin-1"): v[:60].decode("latin-1") for k, v in self.headers}
        return (
            f"[{self.kind}] {self.method} {self.path[:100]!r} ?{self.query[:100]!r} "
            f"headers={shown} body={body[:100]!r}{'…' if len(body) > 100 else ''} "
            f"({len(body)} bytes in {len(self.chunks)} chunks)"
        )


@dataclass
class Outcome:
    status: int | None  # None: no answer (raised, or timed out)
    error: str = ""
    streamed: bool = False


# -- the raw material -------------------------------------------------------------------------

JUNK_SEGMENTS = [
    "",
    "a",
    "..",
    ".",
    "%2e%2e",
    "%2F",
    "a/b",
    "x" * 5000,
    "\x00",
    "%00",
    "\x7f",
    "😀",
    "ä",
    "<script>alert(1)</script>",
    "' OR '1'='1",
    "${7*7}",
    "{{7*7}}",
    "../../etc/passwd",
    "p0",
    "p-1",
    "p" + "9" * 40,
    "NaN",
    "-1",
    "9" * 400,
    " ",
    "\t",
    "__init__",
    "__class__",
    "_private",
    "render",
    "mount",
    "constructor",
    "prototype",
]

HOSTILE_JSON: list[bytes] = [
    b"",
    b"{}",
    b"[]",
    b"null",
    b"0",
    b'""',
    b"{",
    b"}",
    b"[" * 50_000,
    b'{"a":' * 20_000,
    b'{"a":' + b"9" * 5000 + b"}",
    b'{"a":-' + b"9" * 200 + b"}",
    b'{"a":1e999}',
    b'{"a":-1e400}',
    b'{"a":NaN}',
    b'{"a":Infinity}',
    b'{"a":1,"a":2}',
    b'{"a":"\\ud800"}',
    b'{"\\udfff":1}',
    b'{"a":"\xc3\x28"}',
    b"\xff\xfe{\x00}\x00",
    b"\xef\xbb\xbf{}",
    b'{"a":"\x00"}',
    b'{"a":1} trailing',
    b'{"__proto__":{"x":1}}',
    b'{"constructor":{"prototype":{}}}',
    b'{"a":"' + b"x" * 100_000 + b'"}',
    b"\x00" * 64,
    b"\r\n\r\n",
    b"--x\r\nContent-Disposition: form-data\r\n\r\n--x--",
    b"a=1&b=2",
]

WRONG_TYPED: list[Any] = [
    {"i": 1},
    [1, 2, 3],
    "text",
    "",
    1,
    -1,
    2**63,
    -(2**63) - 1,
    1.5,
    1e308,
    True,
    None,
    {"": {"": {"": []}}},
    "x" * 70_000,
    ["x"] * 1000,
    "\u2028\u2029",
    "<script>",
]

CONTENT_TYPES = [
    b"application/json",
    b"application/json; charset=utf-8",
    b"application/json; charset=utf-16",
    b"text/plain",
    b"text/event-stream",
    b"multipart/form-data; boundary=x",
    b"multipart/form-data",
    b"application/x-www-form-urlencoded",
    b"",
    b"\x7f;;;==",
    b"application/json;;;;;",
    b"*/*",
    b"application/" + b"j" * 5000,
]

HOSTS_OK = [b"testserver", b"localhost", b"localhost:8000", b"127.0.0.1:8000", b"[::1]:8000"]
HOSTS_BAD = [
    b"evil.example",
    b"",
    b"[::1",
    b"a b",
    b"localhost:99999",
    b"localhost:abc",
    b"LOCALHOST",
    b"localhost.",
    b"127.0.0.1.nip.io",
    b"x" * 5000,
    b"\xff\xfe",
    b"localhost:8000@evil.example",
]

ORIGINS = [
    b"http://testserver",
    b"null",
    b"https://evil.example",
    b"",
    b"http://[::1",
    b"\x00://\x00",
    b"http://testserver.evil.example",
    b"file://",
]

QUERY_JUNK = [
    "",
    "p=",
    "p=null",
    "%%%=&&&",
    "a=1&a=2&a=3",
    "p&p=1&p=%",
    "to=-1",
    "to=" + "9" * 5000,
    "to=%00",
    "to=١٢",
    "datastar=%7B",
    "datastar=" + "%5B" * 5000,
    "x=" + "y" * 20_000,
    "after_id=9223372036854775808",
    "after_id=-1",
    "after_id=" + "9" * 5000,
    "after_id=1e3",
    "limit=0",
    "limit=-5",
    "limit=" + "9" * 100,
    "limit=nan",
    "wait=nan",
    "wait=inf",
    "wait=-1",
    "wait=1e999",
    "wait=61",
    "wait=abc",
    "topic=*",
    "topic=a..b",
    "topic=%00",
    "topic=" + "a." * 2000,
    "follow=yes",
    "follow=1&after_id=abc",
]

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]

API_ROUTES = [
    ("POST", "/api/events"),
    ("GET", "/api/events"),
    ("GET", "/api/replay"),
    ("POST", "/api/questions"),
    ("GET", "/api/questions/{q}"),
    ("POST", "/api/questions/{q}/answer"),
    ("POST", "/api/settings"),
    ("POST", "/api/runs"),
    ("GET", "/api/snapshot"),
]

API_BODIES: list[Any] = [
    {"topic": "agent.started", "source": "fuzz", "payload": {}},
    {"topic": "question.answered", "payload": {"id": "x"}},
    {"topic": "a" * 5000},
    {"topic": "a\nb"},
    {"topic": "agent.*"},
    {"topic": 5},
    {"topic": "agent.x", "payload": {"n": 10**300}},
    {"topic": "agent.x", "time": 1e308},
    {"topic": "agent.x", "source": "\r\nevent: forged"},
    {"agent": "a", "question": "q?", "options": ["y", "n"], "timeout": 1e999},
    {"agent": "a", "question": "q?", "timeout": -1},
    {"agent": "a", "question": "q?", "timeout": "soon"},
    {"agent": "a", "question": "q?", "id": "x" * 300},
    {"agent": "a", "question": "q?", "id": "a\nb"},
    {"agent": ["a"], "question": {"q": 1}},
    {"answer": "y"},
    {"answer": ["y"] * 10_000},
    {"answer": None},
    {"key": "window", "value": "nan"},
    {"key": "window", "value": 1e308},
    {"key": "window", "value": -1},
    {"key": "log_length", "value": 2**64},
    {"key": "__class__", "value": 1},
    {"target": "../../etc/passwd"},
    {"target": "examples.counter:app", "bundle": "x" * 10_000},
    {"target": None},
]


# -- making hostile requests --------------------------------------------------------------------


class Hostile:
    """Hostile requests against one site, from a seeded generator (so failures reproduce)."""

    def __init__(self, rng: random.Random, site: Site) -> None:
        self.rng = rng
        self.site = site
        self.makers: list[Callable[[], Request]] = [
            self.event,
            self.event,
            self.event,
            self.signals,
            self.back,
            self.stream,
            self.shell,
            self.static,
            self.anywhere,
            self.wrong_host,
        ]
        if site.api:
            self.makers += [self.api] * 8

    def next(self) -> Request:
        request = self.rng.choice(self.makers)()
        if self.rng.random() < 0.3:
            self._mangle_headers(request)
        if self.rng.random() < 0.1:
            self._split_body(request)
        return request

    # what a page posts

    def _event_path(self) -> str:
        r, site = self.rng, self.site
        iid, name = r.choice(site.events) if site.events else ("p1", "inc")
        cid = site.cid
        roll = r.random()
        if roll < 0.15:
            cid = r.choice(JUNK_SEGMENTS)
        elif roll < 0.3:
            iid = r.choice(JUNK_SEGMENTS)
        elif roll < 0.45:
            name = r.choice(JUNK_SEGMENTS)
        elif roll < 0.5:
            return f"/_parlour/event/{cid}/{iid}/{name}/{r.choice(JUNK_SEGMENTS)}"
        elif roll < 0.55:
            return f"/_parlour/event/{cid}/{iid}"
        return f"/_parlour/event/{cid}/{iid}/{name}"

    def _base_headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"host", b"testserver"),
            (b"cookie", self.site.cookie.encode()),
            (b"content-type", b"application/json"),
        ]

    def event(self) -> Request:
        r = self.rng
        query = ""
        if r.random() < 0.4:
            raw = r.choice(HOSTILE_JSON)
            query = "p=" + quote(raw, safe="") if r.random() < 0.8 else r.choice(QUERY_JUNK)
        return Request(
            "POST",
            self._event_path(),
            query,
            self._base_headers(),
            [r.choice(HOSTILE_JSON)],
            kind="event",
        )

    def signals(self) -> Request:
        """A well-formed event whose kept signals hold what their fields cannot."""
        r = self.rng
        names = self.site.signals or ["draft", "count"]
        body: dict[str, Any] = {r.choice(names): r.choice(WRONG_TYPED)}
        if r.random() < 0.3:
            body[r.choice(names).split("-")[0]] = r.choice(WRONG_TYPED)
        iid, name = r.choice(self.site.events) if self.site.events else ("p1", "inc")
        return Request(
            "POST",
            f"/_parlour/event/{self.site.cid}/{iid}/{name}",
            "",
            self._base_headers(),
            [json.dumps(body).encode()],
            kind="signals",
        )

    def back(self) -> Request:
        r = self.rng
        cid = self.site.cid if r.random() < 0.6 else r.choice(JUNK_SEGMENTS)
        query = r.choice(["to=0", "to=1", "to=-1", "to=99999", *QUERY_JUNK])
        return Request(
            r.choice(["POST", "POST", "GET", "PUT"]),
            f"/_parlour/back/{cid}",
            query,
            self._base_headers(),
            [r.choice(HOSTILE_JSON)],
            kind="back",
        )

    def stream(self) -> Request:
        r = self.rng
        cid = self.site.cid if r.random() < 0.5 else r.choice(JUNK_SEGMENTS)
        headers = self._base_headers()
        last = r.choice(
            [b"", b"1.1", b"0.0", b"abc", b"9" * 500, b"-1.-1", b"\xff\xfe", b"1.1\x00", b"x.y.z"]
        )
        headers.append((b"last-event-id", last))
        return Request(
            r.choice(["GET", "GET", "POST"]), f"/_parlour/sse/{cid}", "", headers, kind="sse"
        )

    # what a browser asks for

    def shell(self) -> Request:
        r = self.rng
        path = r.choice(self.site.pages)
        roll = r.random()
        if roll < 0.2:
            path = path.rstrip("/") + "/"
        elif roll < 0.3:
            path = "/" * r.randint(2, 4) + "evil.example/"
        elif roll < 0.4:
            path = path + r.choice(JUNK_SEGMENTS)
        headers = self._base_headers()
        if r.random() < 0.3:
            headers[1] = (
                b"cookie",
                r.choice(
                    [b"", b"parlour_session=garbage", b";;;=;", b"parlour_tab=" + b"x" * 4000]
                ),
            )
        return Request(
            r.choice(["GET", "GET", "HEAD", "POST"]),
            path,
            r.choice(QUERY_JUNK),
            headers,
            kind="shell",
        )

    def static(self) -> Request:
        r = self.rng
        name = r.choice([*self.site.static, *JUNK_SEGMENTS, "../app.py", "%2e%2e%2fapp.py"])
        return Request(
            r.choice(["GET", "GET", "HEAD", "POST"]),
            f"/_parlour/static/{name}",
            r.choice(QUERY_JUNK),
            self._base_headers(),
            kind="static",
        )

    def anywhere(self) -> Request:
        r = self.rng
        depth = r.randint(1, 4)
        path = "/" + "/".join(r.choice(JUNK_SEGMENTS) for _ in range(depth))
        if r.random() < 0.3:
            path = "/_parlour/" + r.choice(["event", "sse", "back", "static", "x", ""]) + path
        return Request(
            r.choice(METHODS),
            path,
            r.choice(QUERY_JUNK),
            self._base_headers(),
            [r.choice(HOSTILE_JSON)],
            kind="anywhere",
        )

    def wrong_host(self) -> Request:
        request = self.rng.choice([self.event, self.shell, self.stream, self.back])()
        request.headers = [(k, v) for k, v in request.headers if k != b"host"]
        if self.rng.random() < 0.9:
            request.headers.append((b"host", self.rng.choice(HOSTS_BAD)))
        request.kind += "+host"
        return request

    # the console's API

    def api(self) -> Request:
        r = self.rng
        method, template = r.choice(API_ROUTES)
        question = self.site.question or "q"
        path = template.replace("{q}", r.choice([question, question, *JUNK_SEGMENTS[:12]]))
        if r.random() < 0.15:
            method = r.choice(METHODS)
        headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
        if r.random() < 0.5:
            body = json.dumps(r.choice(API_BODIES)).encode()
        else:
            body = r.choice(HOSTILE_JSON)
        query = r.choice(QUERY_JUNK) if r.random() < 0.7 else ""
        if path.startswith("/api/questions/") and method == "GET" and not query.startswith("wait="):
            query = ""  # a valid long poll may rightly be held: only hostile waits here
        return Request(method, path, query, headers, [body], kind="api")

    # breaking any request a little more

    def _mangle_headers(self, request: Request) -> None:
        r = self.rng
        headers = request.headers
        for _ in range(r.randint(1, 3)):
            roll = r.random()
            if roll < 0.2:
                headers.append((b"origin", r.choice(ORIGINS)))
            elif roll < 0.35:
                headers.append(
                    (b"sec-fetch-site", r.choice([b"cross-site", b"same-site", b"none", b"\xff"]))
                )
            elif roll < 0.55:
                headers = [(k, v) for k, v in headers if k != b"content-type"]
                headers.append((b"content-type", r.choice(CONTENT_TYPES)))
            elif roll < 0.7:
                value = r.choice([b"abc", b"-5", b"9" * 40, b"0", b"1", b"99999999", b" 5"])
                headers.append((b"content-length", value))
            elif roll < 0.8:
                headers = [(k, v) for k, v in headers if k != b"cookie"]
                headers.append(
                    (
                        b"cookie",
                        r.choice(
                            [
                                b"",
                                b";;;==;",
                                b"parlour_session=" + b"x" * 10_000,
                                b"parlour_session=\xe4.\xf6",
                                self.site.cookie.encode() * 50,
                            ]
                        ),
                    )
                )
            elif roll < 0.9:
                headers.append(
                    (
                        r.choice(
                            [
                                b"accept",
                                b"x-forwarded-host",
                                b"x-forwarded-proto",
                                b"datastar-request",
                                b"authorization",
                            ]
                        ),
                        r.choice(
                            [
                                b"",
                                b"evil.example",
                                b"\xff" * 100,
                                b"Bearer " + b"x" * 5000,
                                b"text/event-stream",
                            ]
                        ),
                    )
                )
            else:
                headers.append((b"x-" + b"a" * r.randint(1, 200), b"b" * r.randint(0, 8000)))
        request.headers = headers
        request.kind += "+headers"

    def _split_body(self, request: Request) -> None:
        body = b"".join(request.chunks)
        if self.rng.random() < 0.5:
            body += b" " * (1 << 20)  # over every route's limit
        size = max(1, len(body) // self.rng.randint(2, 6))
        request.chunks = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
        request.headers = [(k, v) for k, v in request.headers if k != b"content-length"]
        request.kind += "+chunked"


# -- sending them -------------------------------------------------------------------------------


async def send_asgi(app: Any, request: Request, *, timeout: float) -> Outcome:
    """Call `app` with `request` in-process; a stream is hung up once its answer starts."""
    path = request.path
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": path,
        "raw_path": quote(path, safe="/%").encode(),
        "root_path": "",
        "query_string": request.query.encode("utf-8", "surrogateescape"),
        "headers": request.headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    pending = list(request.chunks)
    gone = asyncio.Event()
    status: int | None = None
    streamed = False

    async def receive() -> dict[str, Any]:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, streamed
        if message["type"] == "http.response.start":
            status = int(message["status"])
            types = [v for k, v in message.get("headers", []) if k.lower() == b"content-type"]
            if any(t.startswith(b"text/event-stream") for t in types):
                streamed = True
                gone.set()  # the client hangs up at once: a stream never ends by itself
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            gone.set()

    try:
        async with asyncio.timeout(timeout):
            await app(scope, receive, send)
    except TimeoutError:
        return Outcome(status, f"no complete answer within {timeout} s", streamed)
    except Exception as exc:  # a real server would answer 500
        return Outcome(None, f"raised {exc!r}"[:300], streamed)
    finally:
        gone.set()
    if status is None:
        return Outcome(None, "the app returned without answering")
    return Outcome(status, streamed=streamed)


async def send_socket(port: int, request: Request, *, timeout: float) -> Outcome:
    """Send `request` over TCP (one connection, correct framing) and read the status line."""
    body = b"".join(request.chunks)
    target = quote(request.path, safe="/%") + (
        "?" + quote(request.query, safe="=&%") if request.query else ""
    )
    headers = [(k, v) for k, v in request.headers if k not in (b"content-length", b"connection")]
    head = f"{request.method} {target} HTTP/1.1\r\n".encode()
    head += b"".join(k + b": " + v + b"\r\n" for k, v in headers)
    head += b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
    return await send_raw(port, head + body, timeout=timeout)


async def send_raw(port: int, data: bytes, *, timeout: float) -> Outcome:
    """Write `data` to a fresh connection; the status of the first answer (None: none)."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(data)
                await writer.drain()
                line = await reader.readline()
            finally:
                writer.close()
    except TimeoutError:
        return Outcome(None, f"no answer within {timeout} s")
    except OSError as exc:  # the server closed on us: no answer, but no hang and no 500
        return Outcome(0, f"connection closed: {exc!r}")
    if not line:
        return Outcome(0, "connection closed without an answer")
    parts = line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        return Outcome(None, f"not an HTTP status line: {line[:80]!r}")
    return Outcome(int(parts[1]))


RAW_GARBAGE: list[bytes] = [
    b"\r\n\r\nGARBAGE\r\n\r\n",  # (blank lines alone: a server rightly waits for more)
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\nhost: localhost\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",  # no Host
    b"GET / HTTP/1.1\r\nhost: localhost\r\nhost: evil.example\r\n\r\n",
    b"GET / HTTP/1.1\r\nhost localhost\r\n\r\n",
    b"GET / HTTP/1.1\r\nhost: localhost\r\nx: " + b"a" * 100_000 + b"\r\n\r\n",
    b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nhost: localhost\r\n\r\n",
    b"POST /_parlour/event/a/b/c HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n"
    b"\r\nzz\r\n\r\n",
    b"POST /_parlour/event/a/b/c HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5\r\n"
    b"transfer-encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /_parlour/event/a/b/c HTTP/1.1\r\nhost: localhost\r\ncontent-length: -1\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32)),  # a TLS hello
    b"GET / HTTP/1.1\r\nhost: localhost\r\n\x00: \x00\r\n\r\n",
    b"GET /\x00 HTTP/1.1\r\nhost: localhost\r\n\r\n",
    b"GET /%ff%fe HTTP/1.1\r\nhost: localhost\r\n\r\n",
    b"BREW / HTTP/1.1\r\nhost: localhost\r\n\r\n",
    b"GET / HTTP/1.1\r\nhost: \xff\xfe\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
]
