"""What a hub restore withdrew is shown: the clerk's sync and request pages, the hub's fleet page;
quarantined records can be put back in the queue from the page and the CLI, recorded."""

from __future__ import annotations

import re

import pytest

from hub import cases, restores
from hub.models import Case, HubEvent, Node
from node import meta
from node.capture import capture_request
from node.db import database as node_db
from node.models import Event
from tests import support
from tests.linked import link
from tests.factories import capture
from tests.hub.pages import login_as


@pytest.fixture
def linked(hub_app, node_app):
    return link(hub_app, node_app).client()


def lose_the_last_decision(code: str) -> None:
    """The hub loses its newest entry (a restore from a backup taken just before it) and draws an epoch."""
    last = HubEvent.select().order_by(HubEvent.cseq.desc()).first()
    last.delete_instance()
    Node.update(out_seq=last.cseq - 1).execute()
    Case.update(state="received").where(Case.receipt_code == code).execute()
    restores.new_epoch("restore", "cli", {"backup": "hub-20261130T000000Z.sqlite3"})


def test_withdrawn_decision_shown_on_sync_request_and_fleet_pages(linked, clerk, hub_app) -> None:
    with node_db.connection_context():
        code = capture_request(capture("JF-01"), "李文书").receipt_code
    linked.round()
    cases.act(code, "accept", "王芳")
    linked.round()
    lose_the_last_decision(code)
    report = linked.round()
    assert report.reconciled == 1
    assert "重新核对" in report.summary()

    page = clerk.client.get("/sync").get_data(as_text=True)
    section = page.split('id="forgotten"', 1)[1].split("</section>", 1)[0]
    assert "不再记得" in page
    assert re.sub(r"\D", "", code) in re.sub(r"\D", "", section)
    assert "已受理" in section
    assert "已接收" in section  # what it was, what it is now
    detail = clerk.client.get(f"/requests/{code}").get_data(as_text=True)
    assert "中心数据曾从备份恢复" in detail
    assert "已受理" in detail

    hub = hub_app.test_client()
    login_as(hub, "supervisor")
    fleet = hub.get("/fleet/").get_data(as_text=True)
    assert 'id="restores"' in fleet
    assert "从备份恢复" in fleet
    assert "hub-20261130T000000Z.sqlite3" in fleet


def test_quarantined_record_put_back_from_the_page_and_recorded(linked, clerk, node_app) -> None:
    with node_db.connection_context():
        req = capture_request(capture("JF-01"), "李文书")
        Event.update(quarantined=True, result_message="单条记录过大，中心拒收，已隔离，请联系管理员").where(
            Event.request_id == req.request_id
        ).execute()
        pk = Event.get(Event.request_id == req.request_id).id
    page = clerk.client.get("/sync").get_data(as_text=True)
    assert "放回待上传" in page
    resp = clerk.post(f"/sync/requeue/{pk}", {}, page="/sync")
    assert resp.status_code == 303
    again = clerk.post(f"/sync/requeue/{pk}", {}, page="/sync")
    assert "没有这条已隔离的记录" in clerk.client.get(again.headers["Location"]).get_data(as_text=True)
    with node_db.connection_context():
        assert not Event.get_by_id(pk).quarantined
        log = meta.get("requeue_log")
    assert log[-1]["clerk"] == "li"
    assert "过大" in log[-1]["was"]
    assert 'id="requeued"' in clerk.client.get("/sync").get_data(as_text=True)
    linked.round()
    assert Case.select().where(Case.request_id == req.request_id).count() == 1


def test_requeue_from_the_cli(node_app, tmp_path) -> None:
    with node_db.connection_context():
        req = capture_request(capture("DB-01"), "李文书")
        Event.update(quarantined=True, result_message="单条记录过大").where(
            Event.request_id == req.request_id
        ).execute()
        pk = Event.get(Event.request_id == req.request_id).id
    node_db.close()
    data_dir = node_app.config["DATA_DIR"]
    listed = support.daiban("node", "--dir", data_dir, "requeue").stdout
    assert f"{pk}\trequest.captured" in listed
    assert "已隔离 1 条" in listed
    done = support.daiban("node", "--dir", data_dir, "requeue", str(pk), "--clerk", "县里老王").stdout
    assert "已放回待上传" in done
    bad = support.daiban("node", "--dir", data_dir, "requeue", str(pk), check=False)
    assert bad.returncode != 0
    assert "没有这条已隔离的记录" in bad.stderr
    with node_db.connection_context():
        assert not Event.get_by_id(pk).quarantined
        assert meta.get("requeue_log")[-1]["clerk"] == "县里老王"
