"""Who may use the console: its token, its named users, and the sign-in cookie.

    access = Access(token="T", users=Users(path), secret="…")
    access.mode                     # "users" | "token" | "open": what the sign-in page asks
    access.api_caller(headers)      # "api" for `Authorization: Bearer T`, else None
    cookie = access.mint("ada")     # the signed value of a sign-in cookie
    access.person(cookie)           # "ada" while that cookie is valid, else None

The model, in five lines:

    users present   pages want a user's name and password; the API wants the token
    token only      pages want the token (the person is recorded as "token"); so does the API
    neither         nothing is asked (answers are recorded as "anonymous"): the console
                    warns at start and every page shows "not protected"

An answer through the API is recorded as given by "api". With users but no token the API
refuses every request (401): a console whose pages are closed must not leave its questions
answerable by anyone through the back door.

The cookie is an itsdangerous signature (salted for this use, with the app's secret) over
the person's name, a key and the time it was made. The key is the user's (renewed with
every password: `parlour.console.users`) or, for a token sign-in, a digest of the token, so
a new password, a removed user or a new token ends the sessions made before. It expires
after `SESSION_SECONDS`. What this module does not do: HTTP (`parlour.console.signin`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Final, Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer

from parlour.console.questions import ADMIN_GROUP, Answerer
from parlour.console.users import Users

__all__ = ["ANONYMOUS", "API_CALLER", "COOKIE", "SESSION_SECONDS", "TOKEN_PERSON", "Access"]

COOKIE: Final = "parlour_console"
"""The sign-in cookie (the framework's own session cookie is another)."""
SESSION_SECONDS: Final = 7 * 86_400
"""How long a sign-in lasts (sign out, a new password or a removed user end it sooner)."""
ANONYMOUS: Final = "anonymous"
"""Who gave an answer when the console asks nobody to sign in."""
API_CALLER: Final = "api"
"""Who gave an answer through the API (with the token, or with no auth configured)."""
TOKEN_PERSON: Final = "token"
"""Who gave an answer in a page signed in with the token (no users configured)."""
CONSOLE_PERSON: Final = "console"
"""Who answers from code holding the hub (the console's own)."""

Mode = Literal["users", "token", "open"]


class Access:
    """The console's rules of access, read live: `users` is re-read when its file changes,
    so adding the first user closes the pages of a running console.

    `secret` is the app's signing secret, or a function reading it on first use (it may
    create `.parlour/secret`, which building a console must not do)."""

    def __init__(self, *, token: str | None, users: Users, secret: str | Callable[[], str]) -> None:
        if token is not None and not token.strip():
            raise ValueError(
                "the console token is empty: expected a non-empty --token (or "
                "PARLOUR_CONSOLE_TOKEN), or none at all"
            )
        self.token = token
        self.users = users
        self._secret = secret
        self._keys: tuple[URLSafeTimedSerializer, str | None] | None = None
        self._had_users = False

    def _signing(self) -> tuple[URLSafeTimedSerializer, str | None]:
        """The cookie serializer and the token's key, made from the secret on first use."""
        if self._keys is None:
            secret = self._secret if isinstance(self._secret, str) else self._secret()
            if not secret:
                raise ValueError("Access: expected the app's signing secret, got ''")
            token = self.token
            self._keys = (
                URLSafeTimedSerializer(secret, salt="parlour.console.signin"),
                hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()[:32]
                if token is not None
                else None,
            )
        return self._keys

    def __repr__(self) -> str:
        return f"<Access {self.mode}>"

    @property
    def mode(self) -> Mode:
        """What the pages ask: a user's name and password, the token, or nothing.

        It fails closed: once this console has seen a user, removing the last one leaves
        the pages asking for a name and password nobody has (or the token, if it has one)
        until a restart, rather than opening them to anyone."""
        if self.users:
            self._had_users = True
            return "users"
        if self.token is not None:
            return "token"
        return "users" if self._had_users else "open"

    @property
    def protected(self) -> bool:
        return self.mode != "open"

    # -- the API ----------------------------------------------------------------------------

    def api_caller(self, headers: Mapping[str, str]) -> str | None:
        """Who calls the API: `API_CALLER` when the bearer is the token (or nothing is
        configured), None when refused."""
        if self.token is None:
            return None if self.users else API_CALLER
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        if hmac.compare_digest(value.strip().encode(), self.token.encode()):
            return API_CALLER
        return None

    # -- who may answer what ---------------------------------------------------------------

    def answerer(self, person: str) -> Answerer:
        """`person` (as `person()` or `api_caller()` names them) as an answerer of assigned
        questions. Admins may answer any question: the token's holder (`api`, `token`),
        everyone when nothing is protected (`anonymous`), the console's own code
        (`console`), and the users in the group `admin`. Anyone else answers the questions
        assigned to them or to a group they are in (`parlour console user add NAME --group
        G`), and those assigned to nobody."""
        if person in (API_CALLER, TOKEN_PERSON, ANONYMOUS, CONSOLE_PERSON):
            return Answerer(name=person, admin=True)
        try:
            user = self.users.get(person)
        except ValueError:  # an unreadable users file: no groups, no admin
            user = None
        groups = frozenset(user.groups) if user is not None else frozenset[str]()
        return Answerer(name=person, groups=groups, admin=ADMIN_GROUP in groups)

    # -- the pages: sign-in cookies ---------------------------------------------------------

    def check_token(self, offered: str) -> bool:
        """Whether `offered` is the console's token (constant-time)."""
        if self.token is None:
            return False
        return hmac.compare_digest(offered.encode(), self.token.encode())

    def mint(self, person: str) -> str:
        """The value of a sign-in cookie for `person` (a user's name, or `TOKEN_PERSON`)."""
        return self._signing()[0].dumps([person, self._key_of(person) or ""])

    def person(self, cookie: str | None) -> str | None:
        """Who the sign-in cookie names, if it is valid now: signed by us, younger than
        `SESSION_SECONDS`, and its key still the person's (same password, same token)."""
        if self.mode == "open":
            return ANONYMOUS
        if not cookie:
            return None
        try:
            loaded: object = self._signing()[0].loads(cookie, max_age=SESSION_SECONDS)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(loaded, list) or len(loaded) != 2:  # pyright: ignore[reportUnknownArgumentType]
            return None
        person, key = loaded  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(person, str) or not isinstance(key, str):
            return None
        expected = self._key_of(person)
        if expected is None or not hmac.compare_digest(key.encode(), expected.encode()):
            return None
        return person

    def _key_of(self, person: str) -> str | None:
        """The key a valid cookie of `person` carries now; None if they cannot sign in."""
        mode = self.mode
        if mode == "token":
            return self._signing()[1] if person == TOKEN_PERSON else None
        if mode == "users" and person != TOKEN_PERSON:
            try:
                user = self.users.get(person)
            except ValueError:  # an unreadable users file signs everybody out
                return None
            return user.key if user is not None else None
        return None
