"""SMS to villagers when their case changes state, behind one small interface (SmsSender).

- Queued in the same transaction as the state change (table SmsMessage, unique key = request id +
  the hub log entry announcing the change), so a change is never lost and never queued twice.
  Only when a provider is configured (off by default), the villager agreed at capture
  (captured["sms"]) and the number is a mobile not opted out (SmsOptOut).
- Sent by the scheduler's `send_sms` job, never inside a sync or a staff action. Each row is
  claimed (queued -> sending) by one UPDATE, so two senders never send the same row.
- A refusal the provider says is temporary (flow control, 5xx) or a connection that never reached
  it is retried with exponential backoff; a timeout after the request went out means "outcome
  unknown": the row is marked `unknown` and never re-sent automatically, because sending twice is
  worse than asking staff to check. Other refusals are final (`failed`), with the reason kept.

AliyunSms implements Alibaba Cloud's SendSms (dysmsapi 2017-05-25) RPC request with its documented
signature (SignatureVersion 1.0, HMAC-SHA1 over the percent-encoded, sorted query).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import quote

from flask import current_app

from shared.validation import normalise_mobile, validate_mobile

from .clock import now
from .db import database
from .models import Case, HubEvent, SmsMessage, SmsOptOut

log = logging.getLogger("daiban.hub.sms")

ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 60
BACKOFF_CAP_S = 6 * 3600
# What to tell the villager after each staff action, in plain Chinese (the template's ${next}).
NEXT_STEP = {
    "accept": "已受理，请等待办理结果。",
    "ask_materials": "还需补交材料：{missing}，请带到村代办点。",
    "refuse": "不予受理，理由见村代办点的告知书。",
    "approve": "已办结，请到村代办点领取结果。",
    "deny": "办结（不予批准），理由见村代办点的告知书。",
}
# Provider codes that mean "try again later"; anything else that is not OK is final.
TEMPORARY_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "isp.SYSTEM_ERROR",
        "Throttling",
        "ServiceUnavailable",
        "InternalError",
        "isp.RAM_PERMISSION_DENY_TEMP",
    }
)


class SmsError(Exception):
    """A send that did not go through; `code` is the provider's (or ours), `message` says why."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SmsTemporaryError(SmsError):
    """Not sent, safe to retry later (flow control, provider error, connection never made)."""


class SmsPermanentError(SmsError):
    """Refused for good (bad number, template or credentials): do not retry."""


class SmsUnknownOutcome(SmsError):
    """The request may have reached the provider (timeout after sending): never re-send automatically."""


class SmsSender(Protocol):
    """Sends one templated SMS; returns the provider's message id or raises an SmsError."""

    def send(self, phone: str, template: str, params: dict[str, str], out_id: str) -> str:
        """Send, or raise SmsTemporaryError / SmsPermanentError / SmsUnknownOutcome."""
        ...


def percent_encode(text: str) -> str:
    """Aliyun's percent-encoding: RFC 3986 unreserved characters kept, everything else %XX (UTF-8)."""
    return quote(text, safe="-_.~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "GET") -> str:
    """The Signature of an Aliyun RPC request (SignatureVersion 1.0, HMAC-SHA1)."""
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSms:
    """Alibaba Cloud SMS (dysmsapi) SendSms over HTTPS GET, signed as the provider documents."""

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        endpoint: str = ALIYUN_ENDPOINT,
        timeout: float = 10.0,
        region: str = "cn-hangzhou",
    ):
        """Credentials come from configuration (never the repository)."""
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.sign_name = sign_name
        self.endpoint = endpoint
        self.timeout = timeout
        self.region = region

    def request_params(
        self,
        phone: str,
        template: str,
        params: dict[str, str],
        out_id: str,
        at: datetime | None = None,
        nonce: str | None = None,
    ) -> dict[str, str]:
        """The signed query parameters of one SendSms request."""
        query = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": out_id,
            "PhoneNumbers": phone,
            "RegionId": self.region,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": template,
            "TemplateParam": json.dumps(params, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        query["Signature"] = aliyun_signature(query, self._secret)
        return query

    def send(self, phone: str, template: str, params: dict[str, str], out_id: str) -> str:
        """Send one SMS; the provider's BizId on success."""
        import requests  # here: every hub process imports this module, few send an SMS (about 20 ms)

        query = self.request_params(phone, template, params, out_id)
        try:
            resp = requests.get(self.endpoint, params=query, timeout=self.timeout)
        except requests.ConnectionError as exc:  # includes ConnectTimeout: the request never reached it
            raise SmsTemporaryError("connect", "无法连接短信平台") from exc
        except requests.exceptions.ReadTimeout as exc:
            raise SmsUnknownOutcome("timeout", "短信平台未在时限内答复，是否已发送未知") from exc
        try:
            body = resp.json()
        except ValueError:
            body = {}
        code = str(body.get("Code") or f"HTTP{resp.status_code}")
        message = str(body.get("Message") or resp.reason or "")[:300]
        if resp.status_code == 200 and code == "OK":
            return str(body.get("BizId", ""))
        if resp.status_code >= 500 or code in TEMPORARY_CODES:
            raise SmsTemporaryError(code, message)
        raise SmsPermanentError(code, message)


def configured_sender() -> SmsSender | None:
    """The sender the admin configured (SMS_PROVIDER=aliyun and its keys), else None: sending is off."""
    try:
        cfg = current_app.config
    except RuntimeError:
        return None
    if cfg.get("SMS_PROVIDER") != "aliyun":
        return None
    keys = [cfg.get(k) for k in ("SMS_ACCESS_KEY_ID", "SMS_ACCESS_KEY_SECRET", "SMS_SIGN_NAME", "SMS_TEMPLATE_CODE")]
    if not all(keys):
        return None
    return AliyunSms(
        str(keys[0]),
        str(keys[1]),
        str(keys[2]),
        endpoint=cfg.get("SMS_ENDPOINT", ALIYUN_ENDPOINT),
        timeout=float(cfg.get("SMS_TIMEOUT_S", 10)),
    )


def opted_out(phone: str) -> bool:
    """True when the number asked for no more SMS."""
    return SmsOptOut.select().where(SmsOptOut.phone == normalise_mobile(phone)).exists()


def opt_out(phone: str, by: str) -> None:
    """Record 退订 for a number; queued messages to it are skipped from now on."""
    number = normalise_mobile(phone)
    if validate_mobile(number) is not None:
        raise ValueError("手机号码应为11位数字，以13至19开头")
    with database.atomic():
        SmsOptOut.insert(phone=number, at=now(), by=by[:64]).on_conflict_ignore().execute()
        SmsMessage.update(state="skipped", last_error="已退订").where(
            (SmsMessage.phone == number) & (SmsMessage.state == "queued")
        ).execute()


def queue_status_sms(case: Case, event: HubEvent, missing_names: list[str] | None = None) -> SmsMessage | None:
    """Queue the SMS for one announced state change, in the caller's transaction (never sends here)."""
    action = (event.body or {}).get("action")
    if action not in NEXT_STEP or configured_sender() is None:
        return None
    captured = case.captured if isinstance(case.captured, dict) else {}
    phone = normalise_mobile(case.phone or "")
    if captured.get("sms") is not True or validate_mobile(phone) is not None or opted_out(phone):
        return None
    names = missing_names if missing_names is not None else (event.body or {}).get("missing_names") or []
    params = {
        "code": case.receipt_code,
        "status": str((event.body or {}).get("state_label", "")),
        "next": NEXT_STEP[action].format(missing="、".join(names) or "见告知单"),
    }
    key = f"{case.request_id}:{event.cseq}"
    SmsMessage.insert(
        key=key,
        request_id=case.request_id,
        phone=phone,
        template=str(current_app.config["SMS_TEMPLATE_CODE"]),
        params=params,
        state="queued",
        next_at=now(),
        created_at=now(),
    ).on_conflict_ignore().execute()
    return SmsMessage.get_or_none(SmsMessage.key == key)


def backoff(attempts: int) -> timedelta:
    """Wait before the next try: 1, 2, 4 … minutes, at most six hours."""
    return timedelta(seconds=min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_CAP_S))


def deliver_due(sender: SmsSender, limit: int = 50) -> dict[str, int]:
    """Send what is due, each row claimed first so it goes out at most once; returns counts."""
    counts = {"sent": 0, "retry": 0, "failed": 0, "unknown": 0, "skipped": 0}
    due = list(
        SmsMessage.select(SmsMessage.id)
        .where((SmsMessage.state == "queued") & (SmsMessage.next_at <= now()))
        .order_by(SmsMessage.next_at)
        .limit(limit)
        .tuples()
    )
    for (row_id,) in due:
        claimed = (
            SmsMessage.update(state="sending", attempts=SmsMessage.attempts + 1)
            .where((SmsMessage.id == row_id) & (SmsMessage.state == "queued"))
            .execute()
        )
        if not claimed:
            continue  # another sender has it
        msg = SmsMessage.get_by_id(row_id)
        if opted_out(msg.phone):
            _finish(msg, "skipped", "已退订")
            counts["skipped"] += 1
            continue
        try:
            provider_id = sender.send(msg.phone, msg.template, dict(msg.params), out_id=str(msg.id))
        except SmsTemporaryError as exc:
            if msg.attempts >= MAX_ATTEMPTS:
                _finish(msg, "failed", f"{exc.code}: {exc.message}（已重试 {msg.attempts} 次）")
                counts["failed"] += 1
            else:
                SmsMessage.update(
                    state="queued", next_at=now() + backoff(msg.attempts), last_error=f"{exc.code}: {exc.message}"
                ).where(SmsMessage.id == row_id).execute()
                counts["retry"] += 1
        except SmsUnknownOutcome as exc:
            _finish(msg, "unknown", f"{exc.code}: {exc.message}")
            counts["unknown"] += 1
        except SmsError as exc:
            _finish(msg, "failed", f"{exc.code}: {exc.message}")
            counts["failed"] += 1
        except Exception as exc:  # a bug or an odd answer: the outcome is unknown, so never re-send
            log.exception("sms %s: unexpected error", row_id)
            _finish(msg, "unknown", f"{type(exc).__name__}")
            counts["unknown"] += 1
        else:
            SmsMessage.update(state="sent", sent_at=now(), provider_id=provider_id[:64], last_error=None).where(
                SmsMessage.id == row_id
            ).execute()
            counts["sent"] += 1
    return counts


def _finish(msg: SmsMessage, state: str, error: str) -> None:
    SmsMessage.update(state=state, last_error=error[:500]).where(SmsMessage.id == msg.id).execute()


def deliver_job() -> dict[str, int]:
    """The scheduler's job: send what is due with the configured provider (nothing when off)."""
    sender = configured_sender()
    if sender is None:
        return {}
    with database.connection_context():
        return deliver_due(sender)
