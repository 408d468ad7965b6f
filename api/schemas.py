"""Response and request bodies of the HTTP API, as pydantic models with examples.

These models are the API's documentation (``/openapi.json``) and the typed results of
:mod:`api.client`. The routes build the same shapes directly for speed; ``tests/api`` checks
that what the routes send validates against these models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

HEX64 = r"^[0-9a-f]{64}$"
_HASH = "3f1c6f1e0b6b0b7f4c1d2a9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a"
_HASH2 = "9b2e4f7a1c3d5e6f8a0b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f2a3b5c7d9e1f"
_CHECKPOINT = (
    "tradeledger/tradeledger-dev\n1500\nPxxvHgtrC39MHSqej3prXE0+LxoLnI1+b1pLPC0eD5o=\n"
    "height 3\nblock m+a/ehw9Xm+KCyxNbo8KGzxdfp8aK0xtjg8qO1x9nh8=\n"
    "time 2026-11-22T10:00:00.600000Z\n"
    "\n\u2014 jp-jcci:1a2b3c4d5e6f7081 AbCdEf0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789"
    "abcdefABCDEF0123456789abcdefABCDEF012345==\n"
)
_ENVELOPE = "eyJzaWduYXR1cmVzIjpbeyJrZXlfaWQiOiIxYTJiM2M0ZDVlNmY3MDgxIiwic2lnIjoiLi4uIn1dfQ=="


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Problem(_Model):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str = Field(examples=["https://tradeledger.dev/problems/not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["no document 'jp-jcci/JCCI-2026-0000042' that you may read"])
    code: str = Field(examples=["not-found"], description="Stable machine-readable error code.")
    instance: str | None = Field(
        default=None, examples=["/v1/documents/jp-jcci/JCCI-2026-0000042/provenance"]
    )
    location: str | None = Field(
        default=None,
        description="Where in the input the problem is: a JSON pointer, an XPath, or "
        "'line L, column C' for a syntax error.",
        examples=["/query/tree_size"],
    )
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="One item per finding when there are several."
    )


class Health(_Model):
    status: Literal["ok"] = "ok"
    height: int = Field(examples=[42])
    tree_size: int = Field(examples=[20_500])
    pending: int = Field(description="Entries acknowledged but not yet in a block.", examples=[3])
    consortium_id: str = Field(examples=["tradeledger-dev"])
    org_id: str = Field(description="The organisation running this node.", examples=["jp-jcci"])
    ordering: Literal["embedded", "etcd"] = Field(
        default="embedded",
        description="Who orders entries: this node alone, or the consortium's etcd cluster.",
    )
    built_height: int | None = Field(
        default=None,
        description="Consortium nodes: the last block this node built and stored; `height` is "
        "the last final one (cosigned by the consortium's checkpoint quorum).",
    )
    cutter: bool | None = Field(
        default=None, description="Consortium nodes: whether this node writes the cut markers now."
    )
    skipped_entries: int | None = Field(
        default=None,
        description="Consortium nodes: entries in the order that failed the chain's rules and "
        "were left out of blocks (by every honest node alike) since this node started.",
    )
    blocks_from_peers: int | None = Field(
        default=None,
        description="Consortium nodes: blocks this node fetched from peers and verified since it "
        "started (catch-up after downtime or after etcd compacted the order it needed).",
    )
    conflicting_headers: list[dict[str, Any]] | None = Field(
        default=None,
        description="Evidence: members' signatures on a different header than this node's for "
        "the same height (equivocation or a diverged node). Empty when all agree.",
    )


class CheckpointSignature(_Model):
    name: str = Field(examples=["jp-jcci:1a2b3c4d5e6f7081"])
    org_id: str = Field(examples=["jp-jcci"])
    key_id: str = Field(examples=["1a2b3c4d5e6f7081"])


class CheckpointResponse(_Model):
    """The latest checkpoint: a C2SP signed note over the newest block header."""

    height: int = Field(examples=[3])
    tree_size: int = Field(examples=[1500])
    root_hash: str = Field(pattern=HEX64, examples=[_HASH])
    block_hash: str = Field(pattern=HEX64, examples=[_HASH2])
    time: str = Field(examples=["2026-11-22T10:00:00.600000Z"])
    checkpoint: str = Field(
        description="The full signed-note text, signature and cosignature lines included.",
        examples=[_CHECKPOINT],
    )
    signatures: list[CheckpointSignature]


class BlockEntry(_Model):
    entry_hash: str = Field(pattern=HEX64, examples=[_HASH])
    envelope: str = Field(
        description="Base64 of the entry's canonical envelope.", examples=[_ENVELOPE]
    )
    payload: str | None = Field(
        description="Base64 of the payload, or null where the caller may not read it.",
        examples=["eyJkb2N1bWVudF90eXBlIjoiY2VydGlmaWNhdGVfb2Zfb3JpZ2luIn0="],
    )


class BlockResponse(_Model):
    height: int = Field(examples=[3])
    header: str = Field(description="Base64 of the canonical header bytes.")
    header_json: dict[str, Any] = Field(
        examples=[
            {
                "v": 1,
                "consortium": _HASH,
                "height": 3,
                "prev_hash": _HASH2,
                "time": "2026-11-22T10:00:00.600000Z",
                "proposer": "jp-jcci",
                "key_id": "1a2b3c4d5e6f7081",
                "first_index": 1000,
                "entry_count": 500,
                "tree_size": 1500,
                "tree_root": _HASH,
            }
        ]
    )
    checkpoint: str = Field(
        description="Signed-note text with cosignatures.", examples=[_CHECKPOINT]
    )
    entries: list[BlockEntry]
    order_revision: int | None = Field(
        default=None,
        description="Consortium nodes only: the ordering service (etcd) revision of the cut "
        "that made this block, where a node that fetched it resumes reading the order.",
        examples=[18342],
    )


class InclusionProof(_Model):
    leaf_index: int = Field(examples=[1042])
    tree_size: int = Field(examples=[1500])
    hashes: list[str] = Field(
        description="RFC 9162 audit path, leaf side first (hex).", examples=[[_HASH, _HASH2]]
    )


class InclusionProofResponse(_Model):
    entry_hash: str = Field(pattern=HEX64, examples=[_HASH])
    leaf_index: int = Field(examples=[1042])
    tree_size: int = Field(examples=[1500])
    hashes: list[str] = Field(examples=[[_HASH, _HASH2]])
    envelope: str = Field(
        description="Base64 of the entry's envelope (its leaf input).", examples=[_ENVELOPE]
    )
    checkpoint: str = Field(
        description="Signed note of the block whose tree size is tree_size.", examples=[_CHECKPOINT]
    )


class ConsistencyProofResponse(_Model):
    first: int = Field(examples=[1000])
    second: int = Field(examples=[1500])
    hashes: list[str] = Field(
        description="RFC 9162 consistency proof (hex).", examples=[[_HASH, _HASH2]]
    )
    first_checkpoint: str = Field(examples=[_CHECKPOINT])
    second_checkpoint: str = Field(examples=[_CHECKPOINT])


class ProvenanceEvent(_Model):
    event: str = Field(description="The entry type.", examples=["co.issued"])
    entry_hash: str = Field(pattern=HEX64, examples=[_HASH])
    leaf_index: int = Field(examples=[1042])
    height: int = Field(examples=[3])
    timestamp: str = Field(examples=["2026-11-22T09:59:58.120000Z"])
    actor: str = Field(description="Organisation id of the entry's author.", examples=["jp-jcci"])
    envelope: str = Field(examples=[_ENVELOPE])
    payload_digest: str = Field(pattern=HEX64, examples=[_HASH2])
    inclusion_proof: InclusionProof


class StatusRecord(_Model):
    """A document's record in the status map (docs/ledger-format.md §12)."""

    v: int = Field(examples=[1])
    status: Literal["current", "revoked", "superseded", "unknown"] = Field(examples=["revoked"])
    events: int = Field(description="How many events the document has.", examples=[3])
    events_hash: str = Field(pattern=HEX64, description="Running hash of their entry hashes.")
    latest_event: str = Field(pattern=HEX64, examples=[_HASH])
    latest_type: str = Field(examples=["co.revoked"])
    superseded_by: str | None = Field(examples=[None])
    valid_until: str | None = Field(examples=["2027-11-22"])


class StatusProof(_Model):
    """The status map's proof for one document at the answer's checkpoint: ``record`` is what
    the map holds for it (null: nothing, and ``proof`` is a non-membership proof), ``proof``
    the map proof (base64, §12), ``header`` the block header at ``height`` (base64; its hash
    is the checkpoint's ``block`` line, its ``status_root`` the map's root)."""

    record: StatusRecord | None
    proof: str = Field(description="Base64 of the binary status map proof.")
    height: int = Field(examples=[3])
    header: str = Field(description="Base64 of the block header's canonical bytes.")


class ProvenanceResponse(_Model):
    document_id: str = Field(examples=["jp-jcci/JCCI-2026-0000042"])
    status: Literal["current", "revoked", "superseded", "expired", "unknown"] = Field(
        examples=["current"]
    )
    tree_size: int = Field(
        description="All inclusion proofs are to this tree size.", examples=[1500]
    )
    checkpoint: str = Field(examples=[_CHECKPOINT])
    events: list[ProvenanceEvent]
    status_proof: StatusProof | None = Field(
        description="Proves the status and that the events listed are all of them."
    )


class SubmissionResponse(_Model):
    document_id: str | None = Field(examples=["jp-jcci/JCCI-2026-0000042"])
    entry_hash: str = Field(pattern=HEX64, examples=[_HASH])
    status: Literal["accepted"] = "accepted"
    event: str = Field(examples=["co.issued"])
    author: str = Field(examples=["jp-jcci"])
    timestamp: str = Field(examples=["2026-11-22T09:59:58.120000Z"])
    payload_digest: str = Field(pattern=HEX64, examples=[_HASH2])
    origin_evidence_entry_hash: str | None = Field(
        default=None,
        pattern=HEX64,
        description="The origin.evidence entry recorded with a certificate sent with "
        "origin_evidence.",
    )


class OriginDigestCheck(_Model):
    item_number: int = Field(examples=[1])
    certificate_digest: str | None = Field(description="The digest the certificate records.")
    recomputed_digest: str | None = Field(
        description="SHA-256 of the tag tradeledger/v1/origin-determination and the RFC 8785 "
        "bytes of the recorded determination."
    )
    matches: bool


class OriginEvidenceResponse(_Model):
    document_id: str = Field(examples=["jp-jcci/JCCI-2026-0000042"])
    certificate_entry_hash: str | None = Field(pattern=HEX64)
    evidence_entry_hash: str = Field(pattern=HEX64)
    leaf_index: int
    agreement: str | None = Field(examples=["RCEP"])
    items: list[dict[str, Any]] = Field(
        description="Per evidenced item: item_number, claimed_criterion, product_hs, bom (as "
        "submitted), determination (the Determination JSON) and digest."
    )
    digests: list[OriginDigestCheck]
    digests_match: bool


class SignedEntry(BaseModel):
    """An entry signed by its author (``application/vnd.tradeledger.entry+json``)."""

    model_config = ConfigDict(extra="forbid")
    envelope: str = Field(description="Base64 of the canonical envelope.", examples=[_ENVELOPE])
    payload: str = Field(
        description="Base64 of the payload bytes.",
        examples=["eyJudW1iZXIiOiJKQ0NJLTIwMjYtMDAwMDA0MiJ9"],
    )


class EntryResponse(_Model):
    entry_hash: str = Field(pattern=HEX64, examples=[_HASH])
    leaf_index: int = Field(examples=[1042])
    height: int = Field(examples=[3])
    type: str = Field(examples=["co.issued"])
    author: str = Field(examples=["jp-jcci"])
    subject: str | None = Field(examples=["jp-jcci/JCCI-2026-0000042"])
    timestamp: str = Field(examples=["2026-11-22T09:59:58.120000Z"])
    envelope: str = Field(examples=[_ENVELOPE])
    payload: str | None = Field(examples=[None])


class VerifyByDigest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    digest: str = Field(
        pattern=HEX64,
        examples=[_HASH2],
        description="SHA-256 of the document file, or its document digest.",
    )


class VerifyById(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document_id: str = Field(min_length=1, examples=["jp-jcci/JCCI-2026-0000042"])


class VerifyResponse(_Model):
    found: bool = Field(examples=[True])
    match: Literal["digest", "document_id"] | None = Field(examples=["digest"])
    document_id: str | None = Field(examples=["jp-jcci/JCCI-2026-0000042"])
    status: str | None = Field(examples=["current"])
    kind: str | None = Field(examples=["certificate_of_origin"])
    issuer: str | None = Field(examples=["jp-jcci"])
    issued_at: str | None = Field(examples=["2026-11-22T09:59:58.120000Z"])
    valid_until: str | None = Field(examples=["2027-11-22"])
    superseded_by: str | None = Field(examples=[None])
    entry_hash: str | None = Field(examples=[_HASH])
    leaf_index: int | None = Field(examples=[1042])
    envelope: str | None = Field(examples=[_ENVELOPE])
    inclusion_proof: InclusionProof | None
    checkpoint: CheckpointResponse
    reason: str | None = Field(examples=[None])
    status_proof: StatusProof | None = Field(
        description="Proves the status at the checkpoint (null when nothing was found)."
    )


class OriginRequest(_Model):
    """A bill of materials (docs/origin-formats.md) plus the agreement and the product's HS code."""

    agreement: str = Field(examples=["RCEP"])
    product: str = Field(examples=["870830"], description="6-digit HS code of the good.")
    fob: str | float = Field(examples=["1000.00"])
    currency: str = Field(examples=["USD"])
    hs_edition: str | None = Field(default=None, examples=["HS2012"])
    exporting_country: str = Field(examples=["JP"])
    importing_country: str = Field(examples=["VN"])
    materials: list[dict[str, Any]] = Field(
        examples=[
            [
                {
                    "hs": "870899",
                    "description": "brake pads",
                    "origin": "CN",
                    "value": "120.00",
                    "originating": False,
                },
                {"hs": "731815", "origin": "TH", "value": "40.00", "originating": True},
            ]
        ]
    )


class Determination(_Model):
    agreement: str = Field(examples=["RCEP"])
    product_hs: str = Field(examples=["870830"])
    hs_edition: str = Field(examples=["HS2012"])
    rule: str | None = Field(examples=["CTH or RVC40"])
    originating: bool = Field(examples=[True])
    criterion: str | None = Field(examples=["CTC"])
    rvc_percent: str | None = Field(examples=["84.00"])
    reasons: list[str] = Field(examples=[["Every non-originating material changes heading."]])


CertificateExample: dict[str, Any] = {
    "document_type": "certificate_of_origin",
    "agreement": "RCEP",
    "number": "JCCI-2026-0000042",
    "issuer": "jp-jcci",
    "exporter": {
        "name": "Tanaka Precision Machinery Co., Ltd.",
        "address": "2-1-1 Marunouchi, Chiyoda-ku, Tokyo",
        "country": "JP",
    },
    "importer": {
        "name": "Saigon Industrial Equipment JSC",
        "address": "Lot B2, Tan Thuan EPZ, Ho Chi Minh City",
        "country": "VN",
    },
    "importing_country": "VN",
    "issue_date": "2026-11-22",
    "items": [
        {
            "item_number": 1,
            "description": "Brake assemblies for motor vehicles",
            "hs_code": "870830",
            "hs_edition": "HS2012",
            "origin_criterion": "RVC",
            "quantity": "20",
            "unit": "PCE",
            "fob_value": "12000.00",
            "currency": "USD",
        }
    ],
}
