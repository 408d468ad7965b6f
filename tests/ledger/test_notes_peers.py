"""Other projects' signed-note vectors, run through ``ledger/notes.py``.

``tests/vectors/peers/signed-note.json`` holds the vectors of ``TestNewVerifier``, ``TestSign``
and ``TestOpen`` in golang.org/x/mod's ``sumdb/note/note_test.go`` (the Go reference that the
C2SP signed-note spec was written from) and the example of C2SP ``signed-note.md``; where they
came from and their licences are in ``tests/vectors/peers/SOURCE.md``.

Where tradeledger deliberately differs from Go, a test says so:

* ``parse_verifier_key`` also reads type-0x04 vkeys (tlog-cosignature/v1 Ed25519, for members'
  cosignatures); Go's ``NewVerifier`` knows only type 0x01.
* Go's ``TestOpen`` also hands ``Open`` a ``Verifiers`` that returns a verifier for another key
  (``errMismatchedVerifier``). ``open_note`` looks verifiers up itself, in a dict keyed by
  (name, key hash), so it cannot be handed the wrong one: those two cases have no counterpart.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import CheckpointInvalid, EncodingError
from ledger.keys import SigningKey
from ledger.notes import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    NoteSignature,
    SignedNote,
    key_hash,
    open_note,
    parse_note,
    parse_verifier_key,
    verifier_key,
    verify_note_signatures,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "vectors" / "peers" / "signed-note.json").read_text()
)
OPEN_CASES = VECTORS["open"]


def _as_go_signature(sig: NoteSignature) -> dict[str, str]:
    blob = base64.b64encode(sig.key_hash + sig.signature).decode()
    return {"name": sig.name, "key_hash": sig.key_hash.hex(), "base64": blob}


@pytest.mark.parametrize("vkey", VECTORS["verifier_keys"]["valid"])
def test_go_verifier_keys_are_read(vkey: str) -> None:
    verifier = parse_verifier_key(vkey)
    name, hash_hex, material = vkey.split("+", 2)
    assert (verifier.name, verifier.key_hash.hex()) == (name, hash_hex)
    # and written back the same way
    raw = base64.b64decode(material)
    assert verifier_key(name, raw[0], raw[1:]) == vkey


@pytest.mark.parametrize("case", VECTORS["verifier_keys"]["invalid"], ids=lambda c: c["case"])
def test_go_bad_verifier_keys_are_refused(case: dict[str, str]) -> None:
    with pytest.raises(EncodingError):
        parse_verifier_key(case["vkey"])


def test_every_go_mangling_of_a_verifier_key_is_refused() -> None:
    """TestNewVerifier's procedure: every proper substring of the vkey, and the vkey with any
    one byte incremented, is refused."""
    vkey = VECTORS["verifier_keys"]["mangled_from"].encode()
    mangled = [vkey[i:j] for i in range(len(vkey) + 1) for j in range(i + 1, len(vkey) + 1)]
    mangled.remove(vkey)
    mangled += [vkey[:i] + bytes([vkey[i] + 1]) + vkey[i + 1 :] for i in range(len(vkey))]
    accepted = []
    for candidate in mangled:
        try:
            parse_verifier_key(candidate.decode())
        except EncodingError:
            continue
        accepted.append(candidate)
    assert accepted == []


def test_go_sign_vector() -> None:
    """TestSign: Go's signer key, our Ed25519 and key hash, the same signed note byte for byte."""
    case = VECTORS["sign"]
    _, _, name, hash_hex, material = case["signer_key"].split("+", 4)
    raw = base64.b64decode(material)
    assert raw[0] == ALG_ED25519
    key = SigningKey(raw[1:])
    khash = key_hash(name, ALG_ED25519, key.public_key.raw)
    assert khash.hex() == hash_hex
    line = NoteSignature(name, khash, key.sign(case["text"].encode()))
    assert SignedNote(case["text"], (line,)).to_text() == case["signed"]
    assert (
        verifier_key(name, ALG_ED25519, key.public_key.raw)
        == (VECTORS["verifier_keys"]["valid"][0])
    )


@pytest.mark.parametrize("case", OPEN_CASES, ids=lambda c: c["case"])
def test_go_open_vectors(case: dict[str, Any]) -> None:
    data: str | bytes = bytes.fromhex(case["note_hex"]) if "note_hex" in case else case["note"]
    verifiers = [parse_verifier_key(v) for v in case["verifiers"]]
    result = case["result"]
    if result == "malformed-note":
        with pytest.raises(CheckpointInvalid, match="malformed signed note"):
            parse_note(data)
        return
    note = parse_note(data)
    if result == "invalid-signature":
        with pytest.raises(
            CheckpointInvalid, match=r"signature by PeterNeumann\+c74f20a3 does not verify"
        ):
            open_note(note, verifiers)
    elif result == "ambiguous-key":
        with pytest.raises(CheckpointInvalid, match=r"ambiguous key EnochRoot\+af0cfe78"):
            open_note(note, verifiers)
    elif result == "unverified-note":
        with pytest.raises(CheckpointInvalid, match="no verifiable signatures"):
            open_note(note, verifiers)
        opened = verify_note_signatures(note, verifiers)
        assert [_as_go_signature(s) for s in opened.unverified] == case["unverified"]
    else:
        assert result == "ok"
        opened = open_note(note, verifiers)
        assert opened.text + "\n" == note.to_text()[: len(opened.text) + 1]
        assert [_as_go_signature(s) for _, s in opened.verified] == case["verified"]
        assert [_as_go_signature(s) for s in opened.unverified] == case["unverified"]


def test_the_c2sp_signed_note_example_verifies() -> None:
    case = VECTORS["c2sp_signed_note_example"]
    opened = open_note(parse_note(case["note"]), [parse_verifier_key(case["vkey"])])
    assert opened.text == "This is an example message.\n"


def test_cosignature_vkeys_are_read_where_go_refuses_them() -> None:
    """Deliberate difference: Go's NewVerifier refuses type 0x04; tradeledger reads it, since
    members' cosignatures are tlog-cosignature/v1 lines."""
    public = SigningKey(b"\x07" * 32).public_key.raw
    vkey = verifier_key("jp-jcci:0011223344556677", ALG_COSIGNATURE_V1, public)
    verifier = parse_verifier_key(vkey)
    assert verifier.key_hash == key_hash("jp-jcci:0011223344556677", ALG_COSIGNATURE_V1, public)
    assert verifier.key_hash != key_hash("jp-jcci:0011223344556677", ALG_ED25519, public)
