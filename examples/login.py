"""Signing in: a page that knows who is on it, and forgets them when they sign out.

parlour run examples.login:app

Demo users (their passwords are stored below only as scrypt hashes):

    ada   lovelace
    alan  turing

How it fits together. A component cannot set a cookie (its events are fetches answered 204;
their updates travel on the stream), so signing in is plain HTTP, as in any web app: the form
POSTs to `/signin`, a Starlette route that checks the password, keeps a random token for the
person (`Signins`), sets it as an HttpOnly cookie and redirects to `/`. parlour is mounted
beside those routes and told who a request is with `App(authenticate=signed_in)`, which
reads that cookie; components ask `principal()`. Signing out forgets the token, so the
cookie, or a copy of it, signs nobody in any more: an event replayed from the signed-in page
is refused (403), and `App.reauthenticate` makes the person's other open tabs reload to the
form at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
from collections.abc import AsyncGenerator

from htpy import Element, button, div, form, h1, input, label, p, span
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from parlour import App, Component, Visit, event, principal

COOKIE = "signin"
"""The sign-in cookie: a random token that `Signins` maps to a name (not parlour's own)."""
MAX_FORM = 4096

# name -> (salt, scrypt(password, salt)); N=2**14, r=8, p=1, 32 bytes.
USERS: dict[str, tuple[str, str]] = {
    "ada": (
        "d7c35a8b978c5cf675f939259ba84085",
        "726f53c99b2f742728da2b9219d958dcc9f36c8c9a8b3cf9bb2210e405413095",
    ),
    "alan": (
        "0cd6f926fee9192bd7a9880d743f7cf0",
        "3861aec8632bf417bc35d6ec33b3ed891f948e6315b6eba46d7488db3f47daed",
    ),
}
_NOBODY = ("00" * 16, "00" * 32)
"""Checked against when the name is unknown, so a miss takes as long either way."""


def password_ok(name: str, password: str) -> bool:
    """Is `password` the password of user `name`? (About 0.1 s of CPU, by design.)"""
    salt, expected = USERS.get(name, _NOBODY)
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1, dklen=32)
    return hmac.compare_digest(got, bytes.fromhex(expected)) and name in USERS


class Signins:
    """Who is signed in: token -> name, in memory (a restart signs everyone out)."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def sign_in(self, name: str) -> str:
        token = secrets.token_urlsafe(32)
        self._names[token] = name
        return token

    def sign_out(self, token: str | None) -> str | None:
        return self._names.pop(token, None) if token else None

    def who(self, token: str | None) -> str | None:
        return self._names.get(token) if token else None


signins = Signins()


def signed_in(request: Request) -> str | None:
    """parlour's `authenticate`: the name the request's sign-in cookie stands for."""
    return signins.who(request.cookies.get(COOKIE))


class Home(Component):
    failed: bool = False
    waves: int = 0

    def visited(self, visit: Visit) -> None:
        self.failed = visit.arg("failed", False)  # /signin sends a wrong try back here

    def render(self) -> Element:
        who = principal()
        if who is None:
            return div(self.root, class_="parlour-card")[
                h1["Sign in"],
                p(".error", role="alert")["Wrong name or password"] if self.failed else None,
                form(method="post", action="/signin")[
                    label["Name ", input(name="name", autocomplete="username", required=True)],
                    label[
                        "Password ",
                        input(
                            type="password",
                            name="password",
                            autocomplete="current-password",
                            required=True,
                        ),
                    ],
                    button(".parlour-button", type="submit")["Sign in"],
                ],
            ]
        return div(self.root, class_="parlour-card")[
            p(".who")[f"Signed in as {who}"],
            div(class_="parlour-row")[
                button(".parlour-button", self.on("click", "wave"))["Wave"],
                span(".waves")[f"{self.waves} waves"],
            ],
            form(method="post", action="/signout")[
                button(".parlour-button", type="submit")["Sign out"]
            ],
        ]

    @event
    def wave(self) -> None:
        self.waves += 1


pages = App(Home, title="parlour sign-in", authenticate=signed_in)


def _from_elsewhere(request: Request) -> bool:
    """A form posted by another site's page (which must not sign anyone in or out)."""
    return request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none")


async def sign_in(request: Request) -> Response:
    if _from_elsewhere(request):
        return PlainTextResponse("cross-site sign-in refused\n", status_code=403)
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_FORM:
        return PlainTextResponse(f"a sign-in form is at most {MAX_FORM} bytes\n", status_code=413)
    data = await request.form()
    name, password = data.get("name"), data.get("password")
    if not isinstance(name, str) or not isinstance(password, str):
        return PlainTextResponse("the form needs a name and a password\n", status_code=400)
    if not await asyncio.to_thread(password_ok, name, password):
        return RedirectResponse("/?failed=1", status_code=303)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, signins.sign_in(name), httponly=True, samesite="lax", path="/")
    return response


async def sign_out(request: Request) -> Response:
    if _from_elsewhere(request):
        return PlainTextResponse("cross-site sign-out refused\n", status_code=403)
    name = signins.sign_out(request.cookies.get(COOKIE))
    if name is not None:
        pages.reauthenticate(name)  # their other tabs reload to the form now
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


@contextlib.asynccontextmanager
async def lifespan(_: Starlette) -> AsyncGenerator[None]:
    yield
    await pages.close()


app = Starlette(
    routes=[
        Route("/signin", sign_in, methods=["POST"]),
        Route("/signout", sign_out, methods=["POST"]),
        Mount("/", pages),
    ],
    lifespan=lifespan,
)
