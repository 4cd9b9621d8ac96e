"""Sessions: a signed cookie naming the browser session that owns its conversations.

The cookie holds a random session id signed with itsdangerous, so it cannot be forged or
guessed; it is HttpOnly (scripts cannot read it) and SameSite=Lax (other sites' POSTs do not
carry it). A conversation records the session that minted it and refuses any other.

The signing secret comes from `App(secret=...)` or `PARLOUR_SECRET`; else, on the nodes of a
cluster, from the secret they share in NATS (`Owners.share`, `parlour.runtime.cluster_secret`:
a cookie minted by one node is accepted by every other); else from `.parlour/secret`,
generated once with mode 0600: sessions (and so open tabs) survive a restart without any
configuration.
"""

from __future__ import annotations

import os
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

from itsdangerous import BadSignature, Signer

__all__ = ["COOKIE", "Owners", "Sessions", "load_secret"]

COOKIE = "parlour_session"


def load_secret(state_dir: Path | str = ".parlour") -> str:
    """`PARLOUR_SECRET`, or the secret kept under `state_dir` (created on first use)."""
    env = os.environ.get("PARLOUR_SECRET")
    if env:
        return env
    path = Path(state_dir) / "secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secret.encode())
    finally:
        os.close(fd)
    return secret


class Owners:
    """Which browser session may use a conversation: the one whose cookie minted it.

    The signing secret is read (or created under `state_dir`) on first use, not when the app
    is built: importing an app must not write files.
    """

    def __init__(self, secret: str | None, state_dir: Path | str) -> None:
        self._secret = secret
        self._configured = secret is not None
        self._state_dir = Path(state_dir)
        self._sessions: Sessions | None = None

    def share(self, secret: str) -> None:
        """Sign with `secret`, the one the nodes of a cluster share, before serving; unless
        this app was given its own (`App(secret=...)`, `PARLOUR_SECRET`), which wins."""
        if self._configured or os.environ.get("PARLOUR_SECRET"):
            return
        self._secret = secret
        self._sessions = None

    @property
    def secret(self) -> str:
        """The signing secret (also the key of the pages' script nonces)."""
        if self._secret is None:
            self._secret = load_secret(self._state_dir)
        return self._secret

    @property
    def sessions(self) -> Sessions:
        if self._sessions is None:
            self._sessions = Sessions(self.secret)
        return self._sessions

    def allows(self, cookies: Mapping[str, str], owner: str | None) -> bool:
        """May the request carrying `cookies` use a conversation minted by session `owner`?"""
        if owner is None:
            return True
        sid = self.sessions.verify(cookies.get(COOKIE))
        return sid is not None and sid == owner


class Sessions:
    """Mint and verify signed session cookies.

    Every event POST checks its cookie, so verified cookies are remembered: a bounded LRU of
    cookie value -> session id (`cache_size` entries, the least recently used dropped first)
    spares the HMAC on repeat requests. Only cookies that passed the check are kept, and the
    signer never changes, so a hit is exactly as trustworthy as a fresh check.
    """

    def __init__(self, secret: str, *, cache_size: int = 1024) -> None:
        self._signer = Signer(secret, salt="parlour.session")
        self._verified: OrderedDict[str, str] = OrderedDict()
        self._cache_size = cache_size

    def new(self) -> tuple[str, str]:
        """A fresh session id and the signed cookie value carrying it."""
        sid = secrets.token_urlsafe(18)
        return sid, self._signer.sign(sid).decode()

    def verify(self, cookie: str | None) -> str | None:
        """The session id in a cookie value, or None if it is missing or was tampered with."""
        if not cookie:
            return None
        verified = self._verified
        sid = verified.get(cookie)
        if sid is not None:
            verified.move_to_end(cookie)
            return sid
        try:
            sid = self._signer.unsign(cookie).decode()
        except (BadSignature, UnicodeDecodeError):
            return None
        if self._cache_size > 0:
            verified[cookie] = sid
            if len(verified) > self._cache_size:
                verified.popitem(last=False)
        return sid
