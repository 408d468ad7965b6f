"""Canonical encoding of a realistic 10-item certificate of origin (issue 13).

    .venv/bin/python benchmarks/bench_canonical.py                  # this tree
    .venv/bin/python benchmarks/bench_canonical.py --tree /path     # another checkout's ledger/
    .venv/bin/python benchmarks/bench_canonical.py --against /path  # both, timed in turns

``--tree`` imports ``ledger`` from another checkout (a ``git worktree`` of an older commit), so
that before and after run the very same measurement; ``--against`` loads another checkout's
``ledger/encoding.py`` beside this one and times the two fast paths in turns, which a loaded
machine disturbs less. The certificate is
``examples/documents/rcep-jp-machinery-to-vn.co.json`` (ten items, ASCII), then the same with
the parties' names and addresses in Japanese (BMP, 3-byte UTF-8, full-width parentheses), then
with a name holding U+20BB7 (𠮷, as in 𠮷野家) too, a character beyond U+FFFF: with the
full-width ones, but in values only; last, for the worst case, the same with an extra object
whose keys hold both kinds, which the fast path re-sorts (no certificate has such keys).
Printed per call: the median of ``--repeat`` timings (and the spread, min–max), for
``fast_canonical_bytes``, ``parse_canonical`` of its output, and ``canonical_bytes`` (the
``rfc8785`` reference) for scale. No assertions: the figures are the output.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import statistics
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CERTIFICATE = ROOT / "examples" / "documents" / "rcep-jp-machinery-to-vn.co.json"


def certificates() -> dict[str, dict[str, Any]]:
    ascii_co = json.loads(CERTIFICATE.read_text())
    assert len(ascii_co["items"]) == 10
    japanese = copy.deepcopy(ascii_co)
    japanese["exporter"]["name"] = japanese["producer"]["name"] = "田中精密機械株式会社"
    japanese["exporter"]["address"] = "東京都千代田区丸の内二丁目1番1号"
    # full-width parentheses (U+FF08, U+FF09), as Japanese text writes them: U+E000-U+FFFF
    japanese["exporter_declaration"]["signatory"] = "渡辺 健二\uff08輸出部長\uff09"
    astral = copy.deepcopy(japanese)
    astral["importer"]["name"] = "株式会社𠮷野商事"
    # Not a valid certificate (its keys are fixed ASCII): an extra object whose keys the fast
    # path must re-sort, the worst case of the encoder, and where the old fast path was wrong.
    key_beyond = copy.deepcopy(astral)
    key_beyond["names"] = {"𠮷野商事": "importer", "\uff21BC": "agent"}
    return {
        "ascii": ascii_co,
        "japanese (BMP)": japanese,
        "beyond U+FFFF": astral,
        "key beyond BMP": key_beyond,
    }


def per_call_us(func: Callable[[], object], number: int, repeat: int) -> list[float]:
    return [t / number * 1e6 for t in timeit.repeat(func, number=number, repeat=repeat)]


def load_encoding(tree: Path) -> ModuleType:
    """``ledger/encoding.py`` of ``tree`` as a module of its own (its imports from ``ledger``
    resolve to this tree's package, whose ``errors`` is the same)."""
    spec = importlib.util.spec_from_file_location(
        f"encoding_{id(tree)}", tree / "ledger" / "encoding.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compare(other_tree: Path, number: int, repeat: int) -> None:
    """fast_canonical_bytes of this tree and of ``other_tree`` timed in turns in one process,
    so that load from other users of the machine falls on both alike."""
    from ledger import encoding

    other = load_encoding(other_tree.resolve())
    print(f"this tree: {Path(encoding.__file__).resolve()}; other: {other.__file__}")
    print(
        f"{'certificate':<16} {'this µs':>9} {'other µs':>9} {'this/other':>11}",
        f"(medians of {repeat} turns)",
    )
    for name, doc in certificates().items():
        mine: list[float] = []
        theirs: list[float] = []
        for _ in range(repeat):
            mine += per_call_us(lambda d=doc: encoding.fast_canonical_bytes(d), number, 1)
            theirs += per_call_us(lambda d=doc: other.fast_canonical_bytes(d), number, 1)
        this_us, other_us = statistics.median(mine), statistics.median(theirs)
        print(f"{name:<16} {this_us:>9.1f} {other_us:>9.1f} {this_us / other_us:>11.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose ledger/ to time")
    parser.add_argument("--number", type=int, default=2_000, help="calls per timing")
    parser.add_argument("--repeat", type=int, default=7, help="timings per figure")
    parser.add_argument("--against", type=Path, help="checkout to time in turns with this one")
    args = parser.parse_args()
    if args.against:
        compare(args.against, args.number, args.repeat)
        return
    sys.path.insert(0, str(args.tree.resolve()))
    from ledger import encoding

    print(f"ledger.encoding from {Path(encoding.__file__).resolve()}")
    print(f"{'certificate':<16} {'function':<22} {'median µs':>10} {'min–max µs':>16} bytes")
    for name, doc in certificates().items():
        data = encoding.fast_canonical_bytes(doc)
        same = data == encoding.canonical_bytes(doc)
        cases: list[tuple[str, Callable[[], object], int]] = [
            ("fast_canonical_bytes", lambda d=doc: encoding.fast_canonical_bytes(d), args.number),
            ("parse_canonical", lambda b=data: encoding.parse_canonical(b), args.number),
            ("canonical_bytes", lambda d=doc: encoding.canonical_bytes(d), args.number // 10),
        ]
        for label, func, number in cases:
            if label == "parse_canonical" and not same:
                print(f"{name:<16} {label:<22} {'(fast bytes are not RFC 8785: not timed)':>28}")
                continue
            times = per_call_us(func, number, args.repeat)
            spread = f"{min(times):.1f}–{max(times):.1f}"
            median = statistics.median(times)
            print(f"{name:<16} {label:<22} {median:>10.1f} {spread:>16} {len(data)}")
        if not same:
            print(f"{name:<16} fast_canonical_bytes differs from rfc8785 (code-point key order)")


if __name__ == "__main__":
    main()
