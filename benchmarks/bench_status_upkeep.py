"""What keeping the status map costs a node's append path (issue 15: ≤ 15 %).

    .venv/bin/python benchmarks/bench_status_upkeep.py [--entries 30000] [--rounds 2]

Appends the same pre-signed demo entries (blocks of 500, durable SQLite) three ways, each into
a fresh home, ``--rounds`` times in turn:

* ``bare``: ``LedgerWriter`` alone (no index: the append figure of ``bench_ledger.py`` before
  headers carried a status root);
* ``index``: the writer with the index staging each block before its header is signed and
  writing it once stored, the status map switched off (what a node did before);
* ``index+map``: the same with the status map (what a node does now).

Prints entries per second (best round) and the map's share: ``index+map`` against ``index``
(the node's append path) and against ``bare``. No assertions: the figures are the output.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.status_map import EMPTY, StagedUpdate
from nodes import documents_bridge as bridge
from nodes.demo import TradeScenario, ensure_consortium
from nodes.home import NodeHome
from nodes.index import DocumentIndex, status_root_hook
from nodes.writer import LedgerWriter


def run(mode: str, entries: list, seed: Path, root: Path) -> float:  # type: ignore[type-arg]
    shutil.copytree(seed, root / "home")  # the same consortium and keys, no database yet
    home = NodeHome(root / "home")
    store = home.open_store()
    writers: list[LedgerWriter] = []
    hook = None
    if mode != "bare":
        index = DocumentIndex(
            store.engine,
            lambda: writers[0].state.membership,
            document_digest=lambda e: bridge.document_digest(e.payload or b"", e.content_type),
        )
        index.create_schema()
        if mode == "index":  # the map switched off: no records, no nodes, an empty root
            index._next_states = lambda conn, work, events, sealed=frozenset(): {}  # type: ignore[method-assign]
            index.status.stage = lambda conn, states: StagedUpdate(EMPTY, {})  # type: ignore[method-assign]
        hook = status_root_hook(index, store)
    writer = LedgerWriter(
        store, home.consortium(), home.org_id, home.signing_key(home.org_id), status_root=hook
    )
    writers.append(writer)
    t = time.perf_counter()
    for start in range(0, len(entries), 500):
        writer.append(entries[start : start + 500])
    if mode != "bare":
        from nodes.index import catch_up

        catch_up(index, store)  # the last block, as a node indexes it
    seconds = time.perf_counter() - t
    store.dispose()
    return len(entries) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    bridge.load_reference_data()
    work = Path(tempfile.mkdtemp(prefix="tl-upkeep-"))
    seed_home = NodeHome(work / "keys" / "home")
    ensure_consortium(seed_home)
    entries = list(TradeScenario(random.Random(7), seed_home.signing_keys()).entries(args.entries))
    best: dict[str, float] = {}
    for r in range(args.rounds):
        for mode in ("bare", "index", "index+map"):
            rate = run(mode, entries, seed_home.path, work / f"{mode}-{r}")
            best[mode] = max(best.get(mode, 0.0), rate)
            print(f"round {r + 1} {mode:<10} {rate:,.0f} entries/s", flush=True)
    us = {m: 1e6 / v for m, v in best.items()}
    print("best: " + ", ".join(f"{m} {v:,.0f}/s ({us[m]:.0f} µs)" for m, v in best.items()))
    print(
        f"status map upkeep: +{us['index+map'] - us['index']:.0f} µs per entry = "
        f"{(us['index+map'] / us['index'] - 1) * 100:.1f} % of the node's append path "
        f"(index), {(us['index+map'] - us['index']) / us['bare'] * 100:.1f} % of a bare append"
    )


if __name__ == "__main__":
    main()
