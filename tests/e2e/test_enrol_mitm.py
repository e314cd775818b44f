"""Enrolment over plain HTTP against a man in the middle, and a captured hello replayed (issue 11).

A real hub process, a real `daiban node enroll` process, and between them a proxy on a real
socket that sees, records and rewrites every byte. Whatever the proxy recomputes, the node must
refuse with an alarm and pin nothing; a passive recording must not give away the code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from spake2 import SPAKE2_A, SPAKE2_B

from node.enrolment import MITM_ALARM
from shared import bundle, encoding, enrolment, protocol, signing
from shared.receipt_codes import check_char
from tests import support
from tests.deploy.helpers import capture, hub_rows, node_meta

Tamper = Callable[[str, dict[str, Any]], Any]


class Proxy:
    """An HTTP proxy on loopback in front of the hub; hooks may rewrite requests and answers."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.transcript: list[tuple[str, bytes, bytes]] = []
        self.on_request: Tamper | None = None  # (path, msg) -> msg, or ("answer", status, body bytes)
        self.on_answer: Callable[[str, dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding", "").lower() == "deflate":
                    raw = zlib.decompress(raw)
                status, out = proxy.relay(self.path, raw)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self) -> None:
                resp = requests.get(proxy.upstream + self.path, timeout=10)
                self.send_response(resp.status_code)
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def relay(self, path: str, raw: bytes) -> tuple[int, bytes]:
        msg = json.loads(raw)
        if self.on_request:
            got = self.on_request(path, msg)
            if isinstance(got, tuple):
                self.transcript.append((path, raw, got[2]))
                return got[1], got[2]
            raw = encoding.canonical(got)
        resp = requests.post(self.upstream + path, data=raw, headers={"Content-Type": "application/json"}, timeout=30)
        out = resp.content
        if self.on_answer:
            out = encoding.canonical(self.on_answer(path, json.loads(raw), json.loads(out)))
        self.transcript.append((path, raw, out))
        return resp.status_code, out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[support.Service, support.Service, Proxy]]:
    hub = support.make_hub(tmp_path).start()
    node = support.Service("node", tmp_path / "n1", support.free_port())
    node.data_dir.mkdir()
    node.cli("init")
    proxy = Proxy(hub.url)
    try:
        yield hub, node, proxy
    finally:
        proxy.close()
        hub.stop()


ATTACKER = signing.generate_key()
ATTACKER_BOX = bundle.generate_box_key()


def forged(body: dict[str, Any], req: dict[str, Any] | None = None) -> dict[str, Any]:
    """The hub's answer with the attacker's keys in it, re-signed by the attacker: all he can recompute."""
    body = dict(body)
    env: dict[str, Any] = {}
    if req and isinstance(req.get("code"), str):
        # Enrolment v1 sent the code in clear, so the attacker could recompute its MAC too.
        normal = req["code"].replace("-", "").upper()
        env["mac"] = "pending"
    body["hub_pubkey"] = signing.public_b64(ATTACKER)
    body["hub_fingerprint"] = signing.fingerprint(body["hub_pubkey"])
    if "hub_box_pubkey" in body:
        body["hub_box_pubkey"] = bundle.box_public_b64(ATTACKER_BOX)
    if env:
        env["mac"] = hmac.new(normal.encode(), encoding.canonical(body), hashlib.sha256).hexdigest()
    return {**env, "body": body, "sig": signing.sign(ATTACKER, encoding.canonical(body))}


def refused_with_alarm(result: Any, node: support.Service, hub: support.Service) -> None:
    assert result.returncode != 0
    assert "冒充乡镇中心" in result.stderr, result.stderr
    assert "没有保存任何中心密钥" in result.stderr, result.stderr
    assert MITM_ALARM.split("，")[0] in result.stderr
    assert "Traceback" not in result.stderr
    assert node_meta(node, "hub_pubkey") is None
    assert node_meta(node, "node_id") is None


def test_swapped_hub_key_is_refused_and_the_code_still_works(world) -> None:
    hub, node, proxy = world
    code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()

    # 1. The answer to the first round carries the attacker's keys, re-signed by him (and, were the
    #    code in the request as in enrolment v1, with the MAC recomputed).
    proxy.on_answer = lambda path, req, env: (
        forged(env["body"], req) if req.get("kind", enrolment.START) == enrolment.START else env
    )
    refused_with_alarm(node.cli("enroll", "--hub", proxy.url, "--code", code, check=False), node, hub)
    assert hub_rows(hub, "SELECT count(*) FROM node") == [(0,)]

    # 2. The proxy plays the hub from start to end with its own keys, computing everything a
    #    real hub computes, on its best guess of the code (it saw the code id, not the secret).
    def impersonate(path: str, msg: dict[str, Any]) -> Any:
        if msg.get("kind") != enrolment.START:
            return msg
        body = msg["code_id"] + enrolment.new_code()[enrolment.ID_LEN : -1]
        guess = body + check_char(body)
        hub_pub, hub_box = signing.public_b64(ATTACKER), bundle.box_public_b64(ATTACKER_BOX)
        pake, confirm, _ = enrolment.hub_respond(
            guess, msg["pake"], msg["pubkey"], msg.get("box_pubkey"), hub_pub, hub_box
        )
        body = {
            "v": 2,
            "kind": enrolment.CHALLENGE,
            "code_id": msg["code_id"],
            "pake": pake,
            "hub_pubkey": hub_pub,
            "hub_box_pubkey": hub_box,
            "hub_confirm": confirm,
        }
        return ("answer", 200, protocol.seal(ATTACKER, body))

    proxy.on_answer, proxy.on_request = None, impersonate
    refused_with_alarm(node.cli("enroll", "--hub", proxy.url, "--code", code, check=False), node, hub)

    # 3. The proxy puts its own node key into the first round, to get that key registered.
    stolen: dict[str, Any] = {}

    def swap_node_key(path: str, msg: dict[str, Any]) -> Any:
        if msg.get("kind") == enrolment.START:
            stolen["code_id"] = msg["code_id"]
            return {**msg, "pubkey": signing.public_b64(ATTACKER)}
        return msg

    proxy.on_request = swap_node_key
    refused_with_alarm(node.cli("enroll", "--hub", proxy.url, "--code", code, check=False), node, hub)
    # ... and it cannot finish on its own: it has no confirmation to give.
    resp = requests.post(
        hub.url + "/api/v1/enroll",
        data=encoding.canonical(
            {
                "v": 2,
                "kind": enrolment.CONFIRM,
                "code_id": stolen["code_id"],
                "pubkey": signing.public_b64(ATTACKER),
                "confirm": "0" * 64,
            }
        ),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert resp.status_code == 403
    assert resp.json()["body"]["error"]["code"] == "bad_code"
    assert hub_rows(hub, "SELECT count(*) FROM node") == [(0,)]

    # 4. The first round passes untouched; the final answer gets the attacker's key.
    proxy.on_request = None
    proxy.on_answer = lambda path, req, env: forged(env["body"]) if req.get("kind") == enrolment.CONFIRM else env
    refused_with_alarm(node.cli("enroll", "--hub", proxy.url, "--code", code, check=False), node, hub)
    # The hub registered the node's own key (the node did prove the code); the node pinned nothing,
    # so the supervisor revokes and issues a new code, as for any failed enrolment.
    assert hub_rows(hub, "SELECT count(*) FROM node") == [(1,)]
    hub.cli("revoke", "--village", "桃源村")
    code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()

    # Without the proxy the same node enrols and pins the real hub key.
    out = node.cli("enroll", "--hub", hub.url, "--code", code).stdout
    assert "已注册：桃源村" in out
    real = signing.public_b64(signing.load_private_key(hub.data_dir / "hub_key.pem"))
    assert node_meta(node, "hub_pubkey") == real


def test_code_survives_failed_attempts_until_the_limit(world) -> None:
    hub, node, proxy = world
    code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()
    proxy.on_answer = lambda path, req, env: forged(env["body"]) if req.get("kind") == enrolment.START else env
    for _ in range(enrolment.MAX_ATTEMPTS - 1):
        refused_with_alarm(node.cli("enroll", "--hub", proxy.url, "--code", code, check=False), node, hub)
    assert "已注册" in node.cli("enroll", "--hub", hub.url, "--code", code).stdout


def test_passive_observer_learns_nothing_to_test_a_guess_with(world) -> None:
    hub, node, proxy = world
    code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()
    node.cli("enroll", "--hub", proxy.url, "--code", code)
    assert node_meta(node, "hub_pubkey") == signing.public_b64(signing.load_private_key(hub.data_dir / "hub_key.pem"))
    wire = b"".join(req + resp for _, req, resp in proxy.transcript)
    normal = enrolment.parse_code(code)
    secret = normal[enrolment.ID_LEN :]
    # Neither the code nor its secret part travels, in clear or as any plain or keyed fast hash of it.
    leaks = [normal, code, secret, secret[:-1]]
    for text in (normal, secret):
        for name in ("sha256", "sha1", "md5", "sha512"):
            d = hashlib.new(name, text.encode()).digest()
            leaks += [d.hex(), d.hex().upper(), base64.b64encode(d).decode()]
    for leak in leaks:
        assert leak.encode() not in wire, leak
    start = json.loads(proxy.transcript[0][1])
    challenge = json.loads(proxy.transcript[0][2])["body"]
    confirm = json.loads(proxy.transcript[1][1])
    assert start["code_id"] == normal[: enrolment.ID_LEN]
    assert "code" not in start
    # The MAC key is the SPAKE2 session key: even an observer who later learns the right code
    # cannot compute it from the transcript, so there is nothing to check guesses against.
    for side in ("A", "B"):
        ident = enrolment.node_identity(start["code_id"], start["pubkey"], start.get("box_pubkey"))
        pake = (SPAKE2_A if side == "A" else SPAKE2_B)(normal.encode(), idA=ident, idB=b"daiban hub")
        pake.start()
        other = base64.b64decode(challenge["pake"] if side == "A" else start["pake"])
        key = pake.finish(other)
        hub_id = enrolment.hub_identity(challenge["hub_pubkey"], challenge.get("hub_box_pubkey"))
        for label in (b"daiban enrolment v2: hub confirms", b"daiban enrolment v2: node confirms"):
            mac = hmac.new(key, label + b"\n" + hub_id, hashlib.sha256).hexdigest()
            assert mac not in (challenge["hub_confirm"], confirm["confirm"])
        # Nor is the code itself (the v1 MAC key) a key to anything in the transcript.
        for label in (b"daiban enrolment v2: hub confirms", b"daiban enrolment v2: node confirms"):
            assert hmac.new(normal.encode(), label + b"\n" + hub_id, hashlib.sha256).hexdigest() not in (
                challenge["hub_confirm"],
                confirm["confirm"],
            )


def test_old_node_message_gets_a_clear_refusal(world) -> None:
    hub, node, _ = world
    code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()
    # What a node before enrolment v2 sends: the code in clear.
    resp = requests.post(
        hub.url + "/api/v1/enroll",
        data=encoding.canonical(
            {"v": 2, "code": code, "pubkey": signing.public_b64(signing.generate_key()), "app_version": "0.9"}
        ),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    env = resp.json()
    assert resp.status_code == 400
    assert env["body"]["error"]["upgrade"] == "node"
    assert "请先升级代办点软件" in env["body"]["error"]["message"]
    assert protocol.verify_body(
        signing.public_b64(signing.load_private_key(hub.data_dir / "hub_key.pem")), env["body"], env["sig"]
    )
    # The code was not used: the upgraded node enrols with it.
    assert "已注册" in node.cli("enroll", "--hub", hub.url, "--code", code).stdout


def test_captured_hello_replayed_gets_no_history(world, tmp_path: Path) -> None:
    hub, node, proxy = world
    code = hub.cli("enroll-code", "--village", "桃源村").stdout.strip()
    node.cli("enroll", "--hub", hub.url, "--code", code)
    capture(node, tmp_path, "张三")
    # The node syncs through the proxy, which keeps a copy of everything.
    with sqlite3.connect(node.data_dir / "node.sqlite3") as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'hub_url'", (json.dumps(proxy.url),))
    assert "同步完成" in node.cli("sync").stdout
    hellos = [
        req
        for path, req, _ in proxy.transcript
        if path == "/api/v1/sync" and json.loads(req)["body"]["kind"] == "hello"
    ]
    assert len(hellos) == 1
    assert json.loads(hellos[0])["body"]["acked_seq"] == 0
    # Replayed later by the observer, straight to the hub: refused, signed, without history.
    replay = requests.post(
        hub.url + "/api/v1/sync", data=hellos[0], headers={"Content-Type": "application/json"}, timeout=10
    )
    body = replay.json()["body"]
    assert replay.status_code == 409
    assert body["error"]["code"] == "stale_hello"
    assert "history" not in body
    assert "张三" not in replay.text
    # What the replay was denied: a fresh hello signed with the node's key gets 张三's record back.
    from node.web import KEY_FILE

    key = signing.load_private_key(node.data_dir / KEY_FILE)
    fresh = protocol.poll_body(
        json.loads(hellos[0])["body"]["node_id"], 0, kind="hello", catalogue_version=1, app_version="t"
    )
    ok = requests.post(
        hub.url + "/api/v1/sync",
        data=protocol.seal(key, fresh),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert ok.status_code == 200
    assert "张三" in ok.text
    # The node itself is not disturbed: a new process signs a new hello.
    assert "同步完成" in node.cli("sync").stdout
