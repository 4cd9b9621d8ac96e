"""The console's named people: who may sign in, with their passwords hashed, in one file.

    users = Users(Path(".parlour/console-users.json"))
    users.add("ada", "correct horse battery")   # a new user, or a new password for ada
    users.names()                               # ["ada"]
    users.check("ada", "correct horse battery") # -> User, or None for a wrong name/password
    users.remove("ada")

Passwords are hashed with scrypt (`hashlib.scrypt`, a standard memory-hard KDF) and a random
16-byte salt; the parameters are stored with each hash, so they can be raised later without
invalidating the passwords already stored:

    scrypt$N$r$p$SALT$HASH          (SALT and HASH in unpadded base64)

The default N=2^15, r=8, p=3 costs 32 MiB and about a quarter of a second per check, one of
OWASP's equivalent scrypt settings; that cost is also what makes guessing slow. A check of a
name nobody has hashes a dummy password with the same parameters, so a wrong name and a wrong
password take the same time and give the same answer. Comparisons are constant-time.

Each user also has a random `key`, renewed with every new password: the console's sign-in
cookie carries it, so changing a password (or removing the user) signs that person out
everywhere.

The file (JSON, mode 0600, replaced whole by rename so a reader never sees half of it):

    {"version": 1, "users": {"ada": {"password": "scrypt$...", "key": "<hex>", "added": T}}}

It is re-read when it changes on disk, so `parlour console user add` takes effect in a
running console. What this module does not do: sessions or HTTP (`parlour.console.access`,
`parlour.console.signin`).
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO, cast

__all__ = [
    "DEFAULT_PARAMS",
    "RESERVED_NAMES",
    "USERS_FILE",
    "ScryptParams",
    "User",
    "Users",
    "UsersFileError",
    "check_group",
    "check_name",
    "hash_password",
    "run_user_command",
    "verify_password",
]

USERS_FILE: Final = "console-users.json"
"""The users file's name under the console's state directory."""
RESERVED_NAMES: Final = frozenset({"api", "token", "anonymous", "console"})
"""Names the console records for answers that no named person gave (see `access`)."""
MIN_PASSWORD: Final = 8
MAX_PASSWORD: Final = 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt's cost: N (CPU/memory, a power of two), r (block size), p (parallelism)."""

    n: int = 2**15
    r: int = 8
    p: int = 3

    @property
    def maxmem(self) -> int:
        """Memory scrypt may use: 128 * r * N bytes, doubled for OpenSSL's own needs."""
        return 2 * 128 * self.r * self.n + (1 << 20)


DEFAULT_PARAMS: Final = ScryptParams()


class UsersFileError(ValueError):
    """The users file cannot be read (not JSON, or not the shape this module writes)."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    password: str
    """The stored hash, `scrypt$N$r$p$SALT$HASH`."""
    key: str
    """Renewed with every password: the sign-in cookie carries it (see the module's doc)."""
    added: float = 0.0
    groups: tuple[str, ...] = ()
    """The groups the user is in (`--group`): a question assigned to `group:NAME` may be
    answered by its members; members of `admin` may answer any question."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(password: str, params: ScryptParams = DEFAULT_PARAMS) -> str:
    """The stored form of `password`: scrypt with a fresh random salt, parameters included."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=params.n, r=params.r, p=params.p, maxmem=params.maxmem
    )
    return f"scrypt${params.n}${params.r}${params.p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` hashes to `stored` (constant-time comparison); False for a stored
    value this module did not write."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        params = ScryptParams(int(n), int(r), int(p))
        expected = _unb64(digest)
        salt_bytes = _unb64(salt)
    except ValueError:
        return False
    if scheme != "scrypt" or not expected:
        return False
    try:
        actual = hashlib.scrypt(
            password.encode(),
            salt=salt_bytes,
            n=params.n,
            r=params.r,
            p=params.p,
            maxmem=params.maxmem,
            dklen=len(expected),
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def check_name(name: str) -> str:
    """`name` if it may name a user; else `ValueError` saying what a name may be."""
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"user name {name!r:.80}: expected 1 to 64 letters, digits or . _ @ - "
            "(starting with a letter or digit), e.g. 'ada' or 'ada.lovelace'"
        )
    if name.lower() in RESERVED_NAMES:
        raise ValueError(
            f"user name {name!r}: {', '.join(sorted(RESERVED_NAMES))} are reserved (the "
            "console records them for answers no named person gave); choose another name"
        )
    return name


def check_group(group: str) -> str:
    """A group's name: like a user's (letters, digits and `. _ @ -`, up to 64); else
    `ValueError`."""
    if not isinstance(group, str) or not _NAME.fullmatch(group):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError(
            f"group {group!r:.80}: expected 1 to 64 letters, digits and . _ @ - "
            "(starting with a letter or digit)"
        )
    return group


def check_password(password: str) -> str:
    """`password` if it is long enough to keep; else `ValueError`."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise ValueError(f"the password must have at most {MAX_PASSWORD} characters")
    return password


class Users:
    """The users file: read (again whenever it changes on disk), checked, and rewritten whole.

    `params` is the scrypt cost for passwords set from now on (stored hashes keep theirs) and
    for the dummy hash a check of an unknown name computes.
    """

    def __init__(self, path: str | Path, *, params: ScryptParams = DEFAULT_PARAMS) -> None:
        self.path = Path(path)
        self.params = params
        self._seen: tuple[int, int, int] | None = None
        self._users: dict[str, User] = {}
        self._dummy: str | None = None

    def __repr__(self) -> str:
        return f"Users({str(self.path)!r})"

    # -- reading --------------------------------------------------------------------------

    def _current(self) -> dict[str, User]:
        """The users as the file holds them now (re-read when its stat changed)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._seen, self._users = None, {}
            return self._users
        seen = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if seen != self._seen:
            self._users = self._read()
            self._seen = seen
        return self._users

    def _read(self) -> dict[str, User]:
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsersFileError(f"{self.path}: cannot read the users file: {exc}") from None
        entries: Any = cast("dict[str, Any]", data).get("users") if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            shown = str(cast("object", data))[:80]
            raise UsersFileError(
                f'{self.path}: expected {{"version": 1, "users": {{NAME: ...}}}}, got '
                f"{shown!r}; fix or remove the file, then `parlour console user add`"
            )
        users: dict[str, User] = {}
        for name, entry in cast("dict[Any, Any]", entries).items():
            if not isinstance(entry, dict):
                raise UsersFileError(f"{self.path}: user {name!r}: expected an object")
            record = cast("dict[str, Any]", entry)
            password, key = record.get("password"), record.get("key")
            if not isinstance(name, str) or not isinstance(password, str) or not key:
                raise UsersFileError(f"{self.path}: user {name!r}: expected password and key")
            added = record.get("added")
            groups: Any = record.get("groups", [])
            users[name] = User(
                name,
                password,
                str(key),
                float(added) if isinstance(added, int | float) else 0.0,
                tuple(str(g) for g in cast("list[Any]", groups))
                if isinstance(groups, list)
                else (),
            )
        return users

    def names(self) -> list[str]:
        """The users' names, sorted. `UsersFileError` if the file is unreadable."""
        return sorted(self._current())

    def get(self, name: str) -> User | None:
        return self._current().get(name)

    def __bool__(self) -> bool:
        """Whether there is at least one user (an unreadable file counts as users: the
        console then refuses every sign-in rather than opening up)."""
        try:
            return bool(self._current())
        except UsersFileError:
            return True

    def check(self, name: str, password: str) -> User | None:
        """The user if `name` and `password` match; None otherwise, in the same time for an
        unknown name as for a wrong password (a dummy hash is checked). Blocking: scrypt
        runs here (the console calls it in a thread)."""
        try:
            user = self._current().get(name)
        except UsersFileError:
            user = None
        if user is None:
            if self._dummy is None:
                self._dummy = hash_password(secrets.token_urlsafe(16), self.params)
            verify_password(password, self._dummy)
            return None
        return user if verify_password(password, user.password) else None

    # -- writing --------------------------------------------------------------------------

    def add(self, name: str, password: str, groups: Sequence[str] | None = None) -> bool:
        """Add `name` with `password`, or give an existing user a new password (and so a new
        key: their sessions end); `groups` replaces their groups (None keeps them). True if
        the user is new. `ValueError` for a bad name, a bad group or a short password."""
        check_name(name)
        check_password(password)
        users = dict(self._current())
        new = name not in users
        kept = users[name].groups if name in users else ()
        users[name] = User(
            name,
            hash_password(password, self.params),
            secrets.token_hex(16),
            time.time(),
            tuple(sorted({check_group(g) for g in groups})) if groups is not None else kept,
        )
        self._write(users)
        return new

    def remove(self, name: str) -> bool:
        """Remove `name` (their sessions end); False if there was no such user."""
        users = dict(self._current())
        if users.pop(name, None) is None:
            return False
        self._write(users)
        return True

    def _write(self, users: dict[str, User]) -> None:
        """Replace the file whole: a temporary file (mode 0600) renamed over it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": 1,
            "users": {
                u.name: {"password": u.password, "key": u.key, "added": u.added}
                | ({"groups": list(u.groups)} if u.groups else {})
                for u in sorted(users.values(), key=lambda u: u.name)
            },
        }
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=1)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        self._seen = None


# -- the `parlour console user` command ----------------------------------------------------


def read_password(stdin: TextIO, *, ask: Callable[[str], str] | None = None) -> str:
    """The new password: asked twice (hidden, `getpass`) on a terminal, else one line of
    stdin (for scripts: `echo "$PASSWORD" | parlour console user add ada`)."""
    if stdin.isatty():
        ask = ask if ask is not None else getpass.getpass
        first = ask("Password: ")
        if ask("Password again: ") != first:
            raise ValueError("the two passwords differ; nothing was changed")
        return first
    line = stdin.readline()
    if not line:
        raise ValueError("expected the password as one line on standard input, got nothing")
    return line.rstrip("\r\n")


def run_user_command(
    action: str,
    name: str | None,
    state_dir: str | Path,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    groups: Sequence[str] | None = None,
) -> int:
    """`parlour console user add NAME [--group G ...] | list | remove NAME`; the exit code."""
    source: TextIO = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    users = Users(Path(state_dir) / USERS_FILE)
    try:
        if action == "list":
            for user_name in users.names():
                user = users.get(user_name)
                in_groups = f"  (groups: {', '.join(user.groups)})" if user and user.groups else ""
                print(user_name + in_groups, file=stdout)
            return 0
        if name is None:
            raise ValueError(f"`user {action}` needs a NAME")
        if action == "add":
            check_name(name)
            for group in groups or ():
                check_group(group)
            new = users.add(name, read_password(source), groups)
            what = "added" if new else "has a new password (their sessions ended)"
            print(f"parlour: user {name} {what}, in {users.path}", file=stderr)
            return 0
        if action == "remove":
            if not users.remove(name):
                print(f"parlour: no user named {name!r} in {users.path}", file=stderr)
                return 1
            print(f"parlour: user {name} removed (their sessions ended)", file=stderr)
            if not users.names():
                print(
                    "parlour: no users are left: a running console keeps its pages closed "
                    "until it restarts; restarted without --token it is not protected",
                    file=stderr,
                )
            return 0
    except (ValueError, OSError) as exc:
        print(f"parlour: {exc}", file=stderr)
        return 1
    print(f"parlour: unknown user command {action!r}: expected add, list or remove", file=stderr)
    return 2
