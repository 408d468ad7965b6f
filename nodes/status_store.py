"""The status map in a node's database (``docs/ledger-format.md`` §12), kept with the index.

The map itself is :class:`ledger.status_map.StatusMap`; this module stores its nodes and the
documents' state records, *by height*: a row is written at the height of the block that
changed it and never overwritten, so a proof can be made at any height a node answers for
(a consortium node answers at its last final block, which may be a block or two behind the
index). Two tables, written in the index's transaction for each block:

* ``node_status_nodes (position, height, node)``: a map node (32 bytes inner, 64 leaf) as of
  ``height``; ``position`` is the map's ``2**depth + prefix`` as big-endian bytes;
* ``node_status_states (document_id, height, state)``: the canonical state record.

Reading a node as of height ``h`` takes the row of the greatest height ``<= h``. The writer's
thread stages each block's update against the latest rows, through a cache of latest nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    text,
)
from sqlalchemy.engine import Engine

from ledger.status_map import (
    EMPTY,
    KEY_BITS,
    DocumentState,
    StagedUpdate,
    StatusMap,
    StatusProof,
    document_key,
)

metadata = MetaData()

status_nodes_table = Table(
    "node_status_nodes",
    metadata,
    Column("position", LargeBinary, primary_key=True),
    Column("height", Integer, primary_key=True),
    Column("node", LargeBinary, nullable=False),
)

status_states_table = Table(
    "node_status_states",
    metadata,
    Column("document_id", String, primary_key=True),
    Column("height", Integer, primary_key=True),
    Column("state", LargeBinary, nullable=False),
)

#: Path nodes fetched in one query for a proof (a million documents put leaves ~20 deep).
_PROOF_PREFETCH_DEPTH = 48


def position_bytes(position: int) -> bytes:
    return position.to_bytes((position.bit_length() + 7) // 8, "big")


def _chunks(items: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _NodesAt:
    """A read-only :class:`~ledger.status_map.NodeStore` of the map as of a height (None: the
    latest), over one connection; ``known`` holds nodes already fetched (None: empty)."""

    def __init__(
        self, conn: Any, height: int | None, known: dict[int, bytes | None] | None = None
    ) -> None:
        self.conn = conn
        self.height = height
        self.known: dict[int, bytes | None] = known if known is not None else {}

    def get(self, position: int) -> bytes | None:
        if position in self.known:
            return self.known[position]
        if self.height is None:
            value = self.conn.execute(
                text(
                    "SELECT node FROM node_status_nodes WHERE position = :p "
                    "ORDER BY height DESC LIMIT 1"
                ),
                {"p": position_bytes(position)},
            ).scalar()
        else:
            value = self.conn.execute(
                text(
                    "SELECT node FROM node_status_nodes WHERE position = :p AND height <= :h "
                    "ORDER BY height DESC LIMIT 1"
                ),
                {"p": position_bytes(position), "h": self.height},
            ).scalar()
        node = None if value is None else bytes(value)
        self.known[position] = node
        return node

    def put_many(self, nodes: Mapping[int, bytes]) -> None:  # pragma: no cover - read-only
        raise AssertionError("the map is written through StatusStore.write")

    def fetch_latest(self, positions: Iterable[int]) -> None:
        """Read the latest version of each position (None where there is none)."""
        wanted = sorted(set(positions) - self.known.keys())
        for chunk in _chunks(wanted):
            rows = self.conn.execute(
                text(
                    "SELECT position, node FROM node_status_nodes n WHERE position IN :ps "
                    "AND height = (SELECT MAX(height) FROM node_status_nodes m "
                    "WHERE m.position = n.position)"
                ).bindparams(bindparam("ps", expanding=True)),
                {"ps": [position_bytes(p) for p in chunk]},
            ).all()
            found = {int.from_bytes(bytes(p), "big"): bytes(n) for p, n in rows}
            for p in chunk:
                self.known[p] = found.get(p)

    def prefetch_path(self, key: bytes, depth: int) -> None:
        """Fetch the key's path and its siblings down to ``depth`` in one query."""
        key_int = int.from_bytes(key, "big")
        wanted: set[int] = set()
        for d in range(depth + 1):
            p = (1 << d) | (key_int >> (KEY_BITS - d)) if d else 1
            wanted.add(p)
            if d:
                wanted.add(p ^ 1)
        wanted -= self.known.keys()
        if not wanted:
            return
        bound = "" if self.height is None else "AND height <= :h"
        rows = self.conn.execute(
            text(
                "SELECT position, node FROM node_status_nodes n WHERE position IN :ps "
                "AND height = (SELECT MAX(height) FROM node_status_nodes m "
                f"WHERE m.position = n.position {bound})"
            ).bindparams(bindparam("ps", expanding=True)),
            {"ps": [position_bytes(p) for p in wanted], "h": self.height},
        ).all()
        found = {int.from_bytes(bytes(p), "big"): bytes(n) for p, n in rows}
        for p in wanted:
            self.known[p] = found.get(p)


class StatusStore:
    """The versioned status map of one node's index (see the module's docstring)."""

    CACHE_SIZE = 200_000

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._latest: dict[int, bytes | None] = {}

    def create_schema(self) -> None:
        metadata.create_all(self.engine)

    # -- the writer's side (one thread) ---------------------------------------------------

    def latest_states(self, conn: Any, ids: Iterable[str]) -> dict[str, DocumentState]:
        """The latest state record of each of ``ids`` the map holds."""
        found: dict[str, DocumentState] = {}
        for chunk in _chunks(sorted(set(ids))):
            rows = conn.execute(
                text(
                    "SELECT s.document_id, s.state FROM node_status_states s "
                    "WHERE s.document_id IN :ids AND s.height = (SELECT MAX(height) "
                    "FROM node_status_states t WHERE t.document_id = s.document_id)"
                ).bindparams(bindparam("ids", expanding=True)),
                {"ids": chunk},
            ).all()
            for doc_id, state in rows:
                found[doc_id] = DocumentState.from_bytes(bytes(state))
        return found

    def stage(self, conn: Any, states: Mapping[str, DocumentState]) -> StagedUpdate:
        """The map's root and changed nodes after ``states`` (nothing written)."""
        if len(self._latest) > self.CACHE_SIZE:
            self._latest.clear()
        # the cache holds latest nodes only: reads here fill it, writes update it once
        # committed, and only this (the writer's) thread stages and writes
        nodes = _NodesAt(conn, None, self._latest)
        keys = [document_key(d) for d in states]
        self._prefetch(nodes, keys)
        return StatusMap(nodes).stage_hashed(
            zip(keys, (s.state_hash() for s in states.values()), strict=True)
        )

    @staticmethod
    def _prefetch(nodes: _NodesAt, keys: list[bytes]) -> None:
        """Read the nodes the update of ``keys`` will ask for, level by level, a few queries
        for the whole block instead of one a node: each key's path (and siblings) through
        what is known, down to where its path ends (empty, or a leaf)."""
        known = nodes.known
        walks = {int.from_bytes(k, "big"): (1, 0) for k in keys}
        while walks:
            missing: set[int] = set()
            stopped: dict[int, tuple[int, int]] = {}
            for key, (position, depth) in walks.items():
                while depth < KEY_BITS:
                    if position not in known:
                        missing.add(position)
                        stopped[key] = (position, depth)
                        break
                    node = known[position]
                    if node is None or len(node) != 32:
                        break  # the path ends here
                    child = 2 * position + ((key >> (KEY_BITS - 1 - depth)) & 1)
                    if child ^ 1 not in known:
                        missing.add(child ^ 1)
                    position, depth = child, depth + 1
            nodes.fetch_latest(missing)
            walks = stopped

    def write(
        self,
        conn: Any,
        height: int,
        states: Mapping[str, DocumentState],
        staged: StagedUpdate,
    ) -> None:
        """Store a staged update as of ``height`` (in the caller's transaction): thousands of
        rows a block, so through the driver's executemany, not one statement object a row."""
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        if staged.nodes:
            conn.exec_driver_sql(
                f"INSERT INTO node_status_nodes (position, height, node) "
                f"VALUES ({mark}, {mark}, {mark})",
                [(position_bytes(p), height, n) for p, n in staged.nodes.items()],
            )
        if states:
            conn.exec_driver_sql(
                f"INSERT INTO node_status_states (document_id, height, state) "
                f"VALUES ({mark}, {mark}, {mark})",
                [(d, height, s.to_bytes()) for d, s in states.items()],
            )

    def committed(self, staged: StagedUpdate) -> None:
        """After the transaction that wrote ``staged`` committed: the cache follows."""
        self._latest.update(staged.nodes)

    def forget(self) -> None:
        self._latest.clear()

    # -- readers ----------------------------------------------------------------------------

    def root_at(self, height: int) -> bytes:
        with self.engine.connect() as conn:
            node = _NodesAt(conn, height).get(1)
        return StatusMap(_Fixed(node)).root

    def prove(self, document_id: str, height: int) -> tuple[DocumentState | None, StatusProof]:
        """The document's state record as of ``height`` (None if the map holds none) and the
        map proof of it (membership) or of its absence (non-membership)."""
        key = document_key(document_id)
        with self.engine.connect() as conn:
            value = conn.execute(
                text(
                    "SELECT state FROM node_status_states WHERE document_id = :d "
                    "AND height <= :h ORDER BY height DESC LIMIT 1"
                ),
                {"d": document_id, "h": height},
            ).scalar()
            nodes = _NodesAt(conn, height)
            nodes.prefetch_path(key, _PROOF_PREFETCH_DEPTH)
            proof = StatusMap(nodes).prove_key(key)
        state = None if value is None else DocumentState.from_bytes(bytes(value))
        return state, proof


class _Fixed:
    """A store holding only the root node (to hash it as the map does)."""

    def __init__(self, root: bytes | None) -> None:
        self.root = root

    def get(self, position: int) -> bytes | None:
        return self.root if position == 1 else None

    def put_many(self, nodes: Mapping[int, bytes]) -> None:  # pragma: no cover
        raise AssertionError("read-only")


__all__ = ["EMPTY", "StatusStore", "status_nodes_table", "status_states_table"]
