"""Login answers tell nobody whether an account exists: same work, same words, for every kind of failure."""

from __future__ import annotations

import re
from typing import Any

import pytest

import hub.staff
from hub.models import Staff
from hub.staff import MAX_FAILURES, create_user, set_active
from tests.hub.console_support import PASSWORD, csrf_of


def _login(client: Any, username: str, password: str) -> Any:
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def _page(resp: Any) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", resp.get_data(as_text=True))


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password hash checked during a login, so the work done can be compared."""
    seen: list[str] = []
    real = hub.staff.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        seen.append(pwhash.split("$")[0])
        return real(pwhash, password)

    monkeypatch.setattr(hub.staff, "check_password_hash", counting)
    return seen


def test_unknown_disabled_locked_and_wrong_look_the_same(hub_app, hashes) -> None:
    create_user("wang", "王芳", PASSWORD, "staff", ["W05"])
    create_user("gone", "离职", PASSWORD, "staff", ["W05"])
    create_user("locked", "锁定", PASSWORD, "staff", ["W05"])
    set_active(Staff.get(Staff.username == "gone"), False)
    client = hub_app.test_client()
    for _ in range(MAX_FAILURES):
        _login(client, "locked", "wrong-pass")
    answers = {}
    for name, username, password in (
        ("wrong", "wang", "wrong-pass"),
        ("unknown", "nobody", "wrong-pass"),
        ("disabled", "gone", PASSWORD),
        ("locked", "locked", PASSWORD),
    ):
        hashes.clear()
        resp = _login(client, username, password)
        answers[name] = (resp.status_code, _page(resp))
        # One real password hash each: an unknown name costs what a wrong password costs.
        assert len(hashes) == 1, (name, hashes)
        assert hashes[0].startswith(("scrypt", "pbkdf2")), (name, hashes)
    assert len(set(answers.values())) == 1, answers
    assert answers["wrong"][0] == 401
    assert "锁定" in answers["wrong"][1]
    assert "用户名或密码错误" in answers["wrong"][1]
