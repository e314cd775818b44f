"""The node checks the hub's signature over the answer's bytes as received (node.hubkey.verify_hub)."""

from __future__ import annotations

import json

from node import meta
from node.hubkey import verify_hub
from shared import protocol, signing


def _answer(node_app):
    key = signing.generate_key()
    with node_app.app_context():
        meta.put("hub_pubkey", signing.public_b64(key))
    body = {"v": 1, "node_id": "N-1", "note": "乡镇中心 \u0001 ok", "cursor": 2**53}
    return key, body, protocol.seal(key, body)


def test_a_canonical_answer_verifies_from_its_bytes_and_an_altered_one_does_not(node_app) -> None:
    _key, body, raw = _answer(node_app)
    parsed, sig = protocol.open_envelope(raw)
    with node_app.app_context():
        assert verify_hub(parsed, sig, raw)
        # The same frame with one changed byte of the body: neither its bytes nor the body verify.
        altered = raw.replace("乡镇中心".encode(), "县级中心".encode())
        parsed2, sig2 = protocol.open_envelope(altered)
        assert not verify_hub(parsed2, sig2, altered)
        # Another key's signature over these very bytes is no hub's.
        other = protocol.seal(signing.generate_key(), body)
        assert not verify_hub(*protocol.open_envelope(other), other)


def test_an_answer_written_another_way_is_checked_as_before(node_app) -> None:
    _key, body, raw = _answer(node_app)
    spaced = json.dumps(json.loads(raw), indent=1, ensure_ascii=True).encode()
    parsed, sig = protocol.open_envelope(spaced)
    assert protocol.framed_body(spaced, sig) is None
    with node_app.app_context():
        assert verify_hub(parsed, sig, spaced)  # canonical(body) is what the hub signed
        assert verify_hub(parsed, sig)  # without the bytes, as before
