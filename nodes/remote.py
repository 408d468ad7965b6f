"""A node's ledger read over HTTP, for ``tradeledger audit replay --node URL``.

:class:`RemoteLedger` feeds replay the same :class:`~nodes.store.RawBlock` values a local store
does, fetched block by block through :class:`api.client.TradeLedgerClient`. Replay then checks
everything itself; the node is not trusted for anything but availability. Payloads the token
may not read come back as ``None`` (replay still verifies every signature, hash link and Merkle
root); an auditor's token reads them all.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

from api.client import TradeLedgerClient
from ledger.consortium import Consortium
from nodes.store import RawBlock


class RemoteLedger:
    def __init__(self, base_url: str, token: str | None, *, timeout: float = 60.0) -> None:
        self.client = TradeLedgerClient(base_url, token, timeout=timeout)

    def consortium(self) -> Consortium:
        """The consortium file the node serves (check its hash against your own copy)."""
        return Consortium.from_bytes(self.client.consortium_bytes())

    def height(self) -> int:
        return self.client.checkpoint().height

    def iter_blocks(self, start: int = 1, stop: int | None = None) -> Iterator[RawBlock]:
        """Blocks ``start..stop`` (default: up to the height when iteration starts)."""
        last = self.height() if stop is None else stop
        for height in range(start, last + 1):
            yield self.block(height)

    def block(self, height: int) -> RawBlock:
        block = self.client.block(height)
        return RawBlock(
            height=block.height,
            header=base64.b64decode(block.header),
            checkpoint=block.checkpoint,
            entries=[
                (
                    base64.b64decode(e.envelope),
                    None if e.payload is None else base64.b64decode(e.payload),
                )
                for e in block.entries
            ],
        )

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """The node's RFC 9162 proof between two block tree sizes (to be verified by the
        caller against roots it trusts)."""
        return [bytes.fromhex(h) for h in self.client.consistency_proof(first, second).hashes]

    def close(self) -> None:
        self.client.close()
