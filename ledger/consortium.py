"""The consortium: organisations, their roles and keys, the entry-type policy and the quorums.

:class:`Consortium` is the signed genesis file (``docs/ledger-format.md`` §3).
:class:`Membership` is the state in force at one height: genesis with every ``config.update``
applied in order. It is immutable; :meth:`Membership.apply` returns the next state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.encoding import Tag, b64decode, b64encode, canonical_bytes, parse_canonical, tagged_hash
from ledger.errors import (
    ConfigurationError,
    EncodingError,
    EntryRejected,
    KeyRevoked,
    QuorumNotMet,
    RoleNotAllowed,
    SignatureInvalid,
    UnknownKey,
)
from ledger.keys import EncryptionKey, PublicKey, SigningKey
from ledger.timefmt import format_time, now, parse_time

#: What an X25519 key is exchanged with to check it is not a low-order point (any scalar does).
_PROBE = bytes([1] * 32)
ENCRYPTION_KEY_STATUSES = ("active", "retired")
#: ``node``: the organisation runs a ledger node of a consortium; its peers' tokens in that role
#: read every block in full (each node holds the whole ledger), and nothing else.
ROLES: frozenset[str] = frozenset(
    {"issuing_authority", "exporter", "customs", "bank", "auditor", "node"}
)
CONFIG_TYPE = "config.update"
# fullmatch only: "$" would also match before a final "\n"
ORG_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
COUNTRY = re.compile(r"[A-Z]{2}")

#: Which roles may append which entry type (issue: issuing authorities issue, amend and revoke
#: COs; exporters apply and declare origin; customs file declarations and verification; banks
#: record presentations; auditors only read). ``origin.evidence`` is the confidential evidence
#: (bills of materials and determinations) a node records beside a certificate it re-determined.
DEFAULT_POLICY: dict[str, tuple[str, ...]] = {
    "co.application": ("exporter",),
    "co.issued": ("issuing_authority",),
    "co.amended": ("issuing_authority",),
    "co.revoked": ("issuing_authority",),
    "origin.evidence": ("issuing_authority",),
    "origin.declaration": ("exporter",),
    "customs.export_declaration": ("customs",),
    "customs.import_declaration": ("customs",),
    "customs.verification_requested": ("customs",),
    "customs.verification_result": ("customs",),
    "bank.presentation": ("bank",),
    # a document's parties share a sealed document later (issue 16): a key grant to another
    # organisation (docs/ledger-format.md §11, "Sharing later")
    "payload.shared": ("bank", "customs", "exporter", "issuing_authority"),
}


@dataclass(frozen=True)
class MemberKey:
    public_key: PublicKey
    status: str = "active"

    @property
    def key_id(self) -> str:
        return self.public_key.key_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "public_key": self.public_key.to_b64(),
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> MemberKey:
        _require_keys(data, {"key_id", "public_key", "status"}, where)
        key = PublicKey.from_b64(_str(data["public_key"], f"{where}/public_key"))
        if data["key_id"] != key.key_id:
            raise EncodingError("key_id does not match the public key", location=where)
        if data["status"] not in ("active", "revoked"):
            raise EncodingError("key status must be active or revoked", location=where)
        return cls(key, data["status"])


@dataclass(frozen=True)
class MemberEncryptionKey:
    """An organisation's X25519 key that payloads are sealed to (§4.5), ``active`` or
    ``retired``. A retired key is never sealed to again; what was sealed to it stays readable by
    its holder."""

    public_key: EncryptionKey
    status: str = "active"

    @property
    def key_id(self) -> str:
        return self.public_key.key_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "public_key": self.public_key.to_b64(),
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> MemberEncryptionKey:
        _require_keys(data, {"key_id", "public_key", "status"}, where)
        key = EncryptionKey.from_b64(_str(data["public_key"], f"{where}/public_key"))
        if data["key_id"] != key.key_id:
            raise EncodingError("key_id does not match the public key", location=where)
        if data["status"] not in ENCRYPTION_KEY_STATUSES:
            raise EncodingError("encryption key status must be active or retired", location=where)
        try:  # a low-order point gives an all-zero shared secret: nothing can be sealed to it
            X25519PrivateKey.from_private_bytes(_PROBE).exchange(key.x25519())
        except ValueError as exc:
            raise EncodingError("not a usable X25519 public key", location=where) from exc
        return cls(key, data["status"])


@dataclass(frozen=True)
class Organisation:
    id: str
    legal_name: str
    country: str
    roles: frozenset[str]
    keys: Mapping[str, MemberKey]
    endpoints: tuple[str, ...] = ()
    #: X25519 keys payloads are sealed to, by key id; absent from the file when there are none.
    encryption_keys: Mapping[str, MemberEncryptionKey] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "legal_name": self.legal_name,
            "country": self.country,
            "roles": sorted(self.roles),
            "keys": [k.to_dict() for k in sorted(self.keys.values(), key=lambda k: k.key_id)],
            "endpoints": list(self.endpoints),
        }
        if self.encryption_keys:
            out["encryption_keys"] = [
                self.encryption_keys[kid].to_dict() for kid in sorted(self.encryption_keys)
            ]
        return out

    def active_encryption_keys(self) -> tuple[EncryptionKey, ...]:
        return tuple(
            self.encryption_keys[kid].public_key
            for kid in sorted(self.encryption_keys)
            if self.encryption_keys[kid].status == "active"
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> Organisation:
        _require_keys(
            data,
            {"id", "legal_name", "country", "roles", "keys", "endpoints"},
            where,
            optional={"encryption_keys"},
        )
        org_id = _str(data["id"], f"{where}/id")
        if not ORG_ID.fullmatch(org_id):
            raise EncodingError(f"organisation id {org_id!r} is not valid", location=where)
        country = _str(data["country"], f"{where}/country")
        if not COUNTRY.fullmatch(country):
            raise EncodingError("country must be an ISO 3166 alpha-2 code", location=where)
        roles = _roles(data["roles"], f"{where}/roles")
        keys_raw = data["keys"]
        if not isinstance(keys_raw, list):
            raise EncodingError("keys must be a list", location=f"{where}/keys")
        keys = {}
        for i, k in enumerate(keys_raw):
            mk = MemberKey.from_dict(k, f"{where}/keys/{i}")
            keys[mk.key_id] = mk
        endpoints = data["endpoints"]
        if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
            raise EncodingError("endpoints must be a list of URLs", location=f"{where}/endpoints")
        return cls(
            org_id,
            _str(data["legal_name"], where),
            country,
            roles,
            keys,
            tuple(endpoints),
            _encryption_keys(data.get("encryption_keys"), f"{where}/encryption_keys"),
        )


def _encryption_keys(value: Any, where: str) -> dict[str, MemberEncryptionKey]:
    """An organisation's ``encryption_keys``: absent for none, else a non-empty list sorted by
    key id with no key twice (one encoding per state)."""
    if value is None:
        return {}
    if not isinstance(value, list) or not value:
        raise EncodingError(
            "encryption_keys must be a non-empty list (leave it out when there are none)",
            location=where,
        )
    keys = [MemberEncryptionKey.from_dict(k, f"{where}/{i}") for i, k in enumerate(value)]
    ids = [k.key_id for k in keys]
    if ids != sorted(ids) or len(set(ids)) != len(ids):
        raise EncodingError(
            "encryption_keys must be sorted by key_id with no key twice", location=where
        )
    return {k.key_id: k for k in keys}


@dataclass(frozen=True)
class Membership:
    """Who may do what at one height. Immutable; ``apply`` gives the next state."""

    consortium_id: str
    organisations: Mapping[str, Organisation]
    policy: Mapping[str, frozenset[str]]
    checkpoint_quorum: int
    config_quorum: int
    _key_owner: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    _encryption_key_owner: Mapping[str, str] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        owners: dict[str, str] = {}
        encryption_owners: dict[str, str] = {}
        for org in self.organisations.values():
            for key_id in org.keys:
                if key_id in owners:
                    raise EncodingError(f"key {key_id} is listed for two organisations")
                owners[key_id] = org.id
            for key_id in org.encryption_keys:
                if key_id in encryption_owners:
                    raise EncodingError(f"encryption key {key_id} is listed for two organisations")
                encryption_owners[key_id] = org.id
        object.__setattr__(self, "_key_owner", owners)
        object.__setattr__(self, "_encryption_key_owner", encryption_owners)

    # -- look-ups ------------------------------------------------------------------------

    def key_owner(self, key_id: str) -> str | None:
        return self._key_owner.get(key_id)

    def public_key(self, key_id: str) -> PublicKey | None:
        owner = self._key_owner.get(key_id)
        return None if owner is None else self.organisations[owner].keys[key_id].public_key

    def raw_keys(self) -> dict[str, bytes]:
        """Every known key id's raw public key (revoked ones too), for signature workers."""
        return {
            kid: org.keys[kid].public_key.raw
            for org in self.organisations.values()
            for kid in org.keys
        }

    def active_key(self, org_id: str, key_id: str) -> MemberKey:
        """The key ``key_id`` of ``org_id`` if it is active; the precise error otherwise."""
        org = self.organisations.get(org_id)
        if org is None:
            raise UnknownKey(f"organisation {org_id!r} is not a member of the consortium")
        key = org.keys.get(key_id)
        if key is None:
            raise UnknownKey(f"key {key_id} is not a key of {org_id}")
        if key.status != "active":
            raise KeyRevoked(f"key {key_id} of {org_id} was revoked")
        return key

    def encryption_keys(self, org_id: str) -> tuple[EncryptionKey, ...]:
        """The active encryption keys of ``org_id`` (sorted by key id): what a payload for it is
        sealed to. Empty if it has none; UnknownKey if it is not a member."""
        org = self.organisations.get(org_id)
        if org is None:
            raise UnknownKey(f"organisation {org_id!r} is not a member of the consortium")
        return org.active_encryption_keys()

    def encryption_key_owner(self, key_id: str) -> str | None:
        """The organisation an encryption key (active or retired) belongs to."""
        return self._encryption_key_owner.get(key_id)

    def recipient_keys(self, org_ids: Iterable[str]) -> tuple[EncryptionKey, ...]:
        """Every active encryption key of every organisation in ``org_ids`` (sorted by key id,
        each once); UnknownKey if one of them is not a member or has no active encryption key."""
        keys: dict[str, EncryptionKey] = {}
        for org_id in org_ids:
            active = self.encryption_keys(org_id)
            if not active:
                raise UnknownKey(f"{org_id} has no active encryption key to seal a payload to")
            keys.update((k.key_id, k) for k in active)
        return tuple(keys[kid] for kid in sorted(keys))

    def check_author(self, org_id: str, key_id: str, entry_type: str) -> None:
        self.active_key(org_id, key_id)
        if entry_type == CONFIG_TYPE:
            return
        allowed = self.policy.get(entry_type)
        if allowed is None:
            raise RoleNotAllowed(f"entry type {entry_type!r} is not in the consortium's policy")
        roles = self.organisations[org_id].roles
        if not roles & allowed:
            raise RoleNotAllowed(
                f"{org_id} has roles {', '.join(sorted(roles))}; {entry_type} needs one of "
                f"{', '.join(sorted(allowed))}"
            )

    def signing_orgs(self, message: bytes, signatures: Sequence[tuple[str, bytes]]) -> set[str]:
        """Organisations with a valid signature by an active key; any bad signature fails."""
        orgs: set[str] = set()
        for key_id, sig in signatures:
            owner = self._key_owner.get(key_id)
            if owner is None:
                raise UnknownKey(f"signature by unknown key {key_id}")
            key = self.organisations[owner].keys[key_id]
            if key.status != "active":
                raise KeyRevoked(f"signature by revoked key {key_id} of {owner}")
            if not key.public_key.verify(sig, message):
                raise SignatureInvalid(f"signature by key {key_id} of {owner} does not verify")
            orgs.add(owner)
        return orgs

    def require_config_quorum(self, orgs: set[str]) -> None:
        if len(orgs) < self.config_quorum:
            raise QuorumNotMet(
                f"a membership change needs {self.config_quorum} organisations' signatures, "
                f"it has {len(orgs)} ({', '.join(sorted(orgs)) or 'none'})"
            )

    # -- change ---------------------------------------------------------------------------

    def apply(self, changes: Sequence[Mapping[str, Any]]) -> Membership:
        """The membership after ``changes`` (``docs/ledger-format.md`` §4.3), or EntryRejected."""
        orgs = dict(self.organisations)
        policy = dict(self.policy)
        cq, kq = self.checkpoint_quorum, self.config_quorum
        if not isinstance(changes, list) or not changes:
            raise EntryRejected("a config.update needs a non-empty list of changes")
        for i, change in enumerate(changes):
            where = f"/changes/{i}"
            if not isinstance(change, dict) or not isinstance(change.get("op"), str):
                raise EntryRejected("each change needs an op", location=where)
            op = change["op"]
            try:
                if op == "add_organisation":
                    org = Organisation.from_dict(change.get("organisation", {}), where)
                    if org.id in orgs:
                        raise EntryRejected(f"organisation {org.id} already exists")
                    orgs[org.id] = org
                elif op == "add_key":
                    org = _org(orgs, change)
                    key = MemberKey.from_dict(change.get("key", {}), f"{where}/key")
                    if key.status != "active":
                        raise EntryRejected("a new key must be active")
                    orgs[org.id] = replace(org, keys={**org.keys, key.key_id: key})
                elif op == "revoke_key":
                    org = _org(orgs, change)
                    kid = change.get("key_id")
                    if not isinstance(kid, str) or kid not in org.keys:
                        raise EntryRejected(f"{org.id} has no key {kid}")
                    revoked = replace(org.keys[kid], status="revoked")
                    orgs[org.id] = replace(org, keys={**org.keys, kid: revoked})
                elif op == "add_encryption_key":
                    org = _org(orgs, change)
                    ekey = MemberEncryptionKey.from_dict(change.get("key", {}), f"{where}/key")
                    if ekey.status != "active":
                        raise EntryRejected("a new encryption key must be active")
                    other = next(
                        (
                            o.id
                            for o in orgs.values()
                            if o.id != org.id and ekey.key_id in o.encryption_keys
                        ),
                        None,
                    )
                    if other is not None:
                        raise EntryRejected(f"encryption key {ekey.key_id} is {other}'s")
                    if ekey.key_id in org.encryption_keys:
                        raise EntryRejected(
                            f"{org.id} already has encryption key {ekey.key_id} "
                            f"({org.encryption_keys[ekey.key_id].status}); a retired key "
                            "cannot come back"
                        )
                    orgs[org.id] = replace(
                        org, encryption_keys={**org.encryption_keys, ekey.key_id: ekey}
                    )
                elif op == "retire_encryption_key":
                    org = _org(orgs, change)
                    kid = change.get("key_id")
                    if not isinstance(kid, str) or kid not in org.encryption_keys:
                        raise EntryRejected(f"{org.id} has no encryption key {kid}")
                    if org.encryption_keys[kid].status != "active":
                        raise EntryRejected(f"encryption key {kid} of {org.id} is already retired")
                    retired = replace(org.encryption_keys[kid], status="retired")
                    orgs[org.id] = replace(
                        org, encryption_keys={**org.encryption_keys, kid: retired}
                    )
                elif op == "set_roles":
                    org = _org(orgs, change)
                    orgs[org.id] = replace(org, roles=_roles(change.get("roles"), where))
                elif op == "set_endpoints":
                    org = _org(orgs, change)
                    eps = change.get("endpoints")
                    if not isinstance(eps, list) or not all(isinstance(e, str) for e in eps):
                        raise EntryRejected("endpoints must be a list of URLs")
                    orgs[org.id] = replace(org, endpoints=tuple(eps))
                elif op == "set_policy":
                    etype = change.get("entry_type")
                    if not isinstance(etype, str) or etype.startswith("config."):
                        raise EntryRejected("set_policy needs a non-config entry_type")
                    policy[etype] = _roles(change.get("roles"), where)
                elif op == "set_quorum":
                    cq = _quorum(change.get("checkpoint_quorum", cq))
                    kq = _quorum(change.get("config_quorum", kq))
                else:
                    raise EntryRejected(f"unknown change op {op!r}")
            except EncodingError as exc:
                raise EntryRejected(exc.detail, location=where) from exc
        result = Membership(self.consortium_id, orgs, policy, cq, kq)
        if kq > len(result.organisations) or cq > len(result.organisations):
            raise EntryRejected("a quorum cannot exceed the number of organisations")
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "organisations": [o.to_dict() for o in sorted(self.organisations.values(), key=_id)],
            "policy": {t: sorted(r) for t, r in sorted(self.policy.items())},
            "checkpoint_quorum": self.checkpoint_quorum,
            "config_quorum": self.config_quorum,
        }

    @classmethod
    def from_dict(cls, consortium_id: str, data: Any, where: str = "") -> Membership:
        """The inverse of :meth:`to_dict` (which leaves the consortium id out), with the same
        checks a genesis file's organisations and policy get; an
        :class:`~ledger.errors.EncodingError` names the first thing wrong."""
        _require_keys(
            data, {"organisations", "policy", "checkpoint_quorum", "config_quorum"}, where
        )
        if not ORG_ID.fullmatch(_str(consortium_id, f"{where}/consortium_id")):
            raise EncodingError("consortium_id is not a valid id", location=where or "/")
        if not isinstance(data["organisations"], list) or not data["organisations"]:
            raise EncodingError("there must be at least one organisation", location=where or "/")
        orgs: dict[str, Organisation] = {}
        for i, o in enumerate(data["organisations"]):
            org = Organisation.from_dict(o, f"{where}/organisations/{i}")
            if org.id in orgs:
                raise EncodingError(f"organisation {org.id} is listed twice", location=where)
            orgs[org.id] = org
        if not isinstance(data["policy"], dict):
            raise EncodingError("policy must be an object", location=f"{where}/policy")
        policy = {t: _roles(r, f"{where}/policy/{t}") for t, r in data["policy"].items()}
        return cls(
            consortium_id,
            orgs,
            policy,
            _quorum(data["checkpoint_quorum"]),
            _quorum(data["config_quorum"]),
        )


@dataclass(frozen=True)
class Consortium:
    """The signed genesis file. ``hash`` links block 1 to it."""

    signed: Mapping[str, Any]
    signatures: tuple[tuple[str, bytes], ...]
    membership: Membership
    hash: bytes

    @property
    def consortium_id(self) -> str:
        return self.membership.consortium_id

    @property
    def name(self) -> str:
        return str(self.signed["name"])

    @property
    def created(self) -> str:
        """When the genesis was made: block 1's entries may not be backdated far before it."""
        return str(self.signed["created"])

    def to_bytes(self) -> bytes:
        return canonical_bytes(
            {
                "signatures": [
                    {"key_id": k, "sig": b64encode(s)} for k, s in sorted(self.signatures)
                ],
                "signed": dict(self.signed),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Consortium:
        """Parse and verify a genesis file: canonical, well-formed, signed by every founder."""
        try:
            doc = parse_canonical(data, "the consortium file")
        except EncodingError as exc:
            raise ConfigurationError(exc.detail) from exc
        try:
            return cls._from_doc(doc)
        except (EncodingError, EntryRejected) as exc:
            where = f" at {exc.location}" if exc.location else ""
            raise ConfigurationError(
                f"the consortium file is invalid{where}: {exc.detail}"
            ) from exc

    @classmethod
    def _from_doc(cls, doc: Any) -> Consortium:
        if not isinstance(doc, dict):
            raise EncodingError("the consortium file must be a JSON object")
        _require_keys(doc, {"signed", "signatures"}, "")
        signed = doc["signed"]
        _require_keys(
            signed,
            {
                "v",
                "consortium_id",
                "name",
                "created",
                "organisations",
                "policy",
                "checkpoint_quorum",
                "config_quorum",
            },
            "/signed",
        )
        if signed["v"] != 1:
            raise EncodingError("unsupported consortium format version", location="/signed/v")
        parse_time(signed["created"], "created")
        cid = _str(signed["consortium_id"], "/signed/consortium_id")
        if not ORG_ID.fullmatch(cid):
            raise EncodingError("consortium_id is not a valid id", location="/signed/consortium_id")
        if not isinstance(signed["organisations"], list) or not signed["organisations"]:
            raise EncodingError("there must be at least one organisation")
        orgs: dict[str, Organisation] = {}
        for i, o in enumerate(signed["organisations"]):
            org = Organisation.from_dict(o, f"/signed/organisations/{i}")
            if org.id in orgs:
                raise EncodingError(f"organisation {org.id} is listed twice")
            orgs[org.id] = org
        policy_raw = signed["policy"]
        if not isinstance(policy_raw, dict):
            raise EncodingError("policy must be an object", location="/signed/policy")
        policy = {t: _roles(r, f"/signed/policy/{t}") for t, r in policy_raw.items()}
        membership = Membership(
            cid,
            orgs,
            policy,
            _quorum(signed["checkpoint_quorum"]),
            _quorum(signed["config_quorum"]),
        )
        signatures = _signature_list(doc["signatures"])
        message = Tag.CONSORTIUM.value + canonical_bytes(signed)
        signers = membership.signing_orgs(message, signatures)
        missing = set(orgs) - signers
        if missing:
            raise QuorumNotMet(
                "the genesis must be signed by every founding organisation; missing: "
                + ", ".join(sorted(missing))
            )
        return cls(
            signed, signatures, membership, tagged_hash(Tag.CONSORTIUM, canonical_bytes(signed))
        )


@dataclass
class FoundingMember:
    """What :func:`create_genesis` needs per organisation (the shell holds the private keys)."""

    id: str
    legal_name: str
    country: str
    roles: Iterable[str]
    signing_key: SigningKey
    endpoints: Sequence[str] = ()
    #: the X25519 key payloads are sealed to, if the organisation has one from the start
    encryption_key: EncryptionKey | None = None


def create_genesis(
    consortium_id: str,
    name: str,
    members: Sequence[FoundingMember],
    *,
    policy: Mapping[str, Sequence[str]] | None = None,
    checkpoint_quorum: int = 1,
    config_quorum: int = 1,
    created: datetime | None = None,
) -> Consortium:
    """Build and sign a genesis file; every founding member signs it."""
    signed = {
        "v": 1,
        "consortium_id": consortium_id,
        "name": name,
        "created": format_time(created or now()),
        "organisations": [
            Organisation(
                m.id,
                m.legal_name,
                m.country,
                frozenset(m.roles),
                {m.signing_key.key_id: MemberKey(m.signing_key.public_key)},
                tuple(m.endpoints),
                {}
                if m.encryption_key is None
                else {m.encryption_key.key_id: MemberEncryptionKey(m.encryption_key)},
            ).to_dict()
            for m in sorted(members, key=lambda m: m.id)
        ],
        "policy": {t: sorted(r) for t, r in sorted((policy or DEFAULT_POLICY).items())},
        "checkpoint_quorum": checkpoint_quorum,
        "config_quorum": config_quorum,
    }
    message = Tag.CONSORTIUM.value + canonical_bytes(signed)
    doc = {
        "signatures": [
            {"key_id": m.signing_key.key_id, "sig": b64encode(m.signing_key.sign(message))}
            for m in sorted(members, key=lambda m: m.signing_key.key_id)
        ],
        "signed": signed,
    }
    return Consortium.from_bytes(canonical_bytes(doc))


# -- small parsing helpers ---------------------------------------------------------------


def _id(org: Organisation) -> str:
    return org.id


def _require_keys(
    data: Any, keys: set[str], where: str, *, optional: frozenset[str] | set[str] = frozenset()
) -> None:
    """``data`` is an object with every one of ``keys``, any of ``optional``, and nothing else."""
    if not isinstance(data, dict):
        raise EncodingError("expected an object", location=where or "/")
    missing = keys - data.keys()
    extra = data.keys() - keys - optional
    if missing:
        raise EncodingError(f"missing {', '.join(sorted(missing))}", location=where or "/")
    if extra:
        raise EncodingError(f"unexpected {', '.join(sorted(extra))}", location=where or "/")


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise EncodingError("expected a non-empty string", location=where)
    return value


def _roles(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise EncodingError("roles must be a list of role names", location=where)
    unknown = set(value) - ROLES
    if unknown:
        raise EncodingError(f"unknown role {', '.join(sorted(unknown))}", location=where)
    return frozenset(value)


def _quorum(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise EncodingError("a quorum is a positive integer")
    return value


def _org(orgs: Mapping[str, Organisation], change: Mapping[str, Any]) -> Organisation:
    org_id = change.get("org")
    if not isinstance(org_id, str) or org_id not in orgs:
        raise EntryRejected(f"no organisation {org_id!r}")
    return orgs[org_id]


def _signature_list(value: Any) -> tuple[tuple[str, bytes], ...]:
    if not isinstance(value, list) or not value:
        raise EncodingError("signatures must be a non-empty list")
    out: list[tuple[str, bytes]] = []
    for i, item in enumerate(value):
        _require_keys(item, {"key_id", "sig"}, f"/signatures/{i}")
        out.append((_str(item["key_id"], "key_id"), b64decode(item["sig"], "signature")))
    ids = [k for k, _ in out]
    if ids != sorted(ids) or len(set(ids)) != len(ids):
        raise EncodingError("signatures must be sorted by key_id with no key twice")
    return tuple(out)


parse_signature_list = _signature_list
require_keys = _require_keys
