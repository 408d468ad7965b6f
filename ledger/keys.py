"""Keys: Ed25519 signing keys, X25519 encryption keys, and key identifiers.

Signing and verification go through libsodium (PyNaCl), the fastest well-kept Ed25519 binding
for Python (about twice the ``cryptography`` package's rate on our machines, which matters for
replaying a long chain). Private keys are stored as PKCS#8 PEM through ``cryptography`` so that
OpenSSL and other tools can read them.

A key id is the first 8 bytes of SHA-256 over the raw 32-byte public key, as 16 lowercase hex
digits (``docs/ledger-format.md`` §Keys).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions
import nacl.signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ledger.encoding import b64decode, b64encode
from ledger.errors import ConfigurationError, EncodingError

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


def key_id_for(raw_public_key: bytes) -> str:
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key as the consortium file lists it."""

    raw: bytes
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        if len(self.raw) != PUBLIC_KEY_SIZE:
            raise EncodingError("an Ed25519 public key is 32 bytes")
        object.__setattr__(self, "key_id", key_id_for(self.raw))

    @classmethod
    def from_b64(cls, text: str) -> PublicKey:
        return cls(b64decode(text, "public key"))

    def to_b64(self) -> str:
        return b64encode(self.raw)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is a valid Ed25519 signature of ``message`` by this key."""
        return verify_signature(self.raw, signature, message)


def verify_signature(raw_public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Ed25519 verification on raw bytes (the form replay workers use)."""
    if len(signature) != SIGNATURE_SIZE:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, raw_public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        return False
    return True


class SigningKey:
    """An Ed25519 private key held by an organisation (or its node)."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise EncodingError("an Ed25519 seed is 32 bytes")
        self._nacl = nacl.signing.SigningKey(seed)
        self._seed = seed
        self.public_key = PublicKey(bytes(self._nacl.verify_key))

    @property
    def key_id(self) -> str:
        return self.public_key.key_id

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(bytes(nacl.signing.SigningKey.generate()))

    def sign(self, message: bytes) -> bytes:
        return bytes(self._nacl.sign(message).signature)

    def to_pem(self) -> bytes:
        private = Ed25519PrivateKey.from_private_bytes(self._seed)
        return private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, data: bytes) -> SigningKey:
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"not a readable PKCS#8 PEM private key: {exc}") from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise ConfigurationError("the private key is not an Ed25519 key")
        seed = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return cls(seed)


# -- X25519 encryption keys (confidential payloads, ledger.sealed_payload) ---------------------


@dataclass(frozen=True)
class EncryptionKey:
    """An organisation's X25519 public key that payloads are sealed to (RFC 7748).

    Its key id follows the same rule as a signing key's: the first 8 bytes of SHA-256 over the
    raw 32-byte public key, as 16 lowercase hex digits.
    """

    raw: bytes
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != PUBLIC_KEY_SIZE:
            raise EncodingError("an X25519 public key is 32 bytes")
        object.__setattr__(self, "key_id", key_id_for(self.raw))

    @classmethod
    def from_b64(cls, text: str) -> EncryptionKey:
        return cls(b64decode(text, "encryption key"))

    def to_b64(self) -> str:
        return b64encode(self.raw)

    def x25519(self) -> X25519PublicKey:
        return X25519PublicKey.from_public_bytes(self.raw)


class DecryptionKey:
    """The X25519 private key matching an :class:`EncryptionKey` (held by its organisation)."""

    def __init__(self, private_bytes: bytes) -> None:
        if not isinstance(private_bytes, bytes) or len(private_bytes) != 32:
            raise EncodingError("an X25519 private key is 32 bytes")
        self._private = X25519PrivateKey.from_private_bytes(private_bytes)
        self.public_key = EncryptionKey(
            self._private.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        )

    @property
    def key_id(self) -> str:
        return self.public_key.key_id

    @classmethod
    def generate(cls) -> DecryptionKey:
        return cls(
            X25519PrivateKey.generate().private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
        )

    def x25519(self) -> X25519PrivateKey:
        return self._private

    def to_pem(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, data: bytes) -> DecryptionKey:
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"not a readable PKCS#8 PEM private key: {exc}") from exc
        if not isinstance(private, X25519PrivateKey):
            raise ConfigurationError("the private key is not an X25519 key")
        return cls(
            private.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
        )
