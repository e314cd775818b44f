"""`daiban hub doctor`: each check says what is wrong in Chinese; a problem makes the command exit 1."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from hub.doctor import check_calendar, check_database, check_keys, check_scheduler, run_checks
from hub.models import JobRun
from tests import support
from tests.hub.pages import hub_time


def test_checks_on_a_fresh_hub(hub_app) -> None:
    data = Path(hub_app.config["DATA_DIR"])
    assert check_database().level == "ok"
    assert check_keys(data).level == "ok"
    missing = check_scheduler()
    assert missing.level == "problem"
    assert "daiban hub scheduler" in missing.message
    with hub_time(datetime(2026, 11, 30, 2)):
        JobRun.create(
            job="heartbeat",
            started_at=datetime(2026, 11, 30, 1, 59),
            finished_at=datetime(2026, 11, 30, 1, 59),
            ok=True,
            pid=1,
        )
        assert check_scheduler().level == "ok"
    with hub_time(datetime(2026, 11, 30, 2) + timedelta(minutes=30)):
        stale = check_scheduler()
    assert stale.level == "problem"
    assert "没有心跳" in stale.message
    # 2026-11-30 + 90 days reaches 2027, which the statutory package does not know.
    with hub_time(datetime(2026, 11, 30, 2)):
        cal = check_calendar()
    assert cal.level == "warn"
    assert "2027" in cal.message
    assert "节假日设置" in cal.message
    with hub_time(datetime(2026, 3, 2, 2)):
        assert check_calendar().level == "ok"
    if os.name == "posix":
        (data / "hub_key.pem").chmod(0o644)
        loose = check_keys(data)
        assert loose.level == "problem"
        assert "chmod 600" in loose.message
    names = [f.check for f in run_checks(data)]
    assert names == ["数据库", "密钥", "调度", "工作日历", "磁盘"]


def test_the_command_prints_findings_and_exits_1_on_a_problem(tmp_path: Path) -> None:
    hub = support.make_hub(tmp_path)
    out = hub.cli("doctor", check=False)
    assert out.returncode == 1  # no scheduler has ever run
    assert "[需处理] 调度" in out.stdout
    assert "[正常] 数据库" in out.stdout
    assert "工作日历" in out.stdout
