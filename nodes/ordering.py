"""What the node needs of whatever puts accepted entries in order and into blocks.

:class:`Orderer` is the seam between admission (which decides what may go on the ledger) and
ordering (which decides where). Today one implementation satisfies it, the embedded in-process
:class:`nodes.sequencer.Sequencer` (a durable journal in front of a block thread); an orderer
shared by several nodes (etcd) is to be added beside it without the node, its admission or the
HTTP layer changing. Whatever the implementation, blocks it cuts reach the node through the
``on_block`` callback it was built with, the chain applier (``LedgerNode._on_block``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ledger.chain import CheckedEntry
from ledger.entries import Entry
from ledger.errors import TradeLedgerError

#: Called once a submission is durable (None) or could not be made so (the error).
OnDone = Callable[[TradeLedgerError | None], None]


class Orderer(Protocol):
    """Takes checked entries, acknowledges them once durable, and cuts them into blocks."""

    #: entries that may wait for a block before submissions are held (``api.admission``)
    max_backlog: int
    #: seconds a submission may wait for room in the backlog before it gets 503 node-busy
    admission_timeout: float
    #: seconds a submission waits for its durable acknowledgement before it gets 503 storage
    ack_timeout: float

    def recover(self) -> int:
        """Before :meth:`start`: order again what was acknowledged but not in a block when the
        node stopped; return how many entries that was."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None:
        """Acknowledge what is queued, put it in blocks, and stop."""
        ...

    def enqueue(self, entry: Entry | CheckedEntry, on_done: OnDone | None = None) -> None:
        """Check ``entry`` against the chain and queue it; raise the chain's refusal at once."""
        ...

    def enqueue_all(
        self, entries: list[Entry | CheckedEntry], on_done: OnDone | None = None
    ) -> None:
        """As :meth:`enqueue`, for entries that are all refused or all queued and acknowledged
        together (a certificate and its origin evidence)."""
        ...

    def pending_count(self) -> int:
        """Entries acknowledged or queued and not yet in a block."""
        ...

    def room(self) -> int:
        """How many more entries may wait for a block now (0 when the backlog is full)."""
        ...

    def add_cut_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each block is cut (there may be room again)."""
        ...

    def remove_cut_listener(self, listener: Callable[[], None]) -> None: ...
