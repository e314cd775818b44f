"""A local stand-in for Alibaba Cloud's SendSms endpoint, checking requests as the provider documents.

It checks the RPC request format (Action, Version, Format, SignatureMethod/Version, Timestamp,
SignatureNonce, PhoneNumbers, SignName, TemplateCode, TemplateParam) and recomputes the signature
its own way (Java URLEncoder style, then the documented replacements), so a wrongly signed or
replayed request is refused the way the real service refuses it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, quote_plus, urlsplit

REQUIRED = (
    "AccessKeyId",
    "Action",
    "Format",
    "PhoneNumbers",
    "SignName",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "TemplateCode",
    "Timestamp",
    "Version",
    "Signature",
)


def _encode(text: str) -> str:
    # As the provider's documentation describes it: URLEncoder.encode(UTF-8), then + -> %20, * -> %2A, %7E -> ~.
    return quote_plus(text, safe="*").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def expected_signature(params: dict[str, str], secret: str) -> str:
    """The provider's own computation of an RPC request's signature."""
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    canonical = "&".join(_encode(k) + "=" + _encode(v) for k, v in pairs)
    string_to_sign = "GET&" + _encode("/") + "&" + _encode(canonical)
    mac = hmac.new((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


class FakeAliyun:
    """Runs on 127.0.0.1; `script` lists how to answer the next requests ("ok", "500", "limit", "slow", ...)."""

    def __init__(self, keys: dict[str, str]):
        self.keys = keys
        self.script: list[str] = []
        self.received: list[dict[str, str]] = []  # every request that passed the checks
        self.refused: list[str] = []
        self.nonces: set[str] = set()
        self.slow_s = 2.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, body = server.answer(dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True)))
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _refuse(self, status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
        self.refused.append(code)
        return status, {"Code": code, "Message": message, "RequestId": "r"}

    def answer(self, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Check one request as the provider would, then answer as scripted."""
        missing = [k for k in REQUIRED if not q.get(k)]
        if missing:
            return self._refuse(400, "MissingParameter", f"missing {missing[0]}")
        if (q["Action"], q["Version"], q["SignatureMethod"], q["SignatureVersion"]) != (
            "SendSms",
            "2017-05-25",
            "HMAC-SHA1",
            "1.0",
        ):
            return self._refuse(400, "InvalidParameter", "bad action, version or signature method")
        secret = self.keys.get(q["AccessKeyId"])
        if secret is None:
            return self._refuse(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if not hmac.compare_digest(expected_signature(q, secret), q["Signature"]):
            return self._refuse(
                400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
            )
        ts = datetime.strptime(q["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs((datetime.now(UTC) - ts).total_seconds()) > 900:
            return self._refuse(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        if q["SignatureNonce"] in self.nonces:
            return self._refuse(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        self.nonces.add(q["SignatureNonce"])
        json.loads(q["TemplateParam"])
        how = self.script.pop(0) if self.script else "ok"
        if how == "500":
            return self._refuse(500, "isp.SYSTEM_ERROR", "system error")
        if how == "limit":
            return self._refuse(400, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
        if how == "illegal":
            return self._refuse(400, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        self.received.append(q)
        if how == "slow":
            time.sleep(self.slow_s)  # sent, but answered late: a client that gave up cannot know it was sent
        return 200, {"Code": "OK", "Message": "OK", "BizId": f"biz{len(self.received)}", "RequestId": "r"}
