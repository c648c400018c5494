"""The account commands that revoke sign-ins keep the CLI's contract: one
line on success, one `error:` line and exit 1 on a mistake."""

from __future__ import annotations

import pytest

from tests.test_cli import coach, one_line_error

pytestmark = pytest.mark.security


def test_passwd_role_and_signout() -> None:
    assert (
        coach("users", "add", "zoe", "--role", "trainer", "--password", "long-enough-1").returncode
        == 0
    )
    changed = coach("users", "passwd", "zoe")
    assert changed.returncode == 0 and "new password" in changed.stdout
    assert coach("users", "passwd", "zoe", "--password", "long-enough-2").returncode == 0
    assert coach("users", "role", "zoe", "evaluator").stdout.strip() == "zoe is now evaluator"
    assert "zoe\tevaluator" in coach("users", "list").stdout
    assert coach("users", "signout", "zoe").returncode == 0
    assert "too short" in one_line_error(coach("users", "passwd", "zoe", "--password", "short"))
    assert "unknown role" in one_line_error(coach("users", "role", "zoe", "boss"))
    for command in (["passwd", "nobody"], ["role", "nobody", "trainee"], ["signout", "nobody"]):
        assert "no user 'nobody'" in one_line_error(coach("users", *command))
