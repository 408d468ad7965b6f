"""C2SP tlog-cosignature/v1 (``ledger/cosignature.py``, ``docs/ledger-format.md`` §6.1).

Two kinds of vectors: ``tests/vectors/peers/tlog-cosignature.json`` holds cosignatures made by
other software (a public witness's real cosignature, the spec's example; see its SOURCE.md), and
the fixed hex below pins the exact bytes ours produce from a fixed seed and time (Ed25519 is
deterministic), recomputed here by hand from the spec with ``cryptography`` rather than through
the module under test.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.cosignature import (
    CosignerKey,
    cosign,
    cosigned_message,
    cosigner_key_id,
    parse_signature_line,
    verify_cosignature_line,
    witnessed_by,
)
from ledger.errors import EncodingError
from ledger.keys import SigningKey

PEERS = json.loads(
    (Path(__file__).parent.parent / "vectors/peers/tlog-cosignature.json").read_text()
)

SEED = bytes(range(32))
NAME = "witness.example/jp-chamber"
TIMESTAMP = 1795000000
BODY = (
    "tradeledger/" + "ab" * 32 + "\n3\nBhoZ2KAPbzAWuvFwhWYjsTMjvMJjdyEeAaJgUZjE0rU=\n"
    "height 2\nblock 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    "time 2026-11-22T10:00:00.200000Z\n"
)
OWN_KEY_ID_HEX = "8fb13cb5"
OWN_VKEY = "witness.example/jp-chamber+8fb13cb5+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
OWN_LINE = (
    "\u2014 witness.example/jp-chamber "
    "j7E8tQAAAABq/YbATWFBDmQK6Y184OzdK3xqJgyzUg9szJLJh8o+ss1tsIaGeP"
    "DYONnAJo7yVVqe5ei7zD0nm1epND+pR1uZS07aCw==\n"
)


def _split_note(note: str) -> tuple[str, list[str]]:
    body, _, signatures = note.partition("\n\n")
    return body + "\n", [line + "\n" for line in signatures.split("\n") if line]


# -- other implementations ------------------------------------------------------------------


def test_a_public_witness_cosignature_verifies() -> None:
    vector = PEERS["real_witnessed_checkpoint"]
    body, lines = _split_note(vector["note"])
    witness = CosignerKey.from_vkey(vector["witness_vkey"])
    assert witness.vkey() == vector["witness_vkey"]
    assert witness.key_id.hex() == "da77ade7"
    assert witnessed_by(body, lines, [witness]) == {
        vector["witness_vkey"]: vector["witness_timestamp"]
    }
    remora_line = next(line for line in lines if line.startswith("\u2014 remora.n621.de "))
    assert (
        verify_cosignature_line(body, remora_line, witness.name, witness.public_key)
        == vector["witness_timestamp"]
    )


def test_the_public_cosignature_covers_every_body_line() -> None:
    vector = PEERS["real_witnessed_checkpoint"]
    body, lines = _split_note(vector["note"])
    witness = CosignerKey.from_vkey(vector["witness_vkey"])
    other_size = body.replace("\n1432088532\n", "\n1432088533\n")
    assert witnessed_by(other_size, lines, [witness]) == {}


def test_a_plain_ed25519_vkey_is_not_a_cosigner_key() -> None:
    with pytest.raises(EncodingError, match="type 0x04"):
        CosignerKey.from_vkey(PEERS["type_0x01_vkey_is_not_a_cosigner"])


def test_the_spec_example_line_layout() -> None:
    example = PEERS["spec_example"]
    parsed = parse_signature_line(example["line"])
    assert parsed is not None
    name, key_id, payload = parsed
    assert name == "witness.example.com/w1"
    assert key_id.hex() == example["key_id_hex"]
    assert int.from_bytes(payload[:8], "big") == example["timestamp"]
    assert len(payload) == 8 + 64


# -- our own fixed bytes --------------------------------------------------------------------


def test_key_id_and_vkey_are_the_spec_formulas() -> None:
    raw = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
    by_hand = hashlib.sha256(NAME.encode() + b"\n\x04" + raw).digest()[:4]
    key = SigningKey(SEED)
    assert cosigner_key_id(NAME, key.public_key) == by_hand == bytes.fromhex(OWN_KEY_ID_HEX)
    vkey = CosignerKey(NAME, key.public_key).vkey()
    material = base64.b64encode(b"\x04" + raw).decode()
    assert vkey == f"{NAME}+{OWN_KEY_ID_HEX}+{material}"
    assert vkey == OWN_VKEY
    assert CosignerKey.from_vkey(OWN_VKEY) == CosignerKey(NAME, key.public_key)


def test_signed_message_bytes() -> None:
    assert cosigned_message(BODY, TIMESTAMP) == b"cosignature/v1\ntime 1795000000\n" + BODY.encode()


def test_cosignature_line_is_fixed() -> None:
    line = cosign(BODY, NAME, SigningKey(SEED), TIMESTAMP)
    assert line == OWN_LINE
    by_hand = Ed25519PrivateKey.from_private_bytes(SEED).sign(
        b"cosignature/v1\ntime 1795000000\n" + BODY.encode()
    )
    payload = bytes.fromhex(OWN_KEY_ID_HEX) + TIMESTAMP.to_bytes(8, "big") + by_hand
    assert line == f"\u2014 {NAME} {base64.b64encode(payload).decode()}\n"
    assert verify_cosignature_line(BODY, line, NAME, SigningKey(SEED).public_key) == TIMESTAMP


# -- refusals -------------------------------------------------------------------------------


def test_refuses_other_body_name_key_and_type_01_signature() -> None:
    key = SigningKey(SEED)
    line = cosign(BODY, NAME, key, TIMESTAMP)
    assert (
        verify_cosignature_line(BODY.replace("height 2", "height 3"), line, NAME, key.public_key)
        is None
    )
    assert verify_cosignature_line(BODY, line, "witness.example/other", key.public_key) is None
    other = SigningKey(bytes(32))
    assert verify_cosignature_line(BODY, line, NAME, other.public_key) is None
    # A plain signed-note signature (no timestamp, type 0x01) is not a cosignature.
    plain_id = hashlib.sha256(NAME.encode() + b"\n\x01" + key.public_key.raw).digest()[:4]
    plain = f"\u2014 {NAME} {base64.b64encode(plain_id + key.sign(BODY.encode())).decode()}\n"
    assert verify_cosignature_line(BODY, plain, NAME, key.public_key) is None


def test_refuses_a_timestamp_the_signature_does_not_cover() -> None:
    key = SigningKey(SEED)
    raw = base64.b64decode(cosign(BODY, NAME, key, TIMESTAMP).split(" ")[-1])
    later = raw[:4] + (TIMESTAMP + 1).to_bytes(8, "big") + raw[12:]
    line = f"\u2014 {NAME} {base64.b64encode(later).decode()}\n"
    assert verify_cosignature_line(BODY, line, NAME, key.public_key) is None


def test_refuses_timestamps_beyond_2_63() -> None:
    key = SigningKey(SEED)
    too_late = 2**63
    signature = key.sign(cosigned_message(BODY, too_late))
    payload = cosigner_key_id(NAME, key.public_key) + too_late.to_bytes(8, "big") + signature
    line = f"\u2014 {NAME} {base64.b64encode(payload).decode()}\n"
    assert verify_cosignature_line(BODY, line, NAME, key.public_key) is None
    with pytest.raises(EncodingError):
        cosign(BODY, NAME, key, too_late)
    with pytest.raises(EncodingError):
        cosign(BODY, NAME, key, 0)


@pytest.mark.parametrize(
    "vkey",
    [
        "witness.example/jp-chamber+8fb13cb5",
        "witness.example/jp-chamber+00000000+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",
        "witness.example/jp-chamber+8fb13cb5+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVT",
        "witness.example/jp-chamber+8fb13cb+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",
        "+8fb13cb5+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",
    ],
)
def test_refuses_malformed_vkeys(vkey: str) -> None:
    with pytest.raises(EncodingError):
        CosignerKey.from_vkey(vkey)
