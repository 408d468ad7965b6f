"""Single-node submissions/s with sealed payloads on and off, in one run (issue 16 figure).

Two demo homes, one without encryption keys and one with (``ensure_consortium(encryption=True)``);
each node admits, (seals,) signs and appends the same certificates through its submission
pipeline (``prepare_document`` + ``enqueue_all``, the path ``POST /v1/documents`` takes, minus
HTTP), and the run counts certificates durable per second. Alternates the two modes per round.

    python -m benchmarks.bench_sealed_node --count 400 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

from nodes.demo import ensure_consortium, run_demo
from nodes.home import NodeHome
from nodes.service import LedgerNode
from nodes.tokens import Caller

EXAMPLE = Path(__file__).resolve().parents[1] / "examples/documents/rcep-jp-machinery-to-vn.co.json"


def _run(root: Path, encryption: bool, count: int, tag: str) -> float:
    home = NodeHome(root / f"{tag}-{'sealed' if encryption else 'plain'}")
    ensure_consortium(home, encryption=encryption)
    run_demo(home, 0).store.dispose()
    node = LedgerNode.open(home, block_interval=0.02)
    caller = Caller("jp-jcci", "issuing_authority")
    base = json.loads(EXAMPLE.read_text())
    base.pop("origin_determinations", None)
    done = threading.Semaphore(0)
    try:
        started = time.perf_counter()
        for i in range(count):
            doc = dict(base, number=f"BENCH-{tag}-{i:06d}")
            entries = node.submissions.prepare_document(
                caller, "co.issued", json.dumps(doc).encode(), "application/json"
            )
            node.submissions.enqueue_all(entries, lambda error: done.release())
        for _ in range(count):
            done.acquire()
        return count / (time.perf_counter() - started)
    finally:
        node.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[float]] = {"plain": [], "sealed": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for encryption in (False, True):
                rate = _run(Path(tmp), encryption, args.count, f"r{r}")
                results["sealed" if encryption else "plain"].append(rate)
    best = {k: max(v) for k, v in results.items()}
    print(
        json.dumps(
            {
                "submissions_per_s": results,
                "best": best,
                "sealed_vs_plain": round(best["sealed"] / best["plain"], 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
