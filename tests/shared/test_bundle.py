"""Bundle files: round trip, tampering, wrong recipient, wrong sender, wrong direction."""

from __future__ import annotations

import json

import pytest

from shared import bundle, encoding, signing


@pytest.fixture
def keys():
    return {
        "node_sign": signing.generate_key(),
        "hub_box": bundle.generate_box_key(),
        "other_box": bundle.generate_box_key(),
    }


def sealed(keys, payload=None) -> bytes:
    return bundle.seal(
        payload or {"messages": [bundle.encode_blob(b"\x00\x01signed batch")], "note": "桃源村"},
        direction=bundle.TO_HUB,
        sender="node-1",
        recipient="hub",
        recipient_box_pub=bundle.box_public_b64(keys["hub_box"]),
        signing_key=keys["node_sign"],
    )


def open_as_hub(keys, raw: bytes, box=None) -> bundle.Opened:
    return bundle.open_bundle(
        raw,
        direction=bundle.TO_HUB,
        recipient="hub",
        box_key=box or keys["hub_box"],
        sender_pubkey=signing.public_b64(keys["node_sign"]),
    )


def test_round_trip(keys) -> None:
    raw = sealed(keys)
    opened = open_as_hub(keys, raw)
    assert opened.payload["note"] == "桃源村"
    assert bundle.decode_blob(opened.payload["messages"][0]) == b"\x00\x01signed batch"
    assert opened.header["sender"] == "node-1"
    assert "桃源村" not in raw.decode()
    assert "signed batch" not in raw.decode()


def test_every_single_byte_flip_is_refused(keys) -> None:
    raw = sealed(keys)
    # A sample of positions across the whole file: header, signature and ciphertext.
    for pos in range(0, len(raw), max(1, len(raw) // 60)):
        bad = bytearray(raw)
        bad[pos] ^= 0x01
        with pytest.raises(bundle.BundleError):
            open_as_hub(keys, bytes(bad))


def test_ciphertext_tamper_with_valid_signature_is_refused(keys) -> None:
    # Re-signing a modified header needs the sender's key; with it, the AEAD still catches a changed ct.
    env = json.loads(sealed(keys))
    ct = bytearray(bundle.decode_blob(env["body"]["ct"]))
    ct[5] ^= 0xFF
    env["body"]["ct"] = bundle.encode_blob(bytes(ct))
    env["sig"] = signing.sign(keys["node_sign"], encoding.canonical(env["body"]))
    with pytest.raises(bundle.BundleError) as err:
        open_as_hub(keys, encoding.canonical(env))
    assert err.value.code == "decrypt_failed"
    assert "无法解密" in err.value.message


def test_wrong_recipient_is_refused(keys) -> None:
    with pytest.raises(bundle.BundleError) as err:
        open_as_hub(keys, sealed(keys), box=keys["other_box"])
    assert err.value.code == "wrong_recipient"
    assert "不是发给本机" in err.value.message
    with pytest.raises(bundle.BundleError) as err:
        bundle.open_bundle(
            sealed(keys),
            direction=bundle.TO_HUB,
            recipient="node-2",
            box_key=keys["hub_box"],
            sender_pubkey=signing.public_b64(keys["node_sign"]),
        )
    assert err.value.code == "wrong_recipient"


def test_wrong_sender_key_and_direction_are_refused(keys) -> None:
    raw = sealed(keys)
    with pytest.raises(bundle.BundleError) as err:
        bundle.open_bundle(
            raw,
            direction=bundle.TO_HUB,
            recipient="hub",
            box_key=keys["hub_box"],
            sender_pubkey=signing.public_b64(signing.generate_key()),
        )
    assert err.value.code == "bad_signature"
    with pytest.raises(bundle.BundleError) as err:
        bundle.open_bundle(
            raw,
            direction=bundle.TO_NODE,
            recipient="hub",
            box_key=keys["hub_box"],
            sender_pubkey=signing.public_b64(keys["node_sign"]),
        )
    assert err.value.code == "wrong_direction"


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"body":{},"sig":"x"}', "代办".encode()])
def test_garbage_is_refused_as_bad_format(keys, raw: bytes) -> None:
    with pytest.raises(bundle.BundleError) as err:
        open_as_hub(keys, raw)
    assert err.value.code == "bad_format"


def test_box_key_file_is_private_and_stable(tmp_path) -> None:
    path = tmp_path / "box.pem"
    first = bundle.load_or_create_box_key(path)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert bundle.box_public_b64(bundle.load_or_create_box_key(path)) == bundle.box_public_b64(first)
