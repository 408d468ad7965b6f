"""Journal acknowledgements: futures on the event loop settled from the journal thread."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest

from api import acknowledgements
from api.acknowledgements import Acknowledgements, for_running_loop
from ledger.errors import StorageError


def test_each_future_gets_its_own_outcome_from_another_thread() -> None:
    async def main() -> list[object]:
        acks = Acknowledgements(asyncio.get_running_loop())
        pairs = [acks.future() for _ in range(500)]
        failure = StorageError("the journal commit failed")

        def journal_thread() -> None:
            for i, (_, on_done) in enumerate(pairs):
                on_done(failure if i % 7 == 0 else None)

        threading.Thread(target=journal_thread).start()
        return await asyncio.gather(*(f for f, _ in pairs), return_exceptions=True)

    outcomes = asyncio.run(main())
    assert len(outcomes) == 500
    for i, outcome in enumerate(outcomes):
        if i % 7 == 0:
            assert isinstance(outcome, StorageError)
        else:
            assert outcome is None


def test_a_future_whose_request_gave_up_is_skipped() -> None:
    async def main() -> bool:
        acks = Acknowledgements(asyncio.get_running_loop())
        abandoned, on_abandoned = acks.future()
        waited, on_waited = acks.future()
        abandoned.cancel()
        threading.Thread(target=lambda: (on_abandoned(None), on_waited(None))).start()
        await asyncio.wait_for(waited, 5)
        return abandoned.cancelled()

    assert asyncio.run(main())


def test_one_dispatcher_per_loop() -> None:
    async def main() -> tuple[Acknowledgements, Acknowledgements]:
        return for_running_loop(), for_running_loop()

    a, b = asyncio.run(main())
    assert a is b
    c, _ = asyncio.run(main())
    assert c is not a
    with pytest.raises(RuntimeError):
        for_running_loop()


def test_a_finished_loop_is_not_kept_alive_by_its_acknowledgements() -> None:
    async def main() -> None:
        for_running_loop()

    before = len(acknowledgements._BY_LOOP)
    for _ in range(3):
        asyncio.run(main())
    gc.collect()
    assert len(acknowledgements._BY_LOOP) == before
