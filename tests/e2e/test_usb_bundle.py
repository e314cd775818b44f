"""A village with no network: capture, export to USB, import at a stopped hub, carry the answer back."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from tests import support
from tests.factories import capture
from tests.images import photo


def test_usb_round_trip_with_real_processes(tmp_path: Path) -> None:
    hub = support.make_hub(tmp_path)
    hub.start()
    try:
        node, token = support.make_node(tmp_path, "taoyuan", hub, "桃源村")
    finally:
        hub.stop()  # from here on the village has no network and the hub is not running

    form = tmp_path / "form.json"
    form.write_text(json.dumps(capture("JF-01"), ensure_ascii=False), encoding="utf-8")
    code = node.cli("capture", str(form)).stdout.strip()
    scan = tmp_path / "site.jpg"
    scan.write_bytes(photo(2400, 1800))
    assert "已添加附件" in node.cli("attach", code, str(scan), "--material", "M-DESIGN").stdout

    usb = tmp_path / "usb"
    usb.mkdir()
    out = node.cli("export-bundle", str(usb / "up1.daiban")).stdout
    assert "批次 1，事件 2，附件 1" in out
    assert code.encode() not in (usb / "up1.daiban").read_bytes()  # encrypted, not readable on the stick

    res = hub.cli("import-bundle", str(usb / "up1.daiban"), "--out", str(usb / "down1.daiban")).stdout
    assert "桃源村" in res
    assert "接收事件 2" in res
    assert "收到附件 1" in res
    again = hub.cli("import-bundle", str(usb / "up1.daiban"), "--out", str(usb / "down1b.daiban"))
    assert "导入过" in again.stdout
    assert "未做任何更改" in again.stdout

    # (Tampered, foreign and replayed replies are refused in tests/node/test_bundles.py.)
    # The window accepts the case while the hub is still offline for the village.
    assert "受理" in hub.cli("act", code, "accept").stdout

    assert "中心确认事件 2" in node.cli("import-bundle", str(usb / "down1.daiban")).stdout
    replay = node.cli("import-bundle", str(usb / "down1.daiban"))
    assert "导入过" in replay.stdout
    assert "未做任何更改" in replay.stdout

    # A second trip carries the decision down.
    node.cli("export-bundle", str(usb / "up2.daiban"))
    hub.cli("import-bundle", str(usb / "up2.daiban"), "--out", str(usb / "down2.daiban"))
    node.cli("import-bundle", str(usb / "down2.daiban"))

    node.extra = ["--no-sync"]
    node.start()
    try:
        got = requests.get(
            f"{node.url}/api/v1/requests/{code}", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).json()
    finally:
        node.stop()
    assert got["state"] == "accepted"
    assert got["state_label"] == "已受理"
    assert got["deadline"]
