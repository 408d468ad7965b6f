"""Shared helpers for the document tests: examples and an in-memory ledger registry."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import documents
from documents import CertificateOfOrigin, RegisteredCertificate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "documents"
RCEP_CO = "rcep-jp-machinery-to-vn.co"


def example_bytes(name: str, suffix: str = ".json") -> bytes:
    return (EXAMPLES / f"{name}{suffix}").read_bytes()


def example_json(name: str) -> dict[str, Any]:
    value = json.loads(example_bytes(name))
    assert isinstance(value, dict)
    return value


def parse_json(value: dict[str, Any]) -> documents.Document:
    return documents.parse_document(json.dumps(value).encode(), "application/json")


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES.glob("*.json"))


@dataclass
class MemoryRegistry:
    """A :class:`documents.DocumentRegistry` over a dict, as the node's index will be."""

    ids: set[str] = field(default_factory=set)
    certificates: dict[str, RegisteredCertificate] = field(default_factory=dict)

    def add(self, co: CertificateOfOrigin, status: str = "current") -> None:
        self.ids.add(co.document_id)
        self.certificates[co.document_id] = RegisteredCertificate.of(co, status)  # type: ignore[arg-type]

    def has_document(self, document_id: str) -> bool:
        return document_id in self.ids

    def registered_certificate(self, document_id: str) -> RegisteredCertificate | None:
        return self.certificates.get(document_id)


def codes(exc: Any) -> list[str]:
    return [e["code"] for e in exc.value.errors]
