"""Holding submissions while the node's block backlog is full.

The journal acknowledges a submission as soon as it is durable; the block thread writes and
indexes blocks behind it. When submissions arrive faster than blocks are written, the entries
waiting for a block would grow without bound: memory, index lag, and a burst that the node
keeps paying for long after it ended (it competes for the same two cores with everything that
comes next). So a submission first waits here, on the event loop and without holding a
thread, until the node's orderer (:meth:`nodes.ordering.Orderer.room`) says there is room; after
``timeout`` seconds it is answered 503 ``node-busy`` with ``Retry-After``, having changed
nothing. Waiting submissions are let in first come, first served, as many as there is room
for, after each block is cut (the block thread tells the loop once per cut).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ledger.errors import NodeBusy
from nodes.ordering import Orderer

#: While submissions wait, the loop also looks for room this often (seconds), so that a
#: backlog that empties without a cut (the waiting ones admitted before were all refused)
#: cannot strand them.
RECHECK_INTERVAL = 0.05


class Admission:
    """The waiting room in front of one orderer, on one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, orderer: Orderer) -> None:
        self.loop = loop
        # weak: the orderer holds this (as its cut listener), not the other way round
        self._orderer = weakref.ref(orderer)
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._lock = threading.Lock()
        self._wake_pending = False
        self._recheck: asyncio.TimerHandle | None = None
        # let in and not yet queued (nor refused): the room they will take is not in the
        # orderer's count yet, and letting others into it would overshoot the bound
        self._in_flight = 0
        orderer.add_cut_listener(self._on_cut)

    @property
    def orderer(self) -> Orderer:
        orderer = self._orderer()
        if orderer is None:
            raise ReferenceError("the node is gone")
        return orderer

    def _room(self) -> int:
        return self.orderer.room() - self._in_flight

    async def enter(self, timeout: float) -> None:
        """Return once the submission may be checked and queued (then call :meth:`leave` once
        it is queued or refused); raise :class:`NodeBusy` after ``timeout`` seconds without
        room."""
        if not self._waiting and self._room() > 0:
            self._in_flight += 1
            return
        turn: asyncio.Future[None] = self.loop.create_future()
        self._waiting.append(turn)
        self._schedule_recheck()
        timed_out = False

        def expire() -> None:
            nonlocal timed_out
            timed_out = True
            turn.cancel()

        expiry = self.loop.call_later(timeout, expire)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._in_flight -= 1  # let in, but its request was cancelled before it ran
            if timed_out:
                raise NodeBusy(
                    f"{self.orderer.max_backlog} entries are waiting for a block and none "
                    f"made room within {timeout:g} s; nothing was recorded, send it again"
                ) from None
            raise  # the request itself was cancelled
        finally:
            expiry.cancel()

    def leave(self) -> None:
        """The submission let in by :meth:`enter` is queued (now in the orderer's count) or
        was refused."""
        self._in_flight -= 1
        if self._waiting:  # a refused one leaves its room to the next in line
            self._admit()

    def close(self) -> None:
        orderer = self._orderer()
        if orderer is not None:
            orderer.remove_cut_listener(self._on_cut)
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None

    def _on_cut(self) -> None:
        """Called on the block thread after each cut."""
        with self._lock:
            if self._wake_pending or not self._waiting:
                return
            self._wake_pending = True
        try:
            self.loop.call_soon_threadsafe(self._admit)
        except RuntimeError:  # the loop is closed: nothing waits on it any more
            self.close()

    def _admit(self) -> None:
        with self._lock:
            self._wake_pending = False
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
        room = self._room()
        while self._waiting and room > 0:
            turn = self._waiting.popleft()
            if not turn.done():  # else its request gave up
                turn.set_result(None)
                self._in_flight += 1
                room -= 1
        self._schedule_recheck()

    def _schedule_recheck(self) -> None:
        if self._recheck is None and self._waiting:
            self._recheck = self.loop.call_later(RECHECK_INTERVAL, self._admit)


_BY_ORDERER: weakref.WeakKeyDictionary[Orderer, Admission] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def admitted(orderer: Orderer, timeout: float) -> AsyncIterator[None]:
    """Hold the submission until there is room in ``orderer``'s backlog (see
    :class:`Admission`); its body should check and queue it, or refuse it."""
    loop = asyncio.get_running_loop()
    admission = _BY_ORDERER.get(orderer)
    if admission is None or admission.loop is not loop:
        if admission is not None:  # the node is served from another loop now
            admission.close()
        admission = _BY_ORDERER[orderer] = Admission(loop, orderer)
    await admission.enter(timeout)
    try:
        yield
    finally:
        admission.leave()
