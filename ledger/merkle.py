"""RFC 9162 Merkle trees: hashing, a streaming compact range, proofs and their verification.

Pure Python, no I/O (``docs/ledger-format.md`` §7). The tree is RFC 9162 §2.1 exactly:

* ``MTH({}) = SHA-256()``, leaf hash ``SHA-256(0x00 || d)``, node hash
  ``SHA-256(0x01 || left || right)``, split at the largest power of two smaller than ``n``.
* A *complete subtree* ``(level, index)`` is the perfect subtree over leaves
  ``index·2^level … (index+1)·2^level − 1``; level 0 holds the leaf hashes themselves.

:class:`CompactRange` folds leaf hashes one at a time, keeping only the peaks (O(log n)), and
reports every complete subtree it finishes so that a store can keep them. Proofs are then built
from those stored hashes through the :class:`SubtreeHashes` protocol with O(log n) look-ups,
never by rehashing the log. Verification follows the numbered steps of RFC 9162 §2.1.3.2 and
§2.1.4.2 and raises :class:`~ledger.errors.ProofInvalid` with a plain sentence on failure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

from ledger.errors import InvalidInput, ProofInvalid

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "InMemorySubtreeHashes",
    "SubtreeHashes",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "range_hash",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

EMPTY_ROOT: bytes = _sha256(b"").digest()
"""``MTH({})``, the hash of an empty tree (RFC 9162 §2.1.1)."""


# --- hashing (RFC 9162 §2.1.1) ------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """``MTH({d}) = SHA-256(0x00 || d)`` (RFC 9162 §2.1.1)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)`` (RFC 9162 §2.1.1)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _fold_peaks(peaks: Sequence[bytes]) -> bytes:
    """MTH of leaves whose complete subtrees (largest first) are ``peaks``.

    The RFC splits ``n`` at its largest power of two ``k``: the left part is the largest peak and
    the right part is, recursively, the rest; so the root is the peaks hashed right to left.
    """
    if not peaks:
        return EMPTY_ROOT
    root = peaks[-1]
    for peak in reversed(peaks[:-1]):
        root = _sha256(_NODE_PREFIX + peak + root).digest()
    return root


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """``MTH(D[n])`` from the leaf hashes (RFC 9162 §2.1.1), iteratively in O(log n) memory."""
    peaks: list[bytes] = []
    for count, h in enumerate(hashes):
        # Merge one peak for each trailing one bit of the count of leaves already folded.
        while count & 1:
            h = _sha256(_NODE_PREFIX + peaks.pop() + h).digest()
            count >>= 1
        peaks.append(h)
    return _fold_peaks(peaks)


def _peak_levels(size: int) -> list[int]:
    """Levels of the complete subtrees making up ``size`` leaves, largest first."""
    return [level for level in reversed(range(size.bit_length())) if size >> level & 1]


def _check_hash(what: str, value: bytes, error: type[InvalidInput] | type[ProofInvalid]) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, (bytes, bytearray)) else None
        got = f"{size} bytes" if size is not None else type(value).__name__
        raise error(f"the {what} is {got}, not a {HASH_SIZE}-byte SHA-256 hash")


# --- streaming: the compact range ---------------------------------------------------------


Node = tuple[int, int, bytes]
"""A complete subtree as ``(level, index, hash)``."""


class CompactRange:
    """The right frontier of a growing RFC 9162 tree: the peaks of ``size`` leaves.

    ``peaks`` are the hashes of the complete subtrees of the binary decomposition of ``size``,
    largest (leftmost) first, which is all that is needed to extend the tree and to compute its
    root (RFC 9162 §2.1.1). Memory is O(log n).
    """

    __slots__ = ("_peaks", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._peaks: list[bytes] = []

    @classmethod
    def from_state(cls, size: int, peaks: Sequence[bytes]) -> CompactRange:
        """Resume from a stored ``size`` and its peaks (largest subtree first)."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidInput(f"a tree size must be a non-negative integer, not {size!r}")
        want = size.bit_count()
        if len(peaks) != want:
            raise InvalidInput(
                f"a tree of {size} leaves has {want} peaks, but {len(peaks)} were given"
            )
        for i, peak in enumerate(peaks):
            _check_hash(f"peak {i}", peak, InvalidInput)
        tree = cls()
        tree._size = size
        tree._peaks = list(peaks)
        return tree

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """Hashes of the complete subtrees making up :attr:`size`, largest first."""
        return tuple(self._peaks)

    def copy(self) -> CompactRange:
        """An independent copy (appending to it leaves this one unchanged)."""
        tree = CompactRange()
        tree._size = self._size
        tree._peaks = self._peaks.copy()
        return tree

    def append(self, leaf_hash: bytes) -> list[Node]:
        """Add one leaf hash; return the complete subtrees it completes, smallest first.

        The first node is always the leaf itself, ``(0, index, leaf_hash)``; then one node per
        level at which the new leaf closes a perfect subtree (one per trailing one bit of the old
        size), each merged with the peak to its left.
        """
        if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
            _check_hash("leaf hash", leaf_hash, InvalidInput)
        index = self._size
        self._size = index + 1
        nodes = [(0, index, leaf_hash)]
        if index & 1:
            peaks = self._peaks
            h = leaf_hash
            level = 0
            while index & 1:
                h = _sha256(_NODE_PREFIX + peaks.pop() + h).digest()
                index >>= 1
                level += 1
                nodes.append((level, index, h))
            peaks.append(h)
        else:
            self._peaks.append(leaf_hash)
        return nodes

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[Node]:
        """Append several leaf hashes; return all the complete subtrees they complete."""
        nodes: list[Node] = []
        for h in leaf_hashes:
            nodes.extend(self.append(h))
        return nodes

    def root(self) -> bytes:
        """``MTH`` of every leaf appended so far (RFC 9162 §2.1.1), for any size."""
        return _fold_peaks(self._peaks)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._peaks == other._peaks

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


# --- sources of complete-subtree hashes ---------------------------------------------------


class SubtreeHashes(Protocol):
    """Anything that knows the hash of complete subtrees (a store, or memory)."""

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree ``(level, index)``; ``KeyError`` if unknown."""
        ...


class InMemorySubtreeHashes:
    """A dict of complete-subtree hashes, fed with :meth:`CompactRange.append`'s output."""

    __slots__ = ("_nodes",)

    def __init__(self, nodes: Iterable[Node] = ()) -> None:
        self._nodes: dict[tuple[int, int], bytes] = {}
        self.add(nodes)

    @classmethod
    def from_leaf_hashes(cls, hashes: Iterable[bytes]) -> InMemorySubtreeHashes:
        """Every complete subtree of the tree over ``hashes``."""
        source = cls()
        tree = CompactRange()
        nodes = source._nodes
        for h in hashes:
            for level, index, value in tree.append(h):
                nodes[level, index] = value
        return source

    def add(self, nodes: Iterable[Node]) -> None:
        """Remember complete subtrees given as ``(level, index, hash)``."""
        store = self._nodes
        for level, index, value in nodes:
            store[level, index] = value

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree ``(level, index)``; ``KeyError`` if unknown."""
        return self._nodes[level, index]

    def __len__(self) -> int:
        return len(self._nodes)


def range_hash(source: SubtreeHashes, start: int, end: int) -> bytes:
    """``MTH(D[start:end])`` (RFC 9162 §2.1.1) from complete-subtree hashes.

    When ``start`` is a multiple of the largest power of two not above ``end − start`` (as for
    every subtree of a tree starting at leaf 0, such as the right edge of a non-power-of-two
    tree) this takes one look-up per set bit of ``end − start``. Other ranges are split as the
    RFC splits them until their parts are aligned.
    """
    if start < 0 or end < start:
        raise InvalidInput(f"[{start}, {end}) is not a range of leaves")
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    top = 1 << (n.bit_length() - 1)
    if start & (top - 1) == 0:
        get = source.subtree_hash
        peaks = []
        for level in _peak_levels(n):
            peaks.append(get(level, start >> level))
            start += 1 << level
        return _fold_peaks(peaks)
    k = top if n != top else top >> 1
    return node_hash(range_hash(source, start, start + k), range_hash(source, start + k, end))


# --- proof generation (RFC 9162 §2.1.3.1, §2.1.4.1) -----------------------------------------


def _path(source: SubtreeHashes, level: int, index: int, end: int) -> list[bytes]:
    """RFC 9162 ``PATH`` of the complete subtree ``(level, index)`` in the tree of ``end`` leaves.

    Below the level where ``index`` and the last node (``(end − 1) >> level``) part ways
    (``inner`` levels) every sibling is a complete subtree, except the topmost, which reaches the
    tree's right edge and may be incomplete. Above it, the path runs along the right edge and has
    a (complete, left) sibling only where ``index`` has a one bit.
    """
    get = source.subtree_hash
    last = (end - 1) >> level
    inner = (index ^ last).bit_length()
    proof = [get(level + h, (index >> h) ^ 1) for h in range(inner - 1)]
    if inner:
        top = inner - 1
        proof.append(range_hash(source, ((index >> top) | 1) << (level + top), end))
    h = inner
    rest = index >> inner
    while rest:
        if rest & 1:
            proof.append(get(level + h, (index >> h) ^ 1))
        rest >>= 1
        h += 1
    return proof


def _inclusion_proof_length(index: int, tree_size: int) -> int:
    inner = (index ^ (tree_size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def inclusion_proof(source: SubtreeHashes, index: int, tree_size: int) -> list[bytes]:
    """``PATH(index, D[tree_size])`` (RFC 9162 §2.1.3.1), leaf-side sibling first.

    O(log n) look-ups in ``source``, which must hold every complete subtree of the first
    ``tree_size`` leaves.
    """
    if not 0 <= index < tree_size:
        raise InvalidInput(f"leaf index {index} is not in a tree of {tree_size} leaves")
    return _path(source, 0, index, tree_size)


def consistency_proof(source: SubtreeHashes, first: int, second: int) -> list[bytes]:
    """``PROOF(first, D[second])`` (RFC 9162 §2.1.4.1).

    ``SUBPROOF`` descends to the last complete subtree of the first tree (the one whose size is
    the lowest set bit of ``first``), records its hash unless it is the whole first tree (``first``
    a power of two), then its ``PATH`` in the second tree. Empty when ``first == second`` or
    ``first == 0``, the trivial cases outside the RFC's ``0 < m < n``.
    """
    if not 0 <= first <= second:
        raise InvalidInput(f"no consistency proof from tree size {first} to {second}")
    if first == 0 or first == second:
        return []
    level = (first & -first).bit_length() - 1
    index = (first - 1) >> level
    proof = [] if index == 0 else [source.subtree_hash(level, index)]
    proof.extend(_path(source, level, index, second))
    return proof


# --- verification (RFC 9162 §2.1.3.2, §2.1.4.2) ---------------------------------------------


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    # The proof is read again after this check: a one-shot iterator would be used up here and
    # then fold as an empty proof (accepted for a one-leaf tree); None would be a TypeError.
    if not isinstance(proof, Sequence):
        raise ProofInvalid(f"the proof is {type(proof).__name__}, not a list of hashes")
    for i, p in enumerate(proof):
        _check_hash(f"proof element {i}", p, ProofInvalid)


def _check_size(what: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProofInvalid(f"the {what} must be a non-negative integer, not {value!r}")


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """The root an inclusion proof leads to: RFC 9162 §2.1.3.2 steps 1–4 and step 5's size check.

    Raises :class:`ProofInvalid` if the proof cannot belong to ``index`` in ``tree_size``.
    """
    _check_size("leaf index", index)
    _check_size("tree size", tree_size)
    _check_hash("leaf hash", leaf_hash, ProofInvalid)
    _check_proof_hashes(proof)

    # Step 1: the leaf index must be less than the tree size.
    if index >= tree_size:
        raise ProofInvalid(f"leaf index {index} is not in a tree of {tree_size} leaves")
    # Step 2: fn is the leaf index, sn the last index.
    fn, sn = index, tree_size - 1
    # Step 3: start from the leaf hash.
    r = leaf_hash
    # Step 4: fold in each proof element.
    for p in proof:
        # 4a: a proof longer than the path to the root fails.
        if sn == 0:
            raise _wrong_inclusion_length(index, tree_size, len(proof))
        # 4b: fn is a right child, or on the right edge with no right sibling: p is on the left.
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # 4b.2: skip the levels where the right edge has no sibling.
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        # Otherwise p is on the right.
        else:
            r = node_hash(r, p)
        # 4c: up one level.
        fn >>= 1
        sn >>= 1
    # Step 5 (first half): the proof must have reached the root.
    if sn != 0:
        raise _wrong_inclusion_length(index, tree_size, len(proof))
    return r


def _wrong_inclusion_length(index: int, tree_size: int, got: int) -> ProofInvalid:
    want = _inclusion_proof_length(index, tree_size)
    return ProofInvalid(
        f"the inclusion proof has {got} hashes, but leaf {index} of a tree of "
        f"{tree_size} leaves needs {want}"
    )


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree ``(tree_size, root)``.

    RFC 9162 §2.1.3.2; raises :class:`ProofInvalid` on any failure.
    """
    _check_hash("root", root, ProofInvalid)
    computed = root_from_inclusion_proof(leaf_hash, index, tree_size, proof)
    # Step 5 (second half): the computed root must be the expected root.
    if computed != root:
        raise ProofInvalid(
            f"the inclusion proof for leaf {index} leads to root {computed.hex()}, "
            f"not {root.hex()} of the tree of {tree_size} leaves"
        )


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree ``(second, second_root)`` extends ``(first, first_root)``.

    RFC 9162 §2.1.4.2 for ``0 < first < second``. The trivial cases outside the RFC's range are
    accepted only with an empty proof: ``first == second`` with equal roots, and ``first == 0``
    with ``first_root`` the empty-tree hash. Raises :class:`ProofInvalid` on any failure.
    """
    _check_size("first tree size", first)
    _check_size("second tree size", second)
    _check_hash("first root", first_root, ProofInvalid)
    _check_hash("second root", second_root, ProofInvalid)
    _check_proof_hashes(proof)
    if first > second:
        raise ProofInvalid(f"the first tree ({first} leaves) is larger than the second ({second})")
    if first == second or first == 0:
        _verify_trivial_consistency(first, second, first_root, second_root, proof)
        return

    # Step 1: an empty consistency path fails.
    if not proof:
        raise ProofInvalid(f"the consistency proof from {first} to {second} leaves is empty")
    path = list(proof)
    # Step 2: if first is an exact power of 2, the first root is the path's first node.
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    # Step 3: fn and sn are the last indices of the two trees.
    fn, sn = first - 1, second - 1
    # Step 4: climb while fn is a right child: those levels are inside the shared subtree.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5: both roots start from the first node.
    fr = sr = path[0]
    # Step 6: fold in each subsequent node.
    for c in path[1:]:
        # 6a: a path longer than the way to the root fails.
        if sn == 0:
            raise ProofInvalid(
                f"the consistency proof from {first} to {second} leaves has too many hashes"
            )
        # 6b: c is a left sibling, shared by both trees.
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            # 6b.3: skip the levels where the right edge has no sibling.
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        # Otherwise c is a right sibling that only the second tree has.
        else:
            sr = node_hash(sr, c)
        # 6c: up one level.
        fn >>= 1
        sn >>= 1
    # Step 7: both roots must match, and the path must have reached the second root.
    if sn != 0:
        raise ProofInvalid(
            f"the consistency proof from {first} to {second} leaves has too few hashes"
        )
    if fr != first_root:
        raise ProofInvalid(
            f"the consistency proof leads to first root {fr.hex()}, not {first_root.hex()}"
        )
    if sr != second_root:
        raise ProofInvalid(
            f"the consistency proof leads to second root {sr.hex()}, not {second_root.hex()}"
        )


def _verify_trivial_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    if proof:
        raise ProofInvalid(
            f"a consistency proof from {first} to {second} leaves must be empty, "
            f"but has {len(proof)} hashes"
        )
    if first == 0 and first_root != EMPTY_ROOT:
        raise ProofInvalid(
            f"the root of an empty tree is {EMPTY_ROOT.hex()}, not {first_root.hex()}"
        )
    if first == second and first_root != second_root:
        raise ProofInvalid(
            f"two trees of {first} leaves have different roots "
            f"{first_root.hex()} and {second_root.hex()}"
        )
