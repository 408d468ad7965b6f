"""Ledger core figures (issue 3), printed side by side in one run.

    .venv/bin/python benchmarks/bench_ledger.py --entries 1000000

1. raw Ed25519 verification, one core: PyNaCl (libsodium) and cryptography (OpenSSL);
2. append: signed entries per second through LedgerWriter into embedded SQLite with durable
   commits (WAL, synchronous=FULL), blocks of 500 — with the entries signed beforehand, and
   with signing included (the bare writer: the index and status map a node keeps beside it
   are measured by ``bench_status_upkeep.py``);
3. replay with 1 and with 2 workers, as a ratio of the raw single-core verify rate, and the
   replay's peak memory (a child process's max RSS);
4. inclusion proofs at the full log size from stored subtree hashes: median and p99;
5. stored bytes per entry against the entries' canonical size.

No assertions: the figures are the output.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.merkle import verify_inclusion  # noqa: E402
from nodes.demo import TradeScenario, ensure_consortium  # noqa: E402
from nodes.home import NodeHome  # noqa: E402
from nodes.store import LedgerStore  # noqa: E402
from nodes.writer import LedgerWriter  # noqa: E402


def raw_verify_rates(n: int = 20_000) -> tuple[float, float]:
    import nacl.bindings
    import nacl.signing
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    msgs = [os.urandom(400) for _ in range(n)]
    sk = nacl.signing.SigningKey.generate()
    pk = bytes(sk.verify_key)
    sigs = [sk.sign(m).signature for m in msgs]
    t = time.perf_counter()
    for m, s in zip(msgs, sigs, strict=True):
        nacl.bindings.crypto_sign_open(s + m, pk)
    nacl_rate = n / (time.perf_counter() - t)
    ck = Ed25519PrivateKey.generate()
    cpk = ck.public_key()
    csigs = [ck.sign(m) for m in msgs]
    t = time.perf_counter()
    for m, s in zip(msgs, csigs, strict=True):
        cpk.verify(s, m)
    return nacl_rate, n / (time.perf_counter() - t)


def build_log(home: NodeHome, entries: int) -> tuple[float, float, int]:
    """Append demo entries; return (pre-signed rate, rate with signing, canonical bytes)."""
    ensure_consortium(home)
    # the ledger core alone, as before headers carried a status root: a node's writer also
    # stages each block through its index and status map (bench_status_upkeep.py measures
    # that share); this writer's headers commit to the empty map
    writer = LedgerWriter(
        home.open_store(), home.consortium(), home.org_id, home.signing_key(home.org_id)
    )
    scenario = TradeScenario(random.Random(7), home.signing_keys())
    canonical = 0
    sign_seconds = 0.0
    append_seconds = 0.0
    remaining = entries
    while remaining:
        chunk = min(remaining, 20_000)
        t = time.perf_counter()
        batch = list(scenario.entries(chunk))
        sign_seconds += time.perf_counter() - t
        t = time.perf_counter()
        for start in range(0, len(batch), 500):
            block = batch[start : start + 500]
            for e in block:
                writer.offer(e)
            writer.cut_block(500)
        append_seconds += time.perf_counter() - t
        canonical += sum(e.canonical_size for e in batch)
        remaining -= chunk
        print(f"  … {entries - remaining:,} entries", file=sys.stderr)
    writer.store.dispose()
    return entries / append_seconds, entries / (append_seconds + sign_seconds), canonical


def replay_in_child(home: Path, workers: int) -> tuple[float, float]:
    """Run the real CLI replay in a child; return (entries/s, peak RSS MB of the whole run)."""
    code = (
        "import resource, sys, json\n"
        "from nodes.audit import replay\n"
        "from nodes.home import NodeHome\n"
        "from nodes.store import LedgerStore\n"
        f"h = NodeHome(__import__('pathlib').Path({str(home)!r}))\n"
        "s = LedgerStore(h.database_url())\n"
        f"r = replay(h.consortium(), s.iter_blocks(), workers={workers})\n"
        "assert r.valid, r.failure\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and exec, so a child of a
        # big parent would report the parent's peak
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
        "self_mb = int(hwm[0].split()[1]) / 1024 if hwm else "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "kids_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps([r.entries_per_second, self_mb, kids_mb]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    import json

    rate, self_mb, kids_mb = json.loads(out.stdout.strip().splitlines()[-1])
    return rate, max(self_mb, kids_mb)


def proof_times(store: LedgerStore, size: int, samples: int = 1000) -> tuple[float, float]:
    rng = random.Random(1)
    times = []
    from ledger.blocks import BlockHeader

    height, tree_size = store.head()
    root = bytes.fromhex(BlockHeader.from_bytes(store.block(height).header).tree_root)
    for _ in range(samples):
        index = rng.randrange(tree_size)
        t = time.perf_counter()
        leaf = store.subtree_hash(0, index)
        proof = store.inclusion_proof(index, tree_size)
        times.append(time.perf_counter() - t)
        verify_inclusion(leaf, index, tree_size, proof, root)
    times.sort()
    return statistics.median(times) * 1e3, times[int(len(times) * 0.99) - 1] * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--reuse", action="store_true", help="measure the log already in --workdir (no append)"
    )
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tl-bench-"))
    home = NodeHome(workdir / "home")

    nacl_rate, openssl_rate = raw_verify_rates()
    print(
        f"raw Ed25519 verify, 1 core: PyNaCl {nacl_rate:,.0f}/s, cryptography {openssl_rate:,.0f}/s"
    )
    raw = max(nacl_rate, openssl_rate)

    if args.reuse:
        store = LedgerStore(home.database_url())
        args.entries = store.head()[1]
        canonical = sum(len(e) + len(p or b"") for b in store.iter_blocks() for e, p in b.entries)
    else:
        t = time.perf_counter()
        presigned, with_signing, canonical = build_log(home, args.entries)
        print(
            f"append (durable SQLite, blocks of 500): {presigned:,.0f} entries/s pre-signed, "
            f"{with_signing:,.0f} entries/s including signing "
            f"({time.perf_counter() - t:,.0f} s total)"
        )
        store = LedgerStore(home.database_url())
    stored = store.stored_bytes()
    mean_canonical = canonical / args.entries
    per_entry = stored / args.entries
    print(
        f"stored bytes per entry: {per_entry:,.0f} (canonical {mean_canonical:,.0f}; "
        f"limit 1.5 x canonical + 200 = {1.5 * mean_canonical + 200:,.0f})"
    )
    median_ms, p99_ms = proof_times(store, args.entries)
    print(
        f"inclusion proof at {args.entries:,} entries (SQLite): median {median_ms:.3f} ms, "
        f"p99 {p99_ms:.3f} ms (generation from stored subtree hashes)"
    )
    store.dispose()

    for workers in (1, 2):
        rate, peak = replay_in_child(home.path, workers)
        print(
            f"replay, {workers} worker(s): {rate:,.0f} entries/s = {rate / raw:.2f} x raw "
            f"single-core verify; peak RSS {peak:,.0f} MB"
        )
    print(
        f"(work directory {workdir}; this process's max RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB)"
    )


if __name__ == "__main__":
    main()
