"""ledger.blocks: block headers read from bytes, checkpoints read from text and verified.

Each refusal is checked with its whole sentence (``exactly``): the message is what an auditor
reads, and it must name what is wrong.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable

import pytest

from ledger.blocks import (
    BlockHeader,
    Checkpoint,
    NoteSignature,
    check_header_hashes,
    checkpoint_origin,
    consortium_verifier_keys,
    cosigner_key_hash,
    header_matches_checkpoint,
    member_verifiers,
    note_key_hash,
    note_key_name,
    parse_checkpoint_body,
)
from ledger.cosignature import CosignerKey
from ledger.encoding import canonical_bytes
from ledger.errors import CheckpointInvalid, EncodingError
from ledger.keys import SigningKey
from tests.chainbuilder import TestChain as Chain
from tests.chainbuilder import make_chain

ROOT_B64 = base64.b64encode(b"\x07" * 32).decode()


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


def one_block() -> tuple[Chain, BlockHeader, Checkpoint]:
    chain = make_chain()
    chain.block([chain.entry()])
    header, text, _ = chain.blocks[0]
    return chain, BlockHeader.from_bytes(header), Checkpoint.from_text(text)


# --- block headers --------------------------------------------------------------------------


def test_header_bytes_round_trip() -> None:
    _, header, _ = one_block()
    assert BlockHeader.from_bytes(header.to_bytes()) == header
    check_header_hashes(header)


def _header_with(**changes: object) -> bytes:
    _, header, _ = one_block()
    return canonical_bytes({**header.to_dict(), **changes})


@pytest.mark.parametrize("name", ["height", "first_index", "entry_count", "tree_size"])
@pytest.mark.parametrize("bad", [-1, True, "1", None])
def test_header_counts_must_be_non_negative_integers(name: str, bad: object) -> None:
    with pytest.raises(EncodingError, match=exactly(f"{name} must be a non-negative integer")) as e:
        BlockHeader.from_bytes(_header_with(**{name: bad}))
    assert e.value.location == f"/{name}"


@pytest.mark.parametrize("name", ["consortium", "prev_hash", "tree_root", "status_root"])
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("ab" * 31, "must be 64 lowercase hex digits"),
        ("AB" * 32, "must be 64 lowercase hex digits"),
        (7, "must be 64 lowercase hex digits"),
        ("zz" * 32, "must be 64 lowercase hex digits"),
    ],
)
def test_header_hashes_must_be_lowercase_hex(name: str, bad: object, message: str) -> None:
    with pytest.raises(EncodingError, match=exactly(f"{name} {message}")):
        BlockHeader.from_bytes(_header_with(**{name: bad}))
    if isinstance(bad, str):
        _, header, _ = one_block()
        fields = {**header.to_dict(), name: bad}
        del fields["v"]
        with pytest.raises(EncodingError, match=exactly(f"{name} {message}")):
            check_header_hashes(BlockHeader(**fields))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["proposer", "key_id"])
@pytest.mark.parametrize("bad", ["", 5, None])
def test_header_proposer_and_key_must_be_strings(name: str, bad: object) -> None:
    with pytest.raises(EncodingError, match=exactly(f"{name} must be a string")) as e:
        BlockHeader.from_bytes(_header_with(**{name: bad}))
    assert e.value.location == f"/{name}"


def test_header_version_and_time_are_checked() -> None:
    for old_or_new in (1, 3):  # version 1 had no status_root
        with pytest.raises(EncodingError, match=exactly("unsupported block version")) as e:
            BlockHeader.from_bytes(_header_with(v=old_or_new))
        assert e.value.location == "/v"
    with pytest.raises(EncodingError, match=r"^block time "):
        BlockHeader.from_bytes(_header_with(time="2026-11-01 09:00:00"))


def test_header_must_be_a_canonical_object_with_exactly_its_fields() -> None:
    _, header, _ = one_block()
    fields = header.to_dict()
    with pytest.raises(
        EncodingError, match=exactly("the block header is not in the canonical encoding (RFC 8785)")
    ):
        BlockHeader.from_bytes(header.to_bytes().replace(b",", b", ", 1))
    del fields["height"]
    with pytest.raises(EncodingError, match=exactly("missing height")) as e:
        BlockHeader.from_bytes(canonical_bytes(fields))
    assert e.value.location == "/"
    with pytest.raises(EncodingError, match=exactly("unexpected extra")) as e:
        BlockHeader.from_bytes(_header_with(extra=1))
    assert e.value.location == "/"


def test_header_matches_only_its_own_checkpoint() -> None:
    chain, header, checkpoint = one_block()
    origin = checkpoint_origin(chain.consortium.consortium_id)
    assert header_matches_checkpoint(origin, header, checkpoint)
    fields = {**header.to_dict(), "tree_size": header.tree_size + 1}
    del fields["v"]
    assert not header_matches_checkpoint(origin, BlockHeader(**fields), checkpoint)  # type: ignore[arg-type]
    assert not header_matches_checkpoint("tradeledger/other", header, checkpoint)


# --- checkpoints: text form ------------------------------------------------------------------


def test_checkpoint_text_round_trips_and_reads_its_lines() -> None:
    chain, header, checkpoint = one_block()
    cosigned = checkpoint.signed_by("jp-bank", chain.keys["jp-bank"])
    again = Checkpoint.from_text(cosigned.to_text())
    assert again == cosigned
    assert [s.name for s in again.signatures] == [
        f"jp-jcci:{chain.keys['jp-jcci'].key_id}",
        f"jp-bank:{chain.keys['jp-bank'].key_id}",
    ]
    assert again.origin == checkpoint_origin(chain.consortium.consortium_id)
    assert again.tree_size == header.tree_size == 1
    assert again.root_hash.hex() == header.tree_root
    assert again.height == header.height == 1
    assert again.block_hash == header.block_hash
    assert again.extension("time") == header.time
    assert again.extension("nothing") is None


def test_a_body_of_origin_size_and_root_alone_is_not_a_tradeledger_checkpoint() -> None:
    # tlog-checkpoint allows it; a tradeledger checkpoint also names its height, block and time
    with pytest.raises(
        CheckpointInvalid,
        match=exactly(
            "a checkpoint body is origin, tree size, root hash, height, block and time lines"
        ),
    ):
        Checkpoint.from_text(f"origin\n5\n{ROOT_B64}\n\n\u2014 a:b AAAAAAAAAAAA\n")


def test_an_extension_value_is_the_rest_of_its_line() -> None:
    _, header, checkpoint = one_block()
    assert checkpoint.extension("time") == header.time
    assert checkpoint.extension("height") == str(header.height)


def test_blank_lines_among_signatures_are_refused() -> None:
    chain, _, checkpoint = one_block()
    cosigned = checkpoint.signed_by("jp-bank", chain.keys["jp-bank"])
    first, second = (s.line() for s in cosigned.signatures)
    with pytest.raises(CheckpointInvalid):
        Checkpoint.from_text(f"{cosigned.body}\n{first}\n{second}\n\n")


def test_signature_lines_of_unknown_names_are_kept_and_ignored() -> None:
    # C2SP signed-note: a verifier ignores lines whose key it does not know, whatever the name.
    chain, _, checkpoint = one_block()
    blob = base64.b64encode(b"\x00" * 68).decode()
    text = checkpoint.to_text() + f"\u2014 some-witness {blob}\n"
    again = Checkpoint.from_text(text)
    assert [s.name for s in again.signatures][1] == "some-witness"
    assert again.verify(chain.state.membership) == {"jp-jcci": chain.keys["jp-jcci"].key_id}


def test_a_signature_of_one_byte_is_read() -> None:
    # Four bytes of key hash and at least one of signature: the shortest line that parses.
    _, _, checkpoint = one_block()
    blob = base64.b64encode(b"\x01\x02\x03\x04\x05").decode()
    read = Checkpoint.from_text(f"{checkpoint.body}\n\u2014 a:b {blob}\n")
    assert read.signatures == (NoteSignature("a:b", b"\x01\x02\x03\x04", b"\x05"),)


LONG = "x" * 60
_, _, _CHECKPOINT = one_block()
BODY = _CHECKPOINT.body
ROOT_LINE = BODY.split("\n")[2]
ANY_LINE = "\n\u2014 a:b AAAAAAAAAAAA\n"
MALFORMED: list[tuple[str, str]] = [
    (
        "origin\n5\n" + ROOT_B64 + "\n",
        "malformed signed note: no blank line before the signature lines",
    ),
    ("origin\n5\n\n", "malformed signed note: no signature lines"),
    (
        BODY.replace("\n1\n", "\nfive\n", 1) + ANY_LINE,
        "the checkpoint tree size is not ASCII decimal without leading zeros: 'five'",
    ),
    (
        BODY.replace(ROOT_LINE, base64.b64encode(b"\x07" * 31).decode(), 1) + ANY_LINE,
        "the checkpoint root hash is not the base64 of a SHA-256 hash",
    ),
    (BODY.replace(ROOT_LINE, "!!!!", 1) + ANY_LINE, "the checkpoint root hash is not base64"),
    (f"{BODY}\n{LONG}\n", f"malformed signed note: not a signature line: {LONG[:40]!r}"),
    (
        f"{BODY}\n\u2014 a:b AAAA!AAAAAAAA\n",
        "malformed signed note: the signature of a:b is not base64",
    ),
    (
        f"{BODY}\n\u2014 a:b AAAAAA==\n",
        "malformed signed note: the signature of a:b is shorter than five bytes",
    ),
    (f"{BODY}\n\u2014  AAAAAAAAAAAA\n", "malformed signed note: invalid key name ''"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_checkpoint_text_is_refused(text: str, message: str) -> None:
    with pytest.raises(CheckpointInvalid, match=exactly(message)):
        Checkpoint.from_text(text)


# --- checkpoints: signatures -------------------------------------------------------------------


def _with_first(checkpoint: Checkpoint, line: NoteSignature) -> Checkpoint:
    return Checkpoint(checkpoint.body, (line, *checkpoint.signatures))


@pytest.mark.parametrize(
    "ignored",
    [
        # a key the membership does not know
        lambda chain: NoteSignature("someone:0123456789abcdef", b"\x00" * 4, b"\x00" * 64),
        # a known key named with a key hash that is not its own
        lambda chain: NoteSignature(
            f"jp-bank:{chain.keys['jp-bank'].key_id}", b"\x00" * 4, b"\x00" * 64
        ),
    ],
)
def test_lines_that_are_not_a_known_key_are_skipped_not_the_end(
    ignored: Callable[[Chain], NoteSignature],
) -> None:
    chain, _, checkpoint = one_block()
    signed = _with_first(checkpoint, ignored(chain))
    proposer = {"jp-jcci": chain.keys["jp-jcci"].key_id}
    assert signed.verified_signers(chain.state.membership) == proposer
    assert signed.verify(chain.state.membership, required=proposer) == proposer


def test_a_known_key_whose_signature_fails_is_an_error() -> None:
    chain, _, checkpoint = one_block()
    key = chain.keys["jp-bank"]
    name = f"jp-bank:{key.key_id}"
    bad = NoteSignature(name, note_key_hash(name, key.public_key), b"\x00" * 64)
    with pytest.raises(
        CheckpointInvalid,
        match=rf"^the checkpoint signature by {name}\+[0-9a-f]{{8}} does not verify$",
    ):
        _with_first(checkpoint, bad).verify(chain.state.membership)


def test_verify_requires_the_named_keys_and_the_quorum() -> None:
    chain, _, checkpoint = one_block()
    membership = chain.state.membership
    other = SigningKey(b"\x09" * 32)
    with pytest.raises(
        CheckpointInvalid,
        match=exactly(f"the checkpoint lacks a valid signature by jp-jcci:{other.key_id}"),
    ):
        checkpoint.verify(membership, required={"jp-jcci": other.key_id})
    with pytest.raises(
        CheckpointInvalid, match=exactly("the checkpoint has 1 member signatures; 2 are needed")
    ):
        checkpoint.verify(membership, quorum=2)
    cosigned = checkpoint.signed_by("jp-bank", chain.keys["jp-bank"])
    assert set(cosigned.verify(membership, quorum=2)) == {"jp-jcci", "jp-bank"}


# --- checkpoint bodies ------------------------------------------------------------------------


def _body_with(index: int, line: str) -> str:
    lines = BODY.split("\n")
    lines[index] = line
    return "\n".join(lines)


BLOCK_LINE = BODY.split("\n")[4]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (BODY[:-1], "the checkpoint body does not end in a newline"),
        (_body_with(0, ""), "the checkpoint origin line is empty"),
        (_body_with(3, "hight 1"), "the checkpoint has no height line where §6 puts it"),
        (_body_with(3, "height"), "the checkpoint has no height line where §6 puts it"),
        (_body_with(4, "height 1"), "the checkpoint has no block line where §6 puts it"),
        (
            _body_with(3, "height 1 2"),
            "the checkpoint height is not ASCII decimal without leading zeros: '1 2'",
        ),
        (
            _body_with(1, "1" * 20),
            f"the checkpoint tree size is not ASCII decimal without leading zeros: {'1' * 20!r}",
        ),
        (
            _body_with(1, "1" * 30),
            f"the checkpoint tree size is not ASCII decimal without leading zeros: {'1' * 24!r}",
        ),
        (_body_with(1, str(2**63)), "the checkpoint tree size is larger than 2^63 - 1"),
        (_body_with(3, f"height {2**63}"), "the checkpoint height is larger than 2^63 - 1"),
        (_body_with(4, "block !!!!"), "the checkpoint block hash is not base64"),
        (
            _body_with(5, "time yesterday"),
            "the checkpoint time must look like 2026-11-22T10:00:00.000000Z",
        ),
        (
            _body_with(5, "time 2026-02-30T10:00:00.000000Z"),
            "the checkpoint time is not a valid date and time",
        ),
    ],
)
def test_a_malformed_checkpoint_body_is_refused_with_its_reason(body: str, message: str) -> None:
    with pytest.raises(CheckpointInvalid, match=exactly(message)):
        parse_checkpoint_body(body)


def test_a_checkpoint_body_reads_every_field_up_to_2_63_minus_1() -> None:
    _, header, _ = one_block()
    fields = parse_checkpoint_body(BODY)
    assert fields.time == header.time
    assert (fields.height, fields.tree_size) == (1, 1)
    assert fields.block_hash == base64.b64decode(BLOCK_LINE.removeprefix("block "))
    big = _body_with(3, f"height {2**63 - 1}")
    big = big.replace("\n1\n", f"\n{10**18}\n", 1)
    assert (parse_checkpoint_body(big).height, parse_checkpoint_body(big).tree_size) == (
        2**63 - 1,
        10**18,
    )
    assert parse_checkpoint_body(_body_with(1, "126")).tree_size == 126


def test_consortium_vkeys_exist_for_types_01_and_04_only() -> None:
    chain, _, _ = one_block()
    with pytest.raises(
        EncodingError, match=exactly("tradeledger keys have no vkeys of signature type 0x02")
    ):
        consortium_verifier_keys(chain.state.membership, 2)


def test_member_verifiers_are_one_table_per_membership_with_both_signature_types() -> None:
    chain, _, _ = one_block()
    # A membership of its own (the cache is by identity), so the table is built here.
    membership = dataclasses.replace(chain.state.membership)
    known = member_verifiers(membership)
    assert member_verifiers(membership) is known
    assert member_verifiers(dataclasses.replace(membership)) is not known
    org_id = "vn-customs"
    key = chain.keys[org_id]
    name = note_key_name(org_id, key.key_id)
    (plain,) = known[(name, note_key_hash(name, key.public_key))]
    (cosigning,) = known[(name, cosigner_key_hash(name, key.public_key))]
    for verifier in (plain, cosigning):
        assert (verifier.org_id, verifier.key_id, verifier.public_key) == (
            org_id,
            key.key_id,
            key.public_key,
        )
    assert plain.cosigner is None
    assert cosigning.cosigner == CosignerKey(name, key.public_key)
    cosigned = Checkpoint(BODY).cosigned_by(org_id, key, 1790000000)
    assert cosigned.verify(dataclasses.replace(membership), quorum=1) == {org_id: key.key_id}


def test_an_extension_value_keeps_its_spaces() -> None:
    # Checkpoint() does not parse its body; extension() reads the line as written.
    checkpoint = Checkpoint(_body_with(5, "time a b"))
    assert checkpoint.extension("time") == "a b"
