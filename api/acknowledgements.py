"""Journal acknowledgements handed from the journal thread to the event loop.

A submission's HTTP answer waits for an :class:`asyncio.Future` that the sequencer's journal
thread settles once the entry's commit is durable. ``loop.call_soon_threadsafe`` per
submission would wake the loop (a write to its self-pipe, which also hands the GIL over) once
for each of the dozens of submissions one journal commit acknowledges; under load those
hand-overs, each waiting for the GIL, were most of a submission's latency. Here the journal
thread queues the results and wakes the loop once per batch.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable

from ledger.errors import TradeLedgerError

OnDone = Callable[[TradeLedgerError | None], None]


class Acknowledgements:
    """Settles futures of one event loop from another thread, one wake-up per burst."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # weak, so that _BY_LOOP (weak keys) can let a finished loop go
        self._loop = weakref.ref(loop)
        self._lock = threading.Lock()
        self._ready: list[tuple[asyncio.Future[None], TradeLedgerError | None]] = []
        self._wake_pending = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop()
        if loop is None:
            raise RuntimeError("the event loop these acknowledgements were for is gone")
        return loop

    def future(self) -> tuple[asyncio.Future[None], OnDone]:
        """A future on the loop, and the callback (for any thread) that settles it."""
        future: asyncio.Future[None] = self.loop.create_future()

        def on_done(error: TradeLedgerError | None) -> None:
            with self._lock:
                self._ready.append((future, error))
                if self._wake_pending:
                    return
                self._wake_pending = True
            self.loop.call_soon_threadsafe(self._settle)

        return future, on_done

    def _settle(self) -> None:
        with self._lock:
            ready, self._ready = self._ready, []
            self._wake_pending = False
        for future, error in ready:
            if future.done():  # its request gave up waiting
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Acknowledgements] = (
    weakref.WeakKeyDictionary()
)


def for_running_loop() -> Acknowledgements:
    loop = asyncio.get_running_loop()
    acks = _BY_LOOP.get(loop)
    if acks is None:
        acks = _BY_LOOP[loop] = Acknowledgements(loop)
    return acks
