"""Flask-Limiter on the hub: password spraying per address, enrolment guessing, and status lookups per code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.enrolment import issue_code
from hub.models import ALL_MODELS, Case
from hub.staff import create_user
from shared import encoding, protocol, signing
from shared.receipt_codes import check_char, new_code
from tests.hub.console_support import PASSWORD, csrf_of, new_case
from tests.hub.test_enrolment import start_msg
from tests.nodesim import NodeSim, enrol


def _login(client: Any, username: str, password: str, addr: str = "10.0.0.1") -> Any:
    env = {"REMOTE_ADDR": addr}
    token = csrf_of(client.get("/login", environ_base=env).get_data(as_text=True))
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}, environ_base=env
    )


def _rows() -> dict[str, int]:
    return {m.__name__: m.select().count() for m in ALL_MODELS}


def test_password_spraying_across_accounts_is_limited_per_address(hub_app) -> None:
    hub_app.config.update(LOGIN_LIMIT="6 per 15 minutes")
    create_user("wang", "王芳", PASSWORD, "staff", ["W05"])
    client = hub_app.test_client()
    # One wrong guess each at many accounts: no account reaches its own lockout.
    for n in range(6):
        assert _login(client, f"user{n}", "Spring2026!").status_code == 401
    resp = _login(client, "wang", PASSWORD)
    assert resp.status_code == 429
    assert "登录尝试过于频繁" in resp.get_data(as_text=True)
    assert int(resp.headers["Retry-After"]) > 0
    # Another address is unaffected, and successful logins do not use the allowance up.
    for _ in range(8):
        assert _login(hub_app.test_client(), "wang", PASSWORD, addr="10.0.0.2").status_code == 302


def test_enrolment_guessing_gets_the_signed_rate_limited_error(hub_app) -> None:
    hub_app.config.update(ENROLL_LIMIT="3 per hour")
    client = hub_app.test_client()

    def enroll(code: str) -> Any:
        # Round 1 of enrolment v2 (shared/enrolment.py); a code id no live code has is a failure.
        msg, _ = start_msg(code)
        return client.post("/api/v1/enroll", data=encoding.canonical(msg), content_type="application/json")

    for guess in ("AAAA-AAAA-AAAA", "AAAB-AAAA-AAAA", "AAAC-AAAA-AAAA"):
        guess = guess[:-1] + check_char(guess.replace("-", "")[:-1])
        assert json.loads(enroll(guess).data)["body"]["error"]["code"] == "bad_code"
    good = issue_code("李家村")
    resp = enroll(good)
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    env = json.loads(resp.data)
    assert env["body"]["error"]["code"] == "rate_limited"
    assert env["body"]["error"]["retry_after"] > 0
    hub_pub = signing.public_b64(hub_app.extensions["daiban_hub_key"])
    assert protocol.verify_body(hub_pub, env["body"], env["sig"]), "the refusal is signed like every API answer"
    other = hub_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    status, _ = enrol(other, good, signing.generate_key())
    assert status == 200, "another address enrols with the same, still unused, code"


def test_one_codes_tail_cannot_be_guessed_from_many_addresses(hub_app) -> None:
    hub_app.config.update(STATUS_CODE_LIMIT="5 per hour", STATUS_LOOKUP_LIMIT=100)
    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    code, other = new_case(sim, "JF-01"), new_case(sim, "DB-01")
    tail = Case.get(Case.receipt_code == code).phone[-4:]
    other_tail = Case.get(Case.receipt_code == other).phone[-4:]
    wrong = [t for t in ("0000", "1111", "2222", "3333", "4444", "5555") if t != tail][:5]
    client = hub_app.test_client()

    def look(c: str, t: str, addr: str) -> Any:
        return client.get("/status", query_string={"code": c, "tail": t}, environ_base={"REMOTE_ADDR": addr})

    before = _rows()
    for n, t in enumerate(wrong):
        assert look(code, t, f"10.1.0.{n}").status_code == 200
    resp = look(code, tail, "10.2.0.1")
    assert resp.status_code == 429
    assert "张*" not in resp.get_data(as_text=True)
    assert int(resp.headers["Retry-After"]) > 0
    # An unknown code is limited the same way, so the 429 says nothing about existence.
    unknown = new_code(sim.prefix)
    for n, t in enumerate(wrong):
        look(unknown, t, f"10.3.0.{n}")
    assert look(unknown, tail, "10.4.0.1").status_code == 429
    # Other codes, and the right tail typed again and again, are not held up.
    for _ in range(8):
        assert "张*" in look(other, other_tail, "10.5.0.1").get_data(as_text=True)
    # Nothing about lookups is written to the database.
    assert _rows() == before


def test_status_lookups_per_address_count_in_the_swept_memory_storage(hub_app) -> None:
    from hub.ratelimit import SweptMemoryStorage, limiter

    hub_app.config.update(STATUS_LOOKUP_LIMIT=3)
    client = hub_app.test_client()
    with hub_app.app_context():
        assert isinstance(limiter().limiter.storage, SweptMemoryStorage)

    def look(addr: str) -> int:
        query = {"code": "ABCDEFGHJ", "tail": "1234"}
        return client.get("/status", query_string=query, environ_base={"REMOTE_ADDR": addr}).status_code

    # One unknown code, missed fewer times than its own allowance: only the address runs out.
    assert [look("10.6.0.1") for _ in range(3)] == [200, 200, 200]
    assert look("10.6.0.1") == 429
    assert look("10.6.0.2") == 200


@pytest.mark.parametrize("hub_settings", [{"RATELIMIT_DEFAULT": "2 per minute"}])
def test_an_app_wide_limit_still_reaches_the_status_page(hub_app) -> None:
    # The status page is left out of Flask-Limiter's search only while no app-wide limit is set.
    client = hub_app.test_client()
    codes = [client.get("/status", environ_base={"REMOTE_ADDR": "10.7.0.1"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_the_swept_storage_still_takes_over_limits_private_sweep_hook(monkeypatch) -> None:
    # SweptMemoryStorage overrides limits' name-mangled `__schedule_expiry`. Should a `limits`
    # upgrade rename it, the override is dead code and every count starts a sweep thread again
    # (counts stay right, lookups get slow): this fails then, so the override is mended.
    from limits.storage import MemoryStorage

    from hub.ratelimit import SweptMemoryStorage

    hook = "_MemoryStorage__schedule_expiry"
    assert callable(vars(MemoryStorage).get(hook)), f"limits' MemoryStorage has no {hook} any more"
    stock_calls = []
    stock = vars(MemoryStorage)[hook]

    def counted(self: MemoryStorage) -> None:
        stock_calls.append(1)
        stock(self)

    monkeypatch.setattr(MemoryStorage, hook, counted)
    storage = SweptMemoryStorage("daiban-memory://")
    for i in range(50):
        storage.incr(f"fixed-{i % 3}", 60)
        assert storage.acquire_entry(f"moving-{i % 3}", 100, 60)
    # 100 counts inside one sweep interval: the stock scheduling ran once, not per count.
    assert len(stock_calls) == 1
    assert storage.get("fixed-0") == 17


def test_flask_limiters_hooks_after_each_request_are_found_and_kept_to_requests_that_used_it(hub_app) -> None:
    # hub.ratelimit wraps Flask-Limiter's after-request and teardown hooks so that a request no
    # limit was checked on skips them. Should Flask-Limiter register them otherwise, they are not
    # found and run on every request again (slower, same limits): this fails then, so it is mended.
    assert hub_app.extensions["daiban_limiter"].hooks_kept_to_its_requests == 2
    # A limited view still uses them: the spraying test above counts failures only after the answer.
    hub_app.config.update(LOGIN_LIMIT="2 per 15 minutes")
    client = hub_app.test_client()
    assert [_login(client, "nobody", "wrong").status_code for _ in range(3)] == [401, 401, 429]
