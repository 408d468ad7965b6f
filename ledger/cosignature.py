"""C2SP ``tlog-cosignature`` v1 (Ed25519, signature type 0x04) and its verifier keys.

A cosignature is a signed-note signature line whose payload is
``key ID (4) || timestamp (8, big-endian) || Ed25519 signature (64)``; the signature covers
``"cosignature/v1\\ntime <timestamp>\\n"`` followed by the whole checkpoint body (every line,
extension lines included, with its final newline). The key ID is
``SHA-256(name || 0x0A || 0x04 || public key)[:4]``, so a cosigner key can never be confused with
the same key used for plain type-0x01 note signatures (``docs/ledger-format.md`` §6.1).

Cosigners are named by verifier keys (vkeys): ``<name>+<hex key ID>+<base64(0x04 || key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from ledger.errors import EncodingError
from ledger.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PublicKey, SigningKey

COSIGNATURE_V1_TYPE = 0x04
KEY_ID_SIZE = 4
TIMESTAMP_SIZE = 8
# Key ID, then the timestamped_signature structure of the spec.
COSIGNATURE_PAYLOAD_SIZE = KEY_ID_SIZE + TIMESTAMP_SIZE + SIGNATURE_SIZE
# The spec caps timestamps at 2^63 - 1 so they stay positive in signed 64-bit integers.
MAX_TIMESTAMP = 2**63 - 1
SIGNATURE_LINE_PREFIX = "\u2014 "


def _check_key_name(name: str) -> None:
    # signed-note: key names are non-empty, with no Unicode spaces and no '+'.
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise EncodingError(f"{name!r} is not a signed-note key name")


def cosigner_key_id(name: str, public_key: PublicKey) -> bytes:
    """The 4-byte key ID of a cosignature/v1 key: SHA-256(name || 0x0A || 0x04 || key)[:4]."""
    material = name.encode() + b"\n" + bytes([COSIGNATURE_V1_TYPE]) + public_key.raw
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The exact bytes a cosignature/v1 signs for checkpoint ``body`` at ``timestamp``."""
    if not body.endswith("\n"):
        raise EncodingError("a checkpoint body ends with a newline")
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode()


@dataclass(frozen=True)
class CosignerKey:
    """A cosigner (witness) as verifiers configure it: its name and Ed25519 public key."""

    name: str
    public_key: PublicKey

    def __post_init__(self) -> None:
        _check_key_name(self.name)

    @property
    def key_id(self) -> bytes:
        return cosigner_key_id(self.name, self.public_key)

    def vkey(self) -> str:
        material = bytes([COSIGNATURE_V1_TYPE]) + self.public_key.raw
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(material).decode()}"

    @classmethod
    def from_vkey(cls, text: str) -> CosignerKey:
        """Parse ``name+keyid+base64(0x04 || key)``, checking the key ID against the key."""
        # The base64 part may itself contain '+', the name may not: split twice only.
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise EncodingError("a verifier key is name+keyid+base64(type||key)")
        name, key_id_hex, material_b64 = parts
        try:
            material = base64.b64decode(material_b64, validate=True)
            key_id = bytes.fromhex(key_id_hex)
        except (binascii.Error, ValueError) as exc:
            raise EncodingError(f"the verifier key of {name} is not hex and base64") from exc
        if len(key_id) != KEY_ID_SIZE or len(key_id_hex) != 2 * KEY_ID_SIZE:
            raise EncodingError(f"the key ID in the verifier key of {name} is not 8 hex digits")
        if len(material) != 1 + PUBLIC_KEY_SIZE or material[0] != COSIGNATURE_V1_TYPE:
            raise EncodingError(
                f"the verifier key of {name} is not a cosignature/v1 (type 0x04) Ed25519 key"
            )
        key = cls(name, PublicKey(material[1:]))
        if key.key_id != key_id:
            raise EncodingError(f"the key ID in the verifier key of {name} does not match its key")
        return key

    def matches(self, name: str, key_id: bytes) -> bool:
        """True when a signature line with this name and key ID claims to be by this key."""
        return name == self.name and key_id == self.key_id

    def verify_payload(self, body: str, payload: bytes) -> int | None:
        """Timestamp of a valid cosignature by this key on ``body``, else None.

        ``payload`` is what follows the key ID in the line: 8-byte timestamp || signature.
        """
        if len(payload) != TIMESTAMP_SIZE + SIGNATURE_SIZE:
            return None
        timestamp = int.from_bytes(payload[:TIMESTAMP_SIZE], "big")
        if timestamp > MAX_TIMESTAMP or not body.endswith("\n"):
            return None
        signature = payload[TIMESTAMP_SIZE:]
        if not self.public_key.verify(signature, cosigned_message(body, timestamp)):
            return None
        return timestamp


def cosign(body: str, name: str, key: SigningKey, timestamp: int) -> str:
    """The cosignature/v1 signature line (ending in ``\\n``) by ``key`` on checkpoint ``body``."""
    _check_key_name(name)
    # tlog-witness forbids a zero timestamp in a witness's answer; 2^63-1 is the spec's cap.
    if not 0 < timestamp <= MAX_TIMESTAMP:
        raise EncodingError("a cosignature timestamp is between 1 and 2^63-1 seconds")
    signature = key.sign(cosigned_message(body, timestamp))
    payload = (
        cosigner_key_id(name, key.public_key)
        + timestamp.to_bytes(TIMESTAMP_SIZE, "big")
        + signature
    )
    return f"{SIGNATURE_LINE_PREFIX}{name} {base64.b64encode(payload).decode()}\n"


def parse_signature_line(line: str) -> tuple[str, bytes, bytes] | None:
    """``(name, key ID, rest)`` of a signed-note signature line, or None if it is not one."""
    text = line[:-1] if line.endswith("\n") else line
    if not text.startswith(SIGNATURE_LINE_PREFIX):
        return None
    name, sep, blob = text[len(SIGNATURE_LINE_PREFIX) :].partition(" ")
    if not sep or not name or " " in blob:
        return None
    try:
        raw = base64.b64decode(blob, validate=True)
    except binascii.Error:
        return None
    if len(raw) <= KEY_ID_SIZE:
        return None
    return name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:]


def verify_cosignature_line(body: str, line: str, name: str, public_key: PublicKey) -> int | None:
    """Timestamp of ``line`` if it is a valid cosignature/v1 by (``name``, ``public_key``)."""
    parsed = parse_signature_line(line)
    if parsed is None:
        return None
    line_name, key_id, payload = parsed
    cosigner = CosignerKey(name, public_key)
    if not cosigner.matches(line_name, key_id):
        return None
    return cosigner.verify_payload(body, payload)


def witnessed_by(body: str, lines: list[str], cosigners: list[CosignerKey]) -> dict[str, int]:
    """Cosigners (by vkey) with a valid cosignature among ``lines``, with its timestamp.

    Lines by other keys are ignored, as signed-note verifiers must.
    """
    found: dict[str, int] = {}
    for line in lines:
        parsed = parse_signature_line(line)
        if parsed is None:
            continue
        line_name, key_id, payload = parsed
        for cosigner in cosigners:
            if cosigner.matches(line_name, key_id):
                timestamp = cosigner.verify_payload(body, payload)
                if timestamp is not None:
                    found[cosigner.vkey()] = timestamp
    return found
