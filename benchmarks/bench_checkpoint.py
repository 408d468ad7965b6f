"""Checkpoint parse + verify rate (issue 13), one core.

    .venv/bin/python benchmarks/bench_checkpoint.py [--checkpoints 4000] [--rounds 3]

Each checkpoint is a distinct block's signed note with the proposer's type-0x01 signature and
four members' tlog-cosignature/v1 lines (five Ed25519 verifications). The timed work is
``Checkpoint.from_text`` (strict signed-note and tlog-checkpoint parsing) and
``Checkpoint.verify`` against a five-member consortium with quorum 5 and the proposer
required. Also printed: parsing alone, and the raw single-core libsodium Ed25519 verify rate,
whose fifth is the ceiling for five signatures. The process is pinned to one CPU.

No assertions: the figures are the output.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.blocks import BlockHeader, Checkpoint, checkpoint_body, checkpoint_origin  # noqa: E402
from ledger.consortium import FoundingMember, create_genesis  # noqa: E402
from ledger.keys import SigningKey, verify_signature  # noqa: E402

ORGS = ("jp-jcci", "vn-customs", "th-customs", "jp-bank", "my-customs")
T0 = datetime(2026, 11, 1, 9, 0, 0, tzinfo=UTC)


def make_checkpoints(n: int) -> tuple[object, list[str], dict[str, str]]:
    keys = {org: SigningKey(bytes([i + 1]) * 32) for i, org in enumerate(ORGS)}
    members = [FoundingMember(org, org, "JP", ["customs"], keys[org]) for org in ORGS]
    consortium = create_genesis("bench-consortium", "Bench", members, created=T0)
    origin = checkpoint_origin(consortium.consortium_id)
    texts = []
    for height in range(1, n + 1):
        header = BlockHeader(
            consortium=consortium.hash.hex(),
            height=height,
            prev_hash=os.urandom(32).hex(),
            time="2026-11-01T09:00:00.000000Z",
            proposer=ORGS[0],
            key_id=keys[ORGS[0]].key_id,
            first_index=height * 500 - 500,
            entry_count=500,
            tree_size=height * 500,
            tree_root=os.urandom(32).hex(),
        )
        checkpoint = Checkpoint(checkpoint_body(origin, header)).signed_by(ORGS[0], keys[ORGS[0]])
        for org in ORGS[1:]:
            checkpoint = checkpoint.cosigned_by(org, keys[org], 1793000000 + height)
        texts.append(checkpoint.to_text())
    return consortium.membership, texts, {ORGS[0]: keys[ORGS[0]].key_id}


def raw_verify_rate(n: int = 10_000) -> float:
    key = SigningKey(b"\x09" * 32)
    msgs = [os.urandom(200) for _ in range(n)]
    sigs = [key.sign(m) for m in msgs]
    raw = key.public_key.raw
    start = time.perf_counter()
    for msg, sig in zip(msgs, sigs, strict=True):
        verify_signature(raw, sig, msg)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    membership, texts, required = make_checkpoints(args.checkpoints)
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)")
    print(f"{len(texts)} checkpoints, {len(texts[0].encode())} bytes each, 1 + 4 signatures")
    full, parse = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for text in texts:
            Checkpoint.from_text(text).verify(membership, quorum=5, required=required)
        full.append(len(texts) / (time.perf_counter() - start))
        start = time.perf_counter()
        for text in texts:
            Checkpoint.from_text(text)
        parse.append(len(texts) / (time.perf_counter() - start))
    raw = raw_verify_rate()
    print(
        "parse + verify: " + ", ".join(f"{r:,.0f}" for r in full) + " checkpoints/s "
        f"(median {statistics.median(full):,.0f})"
    )
    print(f"parse only:     median {statistics.median(parse):,.0f} checkpoints/s")
    print(
        f"raw Ed25519 verify (libsodium): {raw:,.0f}/s, so five per checkpoint cap the rate "
        f"at {raw / 5:,.0f}/s"
    )
    print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
