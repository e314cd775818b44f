"""The township's line to the county is down: a case passed up goes by USB bundle and the answer comes back the same way.

Real processes: a county hub, a township hub and a village node, each its own `daiban` CLI or
server. The county process is stopped for the whole trip (the township cannot reach it); the
township exports with `county-export-bundle`, the county imports with the `import-bundle` it uses
for a village, and the township applies the reply with `county-import-bundle`. When the line is
back, a county-sync finds nothing left to send and no answer to record twice.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_county_level import DOC_NO, capture_at, county_today, three_levels, villager_sees
from tests.images import photo


def tampered(src: Path, dst: Path) -> Path:
    raw = bytearray(src.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    dst.write_bytes(bytes(raw))
    return dst


def test_case_passed_up_and_answered_by_usb_bundles(tmp_path: Path) -> None:
    with three_levels(tmp_path) as (county, township, node, token):
        code = capture_at(node, token)
        scan = tmp_path / "房屋鉴定.jpg"
        scan.write_bytes(photo(1200, 900))
        node.cli("attach", code, str(scan))
        node.cli("sync")
        township.cli("act", code, "accept")
        township.cli("act", code, "to_county", "--note", "四邻无异议，同意上报")

        county.stop()  # the line is down from here until the end of the trip
        assert township.cli("county-sync", check=False).returncode == 1
        usb = tmp_path / "usb"
        usb.mkdir()
        out = township.cli("county-export-bundle", str(usb / "up1.daiban")).stdout
        # the case, its scan, and the day before's figures (a township reports each finished day)
        assert "批次 1，事件 3，附件 1" in out
        assert code.encode() not in (usb / "up1.daiban").read_bytes()  # sealed to the county's box key

        # A bundle changed on the way is refused at the county and nothing of it is kept there.
        bad_up = tampered(usb / "up1.daiban", usb / "bad.daiban")
        bad = county.cli("import-bundle", str(bad_up), "--out", str(usb / "x.daiban"), check=False)
        assert bad.returncode == 1
        assert "导入失败" in bad.stderr
        assert "待县级批复 0 件" in county.cli("county-queue").stdout

        got = county.cli("import-bundle", str(usb / "up1.daiban"), "--out", str(usb / "down1.daiban")).stdout
        assert "青山镇" in got
        assert "接收事件 3" in got
        assert "收到附件 1" in got
        assert "daiban hub county-import-bundle" in got  # the reply goes back to a township, not a village
        assert code in county.cli("county-queue").stdout
        county.cli(
            "county-answer", code, "county_approve", "--doc-no", DOC_NO, "--doc-date", county_today(), "--actor", "li"
        )

        # The one batch the export carried, as a county-sync would have counted it.
        assert "上传批次 1，县级确认事件 3" in township.cli("county-import-bundle", str(usb / "down1.daiban")).stdout
        # A second trip carries the county's answer down.
        assert "批次 0，事件 0，附件 0" in township.cli("county-export-bundle", str(usb / "up2.daiban")).stdout
        county.cli("import-bundle", str(usb / "up2.daiban"), "--out", str(usb / "down2.daiban"))

        # A reply changed on the way is refused at the township, nothing recorded: the true one still applies.
        bad = township.cli(
            "county-import-bundle", str(tampered(usb / "down2.daiban", usb / "bad2.daiban")), check=False
        )
        assert bad.returncode == 1
        assert "导入失败" in bad.stderr
        node.cli("sync")
        assert "初审通过" in villager_sees(node, code)

        assert (
            "上传批次 0，县级确认事件 0（退回 0），录入县级批复 1 件"
            in township.cli("county-import-bundle", str(usb / "down2.daiban")).stdout
        )
        again = township.cli("county-import-bundle", str(usb / "down2.daiban"))
        assert again.returncode == 0
        assert "导入过" in again.stdout
        assert "未做任何更改" in again.stdout

        node.cli("sync")
        assert "县级批准" in villager_sees(node, code)

        # The line is back: nothing left to send, and the answer that came by USB is not recorded again.
        county.start()
        back = township.cli("county-sync").stdout
        assert "上传批次 0，县级确认事件 0（退回 0），录入县级批复 0 件" in back
        assert "上传附件" not in back

        # Both ways at once: a reply bundle carrying an answer the township already fetched over HTTP records nothing.
        later = capture_at(node, token)
        node.cli("sync")
        township.cli("act", later, "accept")
        township.cli("act", later, "to_county")
        assert "县级确认事件 1" in township.cli("county-sync").stdout
        county.cli(
            "county-answer", later, "county_approve", "--doc-no", "某县住建〔2026〕13号", "--doc-date", county_today()
        )
        county.stop()
        township.cli("county-export-bundle", str(usb / "up3.daiban"))
        county.cli("import-bundle", str(usb / "up3.daiban"), "--out", str(usb / "down3.daiban"))
        county.start()
        assert "录入县级批复 1 件" in township.cli("county-sync").stdout
        late = township.cli("county-import-bundle", str(usb / "down3.daiban")).stdout
        assert "录入县级批复 0 件" in late
        assert "录入县级批复 0 件" in township.cli("county-sync").stdout
        node.cli("sync")
        assert "县级批准" in villager_sees(node, later)
