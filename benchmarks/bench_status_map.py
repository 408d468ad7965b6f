"""Status map figures (issue 15): proofs at a million documents, and the upkeep per entry.

    .venv/bin/python benchmarks/bench_status_map.py [--documents 1000000] [--proofs 1000]

1. makes the state records of N documents (one ``co.issued`` event each) and their keys and
   state hashes, then bulk-builds the map in one batch into a MemoryNodeStore (the node's
   start-up path); prints both times, the nodes stored and the process's RSS growth;
2. for 1,000 random documents (and 1,000 absent ones): ``prove`` (key hash and path walk),
   ``to_bytes``, then ``verify_proof`` from the bytes (parse, state hash, 20-odd node hashes)
   — p50 and p99 in microseconds, and the proof size in bytes (p50, p99, max);
3. upkeep per entry: blocks of B entries (B = 1 and 500), each entry a new event on an
   existing document (next_state, state hash, then one stage + apply per block), against
   ``ledger.merkle.CompactRange.append`` keeping every complete subtree (what the node's
   store does per entry). The upkeep is then set against the per-entry append and
   submission costs the README reports (pre-signed durable append 4,912/s ≈ 204 µs; node CPU
   per submission ≈ 1 ms): those are not re-measured here.

No assertions: the figures are the output.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.merkle import CompactRange, InMemorySubtreeHashes, leaf_hash
from ledger.status_map import (
    DocumentState,
    StatusMap,
    document_key,
    next_state,
    verify_proof,
)

README_APPEND_US = 1e6 / 4912  # README: append, durable SQLite, pre-signed
README_SUBMISSION_US = 1000.0  # README: node CPU per submission, about 1 ms


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def doc_id(i: int) -> str:
    return f"jp-issuer/JP-2026-{i:07d}"


def entry_hash(i: int) -> bytes:
    return hashlib.sha256(i.to_bytes(8, "big")).digest()


def first_state(i: int) -> DocumentState:
    return next_state(
        None, [(entry_hash(i), "co.issued")], status="current", valid_until="2027-11-30"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    n = args.documents
    rng = random.Random(args.seed)

    rss0 = rss_mb()
    t0 = time.perf_counter()
    items = [(document_key(doc_id(i)), first_state(i).state_hash()) for i in range(n)]
    records_s = time.perf_counter() - t0
    smt = StatusMap()
    t0 = time.perf_counter()
    smt.update_hashed(items)
    build_s = time.perf_counter() - t0
    del items
    rss1 = rss_mb()
    nodes = len(smt.store)  # type: ignore[arg-type]
    print(f"documents: {n:,}")
    print(f"records, keys and state hashes: {records_s:.1f} s")
    print(f"bulk build (one batch): {build_s:.1f} s, {nodes:,} nodes stored")
    print(f"RSS growth (records freed, map kept): {rss1 - rss0:.0f} MB; RSS now {rss1:.0f} MB")
    print(f"root: {smt.root.hex()}")

    # --- proofs ------------------------------------------------------------------------------
    root = smt.root
    for label, ids in (
        ("present", [rng.randrange(n) for _ in range(args.proofs)]),
        ("absent", [n + rng.randrange(10 * n) for _ in range(args.proofs)]),
    ):
        prove_us: list[float] = []
        verify_us: list[float] = []
        sizes: list[float] = []
        for i in ids:
            doc = doc_id(i)
            expected = first_state(i) if label == "present" else None
            start = time.perf_counter()
            data = smt.prove(doc).to_bytes()
            mid = time.perf_counter()
            verify_proof(root, doc, data, expected)
            end = time.perf_counter()
            prove_us.append((mid - start) * 1e6)
            verify_us.append((end - mid) * 1e6)
            sizes.append(len(data))
        print(
            f"{label:7} prove p50 {percentile(prove_us, 0.5):.0f} µs, "
            f"p99 {percentile(prove_us, 0.99):.0f} µs; "
            f"verify p50 {percentile(verify_us, 0.5):.0f} µs, "
            f"p99 {percentile(verify_us, 0.99):.0f} µs; "
            f"size p50 {percentile(sizes, 0.5):.0f} B, p99 {percentile(sizes, 0.99):.0f} B, "
            f"max {max(sizes):.0f} B"
        )

    # --- upkeep per entry ----------------------------------------------------------------------
    tree = CompactRange()
    source = InMemorySubtreeHashes()
    merkle_leaves = [leaf_hash(i.to_bytes(8, "big")) for i in range(200_000)]
    start = time.perf_counter()
    for h in merkle_leaves:
        source.add(tree.append(h))
    merkle_us = (time.perf_counter() - start) / len(merkle_leaves) * 1e6
    print(f"ledger.merkle append (keeping subtrees): {merkle_us:.2f} µs per entry")

    next_event = n
    for block in (1, 500):
        blocks = max(20, 20_000 // block)
        total = 0.0
        for _ in range(blocks):
            docs = [rng.randrange(n) for _ in range(block)]
            start = time.perf_counter()
            states: dict[str, DocumentState] = {}
            for i in docs:
                doc = doc_id(i)
                prev = states.get(doc) or first_state(i)  # the node reads it from its index
                states[doc] = next_state(
                    prev, [(entry_hash(next_event), "customs.import_declaration")], status="current"
                )
                next_event += 1
            smt.update(states)
            total += time.perf_counter() - start
        per = total / (blocks * block) * 1e6
        print(
            f"status map upkeep, blocks of {block}: {per:.1f} µs per entry = "
            f"{per / merkle_us:.0f}× ledger.merkle append; "
            f"{100 * per / README_APPEND_US:.1f} % of a durable append (README ≈ "
            f"{README_APPEND_US:.0f} µs), {100 * per / README_SUBMISSION_US:.1f} % of a "
            f"submission (README ≈ {README_SUBMISSION_US:.0f} µs)"
        )


if __name__ == "__main__":
    main()
