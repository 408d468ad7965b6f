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


@pytest.mark.parametrize(
    ("vkey", "detail"),
    [
        (f"{NAME}+8fb13cb5", "a verifier key is name+keyid+base64(type||key)"),
        (
            f"{NAME}+00000000+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",
            f"the key ID in the verifier key of {NAME} does not match its key",
        ),
        (
            f"{NAME}+8fb13cb5+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVT",
            f"the verifier key of {NAME} is not hex and base64",
        ),
        (
            f"{NAME}+8fb13cbx+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",
            f"the verifier key of {NAME} is not hex and base64",
        ),
        (
            # fromhex skips the space: four bytes, but not eight hex digits
            f"{NAME}+8fb13c b5+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",
            f"the key ID in the verifier key of {NAME} is not 8 hex digits",
        ),
        (
            f"{NAME}+8fb13cb500+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",
            f"the key ID in the verifier key of {NAME} is not 8 hex digits",
        ),
        (
            f"{NAME}+8fb13cb5+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",
            f"the verifier key of {NAME} is not a cosignature/v1 (type 0x04) Ed25519 key",
        ),
        (
            f"{NAME}+8fb13cb5+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVQ==",
            f"the verifier key of {NAME} is not a cosignature/v1 (type 0x04) Ed25519 key",
        ),
        (
            "+8fb13cb5+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",
            "'' is not a signed-note key name",
        ),
    ],
)
def test_a_malformed_vkey_is_refused_with_its_reason(vkey: str, detail: str) -> None:
    with pytest.raises(EncodingError) as caught:
        CosignerKey.from_vkey(vkey)
    assert caught.value.detail == detail
    assert CosignerKey.from_vkey(f" {OWN_VKEY}\n") == CosignerKey.from_vkey(OWN_VKEY)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u3000b", "a\nb"])
def test_a_key_name_that_is_not_a_signed_note_name_is_refused(name: str) -> None:
    key = SigningKey(SEED)
    with pytest.raises(EncodingError) as caught:
        CosignerKey(name, key.public_key)
    assert caught.value.detail == f"{name!r} is not a signed-note key name"
    with pytest.raises(EncodingError) as caught:
        cosign(BODY, name, key, TIMESTAMP)
    assert caught.value.detail == f"{name!r} is not a signed-note key name"


def test_timestamps_from_1_to_2_63_minus_1_are_signed_and_verified() -> None:
    key = SigningKey(SEED)
    for timestamp in (1, 2**63 - 1):
        line = cosign(BODY, NAME, key, timestamp)
        assert verify_cosignature_line(BODY, line, NAME, key.public_key) == timestamp
    for timestamp in (0, -1, 2**63):
        with pytest.raises(EncodingError) as caught:
            cosign(BODY, NAME, key, timestamp)
        assert caught.value.detail == "a cosignature timestamp is between 1 and 2^63-1 seconds"


def test_a_body_without_its_final_newline_is_not_signed_nor_verified() -> None:
    key = SigningKey(SEED)
    with pytest.raises(EncodingError) as caught:
        cosigned_message(BODY[:-1], TIMESTAMP)
    assert caught.value.detail == "a checkpoint body ends with a newline"
    with pytest.raises(EncodingError):
        cosign(BODY[:-1], NAME, key, TIMESTAMP)
    parsed = parse_signature_line(OWN_LINE)
    assert parsed is not None
    witness = CosignerKey(NAME, key.public_key)
    assert witness.verify_payload(BODY, parsed[2]) == TIMESTAMP
    assert witness.verify_payload(BODY[:-1], parsed[2]) is None
    assert witness.verify_payload(BODY, parsed[2][:-1]) is None
    assert witness.verify_payload(BODY, parsed[2] + b"\x00") is None


def test_signature_lines_are_parsed_strictly() -> None:
    blob = base64.b64encode(b"\x01\x02\x03\x04\x05").decode()
    assert parse_signature_line(f"\u2014 w {blob}") == ("w", b"\x01\x02\x03\x04", b"\x05")
    assert parse_signature_line(f"\u2014 w {blob}\n") == ("w", b"\x01\x02\x03\x04", b"\x05")
    short = base64.b64encode(b"\x01\x02\x03\x04").decode()
    for line in [
        f"- w {blob}\n",  # not the em dash
        f"\u2014 w{blob}\n",  # no space after the name
        f"\u2014  {blob}\n",  # an empty name
        f"\u2014 w {blob} x\n",  # a space in the blob
        f"\u2014 w {blob[:-1]}*\n",  # not base64
        f"\u2014 w {short}\n",  # only a key ID
    ]:
        assert parse_signature_line(line) is None, line


def test_witnessed_by_counts_each_cosigner_with_a_valid_line_and_ignores_the_rest() -> None:
    key, other_key = SigningKey(SEED), SigningKey(bytes(32))
    witness = CosignerKey(NAME, key.public_key)
    other = CosignerKey("witness.example/other", other_key.public_key)
    absent = CosignerKey("witness.example/absent", SigningKey(b"\x09" * 32).public_key)
    lines = [
        "not a signature line\n",
        cosign(BODY, "witness.example/stranger", SigningKey(b"\x05" * 32), 7),
        cosign(BODY.replace("height 2", "height 9"), NAME, key, 5),  # on another body
        OWN_LINE,
        cosign(BODY, "witness.example/other", other_key, 42),
    ]
    assert witnessed_by(BODY, lines, [absent, witness, other]) == {
        OWN_VKEY: TIMESTAMP,
        other.vkey(): 42,
    }
    assert witnessed_by(BODY, lines, []) == {}


def test_base64_outside_the_alphabet_is_refused_not_skipped() -> None:
    assert parse_signature_line(f"\u2014 w {base64.b64encode(b'12345').decode()}\n") is not None
    assert parse_signature_line("\u2014 w MTIz*NDU=\n") is None  # b64decode would skip the '*'
    material = OWN_VKEY.split("+", 2)[2]
    starred = OWN_VKEY.replace(material, material[:4] + "*" + material[4:])
    with pytest.raises(EncodingError) as caught:
        CosignerKey.from_vkey(starred)
    assert caught.value.detail == f"the verifier key of {NAME} is not hex and base64"


def test_a_line_is_split_at_the_first_space_and_must_carry_the_key_name() -> None:
    blob = OWN_LINE.rstrip("\n").split(" ")[-1]
    # The name ends at the first space: "w <blob> <blob>" is a blob with a space, not a name.
    assert parse_signature_line(f"\u2014 w {blob} {blob}\n") is None
    key = SigningKey(SEED)
    renamed = OWN_LINE.replace(NAME, "witness.example/other")
    assert verify_cosignature_line(BODY, renamed, NAME, key.public_key) is None
    assert witnessed_by(BODY, [renamed], [CosignerKey(NAME, key.public_key)]) == {}
    assert not CosignerKey(NAME, key.public_key).matches("witness.example/other", bytes(4))
