"""Validations per second of a 10-item certificate of origin, on one core.

Each validation is the whole path a node takes for an XML submission: hardened XML parse,
XSD validation, the pydantic model, and the business rules (ISO codes, HS nomenclature,
agreement profile). The digest is measured separately. The document is
``examples/documents/rcep-jp-machinery-to-vn.co.xml`` (10 items).

Usage: ``python benchmarks/bench_documents.py [--seconds S]``
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import documents

EXAMPLE = (
    Path(__file__).resolve().parent.parent
    / "examples"
    / "documents"
    / "rcep-jp-machinery-to-vn.co.xml"
)


def rate(work: Callable[[], object], seconds: float) -> tuple[float, float, int]:
    """(per wall-clock second, per CPU second of this process, runs). On a shared machine the
    CPU-second figure is the one-core capacity; the wall-clock one includes waiting for it."""
    work()  # warm caches (XSD, nomenclature, country tables)
    done = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            work()
        done += 50
    cpu = time.process_time() - cpu_start
    return done / elapsed, done / cpu, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    data = EXAMPLE.read_bytes()
    json_data = documents.to_json(documents.parse_document(data, "application/xml"))
    doc = documents.parse_document(data, "application/xml")
    assert isinstance(doc, documents.CertificateOfOrigin) and len(doc.items) == 10

    def xml_validation() -> None:
        documents.validate(documents.parse_document(data, "application/xml"))

    def json_validation() -> None:
        documents.validate(documents.parse_document(json_data, "application/json"))

    for label, work in (
        ("XML parse + XSD + model + business rules", xml_validation),
        ("JSON parse + model + business rules", json_validation),
        ("document digest (RFC 8785 + SHA-256)", lambda: documents.document_digest(doc)),
    ):
        wall, cpu, n = rate(work, args.seconds)
        print(f"{label:42s} {wall:7.0f} /s wall  {cpu:7.0f} /s per CPU-second  ({n} runs)")
    print(f"(10-item certificate of origin, {len(data)} bytes of XML)")


if __name__ == "__main__":
    main()
