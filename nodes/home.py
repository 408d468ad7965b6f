"""A node's home directory: its consortium file, its keys, its settings and its database.

Layout::

    <home>/consortium.json      the signed genesis (the trust anchor auditors need)
    <home>/node.json            {"org_id", "database_url", "signs_for": [org ids], and
                                optionally "public_url": the address printed in QR codes}
    <home>/keys/<org_id>.pem    PKCS#8 Ed25519 private keys of the organisations this node
                                signs for (a development consortium keeps them all in one node)
    <home>/keys/<org_id>.<name>.pem
                                further keys of an organisation (``add_key`` names them by key
                                id): after a rotation the node signs with the key active in the
                                membership in force (``current_key``), whichever file holds it
    <home>/keys/<org_id>.<key_id>.x25519
                                PKCS#8 X25519 private keys (decryption keys) of the
                                organisations this node runs: it opens the sealed payloads
                                sealed to them (issue 16; ``nodes.sealing``). Retired keys stay,
                                to read what was sealed to them before.
    <home>/ledger.db            the embedded SQLite database (unless database_url says otherwise)
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ledger.consortium import Consortium, Organisation
from ledger.errors import ConfigurationError
from ledger.keys import DecryptionKey, SigningKey

if TYPE_CHECKING:
    from nodes.store import LedgerStore

DEFAULT_HOME = Path(".tradeledger")


@dataclass
class NodeHome:
    path: Path

    @property
    def consortium_file(self) -> Path:
        return self.path / "consortium.json"

    @property
    def settings_file(self) -> Path:
        return self.path / "node.json"

    @property
    def keys_dir(self) -> Path:
        return self.path / "keys"

    def exists(self) -> bool:
        return self.consortium_file.exists() and self.settings_file.exists()

    # -- settings -----------------------------------------------------------------------

    def settings(self) -> dict[str, object]:
        try:
            data = json.loads(self.settings_file.read_text())
        except FileNotFoundError as exc:
            raise ConfigurationError(
                f"{self.path} is not a tradeledger home (no node.json); "
                "create one with `tradeledger demo --home DIR`"
            ) from exc
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read {self.settings_file}: {exc}") from exc
        if not isinstance(data, dict) or "org_id" not in data:
            raise ConfigurationError(f"{self.settings_file} has no org_id")
        return data

    def write_settings(self, org_id: str, signs_for: list[str], database_url: str | None) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        data = {"org_id": org_id, "signs_for": signs_for, "database_url": database_url}
        self.settings_file.write_text(json.dumps(data, indent=2) + "\n")

    @property
    def org_id(self) -> str:
        return str(self.settings()["org_id"])

    def database_url(self) -> str:
        url = self.settings().get("database_url")
        env = os.environ.get("TRADELEDGER_DATABASE_URL")
        if env:
            return env
        from nodes.store import sqlite_url  # SQLAlchemy loads only for commands that need it

        return str(url) if url else sqlite_url(self.path.resolve() / "ledger.db")

    def public_url(self) -> str | None:
        """node.json's ``public_url`` (checked by :func:`check_public_url`), or None."""
        value = self.settings().get("public_url")
        if value is None:
            return None
        if not isinstance(value, str):
            raise ConfigurationError(f"public_url in {self.settings_file} is not a string")
        return check_public_url(value, f"public_url in {self.settings_file}")

    # -- trust anchor and keys ------------------------------------------------------------

    def consortium(self) -> Consortium:
        try:
            return Consortium.from_bytes(self.consortium_file.read_bytes())
        except FileNotFoundError as exc:
            raise ConfigurationError(f"{self.consortium_file} does not exist") from exc

    def write_consortium(self, consortium: Consortium) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.consortium_file.write_bytes(consortium.to_bytes())

    def save_key(self, org_id: str, key: SigningKey) -> None:
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        path = self.keys_dir / f"{org_id}.pem"
        path.write_bytes(key.to_pem())
        path.chmod(0o600)

    def signing_key(self, org_id: str) -> SigningKey:
        path = self.keys_dir / f"{org_id}.pem"
        try:
            return SigningKey.from_pem(path.read_bytes())
        except FileNotFoundError as exc:
            raise ConfigurationError(f"this node holds no key for {org_id}") from exc

    def add_key(self, org_id: str, key: SigningKey) -> Path:
        """Place a further key of ``org_id`` beside its first (a rotation's new key)."""
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        path = self.keys_dir / f"{org_id}.{key.key_id}.pem"
        path.write_bytes(key.to_pem())
        path.chmod(0o600)
        return path

    def signing_keys(self) -> dict[str, SigningKey]:
        """The first key of each organisation (``<org_id>.pem``), as the genesis lists it."""
        if not self.keys_dir.exists():
            return {}
        return {
            p.stem: SigningKey.from_pem(p.read_bytes())
            for p in sorted(self.keys_dir.glob("*.pem"))
            if "." not in p.stem
        }

    def keys_version(self) -> int:
        """Changes whenever a key file is added to or removed from the home (its mtime)."""
        try:
            return self.keys_dir.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def held_keys(self) -> dict[str, list[SigningKey]]:
        """Every private key in the home, by organisation (org ids have no dots, so a file's
        name up to its first dot is its organisation)."""
        held: dict[str, list[SigningKey]] = {}
        if not self.keys_dir.exists():
            return held
        for path in sorted(self.keys_dir.glob("*.pem")):
            try:
                key = SigningKey.from_pem(path.read_bytes())
            except OSError as exc:
                raise ConfigurationError(f"cannot read {path}: {exc}") from exc
            held.setdefault(path.name.split(".", 1)[0], []).append(key)
        return held

    def save_decryption_key(self, org_id: str, key: DecryptionKey) -> Path:
        """Place a decryption key of ``org_id`` beside its signing keys."""
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        path = self.keys_dir / f"{org_id}.{key.key_id}.x25519"
        path.write_bytes(key.to_pem())
        path.chmod(0o600)
        return path

    def decryption_keys(self) -> dict[str, DecryptionKey]:
        """Every decryption key in the home, by key id."""
        if not self.keys_dir.exists():
            return {}
        found: dict[str, DecryptionKey] = {}
        for path in sorted(self.keys_dir.glob("*.x25519")):
            try:
                key = DecryptionKey.from_pem(path.read_bytes())
            except OSError as exc:
                raise ConfigurationError(f"cannot read {path}: {exc}") from exc
            found[key.key_id] = key
        return found

    def open_store(self) -> LedgerStore:
        from nodes.store import LedgerStore

        store = LedgerStore(self.database_url())
        store.create_schema()
        store.save_consortium(self.consortium_file.read_bytes())
        return store


def check_public_url(url: str, source: str) -> str:
    """``url`` without a trailing slash if it can be the node's public address (what QR codes
    and links print): an http or https URL with a host, optionally a port and a path, and no
    credentials, query or fragment (a printed link would carry them to every reader).
    Otherwise a :class:`ConfigurationError` naming ``source`` (``--public-url`` or node.json)."""
    problem = _public_url_problem(url)
    if problem is not None:
        raise ConfigurationError(
            f"{source} must be an http or https URL with a host and no query or fragment "
            f"(e.g. https://node.example.org); {url!r} {problem}"
        )
    return url.rstrip("/")


_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?")


def _public_url_problem(url: str) -> str | None:
    if any(c.isspace() or not c.isprintable() for c in url):
        return "contains spaces or control characters"
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 (urlsplit checks the port only when it is read)
    except ValueError:
        return "has an invalid port"
    if parts.scheme not in ("http", "https"):
        return "is not an http or https URL"
    if not parts.hostname:
        return "has no host"
    if not _HOST.fullmatch(parts.hostname) and "[" not in parts.netloc:  # [v6] urlsplit checks
        return "has an invalid host"
    if parts.username is not None or parts.password is not None:
        return "carries credentials"
    if parts.query or url.endswith("?"):
        return "has a query"
    if parts.fragment or "#" in url:
        return "has a fragment"
    return None


def current_key(held: list[SigningKey], org: Organisation | None) -> SigningKey | None:
    """Of the keys a home holds for ``org``, the one to sign with now: active in the membership
    in force, and of those the one added last (a new key is appended to the organisation's
    keys, so during a rotation the new key is preferred while the old one is still active).
    None if the home holds no active key of ``org``."""
    if org is None:
        return None
    by_id = {key.key_id: key for key in held}
    active = [kid for kid, member in org.keys.items() if member.status == "active" and kid in by_id]
    return by_id[active[-1]] if active else None
