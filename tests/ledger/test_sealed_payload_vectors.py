"""Fixed vectors of the sealed-payload format (``tests/vectors/sealed-payload.json``, §11).

The file holds fixed inputs (recipient private keys from fixed seeds, a binding, a plaintext, a
payload secret), everything that follows from them deterministically (key ids, salt, commitment,
content key, the HPKE ``info`` of each wrap, the header before the slots), and one sealed
payload and key grant made from them. HPKE draws a fresh ephemeral key that the ``cryptography``
package does not let a caller fix, so the sealed bytes cannot be made again byte for byte: the
tests recompute the deterministic part and compare it, and open the stored bytes both through
``ledger.sealed_payload`` and by hand (HPKE open with the recorded ``info``, AES-256-GCM with the
recorded key), so a change to any derivation or to the layout fails here.

Regenerate (only on purpose, when the format changes)::

    .venv/bin/python -m tests.ledger.test_sealed_payload_vectors --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger import sealed_payload as sp
from ledger.keys import DecryptionKey

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "sealed-payload.json"
BINDING = sp.PayloadBinding("tradeledger-dev", "jp-jcci", "00112233445566778899aabbccddeeff")
PLAINTEXT = b'{"document_type":"certificate_of_origin","number":"JP-2026-000123"}'
SECRET = hashlib.sha256(b"tradeledger sealed-payload vector: payload secret").digest()


def recipient(i: int) -> DecryptionKey:
    return DecryptionKey(hashlib.sha256(b"tradeledger sealed-payload vector: key %d" % i).digest())


RECIPIENTS = [recipient(i) for i in range(3)]
GRANTEE = recipient(3)


def deterministic() -> dict[str, Any]:
    """Everything the vector's inputs fix, computed from them now."""
    salt = sp._salt(SECRET)
    commit = sp.commitment(salt, PLAINTEXT)
    ordered = sorted(RECIPIENTS, key=lambda k: k.key_id)
    bound = BINDING.to_bytes()
    return {
        "binding": {
            "consortium_id": BINDING.consortium_id,
            "author": BINDING.author,
            "nonce": BINDING.nonce,
            "bytes_hex": bound.hex(),
        },
        "plaintext_hex": PLAINTEXT.hex(),
        "payload_secret_hex": SECRET.hex(),
        "recipients": [
            {
                "private_key_hex": k.x25519().private_bytes_raw().hex(),
                "public_key_hex": k.public_key.raw.hex(),
                "key_id": k.key_id,
                "wrap_info_hex": sp._wrap_info(bound, k.key_id, commit).hex(),
            }
            for k in ordered
        ],
        "grantee": {
            "private_key_hex": GRANTEE.x25519().private_bytes_raw().hex(),
            "key_id": GRANTEE.key_id,
        },
        "salt_hex": salt.hex(),
        "commitment_hex": commit.hex(),
        "content_key_hex": sp._content_key(SECRET, commit).hex(),
        "header_start_hex": (bytes([1, len(ordered)]) + commit).hex(),
        "sealed_size": sp.sealed_size(len(PLAINTEXT), len(ordered)),
    }


def make() -> dict[str, Any]:
    """A whole new vector file (fresh HPKE ephemeral keys, so new sealed bytes)."""
    sealed = sp._seal_with_secret(PLAINTEXT, [k.public_key for k in RECIPIENTS], BINDING, SECRET)
    grant = sp.grant_payload_key(sealed, SECRET, [GRANTEE.public_key], BINDING)
    return {**deterministic(), "sealed_hex": sealed.hex(), "grant_hex": grant.hex()}


def stored() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return data


def test_the_deterministic_part_is_what_the_code_computes() -> None:
    v = stored()
    assert {k: v[k] for k in deterministic()} == deterministic()


def test_the_stored_payload_opens_for_every_recipient() -> None:
    v = stored()
    sealed = bytes.fromhex(v["sealed_hex"])
    assert len(sealed) == v["sealed_size"]
    assert sealed.startswith(bytes.fromhex(v["header_start_hex"]))
    for r in v["recipients"]:
        opened = sp.open_payload(
            sealed, DecryptionKey(bytes.fromhex(r["private_key_hex"])), BINDING
        )
        assert opened.plaintext.hex() == v["plaintext_hex"]
        assert opened.salt.hex() == v["salt_hex"]
        assert opened.commitment.hex() == v["commitment_hex"]
        assert opened.payload_secret.hex() == v["payload_secret_hex"]


def test_the_stored_payload_opens_by_hand_from_the_layout() -> None:
    v = stored()
    sealed = bytes.fromhex(v["sealed_hex"])
    n = len(v["recipients"])
    for i, r in enumerate(v["recipients"]):
        slot = sealed[34 + 88 * i : 34 + 88 * (i + 1)]
        assert slot[:8].hex() == r["key_id"]
        private = DecryptionKey(bytes.fromhex(r["private_key_hex"])).x25519()
        secret = sp.SUITE.decrypt(slot[8:], private, bytes.fromhex(r["wrap_info_hex"]))
        assert secret.hex() == v["payload_secret_hex"]
    header, content = sealed[: 34 + 88 * n], sealed[34 + 88 * n :]
    aad = b"tradeledger/v1/payload-content\n" + bytes.fromhex(v["binding"]["bytes_hex"]) + header
    plaintext = AESGCM(bytes.fromhex(v["content_key_hex"])).decrypt(bytes(12), content, aad)
    assert plaintext.hex() == v["plaintext_hex"]


def test_the_stored_grant_opens_for_the_grantee_only() -> None:
    v = stored()
    sealed, grant = bytes.fromhex(v["sealed_hex"]), bytes.fromhex(v["grant_hex"])
    assert grant[:2] == bytes([1, 1])
    assert grant[2:34] == hashlib.sha256(sealed).digest()
    grantee = DecryptionKey(bytes.fromhex(v["grantee"]["private_key_hex"]))
    assert sp.open_granted_payload(sealed, grant, grantee, BINDING).plaintext == PLAINTEXT


def test_a_fresh_seal_differs_from_the_stored_one_only_where_hpke_is_random() -> None:
    v = stored()
    fresh, old = bytes.fromhex(make()["sealed_hex"]), bytes.fromhex(v["sealed_hex"])
    assert len(fresh) == len(old)
    assert fresh[:34] == old[:34]
    for i in range(len(v["recipients"])):
        at = 34 + 88 * i
        assert fresh[at : at + 8] == old[at : at + 8]


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.ledger.test_sealed_payload_vectors --write")
    VECTORS.write_text(json.dumps(make(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {VECTORS}")
