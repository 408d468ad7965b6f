"""A C2SP ``tlog-witness`` for tradeledger logs (``tradeledger witness serve``).

An outside organisation runs this to watch one or more consortia without joining them. For each
log (identified by its checkpoint origin, ``tradeledger/<consortium id>``) it keeps the last
checkpoint it cosigned, and cosigns a new one only when its signatures meet the consortium's
checkpoint quorum and a consistency proof links it to the stored one (``ledger/witnessing.py``).

Durability: the check and the update run in one SQLite ``BEGIN IMMEDIATE`` transaction with
``synchronous=FULL``, and the answer is sent only after the commit. A crash between the commit
and the answer loses only the answer; the witness then refuses anything that does not extend
what it stored (the client learns the stored size from the 409 and sends a proof from it).

Directory layout::

    <dir>/witness.pem    the witness's Ed25519 key (PKCS#8 PEM), created on first start
    <dir>/witness.json   {"name": the cosigner name in its signature lines and vkey}
    <dir>/witness.db     the last cosigned checkpoint of each log
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from ledger.consortium import Membership
from ledger.cosignature import CosignerKey, cosign
from ledger.errors import ConfigurationError, UnknownLog
from ledger.keys import SigningKey
from ledger.witnessing import (
    EMPTY_TREE_ROOT,
    check_extends,
    check_log_signatures,
    parse_add_checkpoint,
)

#: Test-only: when set, the process kills itself with SIGKILL right after the durable write and
#: before answering, to show that a crash there never makes the witness cosign a fork.
CRASH_AFTER_STORE_ENV = "TRADELEDGER_WITNESS_CRASH_AFTER_STORE"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS witnessed (
    origin TEXT PRIMARY KEY,
    tree_size INTEGER NOT NULL,
    root_hash BLOB NOT NULL,
    checkpoint TEXT NOT NULL
)
"""


def _load_or_create_key(path: Path) -> SigningKey:
    if path.exists():
        return SigningKey.from_pem(path.read_bytes())
    key = SigningKey.generate()
    # Write the key beside its final name and rename: a crash never leaves half a key.
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.to_pem())
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return key


def _load_or_store_name(path: Path, requested: str | None, key: SigningKey) -> str:
    stored: str | None = None
    if path.exists():
        try:
            stored = str(json.loads(path.read_text())["name"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"cannot read the witness name from {path}") from exc
    if stored is not None and requested is not None and requested != stored:
        raise ConfigurationError(
            f"this witness is named {stored}; its name is part of its vkey and cannot change"
        )
    name = stored or requested or f"tradeledger-witness/{key.key_id[:8]}"
    CosignerKey(name, key.public_key)  # refuses names a signed note cannot carry
    if stored is None:
        path.write_text(json.dumps({"name": name}) + "\n")
    return name


class Witness:
    """The witness's state and its one operation, ``add-checkpoint``."""

    def __init__(
        self, directory: Path, logs: Mapping[str, Membership], name: str | None = None
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.key = _load_or_create_key(directory / "witness.pem")
        self.name = _load_or_store_name(directory / "witness.json", name, self.key)
        self.cosigner = CosignerKey(self.name, self.key.public_key)
        self.logs = dict(logs)
        self._db = sqlite3.connect(
            directory / "witness.db", isolation_level=None, check_same_thread=False
        )
        # FULL: a commit is on disk before it returns, so no answer outlives its record.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        # One request at a time: check-then-store must be atomic (tlog-witness's rollback race).
        self._lock = threading.Lock()

    @property
    def vkey(self) -> str:
        return self.cosigner.vkey()

    def close(self) -> None:
        self._db.close()

    def stored(self, origin: str) -> tuple[int, bytes, str | None]:
        """(size, root, cosigned text) last cosigned for ``origin``; (0, empty root) if none."""
        row = self._db.execute(
            "SELECT tree_size, root_hash, checkpoint FROM witnessed WHERE origin = ?", (origin,)
        ).fetchone()
        if row is None:
            return 0, EMPTY_TREE_ROOT, None
        return int(row[0]), bytes(row[1]), str(row[2])

    def add_checkpoint(self, body: bytes) -> str:
        """The cosignature line for the checkpoint in ``body``, once it is durably stored."""
        request = parse_add_checkpoint(body)
        checkpoint = request.checkpoint
        membership = self.logs.get(checkpoint.origin)
        if membership is None:
            raise UnknownLog(f"this witness does not witness {checkpoint.origin[:80]!r}")
        check_log_signatures(checkpoint, membership)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                size, root, _ = self.stored(checkpoint.origin)
                check_extends(request, size, root)
                line = cosign(checkpoint.body, self.name, self.key, max(1, int(time.time())))
                self._db.execute(
                    "INSERT INTO witnessed (origin, tree_size, root_hash, checkpoint) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET "
                    "tree_size = excluded.tree_size, root_hash = excluded.root_hash, "
                    "checkpoint = excluded.checkpoint",
                    (
                        checkpoint.origin,
                        checkpoint.tree_size,
                        checkpoint.root_hash,
                        request.note + line,
                    ),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if os.environ.get(CRASH_AFTER_STORE_ENV):
            os.kill(os.getpid(), signal.SIGKILL)
        return line

    def latest_checkpoint(self, origin_hash: str) -> str | None:
        """The cosigned checkpoint of the log whose origin's SHA-256 is ``origin_hash`` (hex)."""
        for origin in self.logs:
            if hashlib.sha256(origin.encode()).hexdigest() == origin_hash.lower():
                return self.stored(origin)[2]
        return None
