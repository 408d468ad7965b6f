"""Other projects' test vectors, committed verbatim under ``tests/vectors/peers/`` (sources,
commits and licences in its SOURCE.md), run against ``ledger``:

* cyberphone/json-canonicalization ``testdata``: the RFC 8785 author's input/output pairs,
  through every encoder and the canonical-form checker;
* transparency-dev/merkle ``testdata/{inclusion,consistency}`` and ``testonly/constants.go``:
  RFC 9162 inclusion and consistency proofs (good and deliberately broken), tree roots and
  subtree hashes, through ``ledger.merkle``.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ledger.encoding import canonical_bytes, fast_canonical_bytes, parse_canonical, parse_json
from ledger.errors import EncodingError, ProofInvalid
from ledger.merkle import (
    CompactRange,
    InMemorySubtreeHashes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

PEERS = Path(__file__).parent.parent / "vectors" / "peers"

# --- cyberphone/json-canonicalization ------------------------------------------------------

JCS = PEERS / "json-canonicalization"
JCS_CASES = sorted(path.name for path in (JCS / "input").glob("*.json"))

# tradeledger deliberately restricts RFC 8785's data model (docs/ledger-format.md §1): no
# floating-point numbers (amounts are decimal strings), and no number written with a fraction or
# an exponent even when its value is integral. These cases are therefore refused, not encoded;
# what the test checks instead is said beside each.
OUTSIDE_THE_MODEL: dict[str, tuple[str, bool]] = {
    # name: (why the input is refused, whether the expected output is itself within the model)
    "values.json": (
        "its numbers are IEEE-754 doubles (333333333.33333329, 1E30, 4.50, 2e-3, 1e-27), "
        "which the model leaves out: RFC 8785's ES6 number formatting is never used",
        False,
    ),
    "structures.json": (
        "it writes 56.0, a number with a fraction part, which the parser refuses although its "
        "value is integral; the canonical output writes 56 and is within the model",
        True,
    ),
}
JCS_IN_THE_MODEL = [name for name in JCS_CASES if name not in OUTSIDE_THE_MODEL]


def test_every_jcs_case_is_run_or_listed_with_its_reason() -> None:
    assert len(JCS_CASES) == 6
    assert set(OUTSIDE_THE_MODEL) < set(JCS_CASES)


@pytest.mark.parametrize("name", JCS_IN_THE_MODEL)
def test_jcs_testdata_within_the_model_gives_the_same_bytes(name: str) -> None:
    value = parse_json((JCS / "input" / name).read_bytes())
    expected = (JCS / "output" / name).read_bytes()
    assert canonical_bytes(value) == expected
    assert fast_canonical_bytes(value) == expected
    assert parse_canonical(expected) == value


@pytest.mark.parametrize("name", sorted(OUTSIDE_THE_MODEL))
def test_jcs_testdata_outside_the_model_is_refused_not_misencoded(name: str) -> None:
    why, output_in_model = OUTSIDE_THE_MODEL[name]
    with pytest.raises(EncodingError, match="not an integer") as caught:
        parse_json((JCS / "input" / name).read_bytes())
    assert caught.value.code == "non-canonical-encoding", why
    expected = (JCS / "output" / name).read_bytes()
    if output_in_model:  # the canonical answer holds no float: it must be accepted as it is
        assert canonical_bytes(parse_canonical(expected)) == expected
    else:
        with pytest.raises(EncodingError, match="not an integer"):
            parse_canonical(expected)


# --- transparency-dev/merkle ---------------------------------------------------------------

MERKLE = PEERS / "merkle"
CONSTANTS = (MERKLE / "testonly" / "constants.go").read_text()


def _go_function_body(name: str) -> str:
    match = re.search(rf"^func {name}\(\).*?^}}$", CONSTANTS, re.MULTILINE | re.DOTALL)
    assert match, name
    return match.group()


def _hex_literals(body: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in re.findall(r'hd\("([0-9a-f]*)"\)', body)]


LEAF_INPUTS = _hex_literals(_go_function_body("LeafInputs"))
LEAF_HASHES = [leaf_hash(data) for data in LEAF_INPUTS]
EMPTY_ROOT_HASH = _hex_literals(_go_function_body("EmptyRootHash"))
# RootHashes() starts with EmptyRootHash(), then one hd(...) per tree size from 1.
ROOT_HASHES = EMPTY_ROOT_HASH + _hex_literals(_go_function_body("RootHashes"))
NODE_HASHES = [
    _hex_literals(level) for level in _go_function_body("NodeHashes").split("}, {")
]  # level by level, as NodeHashes() lists them
COMPACT_TREES = [
    [(int(level), int(index)) for level, index in re.findall(r"nh\[(\d+)\]\[(\d+)\]", line)]
    for line in re.findall(r"^\t\t(nil|\{.*\}),", _go_function_body("CompactTrees"), re.M)
]


def test_the_go_constants_were_read_whole() -> None:
    assert len(LEAF_INPUTS) == 8
    assert len(ROOT_HASHES) == 9
    assert [len(level) for level in NODE_HASHES] == [8, 4, 2, 1]
    assert len(COMPACT_TREES) == 9


@pytest.mark.parametrize("size", range(9))
def test_roots_and_compact_ranges_of_the_reference_leaves(size: int) -> None:
    assert root_from_leaf_hashes(LEAF_HASHES[:size]) == ROOT_HASHES[size]
    tree = CompactRange()
    for h in LEAF_HASHES[:size]:
        tree.append(h)
    assert tree.root() == ROOT_HASHES[size]
    assert list(tree.peaks) == [NODE_HASHES[level][index] for level, index in COMPACT_TREES[size]]


def test_every_complete_subtree_hash_of_the_reference_leaves() -> None:
    source = InMemorySubtreeHashes.from_leaf_hashes(LEAF_HASHES)
    for level, hashes in enumerate(NODE_HASHES):
        for index, want in enumerate(hashes):
            assert source.subtree_hash(level, index) == want, (level, index)


def _cases(kind: str) -> list[Any]:
    paths = sorted((MERKLE / "testdata" / kind).rglob("*.json"))
    return [
        pytest.param(json.loads(p.read_text()), id=str(p.relative_to(MERKLE / "testdata" / kind)))
        for p in paths
    ]


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


INCLUSION = _cases("inclusion")
CONSISTENCY = _cases("consistency")


def test_the_proof_vectors_are_all_there() -> None:
    assert len(INCLUSION) == 98
    assert len(CONSISTENCY) == 98


@pytest.mark.parametrize("case", INCLUSION)
def test_rfc9162_inclusion_vectors(case: dict[str, Any]) -> None:
    index, size = case["leafIdx"], case["treeSize"]
    leaf, root = _b64(case["leafHash"]), _b64(case["root"])
    proof = [_b64(p) for p in case["proof"] or []]
    if case["wantErr"]:
        with pytest.raises(ProofInvalid):
            verify_inclusion(leaf, index, size, proof, root)
        return
    verify_inclusion(leaf, index, size, proof, root)
    if size <= len(LEAF_HASHES) and root == ROOT_HASHES[size]:  # a proof we can build too
        source = InMemorySubtreeHashes.from_leaf_hashes(LEAF_HASHES[:size])
        assert inclusion_proof(source, index, size) == proof


# Where ledger.merkle deliberately refuses what the Go verifier accepts, and why.
STRICTER_THAN_GO = {
    "additional/sizes-are-equal-one-and-proof-is-empty.json": (
        "both roots are the 12 bytes 'don't care 2': Go compares equal-size roots as given; "
        "ledger.merkle refuses any root that is not a 32-byte SHA-256 hash before comparing"
    ),
}


@pytest.mark.parametrize("case", CONSISTENCY)
def test_rfc9162_consistency_vectors(case: dict[str, Any], request: pytest.FixtureRequest) -> None:
    first, second = case["size1"], case["size2"]
    first_root, second_root = _b64(case["root1"]), _b64(case["root2"])
    proof = [_b64(p) for p in case["proof"] or []]
    name = request.node.callspec.id
    if name in STRICTER_THAN_GO:
        assert not case["wantErr"], "listed as stricter, but Go refuses it too"
        with pytest.raises(ProofInvalid, match="not a 32-byte SHA-256 hash"):
            verify_consistency(first, second, first_root, second_root, proof)
        return
    if case["wantErr"]:
        with pytest.raises(ProofInvalid):
            verify_consistency(first, second, first_root, second_root, proof)
        return
    verify_consistency(first, second, first_root, second_root, proof)
    if second <= len(LEAF_HASHES) and second_root == ROOT_HASHES[second] and 0 < first < second:
        source = InMemorySubtreeHashes.from_leaf_hashes(LEAF_HASHES[:second])
        assert consistency_proof(source, first, second) == proof
