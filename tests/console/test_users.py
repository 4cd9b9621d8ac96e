"""The console's named people: passwords hashed with scrypt in a 0600 file, checked in the
same way for a wrong name as for a wrong password, and the `parlour console user` command."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from parlour.cli import main
from parlour.console.users import (
    DEFAULT_PARAMS,
    USERS_FILE,
    ScryptParams,
    Users,
    UsersFileError,
    hash_password,
    run_user_command,
    verify_password,
)

CHEAP = ScryptParams(n=2**10, r=8, p=1)
"""A fast scrypt for tests (the stored hash records it, so checking it is fast too)."""


@pytest.fixture
def users(tmp_path: Path) -> Users:
    return Users(tmp_path / USERS_FILE, params=CHEAP)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


# -- hashing -----------------------------------------------------------------------------------


def test_a_hash_records_scrypt_its_parameters_and_a_random_salt() -> None:
    first = hash_password("correct horse", CHEAP)
    second = hash_password("correct horse", CHEAP)
    scheme, n, r, p, salt, digest = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", "1024", "8", "1")
    assert salt
    assert digest
    assert first != second  # a fresh salt each time
    assert "correct horse" not in first


def test_a_password_verifies_against_its_hash_and_nothing_else() -> None:
    stored = hash_password("correct horse", CHEAP)
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horse ", stored)
    assert not verify_password("", stored)
    assert not verify_password("correct horse", "plain-text")
    assert not verify_password("correct horse", "md5$1$2$3$abc$def")


def test_the_default_cost_is_an_owasp_scrypt_setting() -> None:
    # N=2^15, r=8, p=3: 32 MiB per hash, one of OWASP's equivalent scrypt settings.
    assert (DEFAULT_PARAMS.n, DEFAULT_PARAMS.r, DEFAULT_PARAMS.p) == (2**15, 8, 3)
    assert hash_password("x" * 8).startswith("scrypt$32768$8$3$")


# -- the file ----------------------------------------------------------------------------------


def test_users_are_added_listed_and_removed(users: Users) -> None:
    assert users.names() == []
    assert not users
    assert users.add("ada", "correct horse") is True
    assert users.add("bob", "battery staple") is True
    assert users.names() == ["ada", "bob"]
    assert users
    assert users.remove("ada") is True
    assert users.remove("ada") is False
    assert users.names() == ["bob"]


def test_the_file_is_private_and_holds_no_password(users: Users) -> None:
    users.add("ada", "correct horse")
    mode = stat.S_IMODE(os.stat(users.path).st_mode)
    assert mode == 0o600
    text = users.path.read_text()
    assert "correct horse" not in text
    data = json.loads(text)
    assert data["version"] == 1
    assert data["users"]["ada"]["password"].startswith("scrypt$1024$8$1$")


def test_a_check_finds_the_user_only_with_the_right_password(users: Users) -> None:
    users.add("ada", "correct horse")
    user = users.check("ada", "correct horse")
    assert user is not None
    assert user.name == "ada"
    assert users.check("ada", "wrong horse") is None
    assert users.check("Ada", "correct horse") is None
    assert users.check("nobody", "correct horse") is None


def test_a_wrong_name_costs_the_same_scrypt_as_a_wrong_password(
    users: Users, monkeypatch: pytest.MonkeyPatch
) -> None:
    users.add("ada", "correct horse")
    calls: list[dict[str, Any]] = []
    real = hashlib.scrypt

    def counting(password: bytes, **kwargs: Any) -> bytes:
        calls.append(kwargs)
        return real(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    users.check("nobody", "guess one")  # (the first also makes the dummy hash)
    calls.clear()
    assert users.check("nobody", "guess two") is None
    assert users.check("ada", "guess three") is None
    assert len(calls) == 2
    costs = [(c["n"], c["r"], c["p"]) for c in calls]
    assert costs[0] == costs[1] == (CHEAP.n, CHEAP.r, CHEAP.p)


def test_a_new_password_renews_the_key_that_sessions_carry(users: Users) -> None:
    users.add("ada", "correct horse")
    before = users.get("ada")
    assert users.add("ada", "battery staple") is False  # not new: a new password
    after = users.get("ada")
    assert before is not None
    assert after is not None
    assert before.key != after.key
    assert users.check("ada", "correct horse") is None
    assert users.check("ada", "battery staple") is not None


def test_a_change_by_another_process_is_seen_without_a_restart(tmp_path: Path) -> None:
    running = Users(tmp_path / USERS_FILE, params=CHEAP)
    assert running.names() == []
    Users(tmp_path / USERS_FILE, params=CHEAP).add("ada", "correct horse")
    assert running.names() == ["ada"]
    assert running.check("ada", "correct horse") is not None


@pytest.mark.parametrize(
    "name", ["", " ada", "ada lovelace", "-ada", "a" * 65, "ada/evil", "api", "Token", "anonymous"]
)
def test_a_bad_or_reserved_name_is_refused(users: Users, name: str) -> None:
    with pytest.raises(ValueError, match="user name"):
        users.add(name, "correct horse")
    assert not users.path.exists()


def test_a_short_password_is_refused(users: Users) -> None:
    with pytest.raises(ValueError, match="at least 8 characters"):
        users.add("ada", "short")


def test_an_unreadable_file_says_so_and_lets_nobody_in(users: Users) -> None:
    users.path.write_text("{not json")
    with pytest.raises(UsersFileError, match="cannot read the users file"):
        users.names()
    assert users  # counts as "there are users": the pages stay closed
    assert users.check("ada", "correct horse") is None
    users.path.write_text('{"people": []}')
    with pytest.raises(UsersFileError, match="expected"):
        users.names()


# -- `parlour console user` ----------------------------------------------------------------------


def test_user_add_reads_one_line_of_stdin_when_it_is_not_a_terminal(tmp_path: Path) -> None:
    err = io.StringIO()
    code = run_user_command(
        "add", "ada", tmp_path, stdin=io.StringIO("correct horse\n"), stderr=err
    )
    assert code == 0, err.getvalue()
    assert "user ada added" in err.getvalue()
    assert Users(tmp_path / USERS_FILE).check("ada", "correct horse") is not None


def test_user_add_on_a_terminal_asks_twice_and_refuses_a_mismatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter(["correct horse", "correct hose"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    err = io.StringIO()
    assert run_user_command("add", "ada", tmp_path, stdin=Tty(), stderr=err) == 1
    assert "the two passwords differ" in err.getvalue()
    assert not (tmp_path / USERS_FILE).exists()
    answers = iter(["correct horse", "correct horse"])
    assert run_user_command("add", "ada", tmp_path, stdin=Tty(), stderr=io.StringIO()) == 0


def test_user_add_with_no_password_or_a_bad_name_fails_with_the_reason(tmp_path: Path) -> None:
    err = io.StringIO()
    assert run_user_command("add", "ada", tmp_path, stdin=io.StringIO(""), stderr=err) == 1
    assert "expected the password" in err.getvalue()
    err = io.StringIO()
    assert run_user_command("add", "api", tmp_path, stdin=io.StringIO("x" * 9), stderr=err) == 1
    assert "reserved" in err.getvalue()


def test_the_cli_adds_lists_and_removes_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "state")
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert main(["console", "user", "add", "ada", "--state-dir", state]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("battery staple\n"))
    assert main(["console", "--state-dir", state, "user", "add", "bob"]) == 0
    capsys.readouterr()
    assert main(["console", "user", "list", "--state-dir", state]) == 0
    assert capsys.readouterr().out.split() == ["ada", "bob"]
    assert main(["console", "user", "remove", "ada", "--state-dir", state]) == 0
    assert main(["console", "user", "remove", "ada", "--state-dir", state]) == 1
    assert "no user named 'ada'" in capsys.readouterr().err
    assert main(["console", "user", "remove", "bob", "--state-dir", state]) == 0
    assert "no users are left" in capsys.readouterr().err
    assert stat.S_IMODE(os.stat(Path(state) / USERS_FILE).st_mode) == 0o600
