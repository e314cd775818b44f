"""HTTPS with a pinned self-signed certificate: enrol and sync over it; a changed certificate is refused."""

from __future__ import annotations

import time
from pathlib import Path

from node.tls_pin import fetch_fingerprint
from tests import support
from tests.deploy.helpers import capture, hub_rows, make_cert, node_meta, start_gunicorn, stop


def test_pinned_certificate_is_used_and_a_changed_one_refused(tmp_path: Path) -> None:
    hub = support.make_hub(tmp_path)
    cert, key = make_cert(tmp_path, "hub")
    proc = start_gunicorn(hub, workers=2, certfile=cert, keyfile=key)
    url = f"https://127.0.0.1:{hub.port}"
    node = support.Service("node", tmp_path / "n1", support.free_port())
    node.data_dir.mkdir()
    node.cli("init")
    try:
        code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()
        # Without a pin the self-signed certificate is not trusted at all.
        plain = node.cli("enroll", "--hub", url, "--code", code, check=False)
        assert plain.returncode != 0
        assert "证书" in plain.stderr
        # A fingerprint read out by the county that does not match is refused before anything is sent.
        wrong = node.cli("enroll", "--hub", url, "--code", code, "--cert-sha256", "ab" * 32, check=False)
        assert wrong.returncode != 0
        assert "不符" in wrong.stderr
        out = node.cli("enroll", "--hub", url, "--code", code, "--cert-sha256", fetch_fingerprint(url)).stdout
        assert "已固定中心证书" in out
        assert node_meta(node, "hub_cert_sha256") == fetch_fingerprint(url)
        capture(node, tmp_path, "张一")
        assert "同步完成" in node.cli("sync").stdout
        assert hub_rows(hub, 'SELECT count(*) FROM "case"') == [(1,)]
        # The running node's background sync goes through the same pinned connection.
        capture(node, tmp_path, "张零")
        node.start()
        deadline = time.monotonic() + 60
        while hub_rows(hub, 'SELECT count(*) FROM "case"') != [(2,)]:
            assert time.monotonic() < deadline, "background sync over the pinned connection did not arrive"
            time.sleep(0.2)
    finally:
        node.stop()
        stop(proc)

    # The hub now presents another certificate (a man in the middle, or an unannounced change).
    cert2, key2 = make_cert(tmp_path, "other")
    proc = start_gunicorn(hub, workers=1, certfile=cert2, keyfile=key2, log_name="gunicorn2.log")
    try:
        capture(node, tmp_path, "张二")
        result = node.cli("sync", check=False)
        assert result.returncode == 1
        assert "安全证书与注册时不符" in result.stderr
        assert hub_rows(hub, 'SELECT count(*) FROM "case"') == [(2,)]
    finally:
        stop(proc)
