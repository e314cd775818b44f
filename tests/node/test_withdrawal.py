"""Withdrawing at the villager's wish: one domain action (node.capture.withdraw) behind the request
page and `daiban node withdraw`; every withdrawal is an event in the append-only log, and the state
the node shows after a sync round, and after rebuilding from the centre's log, is withdrawn."""

from __future__ import annotations

import pytest

from hub import restores
from hub.models import Case
from node.capture import WithdrawRefused, capture_request, withdraw
from node.db import database as node_db
from node.models import Event, Request
from tests import support
from tests.linked import link
from tests.factories import capture


@pytest.fixture
def linked(hub_app, node_app):
    return link(hub_app, node_app).client()


def held() -> dict:
    return {**capture("JF-01"), "submit": "held"}


def log_of(req: Request) -> list[tuple[str, dict]]:
    return [(e.type, e.data) for e in Event.select().where(Event.request_id == req.request_id).order_by(Event.id)]


def test_a_held_request_withdrawn_from_the_cli_is_two_events_in_the_log(node_app) -> None:
    with node_db.connection_context():
        req = capture_request(held(), "李文书")
        assert log_of(req) == []
    node_db.close()
    out = support.daiban(
        "node",
        "--dir",
        node_app.config["DATA_DIR"],
        "withdraw",
        req.receipt_code,
        "--reason",
        "不办了",
        "--clerk",
        "李文书",
    )
    assert "暂存的申请已撤回" in out.stdout
    with node_db.connection_context():
        assert Request.get_by_id(req.request_id).state == "withdrawn"
        types = [t for t, _ in log_of(req)]
        assert types == ["request.captured", "request.withdrawn"]
        assert log_of(req)[1][1] == {"reason": "不办了"}
        assert Event.get(Event.type == "request.withdrawn").clerk == "李文书"


def test_the_cli_refuses_what_the_page_refuses_and_logs_nothing(node_app) -> None:
    with node_db.connection_context():
        req = capture_request(held(), "李文书")
    node_db.close()
    data_dir = node_app.config["DATA_DIR"]
    blank = support.daiban("node", "--dir", data_dir, "withdraw", req.receipt_code, "--reason", "  ", check=False)
    assert blank.returncode == 1
    assert "请填写撤回原因" in blank.stderr
    long = support.daiban("node", "--dir", data_dir, "withdraw", req.receipt_code, "--reason", "因" * 201, check=False)
    assert long.returncode == 1
    assert "不能超过 200 字" in long.stderr
    unknown = support.daiban("node", "--dir", data_dir, "withdraw", "ZZZZZZZZZ", "--reason", "不办了", check=False)
    assert unknown.returncode == 1
    assert "没有回执码为 ZZZZZZZZZ 的申请" in unknown.stderr
    with node_db.connection_context():
        assert Event.select().count() == 0
        assert Request.get_by_id(req.request_id).state == "held"


def test_a_withdrawn_request_cannot_be_withdrawn_again(node_app) -> None:
    with node_db.connection_context():
        req = capture_request(held(), "李文书")
        withdraw(req.receipt_code, "李文书", "不办了")
        with pytest.raises(WithdrawRefused) as refused:
            withdraw(req.receipt_code, "李文书", "再撤一次")
        assert "已撤回" in refused.value.message
        assert [t for t, _ in log_of(req)] == ["request.captured", "request.withdrawn"]


def test_a_held_withdrawal_survives_a_sync_round_and_a_rebuild_from_the_centres_log(linked, hub_app) -> None:
    with node_db.connection_context():
        req = capture_request(held(), "李文书")
        withdraw(req.receipt_code, "李文书", "不办了")
    report = linked.round()
    assert report.refused == 0, report
    case = Case.get(Case.request_id == req.request_id)
    assert case.state == "withdrawn"  # the centre knows it was captured and withdrawn
    with node_db.connection_context():
        assert {e.result for e in Event.select().where(Event.request_id == req.request_id)} == {"ok"}
        assert Request.get_by_id(req.request_id).state == "withdrawn"
    # The centre restored from a backup: the node derives every state again from the centre's log.
    restores.new_epoch("restore", "cli", {"backup": "hub-20261130T000000Z.sqlite3"})
    assert linked.round().reconciled == 1
    with node_db.connection_context():
        assert Request.get_by_id(req.request_id).state == "withdrawn"


def test_a_sent_request_is_withdrawn_once_the_centre_agrees(linked, hub_app) -> None:
    with node_db.connection_context():
        req = capture_request(capture("JF-01"), "李文书")
    linked.round()
    with node_db.connection_context():
        withdraw(req.receipt_code, "李文书", "村民决定暂不建房")
        # Asked, not decided here: the state follows the centre's answer.
        assert Request.get_by_id(req.request_id).state != "withdrawn"
        assert log_of(req)[-1] == ("request.withdrawn", {"reason": "村民决定暂不建房"})
    linked.round()
    assert Case.get(Case.request_id == req.request_id).state == "withdrawn"
    with node_db.connection_context():
        assert Request.get_by_id(req.request_id).state == "withdrawn"
