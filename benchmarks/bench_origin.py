"""Origin determinations per second for a 50-material BOM on one core (issue 6).

    .venv/bin/python benchmarks/bench_origin.py [--seconds 3]

Prints, for RCEP heading 85.38 ("CTH or RVC40") and a 50-material BOM:

1. determine() on an already-validated BOM (what the node's gate re-runs);
2. determine() from the BOM as a decoded JSON object (validation included);
3. determine() from JSON bytes (parsing + validation), and with determination_digest();
4. the same with HS2022 input codes (every material mapped to HS2012).

No assertions: the figures are the output. Runs in this one process (one core).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from documents.origin.bom import parse_bom
from documents.origin.evaluate import determination_digest, determine

CODES = [
    "392690",
    "731815",
    "740921",
    "854449",
    "853690",
    "854110",
    "850440",
    "732690",
    "760612",
    "401699",
    "848180",
    "853890",
    "853650",
    "903289",
    "392321",
]
PARTIES = ["JP", "TH", "VN", "CN", "KR", "MY", "unknown", "US"]


def make_bom(n: int, seed: int = 6, edition: str = "HS2012") -> dict:
    rnd = random.Random(seed)
    mats = []
    for i in range(n):
        origin = rnd.choice(PARTIES)
        mats.append(
            {
                "hs": rnd.choice(CODES),
                "description": f"part {i}",
                "origin": origin,
                "value": f"{rnd.randint(100, 5000) / 100:.2f}",
                "originating": origin not in ("unknown", "US") and rnd.random() < 0.5,
            }
        )
    return {
        "fob": "5000.00",
        "currency": "USD",
        "hs_edition": edition,
        "exporting_country": "JP",
        "importing_country": "VN",
        "materials": mats,
    }


def rate(label: str, fn, seconds: float) -> None:
    fn()  # warm caches (HS tables, rule table, parser)
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            fn()
        n += 50
        now = time.perf_counter()
        if now >= deadline:
            break
    per_s = n / (now - start)
    print(f"{label:<58} {per_s:>9,.0f} /s  ({1e6 / per_s:,.0f} µs each)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--materials", type=int, default=50)
    args = ap.parse_args()
    body = make_bom(args.materials)
    raw = json.dumps(body).encode()
    parsed = parse_bom(raw)
    body22 = make_bom(args.materials, edition="HS2022")
    parsed22 = parse_bom(json.dumps(body22))
    det = determine("RCEP", "853890", parsed)
    print(
        f"RCEP 853890, {args.materials} materials: originating={det.originating} "
        f"criterion={det.criterion} rvc={det.to_json()['rvc_percent']} "
        f"reasons={len(det.reasons)}"
    )
    print(f"python {sys.version.split()[0]}, one process, {args.seconds:.0f} s per line")
    rate("determine(validated BOM)", lambda: determine("RCEP", "853890", parsed), args.seconds)
    rate(
        "determine(dict BOM, validation included)",
        lambda: determine("RCEP", "853890", body),
        args.seconds,
    )
    rate(
        "determine(JSON bytes) + determination_digest",
        lambda: determination_digest(determine("RCEP", "853890", raw)),
        args.seconds,
    )
    rate(
        "determine(validated BOM, HS2022 codes mapped to HS2012)",
        lambda: determine("RCEP", "853890", parsed22),
        args.seconds,
    )


if __name__ == "__main__":
    main()
