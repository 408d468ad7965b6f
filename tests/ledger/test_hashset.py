"""The replay seen-set: a set, compared against Python's own."""

import hashlib

from hypothesis import given
from hypothesis import strategies as st

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
