"""Building small consortia and chains in memory for tests (no store, no network)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.chain import ChainState
from ledger.consortium import Consortium, FoundingMember, create_genesis
from ledger.encoding import Tag
from ledger.entries import Entry, build_entry
from ledger.keys import SigningKey

T0 = datetime(2026, 11, 1, 9, 0, 0, tzinfo=UTC)

ORGS = (
    ("jp-jcci", "Japan Chamber of Commerce and Industry", "JP", ("issuing_authority",)),
    ("jp-exporter", "Tanaka Precision Machinery", "JP", ("exporter",)),
    ("vn-customs", "Viet Nam Customs", "VN", ("customs",)),
    ("jp-bank", "Sakura Trade Bank", "JP", ("bank",)),
)


def seeded_key(n: int) -> SigningKey:
    return SigningKey(bytes([n]) * 32)


@dataclass
class TestChain:
    """A consortium, its keys, and a state that blocks are appended to."""

    consortium: Consortium
    keys: dict[str, SigningKey]
    state: ChainState
    blocks: list[tuple[bytes, str, list[tuple[bytes, bytes | None]]]] = field(default_factory=list)
    clock: datetime = T0
    counter: int = 0

    def entry(
        self,
        etype: str = "co.issued",
        author: str = "jp-jcci",
        *,
        key: SigningKey | None = None,
        refs: Sequence[str] = (),
        payload: bytes | None = None,
        subject: str | None = None,
        timestamp: datetime | None = None,
        cosigners: Sequence[SigningKey] = (),
    ) -> Entry:
        self.counter += 1
        self.clock += timedelta(seconds=1)
        body = payload if payload is not None else json.dumps({"n": self.counter}).encode()
        return build_entry(
            etype,
            author,
            key or self.keys[author],
            body,
            "application/json",
            consortium_id=self.consortium.consortium_id,
            subject=subject or f"{author}/DOC-{self.counter}",
            refs=refs,
            timestamp=timestamp or self.clock,
            nonce=f"{self.counter:032x}",
            cosigners=cosigners,
        )

    def block(self, entries: Sequence[Entry], proposer: str = "jp-jcci") -> None:
        self.clock += timedelta(seconds=1)
        header, checkpoint = self.state.propose_block(
            entries, proposer, self.keys[proposer], self.clock
        )
        raw = [(e.envelope, e.payload) for e in entries]
        self.state.apply_block(header, checkpoint, raw)
        self.blocks.append((header, checkpoint, raw))


def make_chain(
    orgs: Sequence[tuple[str, str, str, tuple[str, ...]]] = ORGS, *, config_quorum: int = 1
) -> TestChain:
    keys = {org[0]: seeded_key(i + 1) for i, org in enumerate(orgs)}
    members = [FoundingMember(o[0], o[1], o[2], o[3], keys[o[0]]) for o in orgs]
    consortium = create_genesis(
        "test-consortium", "Test consortium", members, config_quorum=config_quorum, created=T0
    )
    return TestChain(consortium, keys, ChainState.genesis(consortium))


def signed_envelope(signed: dict[str, Any], key: SigningKey) -> bytes:
    """Sign ``signed`` as its author would and write the envelope, bypassing ledger.entries
    (which refuses to build what attacks need). ``ensure_ascii`` writes a lone surrogate as the
    ``\\ud800`` escape an attacker sends; for ASCII fields it is the canonical encoding."""

    def dumps(value: object) -> bytes:
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()

    sig = base64.b64encode(key.sign(Tag.ENTRY_SIGNATURE.value + dumps(signed))).decode()
    return dumps({"signatures": [{"key_id": key.key_id, "sig": sig}], "signed": signed})


def config_payload(*changes: dict[str, object]) -> bytes:
    return json.dumps({"changes": list(changes)}).encode()
