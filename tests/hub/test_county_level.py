"""The county level in one process: what a county hub takes from a township, and what a township records.

The wire between the two is the node protocol (tests/e2e/test_county_level.py drives it with real
processes); here each side is checked on its own, on SQLite and PostgreSQL: the county opens a
case for a township's case.passed_up and refuses anything else, and the township records a
county answer once, by the paper rule, refusing one for a case it never passed up.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from hub import cases
from hub.clock import today
from hub.county import level, uplink
from hub.county.queue import waiting
from hub.enrolment import issue_code
from hub.models import AuditEntry, Case, CountyReferral, HubEvent
from shared import messages, protocol, states
from shared.receipt_codes import new_code
from tests.factories import capture
from tests.nodesim import NodeSim

DOC_NO = "某县住建〔2026〕12号"


@pytest.fixture
def county(hub_app):
    level.choose(level.COUNTY)
    yield hub_app
    level.forget()


def passed_up(request_id: str, **changes) -> tuple[str, str, dict]:
    form = capture("JF-02")
    data = {
        "receipt_code": new_code("22"),
        "item_code": "JF-02",
        "village": "桃源村",
        "applicant_name": form["applicant"]["name"],
        "id_number": form["applicant"]["id_number"],
        "phone": form["applicant"]["phone"],
        "captured": form,
        "materials_brought": form["materials"]["brought"],
        "received_on": today().isoformat(),
        "passed_up_on": today().isoformat(),
        "passed_up_by": "zhou",
        "opinion": "四邻无异议，同意上报",
        **changes,
    }
    return ("case.passed_up", request_id, data)


def test_county_opens_a_case_on_its_own_clock_and_answers_down(county) -> None:
    township = NodeSim(county.test_client(), issue_code("青山镇"))
    rid = protocol.new_id()
    resp = township.send(township.events(passed_up(rid)))
    assert resp["ack"]["accepted"] == 1
    case = Case.get_by_id(rid)
    assert (case.state, case.village.name, case.source) == (states.PASSED_UP, "青山镇", "township")
    assert CountyReferral.get_by_id(rid).opinion == "四邻无异议，同意上报"
    [row] = waiting()
    assert row.clock.due is not None  # at the county the case is on the county's clock
    assert row.clock.state == "running"
    cases.record_county_answer(
        case.receipt_code, "county_approve", "li", doc_no=DOC_NO, doc_date=today().isoformat(), note="按程序办理"
    )
    assert waiting() == []
    answer = township.poll(cursor=0)["updates"][-1]
    decision = messages.convert(answer, messages.CountyDecision)
    assert (decision.request_id, decision.action, decision.county_doc_no) == (rid, "county_approve", DOC_NO)
    assert decision.county_note == "按程序办理"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"item_code": "JF-01"}, "not_for_county"),  # the township approves JF-01 itself
        ({"passed_up_on": "2026-02-30"}, "bad_passed_up"),
        ({"opinion": "意" * 2001}, "bad_passed_up"),
        ({"applicant_name": ""}, "bad_passed_up"),
        ({"surprise": 1}, "bad_passed_up"),
    ],
)
def test_county_refuses_a_bad_passed_up_case_and_stores_nothing(county, changes, code) -> None:
    township = NodeSim(county.test_client(), issue_code("青山镇"))
    resp = township.send(township.events(passed_up(protocol.new_id(), **changes)))
    assert resp["ack"]["accepted"] == 0
    assert [r["code"] for r in resp["ack"]["results"]] == [code]
    assert Case.select().count() == 0
    assert CountyReferral.select().count() == 0


def test_county_takes_a_case_once(county) -> None:
    township = NodeSim(county.test_client(), issue_code("青山镇"))
    event = passed_up(protocol.new_id())
    township.send(township.events(event))
    resp = township.send(township.events(event))
    assert [r["code"] for r in resp["ack"]["results"]] == ["duplicate_request"]
    assert Case.select().count() == 1


def test_another_townships_case_under_the_same_request_id_is_refused_as_a_collision(county) -> None:
    # Village ids are unique within a township only (shared.protocol.new_request_id): two
    # townships' villages can share a receipt prefix, so the county must not take a second
    # township's case for the first one's "already here".
    first = NodeSim(county.test_client(), issue_code("青山镇"))
    second = NodeSim(county.test_client(), issue_code("绿水镇"))
    request_id = "22" + "ab" * 8
    first.send(first.events(passed_up(request_id)))
    resp = second.send(second.events(passed_up(request_id)))
    assert [r["code"] for r in resp["ack"]["results"]] == ["request_id_collision"]
    assert Case.select().count() == 1


def test_each_level_refuses_the_other_levels_events(hub_app) -> None:
    village = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    resp = village.send(village.events(passed_up(protocol.new_id())))
    assert [r["code"] for r in resp["ack"]["results"]] == ["wrong_level"]
    level.choose(level.COUNTY)
    try:
        township = NodeSim(hub_app.test_client(), issue_code("青山镇"))
        form = {**capture("JF-01"), "receipt_code": new_code(township.prefix), "catalogue_version": 1}
        resp = township.send(township.events(("request.captured", protocol.new_id(), form)))
        assert [r["code"] for r in resp["ack"]["results"]] == ["wrong_level"]
    finally:
        level.forget()
    assert Case.select().count() == 0


# --- the township's side: recording what the county answered -------------------------------------


@pytest.fixture
def township(hub_app, tmp_path):
    """A township hub with one JF-02 case passed up and one JF-01 case merely received, and its uplink database."""
    village = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    up, kept = protocol.new_id(), protocol.new_id()
    village.send(
        village.events(
            ("request.captured", up, {**capture("JF-02"), "receipt_code": new_code(village.prefix)}),
            ("request.captured", kept, {**capture("JF-01"), "receipt_code": new_code(village.prefix)}),
        )
    )
    code = Case.get_by_id(up).receipt_code
    cases.act(code, "accept", "zhou")
    cases.act(code, "to_county", "zhou", note="同意上报")
    data_dir = tmp_path / "township"
    data_dir.mkdir()
    return data_dir, up, kept


def answer(cseq: int, request_id: str, **changes) -> dict:
    return {
        "cseq": cseq,
        "type": "case.status",
        "request_id": request_id,
        "at": protocol.iso(protocol.utcnow()),
        "state": states.COUNTY_APPROVED,
        "action": "county_approve",
        "county_doc_no": DOC_NO,
        "county_doc_date": today().isoformat(),
        "county_note": "按程序办理",
        **changes,
    }


def arrive(data_dir, *updates: dict) -> uplink.CountySync:
    """The county's updates as the node client stores them after a round, then recorded by the township."""
    from node.models import HubUpdate

    report = uplink.CountySync()
    with uplink.opened(data_dir):
        for up in updates:
            HubUpdate.create(
                cseq=up["cseq"], request_id=up["request_id"], type=up["type"], body=up, applied_at=protocol.utcnow()
            )
        uplink.apply_decisions(report)
    return report


def test_township_queues_each_passed_up_case_once_with_its_opinion(township) -> None:
    from node.models import Event

    data_dir, up, _ = township
    with uplink.opened(data_dir):
        assert uplink.queue_passed_up(data_dir) == 1
        assert uplink.queue_passed_up(data_dir) == 0
        [event] = Event.select()
    assert (event.type, event.request_id) == ("case.passed_up", up)
    assert event.data["opinion"] == "同意上报"
    messages.convert(event.data, messages.PassedUpData)


def test_township_records_the_answer_once_and_tells_the_village(township) -> None:
    data_dir, up, _ = township
    report = arrive(data_dir, answer(1, up))
    assert (report.decisions, report.refused) == (1, [])
    case = Case.get_by_id(up)
    assert case.state == states.COUNTY_APPROVED
    referral = CountyReferral.get_by_id(up)
    assert (referral.doc_no, referral.doc_date) == (DOC_NO, date.fromisoformat(today().isoformat()))
    told = HubEvent.select().where(HubEvent.request_id == up).order_by(HubEvent.cseq.desc()).first()
    assert (told.body["state"], told.body["county_doc_no"]) == (states.COUNTY_APPROVED, DOC_NO)
    logged = HubEvent.select().count()
    replay = arrive(data_dir, answer(2, up, action="county_deny", state=states.COUNTY_DENIED, reason="不符合"))
    assert [code for _, code, _ in replay.refused] == ["already_answered"]
    assert HubEvent.select().count() == logged  # nothing stored, nothing sent to the village
    assert Case.get_by_id(up).state == states.COUNTY_APPROVED


@pytest.mark.parametrize(
    ("which", "changes", "code"),
    [
        ("kept", {}, "not_passed_up"),  # a case of ours the township never passed up
        ("unknown", {}, "not_passed_up"),  # a case we do not have at all
        ("up", {"county_doc_no": "文" * 65}, "bad_decision"),
        ("up", {"county_doc_date": "明天"}, "bad_decision"),
        ("up", {"action": "county_deny", "state": states.COUNTY_DENIED}, "reason_required"),
    ],
)
def test_township_refuses_an_answer_it_cannot_take_and_stores_nothing(township, which, changes, code) -> None:
    data_dir, up, kept = township
    rid = {"up": up, "kept": kept, "unknown": protocol.new_id()}[which]
    before = (HubEvent.select().count(), [(c.request_id, c.state) for c in Case.select().order_by(Case.request_id)])
    report = arrive(data_dir, answer(1, rid, **changes))
    assert [c for _, c, _ in report.refused] == [code]
    assert report.decisions == 0
    after = (HubEvent.select().count(), [(c.request_id, c.state) for c in Case.select().order_by(Case.request_id)])
    assert after == before
    assert AuditEntry.select().where(AuditEntry.action.in_(["county.answer_refused", "case.refused_attempt"])).exists()


# --- the county's console ------------------------------------------------------------------------


def test_county_staff_see_the_queue_decide_and_the_fleet_lists_townships(county) -> None:
    from tests.hub.pages import csrf_of, login_as

    township = NodeSim(county.test_client(), issue_code("青山镇"))
    rid = protocol.new_id()
    township.send(township.events(passed_up(rid)))
    code = Case.get_by_id(rid).receipt_code
    client = county.test_client()
    login_as(client, "supervisor")
    queue = client.get("/county/").get_data(as_text=True)
    assert code in queue
    assert "青山镇" in queue
    assert "四邻无异议，同意上报" in queue
    case_page = client.get(f"/console/case/{code}").get_data(as_text=True)
    assert "乡镇初审意见" in case_page
    assert 'id="county-answer"' in case_page
    refused = client.post(
        f"/console/case/{code}/county",
        data={
            "answer": "county_deny",
            "doc_no": DOC_NO,
            "doc_date": today().isoformat(),
            "csrf_token": csrf_of(case_page),
        },
    )
    assert refused.status_code == 400  # 不予批准 needs the reason
    assert Case.get_by_id(rid).state == states.PASSED_UP
    done = client.post(
        f"/console/case/{code}/county",
        data={
            "answer": "county_deny",
            "doc_no": DOC_NO,
            "doc_date": today().isoformat(),
            "reason": "不符合危房改造补助条件",
            "csrf_token": csrf_of(case_page),
        },
    )
    assert done.status_code == 302
    assert Case.get_by_id(rid).state == states.COUNTY_DENIED
    assert code not in client.get("/county/").get_data(as_text=True)
    fleet = client.get("/fleet/").get_data(as_text=True)
    assert "乡镇中心一览" in fleet
    assert 'class="county-on-time">100%' in fleet


def test_a_township_hub_has_no_county_queue(hub_app) -> None:
    from tests.hub.pages import login_as

    client = hub_app.test_client()
    login_as(client, "supervisor")
    assert client.get("/county/").status_code == 404
    assert "报县级事项" not in client.get("/console/").get_data(as_text=True)


def test_county_pages_render_in_english(county) -> None:
    from hub.catalogue_store import current
    from tests.hub.pages import login_as
    from tests.test_english import catalogue_strings, leftovers, masked, seeded_strings

    township = NodeSim(county.test_client(), issue_code("青山镇"))
    event = passed_up(protocol.new_id())
    township.send(township.events(event))
    code = event[2]["receipt_code"]
    client = county.test_client()
    login_as(client, "supervisor")
    client.set_cookie("lang", "en")
    data = (
        set(catalogue_strings(current().to_dict()))
        | seeded_strings(["JF-02"])
        | set(catalogue_strings(event[2]))
        | masked(["陈督查", "青山镇", "桃源村", "李文书", event[2]["applicant_name"]])
        | {"青山镇·zhou"}
    )
    found = {}
    for url in ("/county/", "/fleet/", f"/console/case/{code}", "/console/"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        if left := leftovers(resp.get_data(as_text=True), data):
            found[url] = left
    assert not found, "\n".join(f"{k}: {v}" for k, v in found.items())


def test_after_the_countys_log_is_rebuilt_new_answers_are_recorded_and_old_ones_not_again(township) -> None:
    """A county restored from backup renumbers its log: the township reads it all again, once per answer."""
    from node import meta
    from node.models import HubUpdate

    data_dir, up, kept = township
    assert arrive(data_dir, answer(1, up), answer(2, protocol.new_id(), county_doc_no="x")).decisions == 1
    # The kept case is passed up too, and the county's rebuilt log numbers its answer 1 after the old one.
    code = Case.get_by_id(kept).receipt_code
    cases.act(code, "accept", "zhou")
    kept_case = Case.get_by_id(kept)
    kept_case.item_code = "JF-02"  # one the county decides
    kept_case.save()
    cases.act(code, "to_county", "zhou")
    logged = HubEvent.select().count()
    with uplink.opened(data_dir):
        HubUpdate.delete().execute()
        meta.put("hub_epoch", "after-restore")
    report = arrive(data_dir, answer(1, up), answer(2, kept))
    assert (report.decisions, report.refused) == (1, [])  # the old answer passed over, not refused again
    assert Case.get_by_id(kept).state == states.COUNTY_APPROVED
    assert HubEvent.select().count() == logged + 1


def test_the_scheduler_job_waits_after_a_failure_as_a_village_node_does(hub_app, tmp_path, monkeypatch) -> None:
    from node.transport import TransportError

    hub_app.config["DATA_DIR"] = str(tmp_path / "township")
    (tmp_path / "township").mkdir()
    with hub_app.app_context():
        assert uplink.sync_job() == "not enrolled with a county"
        with uplink.opened(hub_app.config["DATA_DIR"]):
            from node import meta

            meta.put("hub_pubkey", "x")
            meta.put("hub_url", "http://127.0.0.1:9")
        tries = []

        def unreachable(data_dir, transport=None):
            tries.append(data_dir)
            raise TransportError("无法连接县级中心", "unreachable")

        monkeypatch.setattr(uplink, "sync", unreachable)
        monkeypatch.setitem(uplink._backoff, "failures", 0)
        monkeypatch.setitem(uplink._backoff, "next_try", 0.0)
        assert "county sync failed (unreachable)" in uplink.sync_job()
        assert uplink.sync_job() == "waiting after a failure"
        assert len(tries) == 1
        assert uplink._backoff["failures"] == 1


def test_the_scans_of_a_passed_up_case_follow_it_by_hash(township) -> None:
    """Only scans the township holds go up, each once, after the case; their bytes are the township's own file."""
    from hub.attachments import stored_path
    from hub.models import Attachment
    from node.attachments import path_for
    from node.models import Attachment as Sent
    from node.models import Event
    from tests.images import photo

    data_dir, up, _ = township
    data = photo(400, 300)
    sha = __import__("hashlib").sha256(data).hexdigest()
    case = Case.get_by_id(up)
    held = Attachment.create(sha256=sha, case=case, size=len(data), mime="image/jpeg", name="鉴定.jpg", received=True)
    Attachment.create(sha256="0" * 64, case=case, size=10, mime="image/jpeg", name="未到.jpg", received=False)
    stored_path(data_dir, sha).parent.mkdir(parents=True)
    stored_path(data_dir, sha).write_bytes(data)
    with uplink.opened(data_dir):
        uplink.queue_passed_up(data_dir)
        uplink.queue_passed_up(data_dir)
        types = [e.type for e in Event.select().order_by(Event.id)]
        [sent] = Sent.select()
        assert path_for(sha, uplink.home(data_dir)).read_bytes() == data
    assert types == ["case.passed_up", "attachment.added"]
    assert (sent.sha256, sent.request_id, sent.name) == (sha, up, held.name)


def test_the_township_fleet_page_shows_the_county_link_and_answers_it_refused(township, hub_app) -> None:
    from node import meta
    from tests.hub.pages import login_as

    data_dir, up, kept = township
    hub_app.config["DATA_DIR"] = str(data_dir)
    client = hub_app.test_client()
    login_as(client, "supervisor")
    assert 'id="county-link"' not in client.get("/fleet/").get_data(as_text=True)  # not enrolled with a county
    with uplink.opened(data_dir):
        meta.put("hub_pubkey", "x")
        meta.put("hub_url", "http://county.example/")
        meta.put("village", "青山镇")
    arrive(data_dir, answer(1, kept))
    page = client.get("/fleet/").get_data(as_text=True)
    assert 'id="county-link"' in page
    assert "http://county.example/" in page
    assert Case.get_by_id(kept).receipt_code in page
    assert "not_passed_up" in page
    client.set_cookie("lang", "en")
    english = client.get("/fleet/").get_data(as_text=True)
    section = english[
        english.index('id="county-link"') : english.index("</section>", english.index('id="county-link"'))
    ]
    assert "Link to the county hub" in section
    assert re.findall(r"[\u4e00-\u9fff]+", section) == ["青山镇"]  # the name the county gave us: data
