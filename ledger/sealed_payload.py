"""Sealed payloads: a document payload encrypted once for several organisations (issue 16).

How a node is meant to use this (not wired in yet):

* **Submit.** The author picks the recipients (the document's parties plus the auditors), looks
  up their active encryption keys with :meth:`ledger.consortium.Membership.recipient_keys`,
  chooses the entry's ``nonce`` and calls :func:`seal_payload` with a :class:`PayloadBinding` of
  (consortium id, author, nonce). The sealed bytes become the entry's payload with content type
  :data:`CONTENT_TYPE`; the entry commits to them by digest and size as to any payload, so
  replay and audit verify the chain with no decryption key.
* **Read.** A recipient node calls :func:`open_payload` with its decryption key and the binding
  read from the entry's signed fields; it gets the plaintext, the commitment salt (to give to
  whoever must check the document against the ledger) and the payload secret (to share later).
* **Prove.** Whoever holds the document and the salt shows with :func:`verify_commitment` that it
  is the one committed to in the sealed payload on the ledger (:func:`read_commitment` takes the
  commitment from the sealed bytes without any key).
* **Share later.** A recipient appends an entry whose payload is a key grant made by
  :func:`grant_payload_key`; the new organisation opens the original payload with
  :func:`open_granted_payload`. Access to *future* entries is revoked by retiring a key
  (``retire_encryption_key``): nothing is sealed to it any more. What was sealed to it stays
  readable by its holder; no key rotation can undo a decryption that already happened.

Cryptography: HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM,
single-shot, through ``cryptography.hazmat.primitives.hpke``; the content is AES-256-GCM.
``docs/ledger-format.md`` §11 is the specification; the layout, in short::

    offset       size  field
    0            1     version = 0x01 (fixes the suite above)
    1            1     n, the number of recipients, 1..255
    2            32    commitment = SHA-256(TAG_COMMITMENT || salt || plaintext)
    34           88*n  n slots sorted by key id, strictly ascending:
                         key_id (8) || enc (32) || HPKE ciphertext of the payload secret (32 + 16)
    34 + 88*n    L+16  AES-256-GCM(content_key, nonce = 12 zero bytes, plaintext, aad) || tag

    overhead = 50 + 88*n bytes (2 recipients: 226; 3: 314; 5: 490)

Design choices and why:

* One **payload secret** S (32 random bytes) per sealed payload is wrapped for each recipient.
  ``salt = HKDF-Expand(S, TAG_SALT, 32)`` and
  ``content_key = HKDF-Expand(S, TAG_CONTENT_KEY || commitment, 32)``. Deriving the salt saves
  32 bytes against storing it; deriving the content key through the commitment gives a
  different key to every different plaintext even if S were ever reused, so the fixed nonce can
  never repeat under one key (each content key encrypts exactly one message).
* The **commitment** is in the clear so that the ledger (and anyone holding the salt and the
  document) can check it without a decryption key; :func:`open_payload` recomputes it from what
  it decrypted and refuses a mismatch. Since AES-GCM does not commit to its key, this check is
  what guarantees that every recipient reads the same plaintext, the one committed to.
* Each wrap's HPKE ``info`` holds the binding (consortium, author, entry nonce), the recipient's
  key id and the commitment, so a wrapped key moved to another slot, sealed payload or entry
  does not open. (The library's public single-shot API takes ``info`` only, no ``aad``; ``info``
  enters the key schedule, so the binding is as strong.)
* The content's AAD is the binding plus every byte before the content (version, count,
  commitment, all slots): a byte changed anywhere fails for every recipient, not only for the
  one whose slot was hit.
* Binary, not JSON with base64: base64 alone would cost a third more than the target allows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from ledger.consortium import ORG_ID
from ledger.entries import HEX32
from ledger.errors import NotARecipient, SealedPayloadInvalid
from ledger.keys import DecryptionKey, EncryptionKey

#: The entry payload content type of a sealed payload, and of a key grant.
CONTENT_TYPE = "application/vnd.tradeledger.sealed-payload"
GRANT_CONTENT_TYPE = "application/vnd.tradeledger.payload-key-grant"

VERSION = 1
SECRET_SIZE = 32
SALT_SIZE = 32
COMMITMENT_SIZE = 32
KEY_ID_SIZE = 8
ENC_SIZE = 32
TAG_SIZE = 16
WRAPPED_SIZE = SECRET_SIZE + TAG_SIZE
SLOT_SIZE = KEY_ID_SIZE + ENC_SIZE + WRAPPED_SIZE  # 88
HEADER_SIZE = 2 + COMMITMENT_SIZE  # version, count, commitment
MAX_RECIPIENTS = 255
#: Fixed bytes a sealed payload adds to its plaintext, besides SLOT_SIZE per recipient.
FIXED_OVERHEAD = HEADER_SIZE + TAG_SIZE  # 50
_ZERO_NONCE = bytes(12)

TAG_COMMITMENT = b"tradeledger/v1/payload-commitment\n"
TAG_SALT = b"tradeledger/v1/payload-salt\n"
TAG_CONTENT_KEY = b"tradeledger/v1/payload-content-key\n"
TAG_CONTENT = b"tradeledger/v1/payload-content\n"
TAG_WRAP = b"tradeledger/v1/payload-key-wrap\n"
TAG_GRANT = b"tradeledger/v1/payload-key-grant\n"

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


@dataclass(frozen=True)
class PayloadBinding:
    """Which entry a sealed payload belongs to: the entry's signed ``consortium_id``, ``author``
    and ``nonce``. Sealing and opening must be given the same binding."""

    consortium_id: str
    author: str
    nonce: str

    def __post_init__(self) -> None:
        for name, value, pattern in (
            ("consortium_id", self.consortium_id, ORG_ID),
            ("author", self.author, ORG_ID),
            ("nonce", self.nonce, HEX32),
        ):
            if not isinstance(value, str) or not pattern.fullmatch(value):
                raise SealedPayloadInvalid(f"the binding's {name} is not valid")

    def to_bytes(self) -> bytes:
        """Length-prefixed, so that no two bindings have the same bytes."""
        cid, author = self.consortium_id.encode("ascii"), self.author.encode("ascii")
        return bytes([len(cid)]) + cid + bytes([len(author)]) + author + bytes.fromhex(self.nonce)


@dataclass(frozen=True)
class RecipientSlot:
    key_id: str
    enc: bytes
    wrapped_secret: bytes


@dataclass(frozen=True)
class SealedPayload:
    """A parsed sealed payload (:func:`parse_sealed_payload`); ``raw`` is the bytes parsed."""

    commitment: bytes
    slots: tuple[RecipientSlot, ...]
    content: bytes
    raw: bytes

    @property
    def recipients(self) -> tuple[str, ...]:
        """The key ids the payload was sealed to, ascending."""
        return tuple(s.key_id for s in self.slots)

    @property
    def header(self) -> bytes:
        """Every byte before the content (the content's AAD, after the binding)."""
        return self.raw[: HEADER_SIZE + SLOT_SIZE * len(self.slots)]


@dataclass(frozen=True)
class OpenedPayload:
    plaintext: bytes
    #: The commitment salt: with the plaintext, proves the document is the one committed to.
    salt: bytes
    commitment: bytes
    #: The payload secret: what a key grant shares. Keep it as secret as the plaintext.
    payload_secret: bytes


@dataclass(frozen=True)
class PayloadKeyGrant:
    """A parsed key grant: the payload secret of one sealed payload, wrapped for more keys."""

    payload_digest: bytes
    slots: tuple[RecipientSlot, ...]
    raw: bytes


# -- commitment -------------------------------------------------------------------------------


def commitment(salt: bytes, plaintext: bytes) -> bytes:
    """SHA-256(``tradeledger/v1/payload-commitment\\n`` || salt (32 bytes) || plaintext)."""
    if not isinstance(salt, bytes) or len(salt) != SALT_SIZE:
        raise SealedPayloadInvalid("a commitment salt is 32 bytes")
    if not isinstance(plaintext, bytes):
        raise SealedPayloadInvalid("the plaintext must be bytes")
    return hashlib.sha256(TAG_COMMITMENT + salt + plaintext).digest()


def verify_commitment(expected: bytes, salt: bytes, plaintext: bytes) -> bool:
    """True when ``plaintext`` with ``salt`` is what ``expected`` commits to."""
    if not isinstance(expected, bytes) or len(expected) != COMMITMENT_SIZE:
        raise SealedPayloadInvalid("a commitment is 32 bytes")
    return hmac.compare_digest(expected, commitment(salt, plaintext))


def read_commitment(sealed: bytes) -> bytes:
    """The commitment of a sealed payload, read without any key (the payload is parsed whole)."""
    return parse_sealed_payload(sealed).commitment


# -- derivations ------------------------------------------------------------------------------


def _salt(secret: bytes) -> bytes:
    return HKDFExpand(hashes.SHA256(), SALT_SIZE, TAG_SALT).derive(secret)


def _content_key(secret: bytes, commitment_: bytes) -> bytes:
    return HKDFExpand(hashes.SHA256(), 32, TAG_CONTENT_KEY + commitment_).derive(secret)


def _wrap_info(binding: bytes, key_id: str, commitment_: bytes) -> bytes:
    return TAG_WRAP + binding + bytes.fromhex(key_id) + commitment_


def _grant_info(binding: bytes, key_id: str, payload_digest: bytes) -> bytes:
    return TAG_GRANT + binding + bytes.fromhex(key_id) + payload_digest


# -- sealing ----------------------------------------------------------------------------------


def _recipient_list(recipients: Iterable[EncryptionKey]) -> list[EncryptionKey]:
    keys: dict[str, EncryptionKey] = {}
    for key in recipients:
        if not isinstance(key, EncryptionKey):
            raise SealedPayloadInvalid("each recipient must be an EncryptionKey")
        keys[key.key_id] = key
    if not keys:
        raise SealedPayloadInvalid("a sealed payload needs at least one recipient")
    if len(keys) > MAX_RECIPIENTS:
        raise SealedPayloadInvalid(f"a sealed payload has at most {MAX_RECIPIENTS} recipients")
    return [keys[k] for k in sorted(keys)]


def _wrap(secret: bytes, key: EncryptionKey, info: bytes) -> bytes:
    try:
        out = SUITE.encrypt(secret, key.x25519(), info)
    except ValueError as exc:  # e.g. a low-order point: the shared secret would be all zero
        raise SealedPayloadInvalid(f"cannot seal to encryption key {key.key_id}: {exc}") from exc
    return bytes.fromhex(key.key_id) + out


def seal_payload(
    plaintext: bytes, recipients: Iterable[EncryptionKey], binding: PayloadBinding
) -> bytes:
    """Encrypt ``plaintext`` once for every key in ``recipients`` (a key listed twice is sealed
    to once) and bind it to the entry named by ``binding``."""
    return _seal_with_secret(plaintext, recipients, binding, secrets.token_bytes(SECRET_SIZE))


def _seal_with_secret(
    plaintext: bytes, recipients: Iterable[EncryptionKey], binding: PayloadBinding, secret: bytes
) -> bytes:
    """:func:`seal_payload` with a given payload secret (test vectors; never reuse a secret)."""
    if not isinstance(plaintext, bytes):
        raise SealedPayloadInvalid("the plaintext must be bytes")
    if not isinstance(binding, PayloadBinding):
        raise SealedPayloadInvalid("the binding must be a PayloadBinding")
    keys = _recipient_list(recipients)
    salt = _salt(secret)
    commit = commitment(salt, plaintext)
    bound = binding.to_bytes()
    header = bytearray([VERSION, len(keys)])
    header += commit
    for key in keys:
        header += _wrap(secret, key, _wrap_info(bound, key.key_id, commit))
    aad = TAG_CONTENT + bound + bytes(header)
    content = AESGCM(_content_key(secret, commit)).encrypt(_ZERO_NONCE, plaintext, aad)
    return bytes(header) + content


# -- parsing ----------------------------------------------------------------------------------


def _bytes(data: object, what: str) -> bytes:
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    if not isinstance(data, bytes):
        raise SealedPayloadInvalid(f"{what} must be bytes")
    return data


def _slots(data: bytes, start: int, count: int, what: str) -> tuple[RecipientSlot, ...]:
    slots: list[RecipientSlot] = []
    previous = b""
    for i in range(count):
        at = start + i * SLOT_SIZE
        kid = data[at : at + KEY_ID_SIZE]
        if kid <= previous:
            raise SealedPayloadInvalid(
                f"{what}: recipient slots must be sorted by key id with no key id twice",
                location=f"slot {i}",
            )
        previous = kid
        at += KEY_ID_SIZE
        wrapped_at = at + ENC_SIZE
        slots.append(
            RecipientSlot(
                kid.hex(), data[at:wrapped_at], data[wrapped_at : wrapped_at + WRAPPED_SIZE]
            )
        )
    return tuple(slots)


def _version_and_count(data: bytes, what: str) -> int:
    if len(data) < 2:
        raise SealedPayloadInvalid(f"{what} is truncated")
    if data[0] != VERSION:
        raise SealedPayloadInvalid(f"{what} has unsupported version {data[0]}")
    if data[1] == 0:
        raise SealedPayloadInvalid(f"{what} has no recipients")
    return data[1]


def parse_sealed_payload(data: bytes) -> SealedPayload:
    """Read a sealed payload's layout strictly; no key needed (nothing is decrypted)."""
    data = _bytes(data, "a sealed payload")
    what = "the sealed payload"
    count = _version_and_count(data, what)
    content_at = HEADER_SIZE + SLOT_SIZE * count
    if len(data) < content_at + TAG_SIZE:
        raise SealedPayloadInvalid(
            f"{what} is truncated: {len(data)} bytes, {count} recipients need at least "
            f"{content_at + TAG_SIZE}"
        )
    slots = _slots(data, HEADER_SIZE, count, what)
    return SealedPayload(data[2:HEADER_SIZE], slots, data[content_at:], data)


def parse_key_grant(data: bytes) -> PayloadKeyGrant:
    """Read a key grant's layout strictly (§11, "Sharing later"); no key needed."""
    data = _bytes(data, "a key grant")
    what = "the key grant"
    count = _version_and_count(data, what)
    size = 2 + 32 + SLOT_SIZE * count
    if len(data) != size:
        raise SealedPayloadInvalid(
            f"{what} must be {size} bytes for {count} recipients, it is {len(data)}"
        )
    return PayloadKeyGrant(data[2:34], _slots(data, 34, count, what), data)


# -- opening ----------------------------------------------------------------------------------


def _my_slot(slots: tuple[RecipientSlot, ...], key: DecryptionKey, what: str) -> RecipientSlot:
    if not isinstance(key, DecryptionKey):
        raise SealedPayloadInvalid("the decryption key must be a DecryptionKey")
    for slot in slots:
        if slot.key_id == key.key_id:
            return slot
    raise NotARecipient(
        f"{what} is not sealed to key {key.key_id}; "
        f"its recipients are {', '.join(s.key_id for s in slots)}"
    )


def _unwrap(slot: RecipientSlot, key: DecryptionKey, info: bytes, what: str) -> bytes:
    try:
        secret = SUITE.decrypt(slot.enc + slot.wrapped_secret, key.x25519(), info)
    except (InvalidTag, ValueError) as exc:
        raise SealedPayloadInvalid(
            f"the wrapped key for {slot.key_id} in {what} does not open with this key: it was "
            "altered, made for another key, or bound to another entry or payload",
            location=f"key {slot.key_id}",
        ) from exc
    if len(secret) != SECRET_SIZE:  # only a sender with its own tooling can cause this
        raise SealedPayloadInvalid(f"the wrapped payload secret in {what} is not 32 bytes")
    return secret


def open_payload(sealed: bytes, key: DecryptionKey, binding: PayloadBinding) -> OpenedPayload:
    """Decrypt a sealed payload with a recipient's key; check its commitment."""
    parsed = parse_sealed_payload(sealed)
    if not isinstance(binding, PayloadBinding):
        raise SealedPayloadInvalid("the binding must be a PayloadBinding")
    slot = _my_slot(parsed.slots, key, "the sealed payload")
    info = _wrap_info(binding.to_bytes(), slot.key_id, parsed.commitment)
    secret = _unwrap(slot, key, info, "the sealed payload")
    return _open_with_secret(parsed, secret, binding)


def open_payload_with_secret(
    sealed: bytes, payload_secret: bytes, binding: PayloadBinding
) -> OpenedPayload:
    """Decrypt a sealed payload with its payload secret (from :func:`open_payload` earlier, or
    from a key grant)."""
    parsed = parse_sealed_payload(sealed)
    if not isinstance(binding, PayloadBinding):
        raise SealedPayloadInvalid("the binding must be a PayloadBinding")
    secret = _bytes(payload_secret, "the payload secret")
    if len(secret) != SECRET_SIZE:
        raise SealedPayloadInvalid("a payload secret is 32 bytes")
    return _open_with_secret(parsed, secret, binding)


def _open_with_secret(
    parsed: SealedPayload, secret: bytes, binding: PayloadBinding
) -> OpenedPayload:
    aad = TAG_CONTENT + binding.to_bytes() + parsed.header
    try:
        plaintext = AESGCM(_content_key(secret, parsed.commitment)).decrypt(
            _ZERO_NONCE, parsed.content, aad
        )
    except InvalidTag as exc:
        raise SealedPayloadInvalid(
            "the sealed payload's content does not decrypt: a byte of it was altered, or it is "
            "bound to another entry, or the secret is not its own"
        ) from exc
    salt = _salt(secret)
    if not verify_commitment(parsed.commitment, salt, plaintext):
        raise SealedPayloadInvalid(
            "the sealed payload decrypts to a plaintext its commitment does not name"
        )
    return OpenedPayload(plaintext, salt, parsed.commitment, secret)


# -- sharing later: key grants ----------------------------------------------------------------


def payload_digest(sealed: bytes) -> bytes:
    """SHA-256 of the sealed bytes: the entry's payload ``digest`` (§4.1), as bytes."""
    return hashlib.sha256(_bytes(sealed, "a sealed payload")).digest()


def grant_payload_key(
    sealed: bytes,
    payload_secret: bytes,
    recipients: Iterable[EncryptionKey],
    binding: PayloadBinding,
) -> bytes:
    """A key grant (§11, "Sharing later"): ``sealed``'s payload secret wrapped for ``recipients``.

    ``binding`` is the binding of the entry that carries ``sealed`` (not of the grant's own
    entry). The grant is refused unless ``payload_secret`` opens ``sealed``, so a grant never
    hands out a key that does not work.
    """
    opened = open_payload_with_secret(sealed, payload_secret, binding)
    keys = _recipient_list(recipients)
    digest = payload_digest(sealed)
    bound = binding.to_bytes()
    out = bytearray([VERSION, len(keys)])
    out += digest
    for key in keys:
        out += _wrap(opened.payload_secret, key, _grant_info(bound, key.key_id, digest))
    return bytes(out)


def open_granted_payload(
    sealed: bytes, grant: bytes, key: DecryptionKey, binding: PayloadBinding
) -> OpenedPayload:
    """Open ``sealed`` (bound to ``binding``) through a key grant made for ``key``."""
    parsed = parse_key_grant(grant)
    if not isinstance(binding, PayloadBinding):
        raise SealedPayloadInvalid("the binding must be a PayloadBinding")
    if not hmac.compare_digest(parsed.payload_digest, payload_digest(sealed)):
        raise SealedPayloadInvalid("the key grant is for another sealed payload")
    slot = _my_slot(parsed.slots, key, "the key grant")
    info = _grant_info(binding.to_bytes(), slot.key_id, parsed.payload_digest)
    secret = _unwrap(slot, key, info, "the key grant")
    return open_payload_with_secret(sealed, secret, binding)


def sealed_size(plaintext_size: int, recipients: int) -> int:
    """The size of a sealed payload: plaintext + 50 + 88 per recipient."""
    return plaintext_size + FIXED_OVERHEAD + SLOT_SIZE * recipients
