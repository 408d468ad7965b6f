"""ledger.merkle figures: CompactRange append rate, and inclusion proofs from stored subtrees.

    .venv/bin/python benchmarks/bench_merkle.py [--leaves 1000000] [--proofs 1000]

1. appends 1,000,000 leaf hashes (SHA-256 of ``i.to_bytes(8, "big")`` as RFC 9162 leaves) to a
   CompactRange and keeps every complete subtree it reports in an InMemorySubtreeHashes;
2. for 1,000 random leaves at tree size 1,000,000 and 999,999: inclusion_proof from that source,
   then verify_inclusion against the root — median and p99 of each, in microseconds.

No assertions: the figures are the output.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.merkle import (
    CompactRange,
    InMemorySubtreeHashes,
    inclusion_proof,
    leaf_hash,
    range_hash,
    verify_inclusion,
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=9162)
    args = parser.parse_args()
    n = args.leaves

    hashes = [leaf_hash(i.to_bytes(8, "big")) for i in range(n)]

    # Append alone (the replay hot path), then append while keeping every node (a store's path).
    tree = CompactRange()
    append = tree.append
    start = time.perf_counter()
    for h in hashes:
        append(h)
    append_s = time.perf_counter() - start

    source = InMemorySubtreeHashes()
    tree = CompactRange()
    append, add = tree.append, source.add
    start = time.perf_counter()
    for h in hashes:
        add(append(h))
    build_s = time.perf_counter() - start
    print(f"CompactRange.append: {n / append_s:,.0f} leaves/s ({append_s / n * 1e6:.2f} µs each)")
    print(
        f"append + keep nodes: {n / build_s:,.0f} leaves/s; {len(source):,} subtree hashes; "
        f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )

    rng = random.Random(args.seed)
    for size in (n, n - 1):
        root = range_hash(source, 0, size)
        gen_us: list[float] = []
        ver_us: list[float] = []
        for index in rng.sample(range(size), min(args.proofs, size)):
            t0 = time.perf_counter()
            proof = inclusion_proof(source, index, size)
            t1 = time.perf_counter()
            verify_inclusion(hashes[index], index, size, proof, root)
            t2 = time.perf_counter()
            gen_us.append((t1 - t0) * 1e6)
            ver_us.append((t2 - t1) * 1e6)
        print(
            f"tree size {size:,}: inclusion_proof median {statistics.median(gen_us):.1f} µs, "
            f"p99 {percentile(gen_us, 0.99):.1f} µs; verify_inclusion median "
            f"{statistics.median(ver_us):.1f} µs, p99 {percentile(ver_us, 0.99):.1f} µs "
            f"({len(gen_us)} random leaves)"
        )


if __name__ == "__main__":
    main()
