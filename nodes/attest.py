"""Store attestation: every stored byte a node reads or serves, compared with the verified chain.

``audit replay`` folds the chain through :class:`ledger.chain.ChainState`, which checks what is
hashed or signed (envelopes, payloads, headers, checkpoints). A node also reads columns that
are only *copies* or *consequences* of those bytes: an entry's ``entry_hash``, ``type``,
``subject`` and ``height``; a block's ``block_hash``, ``first_index`` and ``entry_count``; the
stored subtree hashes its proofs are made of; the witness lines it serves beside a checkpoint;
its copy of the genesis; and the document index behind ``/verify`` and provenance. Someone who
can write the database can change any of them without touching a signed byte, so
:class:`StoreAttestation` recomputes each from the verified chain and compares, row by row:

* blocks, entries and tree nodes chunk by chunk as replay goes (memory flat in chain length),
  then a count of each table, so that a row no block accounts for is found too;
* checkpoint signature lines: each must be a member's signature on the block's checkpoint body
  (the fold has verified those) or a valid cosignature by a witness the auditor trusts;
* the index: rebuilt from the verified chain by :class:`nodes.index.DocumentIndex` itself (the
  node's own indexing code, into a scratch database) and compared row by row. The rebuild runs
  in a process of its own, fed the verified blocks in batches, beside the fold rather than on
  its thread; replay's workers compute the document digests it asks for.

The first difference raises :class:`~ledger.errors.StoreInconsistent` naming the table, the
row's key, the column and the height; replay reports it as its first failure.
"""

from __future__ import annotations

import contextlib
import copy
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine

from ledger.blocks import Checkpoint
from ledger.chain import BlockSummary
from ledger.consortium import Consortium, Membership
from ledger.cosignature import CosignerKey, parse_signature_line, verify_cosignature_line
from ledger.entries import Entry
from ledger.errors import EncodingError, IntegrityError, StoreInconsistent, TradeLedgerError
from nodes.store import LedgerStore, RawBlock

#: Entries compared per round of queries (a few blocks): big enough to amortise the queries.
CHUNK_ENTRIES = 2048
#: Index rows compared per query.
INDEX_CHUNK = 500
#: Columns of a document's index row read from its payload's plaintext. Where the payload is
#: sealed and the audit holds no key to open it (``DocumentIndex.blind_documents``), the
#: rebuilt row cannot know them: they are not compared (the node that could open it indexed
#: them; every other column comes from signed envelopes and is compared).
PLAINTEXT_COLUMNS = frozenset(
    {"exporting_country", "importing_country", "valid_until", "document_digest", "parties"}
)


def mismatch(
    table: str, key: str, value: object, column: str | None, height: int | None, what: str
) -> StoreInconsistent:
    """The error for one stored cell (or row) that is not what the verified chain says."""
    where = f"{table} row {key}={value}" + (f", column {column}" if column else "")
    at = f" (height {height})" if height is not None else ""
    return StoreInconsistent(
        f"{where}{at}: {what}",
        height=height,
        table=table,
        row={key: value},
        column=column,
    )


class StoreAttestation:
    """Compares a store's rows with what replay verified; use begin, block (each), finish."""

    def __init__(
        self,
        store: LedgerStore,
        consortium: Consortium,
        genesis: bytes,
        *,
        witnesses: Sequence[CosignerKey] = (),
    ) -> None:
        self.store = store
        self.consortium = consortium
        self.genesis = genesis
        self.witnesses = list(witnesses)
        self._blocks: list[tuple[BlockSummary, Membership]] = []
        self._entries = 0
        self._index: _IndexFeed | None = None
        self._indexed_height = 0

    # -- the three steps -------------------------------------------------------------------

    def begin(self) -> None:
        """Check the store's own copy of the genesis, and set up the scratch index."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(text("SELECT key, value FROM ledger_meta ORDER BY key")).all()
            tables = set(inspect(conn).get_table_names())
        stored = {str(k): bytes(v) for k, v in rows}
        for key in stored:
            if key != "consortium":
                raise mismatch("ledger_meta", "key", key, None, None, "a row the node never writes")
        if stored.get("consortium") != self.genesis:
            raise mismatch(
                "ledger_meta",
                "key",
                "consortium",
                "value",
                0,
                "the store's copy of the genesis is not the consortium file trusted here"
                if "consortium" in stored
                else "the store's copy of the genesis is missing",
            )
        if "node_documents" in tables:
            with self.store.engine.connect() as conn:
                value = conn.execute(
                    text("SELECT value FROM node_meta WHERE key = 'indexed_height'")
                ).scalar()
            try:
                self._indexed_height = int(value) if value is not None else 0
            except ValueError:
                raise mismatch(
                    "node_meta", "key", "indexed_height", "value", None, f"{value!r} is no height"
                ) from None
            self._index = _IndexFeed(self.store.url)

    @property
    def wants_document_digests(self) -> bool:
        """Whether :meth:`block` can use document digests computed ahead (an index to check)."""
        return self._index is not None

    def block(
        self,
        raw: RawBlock,
        summary: BlockSummary,
        before: Membership,
        after: Membership,
        *,
        digests: Mapping[bytes, str | None] | None = None,
    ) -> None:
        """Take in one verified block (``raw``: its stored bytes, which the fold verified),
        with the membership in force when it began and after it. ``digests`` may hold the
        document digests of some of its entries (by entry hash), computed elsewhere with
        :func:`nodes.documents_bridge.document_digest`; the index computes the others."""
        self._blocks.append((summary, before))
        self._entries += len(summary.entries)
        if self._index is not None and summary.header.height <= self._indexed_height:
            # a replay worker may hand back entries without their bytes; the index reads them
            items: list[IndexItem] = [
                (e, None, None) if e.payload is not None or pl is None else (e, env, pl)
                for e, (env, pl) in zip(summary.entries, raw.entries, strict=True)
            ]
            h = summary.header
            self._index.add(
                h.height, h.first_index, items, after, digests or {}, bytes.fromhex(h.status_root)
            )
        if self._entries >= CHUNK_ENTRIES:
            self._flush()

    def finish(self, height: int, tree_size: int) -> None:
        """After the last verified block: compare what is left, then look for extra rows."""
        self._flush()
        self._extra_rows(height, tree_size)
        if self._index is not None:
            try:
                if self._indexed_height > height:
                    raise mismatch(
                        "node_meta",
                        "key",
                        "indexed_height",
                        "value",
                        self._indexed_height,
                        f"the index says it has indexed up to height {self._indexed_height}, "
                        f"the chain ends at {height}",
                    )
                self._index.compare(self.store)
            finally:
                self._index.close()
                self._index = None

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    # -- blocks, entries, tree nodes, signature lines --------------------------------------

    def _flush(self) -> None:
        if not self._blocks:
            return
        blocks, self._blocks, self._entries = self._blocks, [], 0
        first_height = blocks[0][0].header.height
        last_height = blocks[-1][0].header.height
        first = blocks[0][0].header.first_index
        end = blocks[-1][0].header.tree_size
        with self.store.engine.connect() as conn:
            block_rows = {
                int(r[0]): r
                for r in conn.execute(
                    text(
                        "SELECT height, block_hash, first_index, entry_count, checkpoint "
                        "FROM ledger_blocks WHERE height >= :a AND height <= :b"
                    ),
                    {"a": first_height, "b": last_height},
                )
            }
            entry_rows = iter(
                conn.execute(
                    text(
                        "SELECT idx, height, entry_hash, type, subject, payload IS NULL "
                        "FROM ledger_entries WHERE idx >= :a AND idx < :b ORDER BY idx"
                    ),
                    {"a": first, "b": end},
                ).all()
            )
            node_rows = _stored_nodes(conn, first, end)
            signature_rows = conn.execute(
                text(
                    "SELECT height, name, line FROM ledger_checkpoint_signatures "
                    "WHERE height >= :a AND height <= :b ORDER BY height, name"
                ),
                {"a": first_height, "b": last_height},
            ).all()
        lines: dict[int, list[tuple[str, str]]] = {}
        for h, name, line in signature_rows:
            lines.setdefault(int(h), []).append((str(name), str(line)))
        for summary, membership in blocks:
            height = summary.header.height
            self._check_block(summary, block_rows.get(height), membership)
            self._check_entries(summary, entry_rows)
            self._check_lines(summary, lines.get(height, []), membership)
        expected = {
            (level, idx): hsh for s, _ in blocks for level, idx, hsh in s.new_nodes if level > 0
        }
        heights = _height_of_leaf(blocks)
        for key, hsh in expected.items():
            stored = node_rows.pop(key, None)
            if stored != hsh:
                level, idx = key
                raise mismatch(
                    "ledger_tree_nodes",
                    "level,idx",
                    f"{level},{idx}",
                    "hash",
                    heights(((idx + 1) << level) - 1),
                    "missing"
                    if stored is None
                    else f"stored {stored.hex()}, the verified tree has {hsh.hex()}",
                )
        for level, idx in sorted(node_rows):  # a row in this range that no subtree accounts for
            raise mismatch(
                "ledger_tree_nodes",
                "level,idx",
                f"{level},{idx}",
                None,
                last_height,
                "a row that is no complete subtree of the verified tree",
            )

    def _check_block(self, summary: BlockSummary, row: Any, membership: Membership) -> None:
        h = summary.header
        if row is None:  # the fold read it a moment ago: only a concurrent change gets here
            raise mismatch("ledger_blocks", "height", h.height, None, h.height, "missing")
        expected = {
            "block_hash": summary.block_hash,
            "first_index": h.first_index,
            "entry_count": h.entry_count,
        }
        stored = {
            "block_hash": bytes(row[1]),
            "first_index": int(row[2]),
            "entry_count": int(row[3]),
        }
        for column, value in expected.items():
            if stored[column] != value:
                raise mismatch(
                    "ledger_blocks",
                    "height",
                    h.height,
                    column,
                    h.height,
                    f"stored {_show(stored[column])}, the verified block has {_show(value)}",
                )
        # The fold ignores signature lines by keys it does not know; the node serves them all.
        try:
            stored_cp = Checkpoint.from_text(str(row[4]))
        except (EncodingError, ValueError) as exc:
            raise mismatch(
                "ledger_blocks", "height", h.height, "checkpoint", h.height, str(exc)
            ) from exc
        for sig in stored_cp.signatures:
            if not Checkpoint(stored_cp.body, (sig,)).verified_signers(membership):
                raise mismatch(
                    "ledger_blocks",
                    "height",
                    h.height,
                    "checkpoint",
                    h.height,
                    f"the signature line by {sig.name!r} is by no member's key",
                )

    def _check_entries(self, summary: BlockSummary, rows: Iterator[Any]) -> None:
        h = summary.header
        for i, entry in enumerate(summary.entries):
            idx = h.first_index + i
            row = next(rows, None)
            if row is None or int(row[0]) != idx:  # the fold read it: only a concurrent change
                raise mismatch("ledger_entries", "idx", idx, None, h.height, "missing")
            stored = {
                "height": int(row[1]),
                "entry_hash": bytes(row[2]),
                "type": row[3],
                "subject": row[4],
                "payload": "NULL" if row[5] else "present",
            }
            expected = {
                "height": h.height,
                "entry_hash": entry.entry_hash,
                "type": entry.type,
                "subject": entry.subject,
                # a node stores every payload it accepts (a submission without one is refused)
                "payload": "present",
            }
            for column, value in expected.items():
                if stored[column] != value:
                    raise mismatch(
                        "ledger_entries",
                        "idx",
                        idx,
                        column,
                        h.height,
                        f"stored {_show(stored[column])}, the verified entry has {_show(value)}",
                    )

    def _check_lines(
        self, summary: BlockSummary, lines: list[tuple[str, str]], membership: Membership
    ) -> None:
        """Each stored line must be one signature line on this block's checkpoint: a member's
        (the fold verified it) or a valid cosignature by a witness trusted here."""
        height = summary.header.height
        body = summary.checkpoint.body
        for name, line in lines:
            row = f"{height},{name}"
            parsed = parse_signature_line(line)
            if parsed is None or not line.endswith("\n") or line.count("\n") != 1:
                raise mismatch(
                    "ledger_checkpoint_signatures",
                    "height,name",
                    row,
                    "line",
                    height,
                    "not one signature line",
                )
            if parsed[0] != name:
                raise mismatch(
                    "ledger_checkpoint_signatures",
                    "height,name",
                    row,
                    "name",
                    height,
                    f"the line is signed by {parsed[0]!r}",
                )
            if _member_line(body, line, membership):
                continue
            if any(
                verify_cosignature_line(body, line, w.name, w.public_key) is not None
                for w in self.witnesses
            ):
                continue
            raise mismatch(
                "ledger_checkpoint_signatures",
                "height,name",
                row,
                "line",
                height,
                "no valid signature on the block's checkpoint by a member or a trusted witness "
                "(name the witnesses you trust with --witness)",
            )

    def _extra_rows(self, height: int, tree_size: int) -> None:
        """Rows beyond the verified head, or outside any block's range."""
        checks = [
            (
                "ledger_blocks",
                "height",
                "SELECT height, height FROM ledger_blocks WHERE height < 1 OR height > :h",
            ),
            (
                "ledger_entries",
                "idx",
                "SELECT idx, height FROM ledger_entries WHERE idx < 0 OR idx >= :n",
            ),
            (
                "ledger_tree_nodes",
                "level,idx",
                "SELECT level || ',' || idx, NULL FROM ledger_tree_nodes "
                "WHERE level < 1 OR level > 62 OR idx < 0 OR idx >= (:n >> level)",
            ),
            (
                "ledger_checkpoint_signatures",
                "height,name",
                "SELECT height || ',' || name, height FROM ledger_checkpoint_signatures "
                "WHERE height < 1 OR height > :h",
            ),
        ]
        with self.store.engine.connect() as conn:
            for table, key, query in checks:
                row = conn.execute(text(query + " LIMIT 1"), {"h": height, "n": tree_size}).first()
                if row is not None:
                    raise mismatch(
                        table,
                        key,
                        row[0],
                        None,
                        None if row[1] is None else int(row[1]),
                        f"a row beyond the verified chain (height {height}, {tree_size} entries)",
                    )


def _member_line(body: str, line: str, membership: Membership) -> bool:
    """Whether ``line`` is a valid signature on ``body`` by a key of ``membership``."""
    try:
        return bool(Checkpoint.from_text(body + "\n" + line).verified_signers(membership))
    except (TradeLedgerError, ValueError):
        return False


def _stored_nodes(conn: Any, first: int, end: int) -> dict[tuple[int, int], bytes]:
    """Stored subtree hashes completed by leaves ``first..end-1``: at level L, indices
    ``first >> L`` to ``(end >> L) - 1``."""
    ranges = []
    level = 1
    while (end >> level) > (first >> level):
        ranges.append(f"(level = {level} AND idx >= {first >> level} AND idx < {end >> level})")
        level += 1
    if not ranges:
        return {}
    rows = conn.execute(
        text(f"SELECT level, idx, hash FROM ledger_tree_nodes WHERE {' OR '.join(ranges)}")
    )
    return {(int(lv), int(i)): bytes(h) for lv, i, h in rows}


def _height_of_leaf(blocks: list[tuple[BlockSummary, Membership]]) -> Any:
    def height(leaf: int) -> int:
        for summary, _ in blocks:
            if leaf < summary.header.tree_size:
                return summary.header.height
        return blocks[-1][0].header.height

    return height


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return value.hex()
    return repr(value)


#: One block's entries for the scratch index: a verified entry, and the envelope and payload
#: to put back into it when a replay worker sent it back without them (else ``None``).
IndexItem = tuple[Entry, bytes | None, bytes | None]
#: Entries sent to the index process per message.
INDEX_SEND_ENTRIES = 1024


class _IndexFeed:
    """Feeds verified blocks to the scratch index rebuild, which runs in a process of its own.

    The rebuild (the node's indexing rules, document digests, SQL per block) costs several
    times what the fold does per entry, so it runs beside the fold rather than on its thread;
    blocks go over a pipe in batches of about :data:`INDEX_SEND_ENTRIES` entries, and the
    comparison with the stored index runs there too, once the last block is in. A store the
    process cannot open by its URL (an in-memory database) is indexed in this process."""

    def __init__(self, store_url: str) -> None:
        import multiprocessing

        self._inline: _ScratchIndex | None = None
        self._batch: list[tuple[int, int, list[IndexItem], Membership | None]] = []
        self._batched = 0
        self._digests: dict[bytes, str | None] = {}
        self._sent: Membership | None = None
        if _in_memory(store_url):
            self._inline = _ScratchIndex()
            return
        ctx = multiprocessing.get_context()
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_index_process, args=(child,), name="tradeledger-attest-index", daemon=True
        )
        self._process.start()
        child.close()

    def add(
        self,
        height: int,
        first_index: int,
        items: list[IndexItem],
        membership: Membership,
        digests: Mapping[bytes, str | None],
        status_root: bytes,
    ) -> None:
        if digests:
            for entry, _, _ in items:
                if entry.entry_hash in digests:
                    self._digests[entry.entry_hash] = digests[entry.entry_hash]
        if self._inline is not None:
            self._inline.known_digests, self._digests = self._digests, {}
            # these entries are also the fold's (its block summary): complete copies
            copies = [(copy.copy(e) if env is not None else e, env, pl) for e, env, pl in items]
            self._inline.add(height, first_index, _with_bytes(copies), membership, status_root)
            return
        changed = None if membership is self._sent else membership
        self._sent = membership
        self._batch.append((height, first_index, items, changed, status_root))
        self._batched += len(items)
        if self._batched >= INDEX_SEND_ENTRIES:
            self._send()

    def _send(self) -> None:
        if self._batch:
            self._conn.send(("blocks", self._batch, self._digests))
            self._batch, self._batched, self._digests = [], 0, {}

    def compare(self, store: LedgerStore) -> None:
        """Compare the rebuilt index with the stored one; raise the first difference."""
        if self._inline is not None:
            self._inline.compare(store.engine)
            return
        self._send()
        self._conn.send(("compare", store.url))
        try:
            kind, *rest = self._conn.recv()
        except EOFError:
            raise RuntimeError("the index rebuild process ended unexpectedly") from None
        if kind == "mismatch":
            detail, extra = rest
            raise StoreInconsistent(detail, **extra)
        if kind == "invalid":
            from nodes.index import StatusRootMismatch

            detail, height = rest
            raise StatusRootMismatch(detail, height=height)
        if kind == "crash":
            raise RuntimeError(f"the index rebuild failed:\n{rest[0]}")

    def close(self) -> None:
        if self._inline is not None:
            self._inline.close()
            self._inline = None
            return
        if self._process.is_alive():
            with contextlib.suppress(OSError):  # it may have gone already
                self._conn.send(("close",))
            self._process.join(10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join()
        self._conn.close()


def _in_memory(url: str) -> bool:
    bare = url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:")
    return url.startswith("sqlite") and (bare or ":memory:" in url or "mode=memory" in url)


def _with_bytes(items: list[IndexItem]) -> list[Entry]:
    """The entries with their envelope and payload put back, in place: the items must be
    this process's own copies (freshly unpickled, or copied)."""
    entries = []
    for entry, envelope, payload in items:
        if envelope is not None:
            object.__setattr__(entry, "envelope", envelope)
            object.__setattr__(entry, "payload", payload)
        entries.append(entry)
    return entries


def _index_process(conn: Any) -> None:
    """The index process: rebuild from the blocks received, then compare when asked."""
    import traceback

    index: _ScratchIndex | None = None
    membership: Membership | None = None
    crashed: str | None = None
    invalid: tuple[str, int] | None = None
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                return
            kind = message[0]
            if kind == "close":
                return
            if crashed is not None:
                if kind == "compare":
                    conn.send(("crash", crashed))
                continue
            if invalid is not None:  # a block the index's rules refuse: say so when asked
                if kind == "compare":
                    conn.send(("invalid", *invalid))
                continue
            try:
                if index is None:
                    index = _ScratchIndex()
                if kind == "blocks":
                    index.known_digests = message[2]
                    for height, first_index, items, changed, root in message[1]:
                        membership = changed if changed is not None else membership
                        assert membership is not None
                        try:
                            index.add(height, first_index, _with_bytes(items), membership, root)
                        except IntegrityError as exc:  # a wrong status root: the chain's fault
                            invalid = (exc.detail, height)
                            break
                elif kind == "compare":
                    store = LedgerStore(message[1])
                    try:
                        index.compare(store.engine)
                    except StoreInconsistent as exc:
                        conn.send(("mismatch", exc.detail, exc.extra))
                    else:
                        conn.send(("ok",))
                    finally:
                        store.dispose()
            except Exception:
                crashed = traceback.format_exc()
                if kind == "compare":
                    conn.send(("crash", crashed))
    finally:
        if index is not None:
            index.close()
        conn.close()


class _ScratchIndex:
    """The node's index rebuilt from verified blocks, by the node's own code, in a scratch
    SQLite file (memory stays flat: the index may be as big as the ledger)."""

    def __init__(self) -> None:
        from nodes import documents_bridge as bridge
        from nodes.index import DocumentIndex

        bridge.load_reference_data()
        self._dir = tempfile.TemporaryDirectory(prefix="tradeledger-attest-")
        self.engine: Engine = create_engine(f"sqlite:///{Path(self._dir.name) / 'index.db'}")
        event.listen(self.engine, "connect", _fast_pragmas)
        with self.engine.begin() as conn:
            # what the indexing rules look up of earlier entries: their subjects, by hash
            conn.execute(
                text(
                    "CREATE TABLE ledger_entries (idx INTEGER PRIMARY KEY, "
                    "entry_hash BLOB NOT NULL UNIQUE, subject TEXT, envelope BLOB)"
                )
            )
        self._membership: Membership | None = None
        #: digests computed ahead (by replay workers) for entries about to be indexed
        self.known_digests: Mapping[bytes, str | None] = {}

        def digest(e: Entry) -> str | None:
            if e.entry_hash in self.known_digests:
                return self.known_digests[e.entry_hash]
            return bridge.document_digest(e.payload or b"", e.content_type)

        self.index = DocumentIndex(self.engine, self._current_membership, document_digest=digest)
        self.index.create_schema()

    def _current_membership(self) -> Membership:
        assert self._membership is not None
        return self._membership

    def add(
        self,
        height: int,
        first_index: int,
        entries: Sequence[Entry],
        membership: Membership,
        status_root: bytes,
    ) -> None:
        """Index one verified block as the node does: with the membership in force after it."""
        from nodes.index import IndexedEntry

        with self.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO ledger_entries (idx, entry_hash, subject) VALUES (:i, :h, :s)"),
                [
                    {"i": first_index + i, "h": e.entry_hash, "s": e.subject}
                    for i, e in enumerate(entries)
                ],
            )
        self._membership = membership
        # the index's own rules give the status map after the block: its root must be the
        # one the signed header commits to (StatusRootMismatch names the height otherwise)
        self.index.index_block(
            height,
            [IndexedEntry(first_index + i, height, e) for i, e in enumerate(entries)],
            status_root=status_root,
        )

    def compare(self, stored: Engine) -> None:
        from nodes.index import documents_table, events_table
        from nodes.status_store import status_nodes_table, status_states_table

        doc_columns = [c.name for c in documents_table.columns]
        event_columns = [c.name for c in events_table.columns]
        with self.engine.connect() as mine, stored.connect() as theirs:
            for table, columns, keys in (
                ("node_documents", doc_columns, ("document_id",)),
                ("node_document_events", event_columns, ("document_id", "idx")),
                # the status map the node proves from, by height (node_status_*)
                (
                    "node_status_states",
                    [c.name for c in status_states_table.columns],
                    ("document_id", "height"),
                ),
                (
                    "node_status_nodes",
                    [c.name for c in status_nodes_table.columns],
                    ("position", "height"),
                ),
            ):
                self._compare_table(mine, theirs, table, columns, keys)

    def _compare_table(
        self, mine: Any, theirs: Any, table: str, columns: list[str], keys: tuple[str, ...]
    ) -> None:
        listed = ", ".join(columns)
        key_name = ",".join(keys)
        order = ", ".join(keys)
        total = 0
        offset_key: tuple[Any, ...] | None = None
        while True:
            where = ""
            params: dict[str, Any] = {}
            if offset_key is not None:
                where = _after_key(keys)
                params = {f"k{i}": v for i, v in enumerate(offset_key)}
            chunk = mine.execute(
                text(f"SELECT {listed} FROM {table} {where} ORDER BY {order} LIMIT {INDEX_CHUNK}"),
                params,
            ).all()
            if not chunk:
                break
            total += len(chunk)
            offset_key = tuple(chunk[-1][columns.index(k)] for k in keys)
            first_key = keys[0]
            ids = sorted({r[columns.index(first_key)] for r in chunk})
            found = {
                tuple(r[columns.index(k)] for k in keys): r
                for r in theirs.execute(
                    text(f"SELECT {listed} FROM {table} WHERE {first_key} IN :ids").bindparams(
                        _expanding("ids")
                    ),
                    {"ids": ids},
                )
            }
            for row in chunk:
                key = tuple(row[columns.index(k)] for k in keys)
                value = ",".join(str(k) for k in key)
                other = found.get(key)
                if other is None:
                    raise mismatch(
                        table, key_name, value, None, self._height(mine, key[0]), "missing"
                    )
                blind = table == "node_documents" and key[0] in self.index.blind_documents
                for i, column in enumerate(columns):
                    if blind and column in PLAINTEXT_COLUMNS:
                        continue  # read from a sealed payload this audit cannot open
                    a, b = _norm(row[i]), _norm(other[i])
                    if a != b:
                        raise mismatch(
                            table,
                            key_name,
                            value,
                            column,
                            self._height(mine, key[0]),
                            f"stored {_show(b)}, the index rebuilt from the verified chain "
                            f"has {_show(a)}",
                        )
        stored_total = int(theirs.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)
        if stored_total != total:
            self._find_extra(mine, theirs, table, keys, stored_total, total)

    def _find_extra(
        self, mine: Any, theirs: Any, table: str, keys: tuple[str, ...], stored: int, rebuilt: int
    ) -> None:
        order = ", ".join(keys)
        for row in theirs.execute(text(f"SELECT {order} FROM {table}")):
            condition = " AND ".join(f"{k} = :k{i}" for i, k in enumerate(keys))
            there = mine.execute(
                text(f"SELECT 1 FROM {table} WHERE {condition}"),
                {f"k{i}": v for i, v in enumerate(row)},
            ).first()
            if there is None:
                raise mismatch(
                    table,
                    ",".join(keys),
                    ",".join(str(v) for v in row),
                    None,
                    None,
                    "a row the verified chain does not give",
                )
        raise mismatch(
            table, "rows", stored, None, None, f"{stored} rows stored, the chain gives {rebuilt}"
        )

    @staticmethod
    def _height(mine: Any, document_id: str) -> int | None:
        value = mine.execute(
            text("SELECT max(height) FROM node_document_events WHERE document_id = :d"),
            {"d": document_id},
        ).scalar()
        return None if value is None else int(value)

    def close(self) -> None:
        self.engine.dispose()
        self._dir.cleanup()


def _after_key(keys: tuple[str, ...]) -> str:
    if len(keys) == 1:
        return f"WHERE {keys[0]} > :k0"
    return f"WHERE ({keys[0]} > :k0) OR ({keys[0]} = :k0 AND {keys[1]} > :k1)"


def _expanding(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name, expanding=True)


def _norm(value: object) -> object:
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return value


def _fast_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=OFF")
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def check_index_at_start(engine: Engine, leaves: Sequence[bytes], sizes: Sequence[int]) -> None:
    """The node's cheap check of its index before it serves (not a rebuild: ``audit replay``
    compares every value). The index must not claim blocks the chain lacks, and every event
    row must name the verified leaf at its index and that leaf's block: ``leaves`` and
    ``sizes`` (tree size after each block) are the log view's, already checked against the
    last signed header. One pass over the events, no parsing, no signature."""
    import bisect

    with engine.connect() as conn:
        value = conn.execute(
            text("SELECT value FROM node_meta WHERE key = 'indexed_height'")
        ).scalar()
        indexed = int(value) if value is not None and str(value).isdigit() else -1
        if value is not None and not 0 <= indexed <= len(sizes):
            raise mismatch(
                "node_meta",
                "key",
                "indexed_height",
                "value",
                len(sizes),
                f"the index claims height {value!r}, the chain ends at {len(sizes)}; "
                "refusing to serve from it",
            )
        rows = conn.execute(
            text("SELECT document_id, idx, height, entry_hash FROM node_document_events")
        )
        for document_id, idx, height, entry_hash in rows:
            key = f"{document_id},{idx}"
            i = int(idx)
            if not 0 <= i < len(leaves) or bytes(entry_hash) != leaves[i]:
                raise mismatch(
                    "node_document_events",
                    "document_id,idx",
                    key,
                    "entry_hash",
                    int(height),
                    "not the verified leaf at that index; refusing to serve from the index",
                )
            if int(height) != bisect.bisect_right(sizes, i) + 1:
                raise mismatch(
                    "node_document_events",
                    "document_id,idx",
                    key,
                    "height",
                    int(height),
                    "not the height of the block holding that entry; refusing to serve from "
                    "the index",
                )
