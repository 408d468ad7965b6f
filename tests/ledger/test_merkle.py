"""ledger.merkle against RFC 6962/9162 reference vectors and a naive recursive RFC 9162 model.

The ``ref_*`` functions below transcribe the recursive definitions of RFC 9162 §2.1 (MTH, PATH,
SUBPROOF) with their own hashing and share no code with ``ledger.merkle``; the vectors in
``tests/vectors/merkle.json`` are the RFC 6962 ones published by transparency-dev/merkle.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidInput, ProofInvalid
from ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    InMemorySubtreeHashes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    range_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "vectors" / "merkle.json").read_text()
)
SETTINGS = settings(max_examples=150, deadline=None)

# --- the naive model: RFC 9162 §2.1 written out recursively ------------------------------


def ref_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def ref_split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(hashes: Sequence[bytes]) -> bytes:
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = ref_split(n)
    return ref_node(ref_mth(hashes[:k]), ref_mth(hashes[k:]))


def ref_path(m: int, hashes: Sequence[bytes]) -> list[tuple[str, bytes]]:
    """PATH(m, D[n]) with the side ("L"/"R") each sibling sits on."""
    n = len(hashes)
    if n <= 1:
        return []
    k = ref_split(n)
    if m < k:
        return [*ref_path(m, hashes[:k]), ("R", ref_mth(hashes[k:]))]
    return [*ref_path(m - k, hashes[k:]), ("L", ref_mth(hashes[:k]))]


def ref_subproof(m: int, hashes: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if whole else [ref_mth(hashes)]
    k = ref_split(n)
    if m <= k:
        return [*ref_subproof(m, hashes[:k], whole), ref_mth(hashes[k:])]
    return [*ref_subproof(m - k, hashes[k:], False), ref_mth(hashes[:k])]


def ref_sides(m: int, n: int) -> list[str]:
    return [side for side, _ in ref_path(m, LEAVES[:n])]


N = 300
LEAVES = [ref_leaf(i.to_bytes(2, "big")) for i in range(N)]
ROOTS = [ref_mth(LEAVES[:n]) for n in range(N + 1)]
SOURCE = InMemorySubtreeHashes.from_leaf_hashes(LEAVES)

sizes = st.integers(min_value=1, max_value=N)


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(sizes)
    return n, draw(st.integers(min_value=0, max_value=n - 1))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(min_value=2, max_value=N))
    return draw(st.integers(min_value=1, max_value=n - 1)), n


def exactly(message: str) -> str:
    """A ``pytest.raises`` pattern for this whole message and nothing else."""
    return f"^{re.escape(message)}$"


def raises_proof_invalid(check: Callable[[], None]) -> bool:
    try:
        check()
    except ProofInvalid:
        return True
    return False


# --- fixed vectors ------------------------------------------------------------------------

VECTOR_LEAVES = [leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaf_inputs_hex"]]
VECTOR_ROOTS = [bytes.fromhex(x) for x in VECTORS["roots_by_size"]]
VECTOR_SOURCE = InMemorySubtreeHashes.from_leaf_hashes(VECTOR_LEAVES)


def test_vector_roots() -> None:
    assert VECTOR_ROOTS[0] == EMPTY_ROOT
    for n, want in enumerate(VECTOR_ROOTS):
        tree = CompactRange()
        tree.extend(VECTOR_LEAVES[:n])
        assert tree.root() == want, n
        assert root_from_leaf_hashes(VECTOR_LEAVES[:n]) == want, n
        assert range_hash(VECTOR_SOURCE, 0, n) == want, n
        # The naive model agrees with the published vectors, so it can judge the rest.
        assert ref_mth([ref_leaf(bytes.fromhex(x)) for x in VECTORS["leaf_inputs_hex"][:n]]) == want


@pytest.mark.parametrize(
    "case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}-of-{c['tree_size']}"
)
def test_vector_inclusion(case: dict[str, Any]) -> None:
    index, size = case["index"], case["tree_size"]
    want = [bytes.fromhex(x) for x in case["proof"]]
    assert inclusion_proof(VECTOR_SOURCE, index, size) == want
    verify_inclusion(VECTOR_LEAVES[index], index, size, want, VECTOR_ROOTS[size])
    assert root_from_inclusion_proof(VECTOR_LEAVES[index], index, size, want) == VECTOR_ROOTS[size]


@pytest.mark.parametrize(
    "case", VECTORS["consistency"], ids=lambda c: f"{c['first']}-{c['second']}"
)
def test_vector_consistency(case: dict[str, Any]) -> None:
    first, second = case["first"], case["second"]
    want = [bytes.fromhex(x) for x in case["proof"]]
    assert consistency_proof(VECTOR_SOURCE, first, second) == want
    verify_consistency(first, second, VECTOR_ROOTS[first], VECTOR_ROOTS[second], want)


def test_hash_domain_separation() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert leaf_hash(b"abc") == ref_leaf(b"abc")
    a, b = LEAVES[0], LEAVES[1]
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert node_hash(a, b) != node_hash(b, a)
    assert leaf_hash(a + b) != node_hash(a, b)


# --- CompactRange -------------------------------------------------------------------------


def ref_peaks(n: int) -> list[bytes]:
    peaks, start = [], 0
    for level in reversed(range(n.bit_length())):
        if n >> level & 1:
            peaks.append(ref_mth(LEAVES[start : start + (1 << level)]))
            start += 1 << level
    return peaks


def test_compact_range_roots_and_peaks_for_every_size() -> None:
    tree = CompactRange()
    for n in range(N + 1):
        assert tree.size == n
        assert tree.root() == ROOTS[n], n
        assert root_from_leaf_hashes(LEAVES[:n]) == ROOTS[n], n
        assert list(tree.peaks) == ref_peaks(n), n
        if n < N:
            tree.append(LEAVES[n])


def test_append_emits_exactly_the_newly_complete_subtrees() -> None:
    tree = CompactRange()
    emitted: list[tuple[int, int, bytes]] = []
    for n in range(1, N + 1):
        nodes = tree.append(LEAVES[n - 1])
        # Subtree (l, i) covers leaves i·2^l … (i+1)·2^l − 1, so it becomes complete exactly
        # when the tree reaches (i+1)·2^l leaves.
        want = {
            (level, (n >> level) - 1) for level in range(n.bit_length()) if n % (1 << level) == 0
        }
        assert {(level, index) for level, index, _ in nodes} == want, n
        assert nodes[0] == (0, n - 1, LEAVES[n - 1])
        assert [level for level, _, _ in nodes] == sorted(level for level, _ in want)
        for level, index, h in nodes:
            assert h == ref_mth(LEAVES[index << level : (index + 1) << level]), (level, index)
        emitted.extend(nodes)
    every = {(lv, i) for lv in range(N.bit_length()) for i in range(N >> lv)}
    assert len(emitted) == len(every) == len({(lv, i) for lv, i, _ in emitted})
    assert len(SOURCE) == len(every)


@SETTINGS
@given(st.integers(min_value=0, max_value=N), st.data())
def test_from_state_resumes_where_it_stopped(a: int, data: st.DataObject) -> None:
    b = data.draw(st.integers(min_value=a, max_value=N))
    straight = CompactRange()
    straight.extend(LEAVES[:a])
    nodes_after_a = straight.extend(LEAVES[a:b])

    resumed = CompactRange.from_state(a, ref_peaks(a))
    assert resumed.root() == ROOTS[a]
    assert resumed.extend(LEAVES[a:b]) == nodes_after_a
    assert resumed.root() == ROOTS[b] == straight.root()
    assert resumed == straight


@pytest.mark.parametrize(
    ("size", "peaks"),
    [
        (-1, []),
        (3, [LEAVES[0]]),  # 3 = 2 + 1 needs two peaks
        (4, [LEAVES[0], LEAVES[1]]),
        (1, [b"\x00" * 31]),
        (0, [LEAVES[0]]),
    ],
)
def test_from_state_refuses_inconsistent_state(size: int, peaks: list[bytes]) -> None:
    with pytest.raises(InvalidInput):
        CompactRange.from_state(size, peaks)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, "00" * 32])
def test_append_refuses_what_is_not_a_hash(bad: Any) -> None:
    tree = CompactRange()
    with pytest.raises(InvalidInput):
        tree.append(bad)
    assert tree.size == 0


def test_compact_ranges_of_one_size_with_different_leaves_differ() -> None:
    one, other = CompactRange(), CompactRange()
    one.extend(LEAVES[:5])
    other.extend(LEAVES[1:6])
    assert one.size == other.size and one != other
    assert one == one.copy()


def test_from_state_and_append_explain_what_they_refuse() -> None:
    # A bool is an int to Python, and -1 has one set bit, as one peak would: both must be
    # refused as sizes, not read as 1.
    for size in (True, -1, "1", 1.0):
        with pytest.raises(
            InvalidInput, match=exactly(f"a tree size must be a non-negative integer, not {size!r}")
        ):
            CompactRange.from_state(size, [LEAVES[0]])  # type: ignore[arg-type]
    with pytest.raises(
        InvalidInput, match=exactly("a tree of 3 leaves has 2 peaks, but 1 were given")
    ):
        CompactRange.from_state(3, [LEAVES[0]])
    with pytest.raises(
        InvalidInput, match=exactly("the peak 1 is 31 bytes, not a 32-byte SHA-256 hash")
    ):
        CompactRange.from_state(3, [LEAVES[0], LEAVES[1][:31]])
    tree = CompactRange()
    for bad, got in [(LEAVES[0][:31], "31 bytes"), (LEAVES[0].hex(), "str")]:
        with pytest.raises(
            InvalidInput, match=exactly(f"the leaf hash is {got}, not a 32-byte SHA-256 hash")
        ):
            tree.append(bad)  # type: ignore[arg-type]
    assert tree.size == 0


def test_copy_is_independent() -> None:
    tree = CompactRange()
    tree.extend(LEAVES[:5])
    other = tree.copy()
    other.append(LEAVES[5])
    assert tree.size == 5 and tree.root() == ROOTS[5]
    assert other.root() == ROOTS[6]
    assert tree != other


# --- subtree sources and ranges -----------------------------------------------------------


def test_source_fed_from_append_output_equals_from_leaf_hashes() -> None:
    fed = InMemorySubtreeHashes()
    tree = CompactRange()
    emitted: list[tuple[int, int, bytes]] = []
    for h in LEAVES[:77]:
        nodes = tree.append(h)
        fed.add(nodes)
        emitted.extend(nodes)
    built = InMemorySubtreeHashes.from_leaf_hashes(LEAVES[:77])
    assert len(built) == len(fed) == len(emitted)
    for level, index, h in emitted:
        assert built.subtree_hash(level, index) == fed.subtree_hash(level, index) == h
    assert fed.subtree_hash(6, 0) == ref_mth(LEAVES[:64]) == SOURCE.subtree_hash(6, 0)
    assert fed.subtree_hash(0, 76) == LEAVES[76]
    with pytest.raises(KeyError):
        fed.subtree_hash(0, 77)
    with pytest.raises(KeyError):
        fed.subtree_hash(4, 4)  # leaves 64..79: incomplete at 77 leaves


@SETTINGS
@given(st.integers(min_value=0, max_value=N), st.integers(min_value=0, max_value=N))
def test_range_hash_is_mth_of_any_range(a: int, b: int) -> None:
    start, end = min(a, b), max(a, b)
    assert range_hash(SOURCE, start, end) == ref_mth(LEAVES[start:end])


def test_range_hash_refuses_backwards_ranges() -> None:
    with pytest.raises(InvalidInput, match=exactly("[5, 4) is not a range of leaves")):
        range_hash(SOURCE, 5, 4)


class CountingSource:
    """Any complete subtree has a made-up hash; counts look-ups and refuses incomplete ones."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.lookups = 0

    def subtree_hash(self, level: int, index: int) -> bytes:
        self.lookups += 1
        if index < 0 or (index + 1) << level > self.size:
            raise KeyError((level, index))
        return hashlib.sha256(f"{level}/{index}".encode()).digest()


@pytest.mark.parametrize("size", [1_000_000, 999_999, 2**20, 2**20 + 1])
def test_proofs_take_logarithmic_lookups_of_complete_subtrees_only(size: int) -> None:
    rng = random.Random(size)
    bound = 2 * size.bit_length() + 2
    for index in [0, size - 1, size // 2, *rng.sample(range(size), 50)]:
        source = CountingSource(size)
        proof = inclusion_proof(source, index, size)
        assert source.lookups <= bound
        assert len(proof) <= size.bit_length()
    for first in [1, size - 1, size // 3, *rng.sample(range(1, size), 20)]:
        source = CountingSource(size)
        consistency_proof(source, first, size)
        assert source.lookups <= bound


# --- inclusion proofs ---------------------------------------------------------------------


def test_inclusion_proofs_match_path_for_small_trees() -> None:
    for n in range(1, 65):
        for i in range(n):
            proof = inclusion_proof(SOURCE, i, n)
            assert proof == [h for _, h in ref_path(i, LEAVES[:n])], (i, n)
            verify_inclusion(LEAVES[i], i, n, proof, ROOTS[n])


@SETTINGS
@given(size_and_index())
def test_inclusion_proofs_verify(case: tuple[int, int]) -> None:
    n, i = case
    proof = inclusion_proof(SOURCE, i, n)
    assert proof == [h for _, h in ref_path(i, LEAVES[:n])]
    verify_inclusion(LEAVES[i], i, n, proof, ROOTS[n])
    assert root_from_inclusion_proof(LEAVES[i], i, n, proof) == ROOTS[n]


def mutated_proofs(proof: list[bytes], rng: random.Random) -> list[tuple[str, list[bytes]]]:
    out: list[tuple[str, list[bytes]]] = []
    junk = rng.randbytes(32)
    for k, element in enumerate(proof):
        byte, bit = rng.randrange(32), rng.randrange(8)
        flipped = bytearray(element)
        flipped[byte] ^= 1 << bit
        out.append(
            (
                f"bit {bit} of byte {byte} of element {k}",
                [*proof[:k], bytes(flipped), *proof[k + 1 :]],
            )
        )
        out.append((f"element {k} dropped", proof[:k] + proof[k + 1 :]))
        out.append((f"element {k} truncated", [*proof[:k], element[:31], *proof[k + 1 :]]))
    for k in range(len(proof) + 1):
        out.append((f"junk inserted at {k}", [*proof[:k], junk, *proof[k:]]))
    if proof:
        out.append(("first element repeated", [proof[0], *proof]))
        out.append(("last element repeated", [*proof, proof[-1]]))
    if len(proof) > 1:
        out.append(("elements reversed", proof[::-1]))
    return out


@SETTINGS
@given(size_and_index(), st.randoms(use_true_random=False))
def test_every_mutated_inclusion_proof_fails(case: tuple[int, int], rng: random.Random) -> None:
    n, i = case
    proof = inclusion_proof(SOURCE, i, n)
    leaf, root = LEAVES[i], ROOTS[n]
    for what, bad in mutated_proofs(proof, rng):
        if bad == proof:
            continue  # reversing a palindrome, say
        with pytest.raises(ProofInvalid):
            verify_inclusion(leaf, i, n, bad, root)
        assert what
    with pytest.raises(ProofInvalid):
        verify_inclusion(LEAVES[(i + 1) % N], i, n, proof, root)  # wrong leaf
    with pytest.raises(ProofInvalid):
        verify_inclusion(leaf, i, n, proof, ROOTS[n - 1])  # wrong root
    for j in {0, n - 1, rng.randrange(n), i ^ 1, i + 1, n, n + 5}:
        if j != i:
            with pytest.raises(ProofInvalid):
                verify_inclusion(leaf, j, n, proof, root)  # wrong index
    # A wrong size fails exactly when PATH takes another shape: RFC 9162 verification only
    # rebuilds the path, so a size whose path looks the same (e.g. leaf 0 in 5 or 6 leaves)
    # leads to the same root.
    for m in {1, n - 1, n + 1, 2 * n, n // 2, rng.randrange(1, N + 1)}:
        if m in (0, n) or m > N:
            continue
        same_shape = i < m and ref_sides(i, m) == ref_sides(i, n)
        failed = raises_proof_invalid(partial(verify_inclusion, leaf, i, m, proof, root))
        assert failed != same_shape, (i, n, m)


def test_inclusion_failures_are_explained() -> None:
    proof = inclusion_proof(SOURCE, 5, 8)
    with pytest.raises(
        ProofInvalid, match="has 2 hashes, but leaf 5 of a tree of 8 leaves needs 3"
    ):
        verify_inclusion(LEAVES[5], 5, 8, proof[:2], ROOTS[8])
    with pytest.raises(ProofInvalid, match="has 4 hashes"):
        verify_inclusion(LEAVES[5], 5, 8, [*proof, proof[0]], ROOTS[8])
    with pytest.raises(ProofInvalid, match="leaf index 8 is not in a tree of 8 leaves"):
        verify_inclusion(LEAVES[5], 8, 8, proof, ROOTS[8])
    with pytest.raises(ProofInvalid, match="leads to root"):
        verify_inclusion(LEAVES[4], 5, 8, proof, ROOTS[8])
    with pytest.raises(ProofInvalid, match="proof element 1 is 31 bytes"):
        verify_inclusion(LEAVES[5], 5, 8, [proof[0], proof[1][:31], proof[2]], ROOTS[8])
    with pytest.raises(ProofInvalid, match="root is 0 bytes"):
        verify_inclusion(LEAVES[5], 5, 8, proof, b"")
    with pytest.raises(ProofInvalid, match="non-negative"):
        verify_inclusion(LEAVES[5], -1, 8, proof, ROOTS[8])


def test_a_wrong_length_inclusion_proof_says_how_many_hashes_it_needs() -> None:
    for n in range(1, 40):
        for i in range(n):
            proof = inclusion_proof(SOURCE, i, n)
            need = len(proof)
            for bad in ([*proof, LEAVES[0]], proof[:-1]):
                if len(bad) == need:
                    continue
                message = (
                    f"the inclusion proof has {len(bad)} hashes, but leaf {i} of a tree of "
                    f"{n} leaves needs {need}"
                )
                with pytest.raises(ProofInvalid, match=exactly(message)):
                    verify_inclusion(LEAVES[i], i, n, bad, ROOTS[n])


# Values that are not a 32-byte hash, and how the error names them.
NOT_HASHES = [
    (None, "NoneType"),
    (5, "int"),
    (LEAVES[0].hex(), "str"),
    (LEAVES[0][:31], "31 bytes"),
    (bytearray(LEAVES[0]), "32 bytes"),
]


@pytest.mark.parametrize(("bad", "got"), NOT_HASHES)
def test_verifiers_refuse_malformed_leaf_hashes_and_roots(bad: Any, got: str) -> None:
    def refused(what: str) -> Any:
        return pytest.raises(
            ProofInvalid, match=exactly(f"the {what} is {got}, not a 32-byte SHA-256 hash")
        )

    proof = inclusion_proof(SOURCE, 5, 8)
    with refused("leaf hash"):
        verify_inclusion(bad, 5, 8, proof, ROOTS[8])
    with refused("leaf hash"):
        root_from_inclusion_proof(bad, 5, 8, proof)
    with refused("root"):
        verify_inclusion(LEAVES[5], 5, 8, proof, bad)
    with refused("proof element 1"):
        verify_inclusion(LEAVES[5], 5, 8, [proof[0], bad, proof[2]], ROOTS[8])
    proof = consistency_proof(SOURCE, 3, 7)
    with refused("first root"):
        verify_consistency(3, 7, bad, ROOTS[7], proof)
    with refused("second root"):
        verify_consistency(3, 7, ROOTS[3], bad, proof)


@pytest.mark.parametrize("bad", [True, False, "1", 1.0, None, -1])
def test_verifiers_refuse_sizes_and_indexes_that_are_not_counts(bad: Any) -> None:
    def refused(what: str) -> Any:
        message = f"the {what} must be a non-negative integer, not {bad!r}"
        return pytest.raises(ProofInvalid, match=exactly(message))

    # Each call would verify with the bad value read as the integer it stands for.
    one = inclusion_proof(SOURCE, 1, 8)
    with refused("leaf index"):
        verify_inclusion(LEAVES[1], bad, 8, one, ROOTS[8])
    with refused("leaf index"):
        verify_inclusion(LEAVES[0], bad, 1, [], LEAVES[0])
    with refused("tree size"):
        verify_inclusion(LEAVES[0], 0, bad, [], LEAVES[0])
    with refused("tree size"):
        root_from_inclusion_proof(LEAVES[0], 0, bad, [])
    with refused("first tree size"):
        verify_consistency(bad, 2, ROOTS[1], ROOTS[2], consistency_proof(SOURCE, 1, 2))
    with refused("first tree size"):
        verify_consistency(bad, 1, ROOTS[1], ROOTS[1], [])
    with refused("second tree size"):
        verify_consistency(1, bad, ROOTS[1], ROOTS[1], [])
    with refused("second tree size"):
        verify_consistency(0, bad, EMPTY_ROOT, ROOTS[1], [])


def test_verifiers_refuse_a_proof_that_is_not_a_list() -> None:
    # An iterator would be used up by the element check and then fold as an empty proof,
    # which a one-leaf tree accepts.
    extra = iter([LEAVES[1]])
    with pytest.raises(
        ProofInvalid, match=exactly("the proof is list_iterator, not a list of hashes")
    ):
        verify_inclusion(LEAVES[0], 0, 1, extra, LEAVES[0])  # type: ignore[arg-type]
    with pytest.raises(ProofInvalid, match=exactly("the proof is NoneType, not a list of hashes")):
        verify_consistency(3, 7, ROOTS[3], ROOTS[7], None)  # type: ignore[arg-type]
    with pytest.raises(ProofInvalid, match=exactly("the proof is NoneType, not a list of hashes")):
        verify_inclusion(LEAVES[0], 0, 1, None, LEAVES[0])  # type: ignore[arg-type]


def test_single_leaf_and_empty_trees() -> None:
    assert inclusion_proof(SOURCE, 0, 1) == []
    verify_inclusion(LEAVES[0], 0, 1, [], LEAVES[0])
    with pytest.raises(ProofInvalid):
        verify_inclusion(LEAVES[0], 0, 1, [], LEAVES[1])
    with pytest.raises(ProofInvalid):
        verify_inclusion(EMPTY_ROOT, 0, 0, [], EMPTY_ROOT)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (5, 5), (6, 5), (-1, 5)])
def test_inclusion_proof_refuses_leaves_outside_the_tree(index: int, size: int) -> None:
    message = f"leaf index {index} is not in a tree of {size} leaves"
    with pytest.raises(InvalidInput, match=exactly(message)):
        inclusion_proof(SOURCE, index, size)


# --- consistency proofs -------------------------------------------------------------------


def test_consistency_proofs_match_subproof_for_small_trees() -> None:
    for n in range(1, 49):
        for m in range(0, n + 1):
            proof = consistency_proof(SOURCE, m, n)
            want = [] if m in (0, n) else ref_subproof(m, LEAVES[:n], True)
            assert proof == want, (m, n)
            verify_consistency(m, n, ROOTS[m], ROOTS[n], proof)


@SETTINGS
@given(two_sizes())
def test_consistency_proofs_verify(case: tuple[int, int]) -> None:
    m, n = case
    proof = consistency_proof(SOURCE, m, n)
    assert proof == ref_subproof(m, LEAVES[:n], True)
    verify_consistency(m, n, ROOTS[m], ROOTS[n], proof)


@SETTINGS
@given(two_sizes(), st.randoms(use_true_random=False))
def test_every_mutated_consistency_proof_fails(case: tuple[int, int], rng: random.Random) -> None:
    m, n = case
    proof = consistency_proof(SOURCE, m, n)
    r1, r2 = ROOTS[m], ROOTS[n]
    for _, bad in [*mutated_proofs(proof, rng), ("empty", [])]:
        if bad == proof:
            continue
        with pytest.raises(ProofInvalid):
            verify_consistency(m, n, r1, r2, bad)
    for a, b in [(r2, r1), (r1, ROOTS[n - 1]), (ROOTS[m - 1], r2), (r1, r1)]:
        with pytest.raises(ProofInvalid):
            verify_consistency(m, n, a, b, proof)
    for k in {0, 1, m - 1, m + 1, m ^ 2, n, n + 1, rng.randrange(n + 1)}:
        if k != m:
            with pytest.raises(ProofInvalid):
                verify_consistency(k, n, r1, r2, proof)  # wrong first size
    # A wrong second size fails exactly when the path of the first tree's last leaf takes
    # another shape in it (RFC 9162 verification rebuilds only that path).
    for k in {m, m + 1, n - 1, n + 1, 2 * n, rng.randrange(m, N + 1)}:
        if k == n or k > N:
            continue
        same_shape = k > m and ref_sides(m - 1, k) == ref_sides(m - 1, n)
        failed = raises_proof_invalid(partial(verify_consistency, m, k, r1, r2, proof))
        assert failed != same_shape, (m, n, k)


def test_trivial_consistency_and_failure_details() -> None:
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 7, EMPTY_ROOT, ROOTS[7], [])
    verify_consistency(7, 7, ROOTS[7], ROOTS[7], [])
    with pytest.raises(ProofInvalid, match="root of an empty tree"):
        verify_consistency(0, 7, ROOTS[1], ROOTS[7], [])
    with pytest.raises(ProofInvalid, match="different roots"):
        verify_consistency(7, 7, ROOTS[7], ROOTS[6], [])
    with pytest.raises(ProofInvalid, match="must be empty"):
        verify_consistency(7, 7, ROOTS[7], ROOTS[7], [ROOTS[7]])
    with pytest.raises(ProofInvalid, match="larger than the second"):
        verify_consistency(8, 7, ROOTS[8], ROOTS[7], [])
    with pytest.raises(ProofInvalid, match="is empty"):
        verify_consistency(3, 7, ROOTS[3], ROOTS[7], [])
    proof = consistency_proof(SOURCE, 3, 7)
    with pytest.raises(ProofInvalid, match="from 3 to 7 leaves has too many hashes"):
        verify_consistency(3, 7, ROOTS[3], ROOTS[7], [*proof, proof[0]])
    with pytest.raises(ProofInvalid, match="from 3 to 7 leaves has too few hashes"):
        verify_consistency(3, 7, ROOTS[3], ROOTS[7], proof[:-1])
    with pytest.raises(ProofInvalid, match="leads to first root"):
        verify_consistency(3, 7, ROOTS[2], ROOTS[7], proof)
    with pytest.raises(ProofInvalid, match="leads to second root"):
        verify_consistency(3, 7, ROOTS[3], ROOTS[6], proof)


@pytest.mark.parametrize(("first", "second"), [(5, 4), (-1, 3)])
def test_consistency_proof_refuses_backwards_sizes(first: int, second: int) -> None:
    message = f"no consistency proof from tree size {first} to {second}"
    with pytest.raises(InvalidInput, match=exactly(message)):
        consistency_proof(SOURCE, first, second)
