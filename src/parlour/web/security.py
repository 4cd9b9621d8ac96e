"""What every response of a parlour server carries, and which requests it refuses outright.

    guard(app, allowed_hosts=["app.example.com"])   the ASGI app, wrapped:

    Host          a request whose `Host` is not an allowed host is answered 400 on every route
                  (Starlette's `TrustedHostMiddleware` rule, the answer remembered per `Host`
                  value: `HostCheck`), so a DNS-rebinding page that resolves its own name to
                  127.0.0.1 cannot drive a local server, and no URL the server builds can
                  carry a name an attacker chose
    redirects     a `Location` naming the request's own host is made relative (`/status`), so
                  no redirect echoes the `Host` header (Starlette's slash redirects are
                  absolute URLs built from it)
    headers       `X-Content-Type-Options: nosniff` and `Referrer-Policy` on every response;
                  on HTML, a Content-Security-Policy (unless the response set its own, like the
                  shell's with its nonce) and `X-Frame-Options: DENY`

`App` wraps itself with `guard` (its event route, which every click takes, asks the same
`Guard` for the Host check and the headers itself); the console wraps its whole app (pages
and /api) with it too, so both refuse the same hosts with the same answer. The policy's
directives, and why each is what it is, are in docs/security.md ("The request: Host, Origin,
headers").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from starlette._utils import parse_host_header  # pyright: ignore[reportPrivateUsage]
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parlour.web.datastar import DatastarSource

__all__ = [
    "LOCAL_HOSTS",
    "TEST_HOST",
    "Guard",
    "Nonces",
    "Policy",
    "allowed_hosts",
    "guard",
    "guard_hosts",
    "page_policy",
    "relative_location",
]

log = logging.getLogger("parlour")

LOCAL_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
"""The names a server on this machine is reached by: always allowed."""

TEST_HOST = "testserver"
"""The `Host` that in-process test clients send (`parlour.testing.AsgiClient`, Starlette's
`TestClient`, httpx's ASGI transport by convention): allowed too, so testing an app needs no
configuration. A browser never sends it unless the user typed it."""

ANY = "*"


def _host_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c in "-_")


def allowed_hosts(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The hosts a server answers: the local ones (`LOCAL_HOSTS`, `TEST_HOST`) plus `extra`.

    `extra` holds names as a browser puts them in `Host` without the port: `app.example.com`,
    `*.example.com` (any subdomain), `10.0.0.5`, `[2001:db8::1]`. `["*"]` allows every host
    (behind a proxy that checks `Host` itself). A malformed entry raises ValueError naming it,
    here, rather than making every request a 400 later.
    """
    if isinstance(extra, str):
        raise TypeError(
            f"allowed_hosts must be a list of host names, got the string {extra!r}; "
            f"write [{extra!r}]"
        )
    names = [_host_pattern(name) for name in extra]
    if ANY in names:
        return (ANY,)
    chosen = [*LOCAL_HOSTS, TEST_HOST]
    chosen += [name for name in names if name not in chosen]
    return tuple(dict.fromkeys(chosen))


_hosts = allowed_hosts  # `guard`'s keyword of the same name hides the function there


def guard_hosts(app: ASGIApp, hosts: Iterable[str]) -> ASGIApp:
    """`app` answering only requests for `hosts` (as `allowed_hosts` returns them); any other
    `Host`, a missing one or a malformed one gets `400 Invalid host header`."""
    check = HostCheck(hosts)
    if check.any:
        return app
    return _TrustedHosts(app, check)


_HOST_ANSWERS = 256
"""How many distinct `Host` headers a `HostCheck` remembers its answer for (a server is
reached by a handful of names; a flood of made-up ones only empties the memory)."""


class HostCheck:
    """Is a request's `Host` one of the allowed hosts? Starlette's `TrustedHostMiddleware`
    rule exactly (the header parsed as it parses it, compared case-insensitively, `*.x`
    matching any subdomain, no `www.` redirect), with the answer for each header value
    remembered: every request asks it, and a browser sends the same `Host` every time."""

    __slots__ = ("_answers", "any", "patterns")

    def __init__(self, hosts: Iterable[str]) -> None:
        self.patterns = tuple(pattern.lower() for pattern in hosts)
        self.any = ANY in self.patterns
        self._answers: dict[str | bytes | None, bool] = {}

    def allows(self, host: str | bytes | None) -> bool:
        """The answer for the value of a request's (first) `Host` header, decoded or as its
        bytes; None: none."""
        answer = self._answers.get(host)
        if answer is None:
            answer = self.any or self._allowed(host)
            if len(self._answers) >= _HOST_ANSWERS:
                self._answers.clear()
            self._answers[host] = answer
        return answer

    def allows_scope(self, scope: Scope) -> bool:
        """The answer for a request: its first `Host` header, as `Headers.get` finds it."""
        for key, value in scope["headers"]:
            if key == b"host":
                return self.allows(value.decode("latin-1"))
        return self.allows(None)

    def _allowed(self, header: str | bytes | None) -> bool:
        if isinstance(header, bytes):
            header = header.decode("latin-1")
        parsed = parse_host_header(header)
        if parsed is None:
            return False
        host = parsed.host.lower()
        return any(
            host == pattern or (pattern.startswith("*") and host.endswith(pattern[1:]))
            for pattern in self.patterns
        )


class _TrustedHosts:
    """The host check in front of `app`: HTTP and WebSocket requests for any other host are
    answered `400 Invalid host header` (lifespan messages pass)."""

    def __init__(self, app: ASGIApp, check: HostCheck) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self.check.allows_scope(scope):
            await _invalid_host(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _invalid_host(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("Invalid host header", status_code=400)(scope, receive, send)


def _host_pattern(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"an allowed host must be a string such as 'app.example.com', got {name!r}")
    text = name.strip().lower().rstrip(".")
    if text == ANY:
        return ANY
    problem = _host_problem(text)
    if problem:
        raise ValueError(
            f"allowed host {name!r} is not a host name: {problem}; write it as it appears in "
            "the Host header without the port, e.g. 'app.example.com', '*.example.com', "
            "'10.0.0.5' or '[2001:db8::1]' (or '*' to allow every host)"
        )
    return text


def _host_problem(text: str) -> str:
    """What is wrong with `text` as a host pattern, or "" when it is fine."""
    if not text:
        return "it is empty"
    if "://" in text or "/" in text:
        return "it has a scheme or a path (give the host alone)"
    if text.startswith("["):
        if not text.endswith("]"):
            return "a bracketed IPv6 address must end with ']' (and no port)"
        try:
            ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            return "it is not an IPv6 address between the brackets"
        return ""
    if ":" in text:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            return "it has a port (the port is not part of the check; drop it)"
        return f"an IPv6 address is written in brackets: '[{text}]'"
    if ANY in text[1:] or (text.startswith(ANY) and not text.startswith("*.")):
        return "a wildcard is only allowed as a leading '*.' (e.g. '*.example.com')"
    labels = text[2:] if text.startswith("*.") else text
    if any(not part or not all(_host_char(c) for c in part) for part in labels.split(".")):
        return "host names are ASCII letters, digits, '-' and '.' (IDNs in punycode, xn--…)"
    return ""


# -- the headers every response carries --------------------------------------------------------

_DIRECTIVES: Mapping[str, str] = MappingProxyType(
    {
        "default-src": "'self'",
        "script-src": "'self' 'unsafe-eval'",
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data:",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
)
"""The Content-Security-Policy of a parlour page, directive by directive (why each: see
docs/security.md, "The request: Host, Origin, headers")."""


@dataclass(frozen=True, slots=True)
class Policy:
    """An app's Content-Security-Policy: the default directives, the origins scripts may also
    load from (the CDN when Datastar comes from one), those of the app's own stylesheets, and
    the app's overrides (`App(csp={"img-src": "'self' https://images.example"})`; a value of
    "" drops the directive)."""

    script_origins: tuple[str, ...] = ()
    style_origins: tuple[str, ...] = ()
    overrides: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        for name, value in self.overrides.items():
            if not name or not all(c.isascii() and (c.isalpha() or c == "-") for c in name):
                raise ValueError(f"csp: {name!r} is not a directive name; use names like 'img-src'")
            if any(c in value for c in ";,\r\n"):
                raise ValueError(
                    f"csp: the value of {name!r} must be one directive's sources, got {value!r} "
                    "(';' and ',' would start another directive or policy); list the sources "
                    "separated by spaces"
                )

    def header(self, nonce: str | None = None) -> str:
        """The header's value; `nonce` allows the scripts that carry it (the shell's page)."""
        directives = dict(_DIRECTIVES)
        extra = [*self.script_origins, *([f"'nonce-{nonce}'"] if nonce else [])]
        if extra:
            directives["script-src"] += " " + " ".join(extra)
        if self.style_origins:
            directives["style-src"] += " " + " ".join(self.style_origins)
        directives.update(self.overrides)
        return "; ".join(f"{name} {value}".rstrip() for name, value in directives.items() if value)


def page_policy(
    datastar: DatastarSource,
    overrides: Mapping[str, str] | None = None,
    stylesheets: Iterable[str] = (),
) -> Policy:
    """The policy of an app whose pages load Datastar from `datastar` and link `stylesheets`:
    its own origin, plus the bundle's (the CDN) and the stylesheets' origins (`data:` for a
    stylesheet inlined as a data: URL)."""
    scripts = () if datastar.file is not None else _origins([datastar.url])
    return Policy(scripts, _origins(stylesheets), MappingProxyType(dict(overrides or {})))


def _origins(urls: Iterable[str]) -> tuple[str, ...]:
    """The CSP sources that allow loading `urls` (nothing for a same-origin path)."""
    found: list[str] = []
    for url in urls:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https") and parts.netloc:
            found.append(f"{scheme}://{parts.netloc.lower()}")
        elif scheme == "data":
            found.append("data:")
    return tuple(dict.fromkeys(found))


class Nonces:
    """The script nonce of each conversation's page: `nonces(cid)`.

    The shell's policy allows the scripts carrying it, and the stream puts it on the scripts it
    sends (history entries, redirects, `execute_script`), which Datastar runs by inserting
    them. Derived from the app's secret and the conversation id, so every process that serves
    the conversation, before and after a restart, gives the same nonce without storing it,
    and nobody without the secret can compute it. (A random nonce per response is the usual
    advice; here the page outlives the response that carried its header, and its stream must
    still know the nonce after a reconnect to another process.)
    """

    def __init__(self, secret: Callable[[], str]) -> None:
        self._secret = secret
        self._key: bytes | None = None

    def __call__(self, cid: str) -> str:
        if self._key is None:
            self._key = hmac.digest(self._secret().encode(), b"parlour.csp-nonce", "sha256")
        digest = hmac.digest(self._key, cid.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return base64.urlsafe_b64encode(digest[:18]).decode()


_ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
"""On every response: no content sniffing (a text answer is never run as script or HTML), and
no URL of ours (which names conversations) in the Referer sent to other sites."""

_CSP = b"content-security-policy"
_HTML = b"text/html"


class Guard:
    """`app` behind the host check, with the security headers on every response and same-host
    redirects made relative (this module's docstring): what `guard` returns.

    The event route, which every click takes, is served beside it rather than through it
    (`parlour.web.app`) and asks its parts itself: `hosts.allows` with the `Host` it reads
    anyway, `secured` once for its usual 204, `secure` for a refusal's answer. A request the
    host check refuses is passed to the guard whole, to be refused exactly as here.
    """

    def __init__(self, app: ASGIApp, hosts: HostCheck, policy: Policy) -> None:
        self.app = app
        self.hosts = hosts
        self._checked: ASGIApp = app if hosts.any else _TrustedHosts(app, hosts)
        self.html_headers = (
            (_CSP, policy.header().encode("latin-1")),
            (b"x-frame-options", b"DENY"),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._checked(scope, receive, send)
            return
        await self._checked(scope, receive, self.secure(scope, send))

    def secure(self, scope: Scope, send: Send) -> Send:
        """`send` adding the security headers to the response's start (and making a redirect
        to the request's own host relative).

        A plain function handing back the server's own awaitable: every message of every
        response passes here (each batch of a stream), and a coroutine of ours around each
        would cost more than what it does.
        """
        secured = self._secured

        def secure_send(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                message = secured(scope, message)
            return send(message)

        return secure_send

    def secured(self, start: Message) -> Message:
        """The start message `start` (not a redirect) as `secure` would send it: a response
        the same for every request, made once."""
        if 300 <= start["status"] < 400:
            raise ValueError(f"secured() takes no redirect (it has no request), got {start!r}")
        return self._secured({}, start)

    def _secured(self, scope: Scope, message: Message) -> Message:
        # A new message: the hot routes send shared, module-level start messages.
        headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
        names = {name.lower() for name, _ in headers}
        headers += [item for item in _ALWAYS if item[0] not in names]
        html = any(k.lower() == b"content-type" and v.startswith(_HTML) for k, v in headers)
        if html:
            headers += [item for item in self.html_headers if item[0] not in names]
        if 300 <= message["status"] < 400 and b"location" in names:
            headers = [
                (k, _relative(scope, v) if k.lower() == b"location" else v) for k, v in headers
            ]
        return {**message, "headers": headers}


def _relative(scope: Scope, location: bytes) -> bytes:
    host = next((v for k, v in scope["headers"] if k == b"host"), b"")
    return relative_location(location.decode("latin-1"), host.decode("latin-1")).encode("latin-1")


def relative_location(location: str, host: str) -> str:
    """`location` without its scheme and authority when it names `host` (the request's own).

    Starlette builds redirect URLs (a trailing slash removed, a mount's slash added) from the
    request's `Host`; sent as is, the redirect echoes whatever `Host` the client claimed.
    Leading slashes collapse to one, so `//evil.example/` stays a path on this site instead of
    becoming a protocol-relative URL to another.
    """
    try:
        parts = urlsplit(location)
    except ValueError:
        return location
    if not parts.scheme and not parts.netloc:
        return location
    if parts.scheme.lower() not in ("http", "https") or parts.netloc.lower() != host.lower():
        return location  # somewhere else on purpose (a sign-in provider): not ours to change
    relative = "/" + parts.path.lstrip("/\\")
    if parts.query:
        relative += "?" + parts.query
    if parts.fragment:
        relative += "#" + parts.fragment
    return relative


def guard(
    app: ASGIApp, *, allowed_hosts: Iterable[str] = (), policy: Policy | None = None
) -> Guard:
    """`app` with the host check, the security headers and relative redirects (this module's
    docstring). `allowed_hosts` are added to the local ones (`["*"]`: any host)."""
    return Guard(app, HostCheck(_hosts(allowed_hosts)), policy or Policy())
