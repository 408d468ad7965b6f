"""Incremental audit (issue 15): ``audit replay --state`` over 1,000 new entries on a large chain.

    .venv/bin/python benchmarks/bench_audit.py --chain 1000000 --new 1000

What a resumed run does, and what of it grows with the chain:

1. load the state: the JSON (kilobytes, constant) and the entry-hash sidecar (16 bytes a slot,
   two slots per entry at most: 32 MB at a million entries), read and SHA-256'd;
2. check the source's block at the saved height (one indexed read, constant);
3. fold the new blocks (their verification time: what the issue excludes), with lookups in the
   million-entry hash set (constant time each);
4. the consistency proof from the saved tree to the new one (log of the chain length);
5. save: the sidecar again and the JSON, each to a temporary file, fsync'd and renamed.

Building and signing a million-entry chain takes the best part of an hour here, so the chain
is ``--base`` real entries (default 5,000) whose state is then given a hash set of ``--chain``
entries (the real ones plus random ones, which is what a million-entry chain's set is); steps
1 and 5 are measured at that full size, 2 and 4 on the real store (an indexed read and one proof
query: they grow with log n, not n). The time reported beside "total" is the fold of the new
entries alone, which is their verification time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.chain import ChainState, TruncatedHashSet  # noqa: E402
from nodes import audit_state  # noqa: E402
from nodes.audit import replay  # noqa: E402
from nodes.demo import run_demo  # noqa: E402
from nodes.home import NodeHome  # noqa: E402
from nodes.store import LedgerStore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chain", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--base", type=int, default=5000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tl-bench-audit-"))
    home = NodeHome(workdir / "home")
    if not home.exists():
        run_demo(home, args.base).store.dispose()
    consortium = home.consortium()
    store = LedgerStore(home.database_url())
    saved_height, saved_size = store.head()
    state = ChainState.genesis(consortium)
    report = replay(consortium, store.iter_blocks(), workers=0, state=state)
    assert report.valid, report.failure
    # the set of a chain of args.chain entries: the real hashes and random ones
    known = state.known
    assert isinstance(known, TruncatedHashSet)
    rng = random.Random(1)
    while len(known) < args.chain:
        known.add(rng.randbytes(32))
    checkpoint = store.block(saved_height).checkpoint
    store.dispose()
    state_file = workdir / "audit.json"
    t = time.perf_counter()
    audit_state.save(state_file, state, checkpoint)
    save_s = time.perf_counter() - t
    sidecar_mb = sum(p.stat().st_size for p in workdir.glob("audit.json.known-*")) / 2**20

    # load at full size (the count check wants tree_size == count: give the loaded state the
    # chain's size only for this measurement)
    t = time.perf_counter()
    doc_known = json.loads(state_file.read_text())["known"]
    table = (workdir / doc_known["file"]).read_bytes()
    hashlib.sha256(table).hexdigest()
    loaded_known = TruncatedHashSet.from_bytes(table, doc_known["count"])
    load_s = time.perf_counter() - t
    assert len(loaded_known) == args.chain

    run_demo(home, args.new).store.dispose()  # the new entries
    store = LedgerStore(home.database_url())
    head_height, _ = store.head()
    t = time.perf_counter()
    raw = store.block(saved_height)  # step 2
    check_s = time.perf_counter() - t
    state.known = loaded_known
    first_root = state.tree.root()
    t = time.perf_counter()
    report = replay(
        consortium, store.iter_blocks(saved_height + 1), workers=1, state=state
    )  # step 3 (inline: a pool does not pay for 1,000 entries)
    fold_s = time.perf_counter() - t
    assert report.valid, report.failure
    t = time.perf_counter()
    audit_state.check_consistency(store, saved_size, first_root, state.tree.size, state.tree.root())
    proof_s = time.perf_counter() - t
    store.dispose()
    # save at full size again (the new sidecar)
    t = time.perf_counter()
    state_file2 = workdir / "audit2.json"
    audit_state.save(state_file2, state, raw.checkpoint)
    save2_s = time.perf_counter() - t
    overhead = load_s + check_s + proof_s + save2_s
    print(
        f"incremental audit, {report.entries:,} new entries on a set of {args.chain:,} "
        f"(real chain {saved_size:,} + {report.entries:,}; sidecar {sidecar_mb:,.0f} MB): "
        f"load {load_s * 1e3:,.0f} ms, check head {check_s * 1e3:,.1f} ms, "
        f"consistency proof {proof_s * 1e3:,.1f} ms, save {save2_s * 1e3:,.0f} ms "
        f"(first save {save_s * 1e3:,.0f} ms); total {overhead:,.2f} s + fold "
        f"{fold_s:,.2f} s ({report.entries / fold_s:,.0f} entries/s, their verification); "
        f"heights {saved_height}->{head_height}; load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
