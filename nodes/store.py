"""The ledger store: SQLModel tables on SQLite (embedded default) or PostgreSQL (by URL).

Append-only by construction and by the database: no code path here updates or deletes a ledger
row, and triggers installed with the schema refuse UPDATE and DELETE on every ``ledger_*`` table.
A block and all its entries and tree nodes are written in one transaction with a durable commit
(SQLite: WAL with ``synchronous=FULL``), so a block is either wholly on disk or not at all.

Tree nodes: the hash of every complete Merkle subtree at level ≥ 1 is stored
(``ledger_tree_nodes``); level-0 hashes are the entries' own hashes. That is what makes an
inclusion or consistency proof a handful of look-ups at any log size (``docs/ledger-format.md`` §7).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Column, Index, LargeBinary, event, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import Field, SQLModel, create_engine

from ledger.chain import BlockSummary
from ledger.errors import ConfigurationError, DuplicateEntry, NotFound, StorageError
from ledger.merkle import consistency_proof, inclusion_proof

#: Blocks fetched per query when streaming: enough to amortise the round trip, few enough that
#: replay's memory does not depend on the chain's length (about 1 MB per 500-entry block).
BLOCKS_PER_READ = 4

LEDGER_TABLES = (
    "ledger_meta",
    "ledger_blocks",
    "ledger_entries",
    "ledger_tree_nodes",
    "ledger_checkpoint_signatures",
)


class LedgerMeta(SQLModel, table=True):
    __tablename__ = "ledger_meta"
    key: str = Field(primary_key=True)
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class BlockRow(SQLModel, table=True):
    __tablename__ = "ledger_blocks"
    height: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    block_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    header: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    checkpoint: str
    first_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    entry_count: int


class EntryRow(SQLModel, table=True):
    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_subject", "subject"),)
    # Leaf index in the log; BIGINT because PostgreSQL's INTEGER stops at 2**31.
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    height: int = Field(sa_column=Column(BigInteger, nullable=False))
    entry_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    payload: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    type: str
    subject: str | None = None


class TreeNodeRow(SQLModel, table=True):
    __tablename__ = "ledger_tree_nodes"
    level: int = Field(primary_key=True)
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CheckpointSignatureRow(SQLModel, table=True):
    __tablename__ = "ledger_checkpoint_signatures"
    height: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    name: str = Field(primary_key=True)
    line: str


class BlockOrderRow(SQLModel, table=True):
    """Node metadata, not ledger data: the ordering service's revision of the cut that made
    each block (consortium nodes only), where reading the order resumes after a restart."""

    __tablename__ = "node_block_order"
    height: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    revision: int = Field(sa_column=Column(BigInteger, nullable=False))


class EvidenceRow(SQLModel, table=True):
    """Two different headers signed by members for one height: kept for the auditors."""

    __tablename__ = "node_evidence"
    id: int | None = Field(default=None, primary_key=True)
    height: int = Field(sa_column=Column(BigInteger, nullable=False))
    signer: str
    ours: str
    theirs: str
    seen: str


class SkippedEntryRow(SQLModel, table=True):
    """An entry the order held that failed the chain's rules when its block was cut, and was
    left out by every honest node (consortium nodes): kept so that whoever was told it was
    acknowledged can learn why it is not on the ledger."""

    __tablename__ = "node_skipped_entries"
    entry_hash: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    reason: str
    detail: str
    seen: str


@dataclass(frozen=True)
class RawBlock:
    """A block as stored: what replay and the API hand on, verifiable from its bytes."""

    height: int
    header: bytes
    checkpoint: str
    entries: list[tuple[bytes, bytes | None]]


@dataclass(frozen=True)
class StoredEntry:
    idx: int
    height: int
    entry_hash: bytes
    envelope: bytes
    payload: bytes | None
    type: str
    subject: str | None


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class LedgerStore:
    """One database holding one ledger. Thread-safe for one writer and many readers."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        try:
            if self.is_sqlite:
                # A node serves requests from a few dozen threads; a pool that small would open
                # and close a connection (and run its pragmas) for most reads.
                self.engine: Engine = create_engine(
                    url,
                    echo=echo,
                    connect_args={"check_same_thread": False, "timeout": 30},
                    pool_size=32,
                    max_overflow=32,
                )
                event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                self.engine = create_engine(url, echo=echo, pool_pre_ping=True)
        except Exception as exc:  # a malformed URL or a missing driver
            raise ConfigurationError(f"cannot open database {url!r}: {exc}") from exc

    # -- schema --------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create tables and the append-only triggers (idempotent)."""
        try:
            SQLModel.metadata.create_all(
                self.engine,
                tables=[
                    *_ledger_tables(),
                    BlockOrderRow.__table__,  # type: ignore[list-item]
                    EvidenceRow.__table__,  # type: ignore[list-item]
                    SkippedEntryRow.__table__,  # type: ignore[list-item]
                ],
            )
            with self.engine.begin() as conn:
                for statement in _sqlite_triggers() if self.is_sqlite else _postgres_triggers():
                    conn.execute(text(statement))
        except (OperationalError, ProgrammingError) as exc:
            raise StorageError(f"cannot create the ledger schema: {exc.orig}") from exc

    def drop_append_only_triggers(self) -> None:
        """Only for tests that play an attacker with direct database access."""
        with self.engine.begin() as conn:
            for table in LEDGER_TABLES:
                for op in ("update", "delete", "truncate"):
                    name = f"{table}_no_{op}"
                    if self.is_sqlite:
                        conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
                    else:
                        conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))

    # -- consortium ----------------------------------------------------------------------

    def save_consortium(self, data: bytes) -> None:
        with self.engine.begin() as conn:
            existing = conn.execute(
                select(LedgerMeta.value).where(LedgerMeta.key == "consortium")  # type: ignore[arg-type]
            ).scalar()
            if existing is None:
                conn.execute(LedgerMeta.__table__.insert(), {"key": "consortium", "value": data})
            elif existing != data:
                raise ConfigurationError("this database already holds another consortium")

    def load_consortium(self) -> bytes | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(LedgerMeta.value).where(LedgerMeta.key == "consortium")  # type: ignore[arg-type]
            ).scalar()
        return None if value is None else bytes(value)

    # -- writing -------------------------------------------------------------------------

    def append_block(
        self,
        summary: BlockSummary,
        header: bytes,
        checkpoint: str,
        *,
        order_revision: int | None = None,
    ) -> None:
        """Write a verified block, its entries and its new tree nodes in one transaction
        (with, in a consortium, the ordering service's revision of the cut that made it: where
        this node resumes reading the order after a restart)."""
        h = summary.header
        entry_rows = [
            {
                "idx": h.first_index + i,
                "height": h.height,
                "entry_hash": e.entry_hash,
                "envelope": e.envelope,
                "payload": e.payload,
                "type": e.type,
                "subject": e.subject,
            }
            for i, e in enumerate(summary.entries)
        ]
        node_rows = [
            {"level": lvl, "idx": idx, "hash": hsh}
            for lvl, idx, hsh in summary.new_nodes
            if lvl > 0
        ]
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    BlockRow.__table__.insert(),
                    {
                        "height": h.height,
                        "block_hash": summary.block_hash,
                        "header": header,
                        "checkpoint": checkpoint,
                        "first_index": h.first_index,
                        "entry_count": h.entry_count,
                    },
                )
                conn.execute(EntryRow.__table__.insert(), entry_rows)
                if node_rows:
                    conn.execute(TreeNodeRow.__table__.insert(), node_rows)
                if order_revision is not None:
                    conn.execute(
                        BlockOrderRow.__table__.insert(),
                        {"height": h.height, "revision": order_revision},
                    )
        except SAIntegrityError as exc:
            raise DuplicateEntry(
                f"block {h.height} conflicts with stored data: {exc.orig}"
            ) from exc
        except OperationalError as exc:
            raise StorageError(f"could not write block {h.height}: {exc.orig}") from exc

    def add_cosignature(self, height: int, name: str, line: str) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    CheckpointSignatureRow.__table__.insert(),
                    {"height": height, "name": name, "line": line},
                )
        except SAIntegrityError:
            return  # the same member cosigned twice: keep the first, nothing to add

    def add_evidence(self, height: int, signer: str, ours: str, theirs: str, seen: str) -> bool:
        """Keep a conflicting signed header (once); True if it was new."""
        with self.engine.begin() as conn:
            exists = conn.execute(
                text(
                    "SELECT 1 FROM node_evidence WHERE height = :h AND signer = :s AND theirs = :t"
                ),
                {"h": height, "s": signer, "t": theirs},
            ).first()
            if exists:
                return False
            conn.execute(
                EvidenceRow.__table__.insert(),
                {"height": height, "signer": signer, "ours": ours, "theirs": theirs, "seen": seen},
            )
        return True

    def evidence(self) -> list[dict[str, Any]]:
        """The conflicting signed headers kept (none in a store from before consortia)."""
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT height, signer, ours, theirs, seen FROM node_evidence ORDER BY id")
                ).all()
        except (OperationalError, ProgrammingError):
            return []
        return [
            {"height": int(r[0]), "signer": r[1], "ours": r[2], "theirs": r[3], "seen": r[4]}
            for r in rows
        ]

    def add_skipped(self, rows: list[tuple[bytes, str, str]], seen: str) -> None:
        """Record entries left out of a block: (entry hash, error code, detail)."""
        if not rows:
            return
        with self.engine.begin() as conn:
            for entry_hash, reason, detail in rows:
                exists = conn.execute(
                    text("SELECT 1 FROM node_skipped_entries WHERE entry_hash = :h"),
                    {"h": entry_hash},
                ).first()
                if exists is None:
                    conn.execute(
                        SkippedEntryRow.__table__.insert(),  # type: ignore[attr-defined]
                        {
                            "entry_hash": entry_hash,
                            "reason": reason,
                            "detail": detail,
                            "seen": seen,
                        },
                    )

    def skipped(self, entry_hash: bytes) -> tuple[str, str] | None:
        """(reason, detail) if the entry was left out of the ledger, else None."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    text("SELECT reason, detail FROM node_skipped_entries WHERE entry_hash = :h"),
                    {"h": entry_hash},
                ).first()
        except (OperationalError, ProgrammingError):
            return None
        return None if row is None else (str(row[0]), str(row[1]))

    def order_revision(self, height: int) -> int | None:
        """The ordering revision of the cut that made block ``height`` (None: not recorded)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                text("SELECT revision FROM node_block_order WHERE height = :h"), {"h": height}
            ).scalar()
        return None if value is None else int(value)

    # -- reading -------------------------------------------------------------------------

    def head(self) -> tuple[int, int]:
        """(height, tree size) of the last block; (0, 0) for an empty ledger."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(BlockRow.height, BlockRow.first_index, BlockRow.entry_count)
                .order_by(BlockRow.height.desc())  # type: ignore[attr-defined]
                .limit(1)
            ).first()
        if row is None:
            return 0, 0
        return int(row[0]), int(row[1] + row[2])

    def block(self, height: int) -> RawBlock:
        for raw in self.iter_blocks(height, height):
            return raw
        raise NotFound(f"there is no block at height {height}")

    def iter_blocks(self, start: int = 1, stop: int | None = None) -> Iterator[RawBlock]:
        """Blocks ``start..stop`` in order, one at a time (memory flat in chain length)."""
        height = start
        while stop is None or height <= stop:
            query = (
                select(
                    BlockRow.height,
                    BlockRow.header,
                    BlockRow.checkpoint,
                    BlockRow.first_index,
                    BlockRow.entry_count,
                )
                .where(BlockRow.height >= height)  # type: ignore[arg-type]
                .order_by(BlockRow.height)  # type: ignore[arg-type]
                .limit(BLOCKS_PER_READ)
            )
            if stop is not None:
                query = query.where(BlockRow.height <= stop)  # type: ignore[arg-type]
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
                if not rows:
                    return
                first = rows[0][3]
                last = rows[-1][3] + rows[-1][4]
                entries = conn.execute(
                    select(EntryRow.idx, EntryRow.envelope, EntryRow.payload)
                    .where(EntryRow.idx >= first)  # type: ignore[arg-type]
                    .where(EntryRow.idx < last)  # type: ignore[arg-type]
                    .order_by(EntryRow.idx)  # type: ignore[arg-type]
                ).all()
                cosigs = conn.execute(
                    select(CheckpointSignatureRow.height, CheckpointSignatureRow.line)
                    .where(CheckpointSignatureRow.height >= rows[0][0])  # type: ignore[arg-type]
                    .where(CheckpointSignatureRow.height <= rows[-1][0])  # type: ignore[arg-type]
                    .order_by(CheckpointSignatureRow.height, CheckpointSignatureRow.name)  # type: ignore[arg-type]
                ).all()
            by_height: dict[int, list[str]] = {}
            for h, line in cosigs:
                by_height.setdefault(int(h), []).append(line)
            rest = iter(entries)
            pending = next(rest, None)
            for h, header, checkpoint, fi, count in rows:
                # Rows arrive in index order; a missing one shows up as a short block, which
                # replay reports as a count mismatch at that height.
                block_entries: list[tuple[bytes, bytes | None]] = []
                while pending is not None and int(pending[0]) < fi + count:
                    if int(pending[0]) >= fi:
                        env, pl = pending[1], pending[2]
                        block_entries.append((bytes(env), None if pl is None else bytes(pl)))
                    pending = next(rest, None)
                yield RawBlock(
                    int(h),
                    bytes(header),
                    checkpoint + "".join(by_height.get(int(h), [])),
                    block_entries,
                )
                if int(h) != height:
                    return  # a missing height: stop, replay reports the gap
                height += 1

    def entry_by_hash(self, entry_hash: bytes) -> StoredEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_ENTRY_COLUMNS).where(EntryRow.entry_hash == entry_hash)  # type: ignore[arg-type]
            ).first()
        return None if row is None else _stored(row)

    def entries_by_subject(self, subject: str) -> list[StoredEntry]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*_ENTRY_COLUMNS)
                .where(EntryRow.subject == subject)  # type: ignore[arg-type]
                .order_by(EntryRow.idx)  # type: ignore[arg-type]
            ).all()
        return [_stored(r) for r in rows]

    def entries_of_type(self, entry_type: str) -> list[StoredEntry]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*_ENTRY_COLUMNS)
                .where(EntryRow.type == entry_type)  # type: ignore[arg-type]
                .order_by(EntryRow.idx)  # type: ignore[arg-type]
            ).all()
        return [_stored(r) for r in rows]

    def contains_entry(self, entry_hash: bytes) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(EntryRow.idx).where(EntryRow.entry_hash == entry_hash)  # type: ignore[arg-type]
                ).first()
                is not None
            )

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree (level, index) — the SubtreeHashes protocol."""
        with self.engine.connect() as conn:
            if level == 0:
                value = conn.execute(
                    select(EntryRow.entry_hash).where(EntryRow.idx == index)  # type: ignore[arg-type]
                ).scalar()
            else:
                value = conn.execute(
                    select(TreeNodeRow.hash)
                    .where(TreeNodeRow.level == level)  # type: ignore[arg-type]
                    .where(TreeNodeRow.idx == index)  # type: ignore[arg-type]
                ).scalar()
        if value is None:
            raise KeyError((level, index))
        return bytes(value)

    def subtree_hashes(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Many complete-subtree hashes in one round trip (what a proof needs, all at once)."""
        wanted = sorted(set(keys))
        leaves = [i for level, i in wanted if level == 0]
        nodes = [(level, i) for level, i in wanted if level > 0]
        found: dict[tuple[int, int], bytes] = {}
        # Driver-level SQL: proofs are on the API's hot path and the ORM's statement
        # compilation would cost more than the look-up itself. All values are ints.
        with self.engine.connect() as conn:
            if leaves:
                listed = ",".join(str(int(i)) for i in leaves)
                rows = conn.exec_driver_sql(
                    f"SELECT idx, entry_hash FROM ledger_entries WHERE idx IN ({listed})"
                )
                found.update({(0, int(i)): bytes(h) for i, h in rows})
            if nodes:
                condition = " OR ".join(
                    f"(level = {int(level)} AND idx = {int(i)})" for level, i in nodes
                )
                rows = conn.exec_driver_sql(
                    f"SELECT level, idx, hash FROM ledger_tree_nodes WHERE {condition}"
                )
                found.update({(int(lv), int(i)): bytes(h) for lv, i, h in rows})
        return found

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """RFC 9162 inclusion proof from stored subtree hashes, in one database round trip."""
        return _prefetched(self, lambda source: inclusion_proof(source, index, tree_size))

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 consistency proof from stored subtree hashes, in one database round trip."""
        return _prefetched(self, lambda source: consistency_proof(source, first, second))

    def stored_bytes(self) -> int:
        """Bytes the database files take (SQLite) or the ledger tables take (PostgreSQL)."""
        if self.is_sqlite:
            path = Path(self.url.removeprefix("sqlite:///"))
            return sum(
                p.stat().st_size
                for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
                if p.exists()
            )
        with self.engine.connect() as conn:
            total = 0
            for table in LEDGER_TABLES:
                total += int(
                    conn.execute(text(f"SELECT pg_total_relation_size('{table}')")).scalar() or 0
                )
            return total

    def dispose(self) -> None:
        self.engine.dispose()


class StoreKnownEntries:
    """``KnownEntries`` over the store, for a node whose log may not fit in memory.

    Looks up the unique index on ``entry_hash`` through one raw DB-API connection: the append
    path asks this for every entry and every reference, and an ORM round trip per question
    would cost more than the signature check.
    """

    def __init__(self, store: LedgerStore) -> None:
        self.store = store
        self.recent: set[bytes] = set()
        self._lock = threading.Lock()
        self._conn: Any = None
        mark = "?" if store.is_sqlite else "%s"
        self._query = f"SELECT 1 FROM ledger_entries WHERE entry_hash = {mark}"

    def __contains__(self, entry_hash: object) -> bool:
        if not isinstance(entry_hash, bytes):
            return False
        if entry_hash in self.recent:
            return True
        with self._lock:
            if self._conn is None:
                self._conn = self.store.engine.raw_connection()
            cursor = self._conn.cursor()
            try:
                cursor.execute(self._query, (entry_hash,))
                found = cursor.fetchone() is not None
            finally:
                cursor.close()
            if not self.store.is_sqlite:
                self._conn.rollback()  # end the read transaction; see later blocks next time
            return found

    def add(self, entry_hash: bytes) -> None:
        # Kept only until the block is on disk, where the database answers for it.
        self.recent.add(entry_hash)
        if len(self.recent) > 100_000:
            self.recent.clear()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class _RecordingSource:
    """Answers any subtree look-up with a placeholder and remembers which were asked for.

    Which subtrees a proof needs depends only on the index and the sizes, never on the hash
    values, so one dry run tells the store everything to fetch in a single query.
    """

    def __init__(self) -> None:
        self.keys: list[tuple[int, int]] = []

    def subtree_hash(self, level: int, index: int) -> bytes:
        self.keys.append((level, index))
        return bytes(32)


class _DictSource:
    def __init__(self, hashes: dict[tuple[int, int], bytes]) -> None:
        self.hashes = hashes

    def subtree_hash(self, level: int, index: int) -> bytes:
        return self.hashes[(level, index)]


def _prefetched(store: LedgerStore, make: Any) -> list[bytes]:
    recorder = _RecordingSource()
    make(recorder)
    proof: list[bytes] = make(_DictSource(store.subtree_hashes(recorder.keys)))
    return proof


# Explicit columns: on a Core connection ``select(EntryRow)`` yields plain column rows, not
# model objects, so name what is read and in which order.
_ENTRY_COLUMNS = (
    EntryRow.idx,
    EntryRow.height,
    EntryRow.entry_hash,
    EntryRow.envelope,
    EntryRow.payload,
    EntryRow.type,
    EntryRow.subject,
)


def _stored(row: Any) -> StoredEntry:
    idx, height, entry_hash, envelope, payload, entry_type, subject = row
    return StoredEntry(
        int(idx),
        int(height),
        bytes(entry_hash),
        bytes(envelope),
        None if payload is None else bytes(payload),
        entry_type,
        subject,
    )


def _ledger_tables() -> Sequence[Any]:
    return [SQLModel.metadata.tables[name] for name in LEDGER_TABLES]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_triggers() -> list[str]:
    statements = []
    for table in LEDGER_TABLES:
        for op in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
    return statements


def _postgres_triggers() -> list[str]:
    statements = [
        "CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql"
    ]
    for table in LEDGER_TABLES:
        for op in ("UPDATE", "DELETE", "TRUNCATE"):
            name = f"{table}_no_{op.lower()}"
            statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            statements.append(
                f"CREATE TRIGGER {name} BEFORE {op} ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
            )
    return statements
