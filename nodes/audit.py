"""Auditor replay: stream every block from a source and fold it through :class:`ChainState`.

The fold itself is pure (``ledger.chain``); this module only feeds it. Signature checks, the
expensive part, run ahead of the fold in ``workers`` processes (:func:`ledger.chain.preverify`);
the main process only reads and folds. At most a few batches are in flight, so memory stays flat
in chain length apart from the set of entry hashes seen (needed to refuse duplicates and
references to unknown entries).
"""

from __future__ import annotations

import gc
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledger.chain import ChainState, CheckedEntry, EntryFailure, describe_failure, preverify_batch
from ledger.consortium import Consortium
from ledger.errors import IntegrityError
from nodes.store import RawBlock

if TYPE_CHECKING:
    from nodes.attest import StoreAttestation

BATCH_ENTRIES = 1024
#: Entries verified in the main process before the worker pool starts: starting it costs about
#: as much as verifying this many, so short runs (a few new blocks) do without.
INLINE_ENTRIES = 2048
#: The cyclic collector's young-generation threshold while replay runs (see :func:`replay`).
REPLAY_GC_YOUNG = 50_000


@dataclass
class ReplayReport:
    valid: bool = True
    height: int = 0
    tree_size: int = 0
    root: str | None = None
    head_hash: str | None = None
    blocks: int = 0
    entries: int = 0
    seconds: float = 0.0
    workers: int = 1
    consortium_id: str = ""
    failure: dict[str, Any] | None = None
    checkpoint_signers: dict[str, str] = field(default_factory=dict)
    #: the last block whose checkpoint carries the consortium's checkpoint quorum
    final_height: int = 0
    #: conflicting signed headers the store kept (``node_evidence``), each one verified
    evidence: list[dict[str, Any]] = field(default_factory=list)

    @property
    def entries_per_second(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "consortium_id": self.consortium_id,
            "height": self.height,
            "tree_size": self.tree_size,
            "root": self.root,
            "head_hash": self.head_hash,
            "blocks": self.blocks,
            "entries": self.entries,
            "seconds": round(self.seconds, 3),
            "entries_per_second": round(self.entries_per_second, 1),
            "workers": self.workers,
            "latest_checkpoint_signers": self.checkpoint_signers,
            "final_height": self.final_height,
            "conflicting_signed_headers": self.evidence,
            "first_failure": self.failure,
        }


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def replay(
    consortium: Consortium,
    blocks: Iterable[RawBlock],
    *,
    workers: int = 1,
    on_block: Callable[[ReplayReport], None] | None = None,
    attest: StoreAttestation | None = None,
    state: ChainState | None = None,
) -> ReplayReport:
    """Verify ``blocks`` from genesis, or from ``state`` (a resumed audit: ``blocks`` then start
    at ``state.height + 1``, and ``state`` is advanced in place); never raises for an invalid
    chain, reports it instead.

    With ``attest``, every stored row the node reads besides the verified bytes is compared
    with what the chain says (``nodes.attest``)."""
    state = ChainState.genesis(consortium) if state is None else state
    report = ReplayReport(workers=workers, consortium_id=consortium.consortium_id)
    started = time.perf_counter()
    # The fold and the unpickling of checked entries make and drop objects by the million, no
    # cycles among them: collect young objects every REPLAY_GC_YOUNG allocations, not 700.
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], REPLAY_GC_YOUNG), *thresholds[1:])
    try:
        if attest is not None:
            attest.begin()
        digests = attest is not None and attest.wants_document_digests
        for raw, checked, found in _checked_blocks(blocks, state, workers, digests=digests):
            if raw.height != state.height + 1:
                # The source skipped a height (a deleted block): say which one is missing.
                from ledger.errors import ChainBroken

                raise ChainBroken(
                    f"block {state.height + 1} is missing (next stored is {raw.height})",
                    height=state.height + 1,
                )
            before = state.membership
            summary = state.apply_block(raw.header, raw.checkpoint, checked=checked)
            if attest is not None:
                attest.block(raw, summary, before, state.membership, digests=found)
            report.blocks += 1
            report.entries += len(summary.entries)
            report.checkpoint_signers = summary.signers
            if len(summary.signers) >= state.membership.checkpoint_quorum:
                # final: cosigned by the quorum; a final block vouches for all before it
                report.final_height = state.height
            report.height = state.height
            report.tree_size = state.tree_size
            if on_block is not None:
                on_block(report)
        if attest is not None:
            attest.finish(state.height, state.tree_size)
    except IntegrityError as exc:
        report.valid = False
        report.failure = describe_failure(exc)
        # a stored row that differs from the chain: which table, row and column
        report.failure.update(
            {k: exc.extra[k] for k in ("table", "row", "column") if k in exc.extra}
        )
        if "table" in exc.extra and report.failure["height"] is None:
            report.failure["height"] = state.height
        report.failure.setdefault("height", state.height + 1)
        if report.failure["height"] is None:
            report.failure["height"] = state.height + 1
    finally:
        gc.set_threshold(*thresholds)
        if attest is not None:
            attest.close()
    report.seconds = time.perf_counter() - started
    report.height = state.height
    report.tree_size = state.tree_size
    report.root = state.tree.root().hex()
    report.head_hash = state.head_hash.hex()
    return report


#: What a replay worker computed besides the checks, for the attestation's index rebuild:
#: document digests by entry hash (see :func:`_document_digests`).
Digests = dict[bytes, str | None]
_NO_DIGESTS: Digests = {}


def _checked_blocks(
    blocks: Iterable[RawBlock], state: ChainState, workers: int, *, digests: bool = False
) -> Iterator[tuple[RawBlock, list[CheckedEntry | EntryFailure], Digests]]:
    """Pair each block with its pre-verified entries, verifying ``workers`` batches at a time.

    Parsing and signature checks run in ``workers`` processes, in batches of about
    :data:`BATCH_ENTRIES` entries, and come back slim (no entry bytes); the main process only
    reads the source and folds. Even one worker is a process of its own: it parses and verifies
    while the main process reads and folds, which is most of a second core's worth of work.
    The first :data:`INLINE_ENTRIES` entries are verified in this process, before a pool
    is worth starting (an incremental audit of a few blocks, a small chain); ``workers=0``
    verifies everything here. With ``digests``, the workers also compute the document digests
    the attestation's index rebuild asks for (it computes those of inline blocks itself)."""
    blocks = iter(blocks)
    inline = 0
    for raw in blocks:
        yield raw, preverify_batch(raw.entries, state.membership.raw_keys()), _NO_DIGESTS
        inline += len(raw.entries)
        if workers >= 1 and inline >= INLINE_ENTRIES:
            break
    else:
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        inflight: deque[tuple[list[RawBlock], Future[_WorkerResult]]] = deque()
        max_inflight = workers * 2
        for batch in _batches(blocks):
            items = [e for raw in batch for e in raw.entries]
            # Keys known now; a key added later by a membership change is checked by the fold.
            inflight.append(
                (batch, pool.submit(_preverify_slim, items, state.membership.raw_keys(), digests))
            )
            if len(inflight) >= max_inflight:
                yield from _split(*inflight.popleft())
        while inflight:
            yield from _split(*inflight.popleft())


_WorkerResult = tuple[list[CheckedEntry | EntryFailure], Digests]


def _preverify_slim(
    items: list[tuple[bytes, bytes | None]], raw_keys: dict[str, bytes], digests: bool
) -> _WorkerResult:
    # A batch allocates a few dozen objects per entry and frees them by reference count; the
    # cyclic collector would run every 700 of them and find nothing (about a tenth of a
    # worker's time). It runs once the batch is done instead.
    gc.disable()
    try:
        results = preverify_batch(items, raw_keys, slim=True)
        return results, _document_digests(results, items) if digests else _NO_DIGESTS
    finally:
        gc.enable()


def _document_digests(
    results: list[CheckedEntry | EntryFailure], items: list[tuple[bytes, bytes | None]]
) -> Digests:
    """The document digest of each entry the index defines a document by (a certificate or a
    declaration with a subject and its payload): the most expensive part of indexing, and one
    that needs nothing but the entry, so it is done here, beside the signature checks."""
    from nodes import documents_bridge
    from nodes.index import CO_TYPES, DEFINING_TYPES

    out: Digests = {}
    for result, (_, payload) in zip(results, items, strict=True):
        if not isinstance(result, CheckedEntry) or payload is None:
            continue
        entry = result.entry
        if entry.subject and (entry.type in CO_TYPES or entry.type in DEFINING_TYPES):
            try:
                out[entry.entry_hash] = documents_bridge.document_digest(
                    payload, entry.content_type
                )
            except Exception:  # as the index does: a digest it cannot compute is not indexed
                out[entry.entry_hash] = None
    return out


def _batches(blocks: Iterable[RawBlock]) -> Iterator[list[RawBlock]]:
    batch: list[RawBlock] = []
    size = 0
    for raw in blocks:
        batch.append(raw)
        size += len(raw.entries)
        if size >= BATCH_ENTRIES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _split(
    batch: list[RawBlock], future: Future[_WorkerResult]
) -> Iterator[tuple[RawBlock, list[CheckedEntry | EntryFailure], Digests]]:
    results, digests = future.result()
    offset = 0
    for raw in batch:
        n = len(raw.entries)
        yield raw, results[offset : offset + n], digests
        offset += n


def verified_evidence(rows: list[dict[str, Any]], consortium: Consortium) -> list[dict[str, Any]]:
    """The store's conflicting signed headers whose signature by a member verifies (a row
    anyone with the database file could have written is not evidence unless it does)."""
    from ledger.blocks import Checkpoint
    from ledger.errors import TradeLedgerError

    out = []
    for row in rows:
        try:
            signers = Checkpoint.from_text(row["theirs"]).verified_signers(consortium.membership)
        except (TradeLedgerError, ValueError):
            continue
        if row["signer"] in signers:
            out.append({"height": row["height"], "signer": row["signer"], "theirs": row["theirs"]})
    return out
