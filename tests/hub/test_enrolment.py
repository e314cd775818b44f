"""Enrolment v2 at the hub and the node: code format, attempts, hostile rounds, old nodes (issue 11)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from hub.enrolment import NODE_TOO_OLD, issue_code
from hub.models import AuditEntry, EnrolmentCode, EnrolmentSecret, Node
from node import meta
from node.db import database as node_db
from node.enrolment import HUB_TOO_OLD, enroll
from node.transport import RefusedError
from shared import encoding, enrolment, protocol, signing
from tests.apptransport import AppTransport
from tests.nodesim import NodeSim, enrol


def post(client: Any, msg: Any) -> tuple[int, dict[str, Any]]:
    resp = client.post(
        "/api/v1/enroll",
        data=encoding.canonical(msg) if not isinstance(msg, bytes) else msg,
        content_type="application/json",
    )
    return resp.status_code, json.loads(resp.data)["body"]


def start_msg(code: str, key: Any = None) -> tuple[dict[str, Any], enrolment.NodeSide]:
    pub = signing.public_b64(key or signing.generate_key())
    side = enrolment.NodeSide(enrolment.parse_code(code), pub, None)
    return {
        "v": 2,
        "kind": enrolment.START,
        "code_id": side.cid,
        "pubkey": pub,
        "app_version": "t",
        "pake": side.start(),
    }, side


def test_code_is_twelve_symbols_with_a_check_symbol(hub_app) -> None:
    code = issue_code("桃源村")
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", code)
    normal = enrolment.parse_code(code.lower().replace("-", " "))
    assert enrolment.format_code(normal) == code
    # Only the code id and (until use) the secret are kept; the database holds no other form.
    row = EnrolmentSecret.get()
    assert row.code_id == normal[:3]
    assert row.secret == normal
    assert row.attempts == 0
    # One substituted symbol or two swapped neighbours are caught before anything is sent.
    wrong = "3" if normal[5] != "3" else "4"
    for typo in (normal[:5] + wrong + normal[6:], normal[:4] + normal[5] + normal[4] + normal[6:]):
        if typo != normal:
            with pytest.raises(enrolment.CodeError, match="校验位"):
                enrolment.parse_code(typo)
    with pytest.raises(enrolment.CodeError, match="12 位"):
        enrolment.parse_code(normal[:10])
    with pytest.raises(enrolment.CodeError, match="不会出现的字符"):
        enrolment.parse_code("0" + normal[1:])


def test_typo_is_caught_on_the_node_before_anything_is_sent(hub_app, node_app) -> None:
    code = enrolment.parse_code(issue_code("桃源村"))
    typo = code[:-1] + ("2" if code[-1] != "2" else "3")
    transport = AppTransport(hub_app.test_client())
    with node_db.connection_context(), pytest.raises(RefusedError, match="校验位"):
        enroll(transport, node_app.extensions["daiban_node_key"], typo, "http://hub.test")
    assert EnrolmentSecret.get().attempts == 0
    assert Node.select().count() == 0


def test_node_enrols_pins_hub_key_and_code_is_wiped(hub_app, node_app) -> None:
    transport = AppTransport(hub_app.test_client())
    with node_db.connection_context():
        body = enroll(transport, node_app.extensions["daiban_node_key"], issue_code("桃源村"), "http://hub.test")
        assert meta.get("hub_pubkey") == signing.public_b64(hub_app.extensions["daiban_hub_key"])
        assert meta.get("node_id") == body["node_id"]
    row = EnrolmentSecret.get()
    assert row.secret is None
    assert row.pending is None
    assert EnrolmentCode.get().used_at is not None
    assert Node.get().pubkey == signing.public_b64(node_app.extensions["daiban_node_key"])


def test_code_is_burned_after_the_attempt_limit(hub_client) -> None:
    code = issue_code("桃源村")
    for _ in range(enrolment.MAX_ATTEMPTS):
        msg, side = start_msg(code)
        status, body = post(hub_client, msg)
        assert status == 200
        status, body = post(
            hub_client,
            {"v": 2, "kind": enrolment.CONFIRM, "code_id": side.cid, "pubkey": msg["pubkey"], "confirm": "f" * 64},
        )
        assert status == 403
        assert body["error"]["code"] == "bad_code"
    # The right code is useless now: an attacker had his guesses, the supervisor issues a new one.
    status, body = enrol(hub_client, code, signing.generate_key())
    assert status == 403
    assert body["error"]["code"] == "bad_code"
    assert EnrolmentSecret.get().secret is None
    assert Node.select().count() == 0
    failed = AuditEntry.select().where(AuditEntry.action == "node.enrol_failed")
    assert failed.count() == enrolment.MAX_ATTEMPTS
    assert failed.order_by(AuditEntry.seq.desc()).get().detail["burned"]
    assert NodeSim(hub_client, issue_code("桃源村")).node_id


def test_confirmation_for_another_key_is_refused(hub_client) -> None:
    code = issue_code("桃源村")
    msg, side = start_msg(code)
    status, body = post(hub_client, msg)
    proof = side.finish(body["pake"], body["hub_pubkey"], body.get("hub_box_pubkey"), body["hub_confirm"])
    other = signing.public_b64(signing.generate_key())
    status, body = post(
        hub_client, {"v": 2, "kind": enrolment.CONFIRM, "code_id": side.cid, "pubkey": other, "confirm": proof}
    )
    assert status == 403
    assert Node.select().count() == 0


HOSTILE: list[Any] = [
    b"[]",
    b"null",
    b'"x"',
    {"v": 2},
    {"v": 2, "kind": "enrol.nope"},
    {"v": 99, "kind": enrolment.START},
    {"v": "2", "kind": enrolment.START},
    {"v": 2, "kind": enrolment.START, "code_id": 7, "pubkey": "x", "pake": "x"},
    {"v": 2, "kind": enrolment.START, "code_id": "ABCD" * 100, "pubkey": "x", "pake": "x"},
    {"v": 2, "kind": enrolment.CONFIRM, "code_id": None, "pubkey": None, "confirm": None},
    {"v": 2, "kind": enrolment.CONFIRM, "code_id": "ABC", "pubkey": "A" * 44, "confirm": "x" * 10_000},
]


@pytest.mark.parametrize("msg", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_enrolment_messages_are_4xx(hub_client, msg: Any) -> None:
    issue_code("桃源村")
    status, body = post(hub_client, msg)
    assert 400 <= status < 500, body
    assert body["error"]["message"], body
    assert EnrolmentSecret.get().attempts == 0
    assert Node.select().count() == 0


def test_hostile_rounds_on_a_live_code_change_nothing(hub_client) -> None:
    code = issue_code("桃源村")
    msg, _ = start_msg(code)
    for bad in (
        {**msg, "pake": "not base64!"},
        {**msg, "pake": "QUJD"},
        {**msg, "pake": "A" * 300},
        {**msg, "pubkey": "QUJD"},
        {**msg, "box_pubkey": 5},
        {**msg, "code_id": "ZZZ"},
    ):
        status, body = post(hub_client, bad)
        assert status in (400, 403), body
    row = EnrolmentSecret.get()
    assert row.attempts == 0
    assert row.pending is None
    assert row.secret == enrolment.parse_code(code)
    assert NodeSim(hub_client, code).node_id


def test_old_node_is_told_to_upgrade_and_code_stays_usable(hub_client) -> None:
    code = issue_code("桃源村")
    resp = hub_client.post(
        "/api/v1/enroll",
        data=encoding.canonical(
            {"v": 1, "code": code, "pubkey": signing.public_b64(signing.generate_key()), "app_version": "0.9"}
        ),
        content_type="application/json",
    )
    env = json.loads(resp.data)
    assert resp.status_code == 400
    assert env["body"]["error"]["message"] == NODE_TOO_OLD
    assert protocol.verify_body(_hub_pub(hub_client), env["body"], env["sig"])
    assert NodeSim(hub_client, code).node_id


def _hub_pub(client: Any) -> str:
    return signing.public_b64(client.application.extensions["daiban_hub_key"])


class OldHub:
    """What a hub before enrolment v2 answers to a v2 start: its own bad_body refusal."""

    def __init__(self, key: Any):
        self.key = key

    def exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        err = protocol.error("bad_body", detail="code and pubkey are required")
        out = protocol.refusal_body(err)
        return 400, protocol.seal(self.key, out)


def test_new_node_against_old_hub_says_the_hub_must_upgrade(hub_app, node_app) -> None:
    code = issue_code("桃源村")
    with node_db.connection_context():
        with pytest.raises(RefusedError) as info:
            enroll(OldHub(signing.generate_key()), node_app.extensions["daiban_node_key"], code, "http://hub.test")
        assert info.value.message == HUB_TOO_OLD
        assert meta.get("hub_pubkey") is None


def test_a_nul_in_the_app_version_is_refused_before_anything_is_kept(hub_client) -> None:
    """PostgreSQL's text cannot hold U+0000: the node's row would fail to be written at the confirmation."""
    code = issue_code("桃源村")
    msg, _ = start_msg(code)
    status, body = post(hub_client, {**msg, "app_version": "1.0\x00"})
    assert status == 400, body
    assert (body["error"]["code"], body["error"]["field"]) == ("bad_body", "app_version")
    row = EnrolmentSecret.get()
    assert (row.attempts, row.pending) == (0, None)
    assert NodeSim(hub_client, code).node_id
