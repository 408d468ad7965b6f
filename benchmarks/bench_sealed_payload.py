"""Sealing and opening a 10-item certificate of origin as a sealed payload (issue 16).

    .venv/bin/python benchmarks/bench_sealed_payload.py [--repeat 7] [--number 300]

The plaintext is the canonical bytes of ``examples/documents/rcep-jp-machinery-to-vn.co.json``
(ten items). For 2, 3 and 5 recipients it prints, per entry, the median of ``--repeat`` timings
of ``--number`` calls each (and the spread, min–max) of :func:`ledger.sealed_payload.seal_payload`
and of one recipient's :func:`~ledger.sealed_payload.open_payload`, and the sealed size against
the plaintext. For scale it also times one HPKE single-shot seal and open of a 32-byte secret and
one X25519 exchange, the costs that grow with the recipients. The machine is usually shared:
print ``uptime`` beside the figures. No assertions: the figures are the output.

Targets (issue 16): sealing and opening under 200 µs per entry; overhead under 100 bytes plus
80 per recipient.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import timeit
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger import sealed_payload as sp
from ledger.encoding import canonical_bytes
from ledger.keys import DecryptionKey

ROOT = Path(__file__).resolve().parents[1]
CERTIFICATE = ROOT / "examples" / "documents" / "rcep-jp-machinery-to-vn.co.json"
BINDING = sp.PayloadBinding("tradeledger-dev", "jp-jcci", "0123456789abcdef0123456789abcdef")


def timed(fn: Callable[[], object], repeat: int, number: int) -> tuple[float, float, float]:
    """(median, min, max) µs per call."""
    runs = [t / number * 1e6 for t in timeit.repeat(fn, repeat=repeat, number=number)]
    return statistics.median(runs), min(runs), max(runs)


def row(label: str, stats: tuple[float, float, float], extra: str = "") -> None:
    median, low, high = stats
    print(f"{label:<34} {median:>9.1f} {f'{low:.1f}–{high:.1f}':>15}  {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=300)
    args = parser.parse_args()

    document = json.loads(CERTIFICATE.read_text(encoding="utf-8"))
    plaintext = canonical_bytes(document)
    keys = [DecryptionKey.generate() for _ in range(5)]
    print(
        f"certificate: {CERTIFICATE.name}, {len(document['items'])} items, {len(plaintext)} bytes"
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    print(f"{'what':<34} {'median µs':>9} {'min–max µs':>15}  size")
    for n in (2, 3, 5):
        recipients = [k.public_key for k in keys[:n]]
        sealed = sp.seal_payload(plaintext, recipients, BINDING)
        overhead = len(sealed) - len(plaintext)
        budget = 100 + 80 * n
        row(
            f"seal, {n} recipients",
            timed(lambda r=recipients: sp.seal_payload(plaintext, r, BINDING), *vars_(args)),
            f"{len(sealed)} bytes, overhead {overhead} (target < {budget})",
        )
        row(
            f"open (one recipient of {n})",
            timed(lambda s=sealed, k=keys[n - 1]: sp.open_payload(s, k, BINDING), *vars_(args)),
        )
    private = X25519PrivateKey.generate()
    public = private.public_key()
    wrapped = sp.SUITE.encrypt(bytes(32), public, b"info")
    row(
        "  HPKE seal of a 32-byte secret",
        timed(lambda: sp.SUITE.encrypt(bytes(32), public, b"info"), *vars_(args)),
    )
    row(
        "  HPKE open of a 32-byte secret",
        timed(lambda: sp.SUITE.decrypt(wrapped, private, b"info"), *vars_(args)),
    )
    row("  one X25519 exchange", timed(lambda: private.exchange(public), *vars_(args)))


def vars_(args: argparse.Namespace) -> tuple[int, int]:
    return args.repeat, args.number


if __name__ == "__main__":
    main()
