"""RFC 9180's own test vector for the suite sealed payloads use (``tests/vectors/hpke/``).

``ledger.sealed_payload`` wraps keys with ``cryptography``'s HPKE, which draws its ephemeral key
itself: a caller cannot fix it, so the vector's ``enc`` and ciphertexts cannot be reproduced by
*encrypting*. What is checked instead:

1. the vector against RFC 9180 itself, recomputed here from HMAC-SHA256 alone (DeriveKeyPair,
   Encap with the vector's skEm, the key schedule, every encryption and export), so the vector
   and our reading of the RFC agree;
2. the library *decrypting*: the vector's ``enc`` opened with its ``skRm`` and ``info`` through
   ``sealed_payload.SUITE`` gives a plaintext sealed under the vector's key and base nonce, so
   the library's Decap and key schedule are the vector's; where the library has its (private)
   AAD entry point, the vector's own first ciphertext opens too;
3. the library *encrypting* to the vector's ``pkRm``: what it produces opens with the RFC's
   algorithm recomputed here, so its Encap and key schedule are RFC 9180's (only enc is random).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger import sealed_payload

VECTOR_PATH = (
    Path(__file__).resolve().parents[1]
    / "vectors"
    / "hpke"
    / "rfc9180-x25519-sha256-aes256gcm-base.json"
)
V: dict[str, Any] = json.loads(VECTOR_PATH.read_text(encoding="utf-8"))

KEM_SUITE = b"KEM" + (0x0020).to_bytes(2, "big")
HPKE_SUITE = b"HPKE" + bytes.fromhex("002000010002")


def h(name: str) -> bytes:
    return bytes.fromhex(V[name])


# --- RFC 9180 §4 and §5.1, from HMAC-SHA256 alone ---------------------------------------------


def extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()


def expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return extract(salt, b"HPKE-v1" + suite + label + ikm)


def labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info
    return expand(prk, labeled, length)


def derive_key_pair(ikm: bytes) -> tuple[bytes, bytes]:
    prk = labeled_extract(KEM_SUITE, b"", b"dkp_prk", ikm)
    sk = labeled_expand(KEM_SUITE, prk, b"sk", b"", 32)
    pk = X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes_raw()
    return sk, pk


def kem_shared_secret(dh: bytes, enc: bytes, pk_r: bytes) -> bytes:
    prk = labeled_extract(KEM_SUITE, b"", b"eae_prk", dh)
    return labeled_expand(KEM_SUITE, prk, b"shared_secret", enc + pk_r, 32)


def key_schedule(shared_secret: bytes, info: bytes) -> dict[str, bytes]:
    psk_id_hash = labeled_extract(HPKE_SUITE, b"", b"psk_id_hash", b"")
    info_hash = labeled_extract(HPKE_SUITE, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = labeled_extract(HPKE_SUITE, shared_secret, b"secret", b"")
    return {
        "key_schedule_context": context,
        "secret": secret,
        "key": labeled_expand(HPKE_SUITE, secret, b"key", context, 32),
        "base_nonce": labeled_expand(HPKE_SUITE, secret, b"base_nonce", context, 12),
        "exporter_secret": labeled_expand(HPKE_SUITE, secret, b"exp", context, 32),
    }


def nonce(base: bytes, seq: int) -> bytes:
    return bytes(a ^ b for a, b in zip(base, seq.to_bytes(12, "big"), strict=True))


# --- 1. the vector is RFC 9180 -------------------------------------------------------------


def test_the_vector_is_the_suite_sealed_payloads_use() -> None:
    assert (V["mode"], V["kem_id"], V["kdf_id"], V["aead_id"]) == (0, 32, 1, 2)
    assert len(V["encryptions"]) == 257


def test_derive_key_pair_gives_the_vectors_keys() -> None:
    assert derive_key_pair(h("ikmR")) == (h("skRm"), h("pkRm"))
    assert derive_key_pair(h("ikmE")) == (h("skEm"), h("pkEm"))
    assert h("enc") == h("pkEm")


def test_encap_and_key_schedule_give_the_vectors_values() -> None:
    dh = X25519PrivateKey.from_private_bytes(h("skEm")).exchange(
        X25519PublicKey.from_public_bytes(h("pkRm"))
    )
    shared = kem_shared_secret(dh, h("enc"), h("pkRm"))
    assert shared == h("shared_secret")
    for name, value in key_schedule(shared, h("info")).items():
        assert value == h(name), name


@pytest.mark.parametrize("seq", range(257))
def test_every_encryption_of_the_vector(seq: int) -> None:
    case = V["encryptions"][seq]
    assert bytes.fromhex(case["nonce"]) == nonce(h("base_nonce"), seq)
    aead = AESGCM(h("key"))
    pt, aad = bytes.fromhex(case["pt"]), bytes.fromhex(case["aad"])
    assert aead.encrypt(bytes.fromhex(case["nonce"]), pt, aad) == bytes.fromhex(case["ct"])


def test_every_export_of_the_vector() -> None:
    for case in V["exports"]:
        got = labeled_expand(
            HPKE_SUITE,
            h("exporter_secret"),
            b"sec",
            bytes.fromhex(case["exporter_context"]),
            case["L"],
        )
        assert got == bytes.fromhex(case["exported_value"])


# --- 2. the library decrypts the vector ------------------------------------------------------


def recipient() -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(h("skRm"))


def test_the_library_opens_the_vectors_enc_to_the_vectors_key_and_nonce() -> None:
    # single-shot open = sequence number 0, empty AAD: seal that under the vector's key and nonce
    pt = b"a plaintext sealed under the vector's key schedule"
    ct = AESGCM(h("key")).encrypt(h("base_nonce"), pt, b"")
    assert sealed_payload.SUITE.decrypt(h("enc") + ct, recipient(), h("info")) == pt


def test_the_library_refuses_the_vectors_enc_with_another_info() -> None:
    ct = AESGCM(h("key")).encrypt(h("base_nonce"), b"x", b"")
    with pytest.raises(Exception):  # noqa: B017 - the library's own error type is not ours
        sealed_payload.SUITE.decrypt(h("enc") + ct, recipient(), h("info") + b"!")


def test_the_library_opens_the_vectors_first_ciphertext_with_its_aad() -> None:
    from cryptography.hazmat.bindings._rust import openssl as rust_openssl

    decrypt_with_aad = rust_openssl.hpke._decrypt_with_aad
    first = V["encryptions"][0]
    got = decrypt_with_aad(
        sealed_payload.SUITE,
        h("enc") + bytes.fromhex(first["ct"]),
        recipient(),
        h("info"),
        bytes.fromhex(first["aad"]),
    )
    assert got == bytes.fromhex(first["pt"])


# --- 3. the library encrypts as RFC 9180 says ------------------------------------------------


def test_what_the_library_seals_to_the_vectors_key_opens_by_the_rfc() -> None:
    pt = bytes.fromhex(V["encryptions"][0]["pt"])
    out = sealed_payload.SUITE.encrypt(pt, recipient().public_key(), h("info"))
    enc, ct = out[:32], out[32:]
    dh = recipient().exchange(X25519PublicKey.from_public_bytes(enc))
    schedule = key_schedule(kem_shared_secret(dh, enc, h("pkRm")), h("info"))
    assert AESGCM(schedule["key"]).decrypt(schedule["base_nonce"], ct, b"") == pt
    assert len(out) == 32 + len(pt) + 16
