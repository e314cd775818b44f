"""Three levels, three real processes over HTTP: village node → township hub → county hub and back.

A rural-housing item that only the county decides (JF-02) is captured at the village, synced,
examined and passed up at the township, approved at the county, and the villager's status page
at the village shows the county's answer. The township↔county link is cut twice (the county
process stopped): once before the case goes up, once before the answer comes down.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import requests

from tests import support
from tests.factories import capture
from tests.images import photo

DOC_NO = "某县住建〔2026〕12号"


def county_today() -> str:
    return (datetime.now(timezone.utc) + timedelta(hours=8)).date().isoformat()


def make_county(tmp, database_url: str | None = None) -> support.Service:
    env = {"DATABASE_URL": database_url} if database_url else {}
    county = support.Service("hub", tmp / "county", support.free_port(), env=env)
    county.data_dir.mkdir(parents=True, exist_ok=True)
    assert "县级中心" in county.cli("init", "--level", "county").stdout
    return county


def enrol_township(county: support.Service, township: support.Service, name: str = "青山镇") -> None:
    code = county.cli("enroll-code", "--village", name).stdout.strip()
    out = township.cli("county-enroll", "--county", county.url, "--code", code).stdout
    assert f"已在县级中心注册：{name}" in out


@contextmanager
def three_levels(
    tmp: Path, township_url: str | None = None, county_url: str | None = None
) -> Iterator[tuple[support.Service, support.Service, support.Service, str]]:
    """(county, township, node, node's API token) running: the township enrolled with the county,
    the node (which syncs only when told) with the township; all three stopped after."""
    county = make_county(tmp, county_url)
    township = support.make_hub(tmp, township_url)
    county.start()
    township.start()
    node, token = support.make_node(tmp, "n1", township, "桃源村")
    node.extra = ["--no-sync"]
    node.start()
    try:
        enrol_township(county, township)
        yield county, township, node, token
    finally:
        node.stop()
        township.stop()
        county.stop()


def capture_at(node: support.Service, token: str) -> str:
    """A rural-housing item only the county decides (农村危房改造补助申请), captured at the village."""
    resp = requests.post(
        f"{node.url}/api/v1/requests",
        json=capture("JF-02"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["receipt_code"]


def villager_sees(node: support.Service, code: str, phone_tail: str = "8000") -> str:
    """The village's public status page for this receipt code, as a villager's phone gets it."""
    s = requests.Session()
    page = s.get(f"{node.url}/status", timeout=10).text
    token = support.csrf_of(page)
    resp = s.post(f"{node.url}/status", data={"code": code, "tail": phone_tail, "csrf_token": token}, timeout=10)
    assert resp.status_code == 200
    return resp.text


def test_housing_item_passed_up_and_approved_through_three_levels(tmp_path) -> None:
    _run(tmp_path)


def test_three_levels_on_postgresql(tmp_path) -> None:
    for township_url in support.pg_database():
        for county_url in support.pg_database():
            _run(tmp_path, township_url, county_url)


def _run(tmp_path, township_url: str | None = None, county_url: str | None = None) -> None:
    with three_levels(tmp_path, township_url, county_url) as (county, township, node, token):
        code, later = (capture_at(node, token) for _ in range(2))
        scan = tmp_path / "房屋鉴定.jpg"
        scan.write_bytes(photo(1200, 900))
        node.cli("attach", code, str(scan))
        assert "上传附件 1 个" in node.cli("sync").stdout
        township.cli("act", code, "accept")
        township.cli("act", code, "to_county", "--note", "四邻无异议，房屋鉴定为C级，同意上报")

        county.stop()  # the line to the county is down when the case is passed up
        cut = township.cli("county-sync", check=False)
        assert cut.returncode == 1
        assert "与县级中心同步失败" in cut.stderr
        county.start()
        # The case and its scan go up, with yesterday's figures: three events, then the scan's bytes by hash.
        assert (
            "上传批次 1，县级确认事件 3（退回 0），录入县级批复 0 件，上传附件 1 个"
            in township.cli("county-sync").stdout
        )
        again = township.cli("county-sync").stdout  # nothing goes up twice
        assert "上传批次 0，县级确认事件 0" in again
        assert "上传附件" not in again

        # The county sees the case with the township's opinion, and decides it.
        queue = county.cli("county-queue").stdout
        assert code in queue
        assert "青山镇" in queue
        assert "同意上报" in queue
        county.cli(
            "county-answer", code, "county_approve", "--doc-no", DOC_NO, "--doc-date", county_today(), "--actor", "li"
        )

        county.stop()  # down again before the answer comes back
        assert township.cli("county-sync", check=False).returncode == 1
        node.cli("sync")
        assert "初审通过" in villager_sees(node, code)  # still waiting, as far as the village knows
        county.start()
        assert "录入县级批复 1 件" in township.cli("county-sync").stdout
        assert "录入县级批复 0 件" in township.cli("county-sync").stdout  # the answer is recorded once

        node.cli("sync")
        page = villager_sees(node, code)
        assert "县级批准" in page
        api = requests.get(
            f"{node.url}/api/v1/requests/{code}", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).json()
        assert api["state"] == "county_approved"

        # A township revoked at the county (its server stolen, say) is refused and stores nothing there.
        township.cli("act", later, "accept")
        township.cli("act", later, "to_county")
        county.cli("revoke", "--village", "青山镇")
        refused = township.cli("county-sync", check=False)
        assert refused.returncode == 1
        assert "(revoked)" in refused.stderr.replace("（", "(").replace("）", ")")
        assert "待县级批复 0 件" in county.cli("county-queue").stdout
