"""Enrolment version 2: the one-time code, and the SPAKE2 exchange that binds the hub key to it.

Version 1 sent the code in clear and keyed the answer's MAC with it, so anyone who saw the
request could swap the hub key. Here the secret part of the code never travels: node and hub
run SPAKE2 (a password-authenticated key exchange, the `spake2` package) with the code as
password and the node's keys as its identity; each side's confirmation MAC under the session
key names the hub keys, so swapping any key breaks the proof. An observer of the whole exchange learns
nothing that lets him test a guess of the code offline; an active attacker gets one guess per
exchange, and the hub burns a code after MAX_ATTEMPTS exchanges. See docs/protocol.md.

The code is 12 symbols of the receipt alphabet, shown ``XXXX-XXXX-XXXX``:

    symbols 1-3   code id: sent in clear so the hub can find the code
    symbols 4-11  secret: 31**8 ≈ 8.5e11 values, never sent
    symbol 12     check symbol: a typo is caught before anything is sent
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from . import encoding
from .receipt_codes import ALPHABET, check_char, normalise

ID_LEN = 3
SECRET_LEN = 8
CODE_LEN = ID_LEN + SECRET_LEN + 1
# Exchanges (each one guess for an active attacker) before the hub burns a code.
MAX_ATTEMPTS = 5

START = "enrol.start"
CHALLENGE = "enrol.challenge"
CONFIRM = "enrol.confirm"

_HUB_LABEL = b"daiban enrolment v2: hub confirms"
_NODE_LABEL = b"daiban enrolment v2: node confirms"


class CodeError(ValueError):
    """A typed code that cannot be an enrolment code; the message is for the clerk."""


def new_code() -> str:
    """A fresh code, unformatted (12 symbols, the last a check symbol)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LEN - 1))
    return body + check_char(body)


def format_code(code: str) -> str:
    """``XXXX-XXXX-XXXX`` for reading aloud and typing."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def parse_code(text: str) -> str:
    """The normalised code, or CodeError saying what is wrong (checked before anything is sent)."""
    code = normalise(text)
    if len(code) != CODE_LEN:
        raise CodeError(f"注册码应为 {CODE_LEN} 位（形如 ABCD-EFGH-JKMN），请核对后重新输入")
    bad = sorted({c for c in code if c not in ALPHABET})
    if bad:
        raise CodeError(f"注册码中有不会出现的字符：{'、'.join(bad)}（注册码不含 0、O、1、I、L），请核对")
    if check_char(code[:-1]) != code[-1]:
        raise CodeError("注册码校验位不符，可能有一位输错或两位颠倒，请核对后重新输入")
    return code


def code_id(code: str) -> str:
    """The part of a (normalised) code that travels in clear."""
    return code[:ID_LEN]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str) or len(text) > 200:
        raise ValueError("not a SPAKE2 message")
    return base64.b64decode(text, validate=True)


def node_identity(cid: str, pubkey: str, box_pubkey: str | None) -> bytes:
    """SPAKE2 identity of the node: the keys it registers. A swapped key gives a different session key."""
    return encoding.canonical({"code_id": cid, "pubkey": pubkey, "box_pubkey": box_pubkey or ""})


def hub_identity(hub_pubkey: str, hub_box_pubkey: str | None) -> bytes:
    """SPAKE2 identity of the hub: the keys the node will pin."""
    return encoding.canonical({"hub_pubkey": hub_pubkey, "hub_box_pubkey": hub_box_pubkey or ""})


_HUB_ID = b"daiban hub"


def _confirm(key: bytes, label: bytes, hub_id: bytes) -> str:
    # The hub keys are in the MAC, the node keys in the SPAKE2 identity: a swap of either fails.
    return hmac.new(key, label + b"\n" + hub_id, hashlib.sha256).hexdigest()


class NodeSide:
    """The node's half: start with the code and our keys, then check the hub's answer."""

    def __init__(self, code: str, pubkey: str, box_pubkey: str | None):
        self.code = code
        self.cid = code_id(code)
        self.pubkey = pubkey
        self.box_pubkey = box_pubkey

    def start(self) -> str:
        """Our SPAKE2 message, base64 (it reveals nothing testable about the code)."""
        from spake2 import SPAKE2_A  # here, as in hub_respond: a hub's commands and pages import this module

        self._pake = SPAKE2_A(
            self.code.encode(), idA=node_identity(self.cid, self.pubkey, self.box_pubkey), idB=_HUB_ID
        )
        return _b64(self._pake.start())

    def finish(self, hub_message: Any, hub_pubkey: str, hub_box_pubkey: str | None, hub_confirm: Any) -> str:
        """Our confirmation for the hub, or ValueError when the hub did not prove it knows the code."""
        from spake2.spake2 import SPAKEError

        try:
            key = self._pake.finish(_unb64(hub_message))
        except (SPAKEError, ValueError, TypeError) as exc:
            raise ValueError("bad SPAKE2 message") from exc
        hub_id = hub_identity(hub_pubkey, hub_box_pubkey)
        if not isinstance(hub_confirm, str) or not hmac.compare_digest(hub_confirm, _confirm(key, _HUB_LABEL, hub_id)):
            raise ValueError("hub confirmation does not match")
        return _confirm(key, _NODE_LABEL, hub_id)


def hub_respond(
    code: str, node_message: Any, pubkey: str, box_pubkey: str | None, hub_pubkey: str, hub_box_pubkey: str | None
) -> tuple[str, str, str]:
    """The hub's half in one go: (our SPAKE2 message, our confirmation, hash of the node's expected confirmation).

    Only a hash of the node's confirmation is kept, so the stored session cannot be used to confirm.
    """
    # spake2 (about 13 ms to import) where an enrolment is run, not where a code is issued.
    from spake2 import SPAKE2_B
    from spake2.spake2 import SPAKEError

    pake = SPAKE2_B(code.encode(), idA=node_identity(code_id(code), pubkey, box_pubkey), idB=_HUB_ID)
    message = pake.start()
    try:
        key = pake.finish(_unb64(node_message))
    except (SPAKEError, ValueError, TypeError) as exc:
        raise ValueError("bad SPAKE2 message") from exc
    hub_id = hub_identity(hub_pubkey, hub_box_pubkey)
    return _b64(message), _confirm(key, _HUB_LABEL, hub_id), confirm_hash(_confirm(key, _NODE_LABEL, hub_id))


def confirm_hash(confirm: str) -> str:
    """What the hub stores of the node's expected confirmation."""
    return hashlib.sha256(confirm.encode("ascii", "replace")).hexdigest()
