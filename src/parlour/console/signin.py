"""Signing in to the console's pages: the sign-in page, sign-out, and the guard in front.

    app = SignIn(console_routes, access)     # an ASGI app: every non-API route wants a person

    GET  /_console/signin[?next=/status]     the form: name + password (users), or the token
    POST /_console/signin                    a form post; 303 to `next` with the cookie, or
                                             401 "Wrong name or password", 429 after 10 misses
    POST /_console/signout                   clears the cookie; 303 to the sign-in page

Everything else that is not `/api` or `/mcp` (they check the bearer token themselves:
`parlour.console.api`, `parlour.console.mcp`) passes only with a
valid sign-in cookie (`parlour.console.access`): a page GET without one is redirected to
the sign-in page with a relative `Location` (never built from the Host header); any other
request (the pages' event, back and stream routes) gets 403. The stylesheets and Datastar
(`/_console/console.css`, `/_parlour/static/…`) are public: the sign-in page uses them.

The cookie is HttpOnly (no script reads it), `Secure` when the request came over https, and
SameSite=Lax rather than Strict: people reach the console from links (a chat message saying
a question waits), and Strict would drop the cookie on those top-level navigations and show
a signed-in person the sign-in form. Lax still keeps the cookie off every cross-site POST and
fetch, which is where a page's actions are, and the console refuses cross-site requests
outright besides (`parlour.console.origin`).

Guessing is slow: each try costs a scrypt hash (about a quarter of a second, one at a time
for the whole console), a miss waits `MISS_DELAY` more, and a client with `MAX_MISSES`
misses within `MISS_WINDOW` seconds gets 429 until the oldest expires.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from typing import Final
from urllib.parse import parse_qs, quote

from htpy import Element, a, body, button, form, h1, head, html, input, label, link, main, meta, p
from htpy import title as title_
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from parlour.console.access import COOKIE, SESSION_SECONDS, TOKEN_PERSON, Access
from parlour.console.origin import from_elsewhere
from parlour.core.routes import static_path

__all__ = ["MAX_MISSES", "MISS_WINDOW", "SIGNIN_PATH", "SIGNOUT_PATH", "SignIn", "safe_next"]

SIGNIN_PATH: Final = "/_console/signin"
SIGNOUT_PATH: Final = "/_console/signout"
PAGES_BASE: Final = "/_parlour"
STYLESHEET: Final = "/_console/console.css"
STATIC: Final = static_path(PAGES_BASE, "")
MAX_FORM: Final = 8 * 1024
MAX_MISSES: Final = 10
MISS_WINDOW: Final = 300.0
MISS_DELAY: Final = 0.25
_TRACKED: Final = 4096
WRONG_USER: Final = "Wrong name or password"
WRONG_TOKEN: Final = "Wrong token"
PAGE_HEADERS: Final = {"Cache-Control": "no-store"}
"""(The security headers, CSP and X-Frame-Options included, come from the guard the console
is wrapped in: `parlour.web.security`.)"""


def _public(path: str) -> bool:
    """The files the sign-in page needs: the stylesheets, and the pages' static files (one
    name each: `/_parlour/static/../sse/…` is not one)."""
    if path == STYLESHEET:
        return True
    name = path[len(STATIC) :] if path.startswith(STATIC) else ""
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: a path of this console, never another site (`//evil`,
    `/\\evil`, `https://…` and anything not starting with one `/` become `/`)."""
    if not raw or not raw.startswith("/") or raw.startswith(("//", "/\\")):
        return "/"
    if any(c in raw for c in "\r\n\t\\") or raw.startswith(SIGNIN_PATH):
        return "/"
    return raw


class _Misses:
    """Failed tries per client, over a sliding window; bounded (the oldest client dropped)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._misses: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, client: str, now: float) -> float:
        """Seconds `client` must wait before another try (0: it may try now)."""
        misses = self._misses.get(client)
        if misses is None:
            return 0.0
        while misses and misses[0] <= now - self.window:
            misses.popleft()
        if not misses:
            del self._misses[client]
            return 0.0
        return misses[0] + self.window - now if len(misses) >= self.limit else 0.0

    def miss(self, client: str, now: float) -> None:
        misses = self._misses.setdefault(client, deque(maxlen=self.limit))
        misses.append(now)
        self._misses.move_to_end(client)
        while len(self._misses) > _TRACKED:
            self._misses.popitem(last=False)

    def forget(self, client: str) -> None:
        self._misses.pop(client, None)


class SignIn:
    """The guard: an ASGI app in front of the console's pages (see the module's doc)."""

    def __init__(self, app: ASGIApp, access: Access, *, title: str = "parlour console") -> None:
        self.app = app
        self.access = access
        self.title = title
        self._misses = _Misses(MAX_MISSES, MISS_WINDOW)
        self._hashing = asyncio.Semaphore(1)  # scrypt: one at a time (32 MiB each)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if path in ("/api", "/mcp") or path.startswith("/api/") or _public(path):
            await self.app(scope, receive, send)
            return
        if path in (SIGNIN_PATH, SIGNOUT_PATH):
            request = Request(scope, receive)
            response = await (self._signin(request) if path == SIGNIN_PATH else self._out(request))
            await response(scope, receive, send)
            return
        if self.access.mode == "open":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if self.access.person(request.cookies.get(COOKIE)) is not None:
            await self.app(scope, receive, send)
            return
        await self._refuse(request, path)(scope, receive, send)

    def _refuse(self, request: Request, path: str) -> Response:
        """A stranger's answer: to sign in (a page), or 403 (anything else). `path` is
        below the console's mount."""
        root = request.scope.get("root_path", "")
        if request.method in ("GET", "HEAD") and not path.startswith(PAGES_BASE + "/"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            location = f"{root}{SIGNIN_PATH}?next={quote(target, safe='/')}"
            return Response(status_code=303, headers={"Location": location, **PAGE_HEADERS})
        return PlainTextResponse(
            f"sign in first: {root}{SIGNIN_PATH}\n", 403, headers={"Cache-Control": "no-store"}
        )

    # -- the sign-in page -------------------------------------------------------------------

    async def _signin(self, request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            return self._page(request, safe_next(request.query_params.get("next")))
        if request.method != "POST":
            return PlainTextResponse(
                f"{SIGNIN_PATH} answers GET and POST\n", 405, headers={"Allow": "GET, POST"}
            )
        if from_elsewhere(request.headers):
            return PlainTextResponse("cross-site sign-in refused\n", 403)
        kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            return PlainTextResponse(
                "expected the sign-in form (application/x-www-form-urlencoded)\n", 415
            )
        fields = await _form(request)
        if fields is None:
            return PlainTextResponse(f"the sign-in form is over {MAX_FORM} bytes\n", 413)
        target = safe_next(fields.get("next"))
        mode = self.access.mode
        if mode == "open":
            return RedirectResponse(target, 303, headers=PAGE_HEADERS)
        client = request.client.host if request.client else "?"
        loop = asyncio.get_running_loop()
        wait = self._misses.wait(client, loop.time())
        if wait > 0:
            response = self._page(
                request, target, f"Too many tries; wait {wait:.0f} seconds", status=429
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        person = await self._check(mode, fields)
        if person is None:
            self._misses.miss(client, loop.time())
            await asyncio.sleep(MISS_DELAY)
            error = WRONG_USER if mode == "users" else WRONG_TOKEN
            return self._page(request, target, error, status=401)
        self._misses.forget(client)
        response = RedirectResponse(target, 303, headers=PAGE_HEADERS)
        response.set_cookie(
            COOKIE,
            self.access.mint(person),
            max_age=SESSION_SECONDS,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
        return response

    async def _check(self, mode: str, fields: dict[str, str]) -> str | None:
        """Who signs in with these fields, or None. The users' scrypt runs in a thread, one
        at a time, for a wrong name as for a wrong password."""
        if mode == "token":
            return TOKEN_PERSON if self.access.check_token(fields.get("token", "")) else None
        name, password = fields.get("name", ""), fields.get("password", "")
        async with self._hashing:
            user = await asyncio.to_thread(self.access.users.check, name, password)
        return user.name if user is not None else None

    async def _out(self, request: Request) -> Response:
        if request.method != "POST":
            return PlainTextResponse(
                f"{SIGNOUT_PATH} answers POST\n", 405, headers={"Allow": "POST"}
            )
        if from_elsewhere(request.headers):
            return PlainTextResponse("cross-site sign-out refused\n", 403)
        root = request.scope.get("root_path", "")
        response = RedirectResponse(f"{root}{SIGNIN_PATH}", 303, headers=PAGE_HEADERS)
        response.delete_cookie(
            COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="lax"
        )
        return response

    def _page(self, request: Request, target: str, error: str = "", status: int = 200) -> Response:
        root = request.scope.get("root_path", "")
        mode = self.access.mode
        if mode == "users":
            fields: list[Element] = [
                label(".console-setting")[
                    "Name",
                    input(
                        ".parlour-input",
                        name="name",
                        autocomplete="username",
                        required=True,
                        autofocus=True,
                    ),
                ],
                label(".console-setting")[
                    "Password",
                    input(
                        ".parlour-input",
                        type="password",
                        name="password",
                        autocomplete="current-password",
                        required=True,
                    ),
                ],
            ]
        else:
            fields = [
                label(".console-setting")[
                    "Token",
                    input(
                        ".parlour-input",
                        type="password",
                        name="token",
                        autocomplete="current-password",
                        required=True,
                        autofocus=True,
                    ),
                ]
            ]
        content: Element | list[Element]
        if mode == "open":
            content = [
                p(".console-unprotected")[
                    "This console asks nobody to sign in: anyone who can reach it can answer."
                ],
                p[a(href=f"{root}{target}")["Open the console"]],
            ]
        else:
            content = form(
                ".parlour-card.console-signin-form",
                method="post",
                action=f"{root}{SIGNIN_PATH}",
            )[
                p(".console-signin-error", role="alert")[error] if error else None,
                fields,
                input(type="hidden", name="next", value=target),
                button(".parlour-button.parlour-button--primary", type="submit")["Sign in"],
            ]
        document = html(lang="en")[
            head[
                meta(charset="utf-8"),
                meta(name="viewport", content="width=device-width, initial-scale=1"),
                title_[f"Sign in · {self.title}"],
                link(rel="stylesheet", href=root + static_path(PAGES_BASE, "parlour.css")),
                link(rel="stylesheet", href=root + STYLESHEET),
            ],
            body[main(".console.console-signin")[h1(".console-title")[self.title], content]],
        ]
        return HTMLResponse(str(document), status_code=status, headers=dict(PAGE_HEADERS))


async def _form(request: Request) -> dict[str, str] | None:
    """The posted form's fields (the first value of each), or None when it is too big."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_FORM:
        return None
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM:
                return None
    except ClientDisconnect:
        return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items() if values}
