"""The replay seen-set: a set, compared against Python's own."""

import hashlib
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ledger.chain
from ledger.chain import TruncatedHashSet


@given(st.lists(st.binary(min_size=1, max_size=8), max_size=3000), st.binary(max_size=8))
def test_behaves_like_a_set_of_prefixes(items: list[bytes], probe: bytes) -> None:
    hashes = [hashlib.sha256(i).digest() for i in items]
    seen = TruncatedHashSet(capacity=4)  # forces several resizes
    model: set[bytes] = set()
    for h in hashes:
        seen.add(h)
        model.add(h)
    assert len(seen) == len(model)
    assert all(h in seen for h in model)
    other = hashlib.sha256(b"probe" + probe).digest()
    assert (other in seen) == (other in model)
    assert b"not a hash" not in seen and None not in seen


def _key(start: int, n: int) -> bytes:
    """A hash whose first 8 bytes (the start of its probe) are ``start`` and next 8 are ``n``."""
    return start.to_bytes(8, "big") + n.to_bytes(8, "big") + bytes(16)


def test_colliding_prefixes_are_all_kept_and_found() -> None:
    seen = TruncatedHashSet()
    keys = [_key(7, n) for n in range(1, 40)] + [_key(1023, n) for n in range(1, 40)]
    for k in keys:
        seen.add(k)
        seen.add(k)  # twice: still one
    assert len(seen) == len(keys)
    assert all(k in seen for k in keys)
    assert _key(7, 99) not in seen and _key(1023, 99) not in seen and _key(8, 1) not in seen


def test_a_lookup_ends_when_every_slot_of_one_parity_is_taken() -> None:
    """Half the table full, all on even slots: probing must reach the odd ones."""
    seen = TruncatedHashSet(capacity=4)  # 1024 slots, grown past 512 entries
    evens = [_key(2 * i, 1) for i in range(512)]
    for k in evens:
        seen.add(k)
    assert len(seen) == 512 and all(k in seen for k in evens)
    assert _key(0, 2) not in seen


def _kib(make):  # type: ignore[no-untyped-def]
    """KiB that ``make()`` allocated in ledger/chain.py and still holds, and what it returned
    (only that file's allocations: other threads of a test run allocate too)."""
    tracemalloc.start()
    try:
        made = make()
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    mine = snapshot.filter_traces([tracemalloc.Filter(True, ledger.chain.__file__)])
    return sum(t.size for t in mine.traces) // 1024, made


def test_the_table_holds_16_bytes_a_slot_at_a_load_of_at_most_one_half() -> None:
    # 2 * capacity - 1 slots rounded up to a power of two, at least 1024
    assert _kib(lambda: TruncatedHashSet(capacity=4))[0] == 16
    assert _kib(lambda: TruncatedHashSet(capacity=512))[0] == 16
    assert _kib(lambda: TruncatedHashSet(capacity=513))[0] == 32
    assert _kib(TruncatedHashSet)[0] == 32  # capacity 1024
    keys = [hashlib.sha256(b"%d" % i).digest() for i in range(2049)]
    seen = TruncatedHashSet()
    sizes = []
    for n, k in enumerate(keys, 1):
        kib, _ = _kib(lambda k=k: seen.add(k))  # type: ignore[misc]
        if kib:
            sizes.append((n, kib))
    assert sizes == [(1025, 64), (2049, 128)]  # doubled each time more than half is used
    assert len(seen) == 2049 and all(k in seen for k in keys)


def test_an_all_zero_prefix_cannot_be_stored() -> None:
    with pytest.raises(ValueError, match=r"^an all-zero hash prefix cannot be stored$"):
        TruncatedHashSet().add(bytes(16) + b"\x01" * 16)


def test_table_round_trips_through_bytes() -> None:
    import os

    known = TruncatedHashSet()
    hashes = [os.urandom(32) for _ in range(3000)]  # grows past the first table
    for h in hashes:
        known.add(h)
    again = TruncatedHashSet.from_bytes(known.to_bytes(), len(known))
    assert len(again) == 3000 and all(h in again for h in hashes)
    assert os.urandom(32) not in again
    again.add(b"\x01" * 32)
    assert b"\x01" * 32 in again and b"\x01" * 32 not in known


@pytest.mark.parametrize(
    ("table", "count"),
    [
        (bytes(16 * 1000), 0),
        (bytes(16 * 1024 + 1), 0),
        (bytes(16 * 1024), 513),
        (bytes(16 * 1024), -1),
    ],
)
def test_from_bytes_refuses_what_is_not_a_table(table: bytes, count: int) -> None:
    with pytest.raises(ValueError):
        TruncatedHashSet.from_bytes(table, count)
