"""Strict C2SP signed-note and tlog-checkpoint parsing, and member cosignatures
(``docs/ledger-format.md`` §6; issue 13).

Each refused note below is *signed* by a member key where a signature can be made, so that
the only thing wrong with it is its form: a loose parser would accept it as genuine.
"""

from __future__ import annotations

import base64

import pytest

from ledger.blocks import Checkpoint, NoteSignature, note_key_hash, note_key_name
from ledger.cosignature import cosign
from ledger.errors import CheckpointInvalid
from ledger.keys import SigningKey
from tests import chainbuilder
from tests.chainbuilder import make_chain

ORIGIN = "tradeledger/test-consortium"
ROOT = base64.b64encode(bytes(range(32))).decode()
BLOCK = base64.b64encode(bytes(range(32, 64))).decode()
TIME = "2026-11-01T09:00:01.000000Z"


def body(size: str = "5", *, origin: str = ORIGIN, root: str = ROOT, height: str = "2") -> str:
    return f"{origin}\n{size}\n{root}\nheight {height}\nblock {BLOCK}\ntime {TIME}\n"


def signed(chain: chainbuilder.TestChain, text: str, org: str = "jp-jcci") -> str:
    """``text`` as a note with a valid type-0x01 signature line by ``org``'s key."""
    key = chain.keys[org]
    name = note_key_name(org, key.key_id)
    line = NoteSignature(name, note_key_hash(name, key.public_key), key.sign(text.encode()))
    return text + "\n" + line.line()


def cosignature_line(
    chain: chainbuilder.TestChain, text: str, org: str, timestamp: int = 1790000000
) -> str:
    key = chain.keys[org]
    return cosign(text, note_key_name(org, key.key_id), key, timestamp)


@pytest.fixture(scope="module")
def chain() -> chainbuilder.TestChain:
    return make_chain()


@pytest.mark.parametrize(
    ("size", "height"),
    [
        ("05", "2"),  # leading zero
        ("\uff15", "2"),  # FULLWIDTH DIGIT FIVE: str.isdigit() and int() take it
        ("\u0665", "2"),  # ARABIC-INDIC DIGIT FIVE
        ("00", "2"),
        ("9223372036854775808", "2"),  # 2^63: past a signed 64-bit size
        ("5", "02"),
        ("5", "\uff12"),
    ],
)
def test_a_signed_size_or_height_in_another_spelling_is_refused(
    chain: chainbuilder.TestChain, size: str, height: str
) -> None:
    """Two signed texts for one checkpoint: other verifiers refuse all but ASCII ``5``."""
    genuine = Checkpoint.from_text(signed(chain, body()))
    assert (genuine.tree_size, genuine.height, genuine.origin) == (5, 2, ORIGIN)
    assert genuine.verify(chain.state.membership) == {"jp-jcci": chain.keys["jp-jcci"].key_id}
    assert Checkpoint.from_text(signed(chain, body("0"))).tree_size == 0
    with pytest.raises(CheckpointInvalid):
        Checkpoint.from_text(signed(chain, body(size, height=height)))


def test_a_root_hash_in_non_canonical_base64_is_refused(chain: chainbuilder.TestChain) -> None:
    """tradeledger restricts the root (and block) hash to canonical base64: the last
    character of 32 bytes' base64 carries two unused bits, which must be zero."""
    root = bytes(range(31)) + b"\x00"
    canonical = base64.b64encode(root).decode()
    assert canonical.endswith("A=")
    other = canonical[:-2] + "B="  # decodes to the same 32 bytes
    assert base64.b64decode(other) == root
    Checkpoint.from_text(signed(chain, body(root=canonical)))
    with pytest.raises(CheckpointInvalid):
        Checkpoint.from_text(signed(chain, body(root=other)))


def test_an_empty_origin_line_is_refused(chain: chainbuilder.TestChain) -> None:
    with pytest.raises(CheckpointInvalid):
        Checkpoint.from_text(signed(chain, body(origin="")))


def test_a_note_without_signature_lines_is_refused(chain: chainbuilder.TestChain) -> None:
    with pytest.raises(CheckpointInvalid):
        Checkpoint.from_text(body() + "\n")


def test_a_last_signature_line_without_its_newline_is_refused(
    chain: chainbuilder.TestChain,
) -> None:
    text = signed(chain, body())
    assert text.endswith("\n")
    with pytest.raises(CheckpointInvalid):
        Checkpoint.from_text(text[:-1])


@pytest.mark.parametrize(
    "bad",
    [
        ORIGIN + "\r",  # a CR in the text (as in CRLF line ends)
        ORIGIN + "\x01",
        ORIGIN + "\t",
        ORIGIN + "\x00",
        ORIGIN + "\x1f",
    ],
)
def test_control_characters_in_the_text_are_refused(
    chain: chainbuilder.TestChain, bad: str
) -> None:
    with pytest.raises(CheckpointInvalid):
        Checkpoint.from_text(signed(chain, body(origin=bad)))


def test_text_with_no_utf8_form_is_refused(chain: chainbuilder.TestChain) -> None:
    """A lone surrogate (JSON can carry ``"\\ud800"``) has no UTF-8 form, so no signature
    covers it; the line after it is a genuine signature of the text without it."""
    genuine = signed(chain, body())
    with pytest.raises(CheckpointInvalid):
        Checkpoint.from_text(genuine.replace(ORIGIN, ORIGIN + "\ud800", 1))


@pytest.mark.parametrize(
    "name",
    [
        "jp jcci",  # a space
        "jp+jcci",  # a plus, which separates a vkey's parts
        "jp\u3000jcci",  # IDEOGRAPHIC SPACE (a Unicode space)
        "jp\u00a0jcci",  # NO-BREAK SPACE
    ],
)
def test_a_key_name_with_a_space_or_plus_is_refused(
    chain: chainbuilder.TestChain, name: str
) -> None:
    key = SigningKey(b"\x42" * 32)
    text = body()
    line = NoteSignature(name, note_key_hash(name, key.public_key), key.sign(text.encode()))
    genuine = signed(chain, text)
    with pytest.raises(CheckpointInvalid):
        Checkpoint.from_text(genuine + line.line())


def test_more_than_100_signature_lines_are_refused(chain: chainbuilder.TestChain) -> None:
    """Go's Open refuses a note with more than 100 signature lines, repeats included (the
    spec requires accepting at least 16); so does tradeledger."""
    text = signed(chain, body())
    line = text[len(body()) + 1 :]
    Checkpoint.from_text(body() + "\n" + line * 100)
    with pytest.raises(CheckpointInvalid):
        Checkpoint.from_text(body() + "\n" + line * 101)


def test_the_text_ends_at_the_last_blank_line(chain: chainbuilder.TestChain) -> None:
    """signed-note: the text is separated from the signatures by the *last* blank line, so a
    checkpoint body with a blank line inside is a body with an empty line (refused), not a
    body followed by non-signature lines."""
    with pytest.raises(CheckpointInvalid, match="a checkpoint body is origin"):
        Checkpoint.from_text(signed(chain, body().replace("height", "\nheight")))


# -- cosignatures ------------------------------------------------------------------------


def test_a_member_tlog_cosignature_counts_toward_the_quorum(chain: chainbuilder.TestChain) -> None:
    """A genuine tlog-cosignature/v1 line (type 0x04, timestamped) by a member key counts."""
    text = body()
    note = signed(chain, text) + cosignature_line(chain, text, "vn-customs")
    checkpoint = Checkpoint.from_text(note)
    signers = checkpoint.verify(
        chain.state.membership, quorum=2, required={"jp-jcci": chain.keys["jp-jcci"].key_id}
    )
    assert signers == {
        "jp-jcci": chain.keys["jp-jcci"].key_id,
        "vn-customs": chain.keys["vn-customs"].key_id,
    }


def test_each_key_counts_once_and_unknown_keys_are_ignored(chain: chainbuilder.TestChain) -> None:
    text = body()
    stranger = SigningKey(b"\x42" * 32)
    cosig = cosignature_line(chain, text, "vn-customs")
    note = (
        signed(chain, text)
        + cosig
        + cosig  # the same line again: one key, one vote
        + cosignature_line(chain, text, "vn-customs", 1790000001)  # same key, other time
        + cosign(text, note_key_name("jp-bank", stranger.key_id), stranger, 1790000000)
    )
    checkpoint = Checkpoint.from_text(note)
    membership = chain.state.membership
    assert len(checkpoint.verify(membership, quorum=2)) == 2
    with pytest.raises(CheckpointInvalid, match="2 member signatures; 3 are needed"):
        checkpoint.verify(membership, quorum=3)


def test_a_bad_cosignature_by_a_known_key_fails(chain: chainbuilder.TestChain) -> None:
    text = body()
    other = body("6")
    note = signed(chain, text) + cosignature_line(chain, other, "vn-customs")
    with pytest.raises(CheckpointInvalid, match="does not verify"):
        Checkpoint.from_text(note).verify(chain.state.membership, quorum=1)


def test_the_proposer_signature_is_a_plain_note_signature(chain: chainbuilder.TestChain) -> None:
    """A cosignature by the proposer's key counts toward the quorum but does not stand in for
    the block's own (type 0x01) signature; ``cosigned_by`` writes type 0x04 lines."""
    text = body()
    jcci = chain.keys["jp-jcci"]
    only_cosigned = Checkpoint(text).cosigned_by("jp-jcci", jcci, 1790000000)
    assert base64.b64decode(only_cosigned.to_text().split(" ")[-1])[4:12] == (1790000000).to_bytes(
        8, "big"
    )
    membership = chain.state.membership
    assert only_cosigned.verify(membership, quorum=1) == {"jp-jcci": jcci.key_id}
    with pytest.raises(CheckpointInvalid, match="lacks a valid signature"):
        only_cosigned.verify(membership, quorum=1, required={"jp-jcci": jcci.key_id})
    both = only_cosigned.signed_by("jp-jcci", jcci).cosigned_by(
        "vn-customs", chain.keys["vn-customs"], 1790000000
    )
    assert len(both.signatures) == 3
    assert len(both.verify(membership, quorum=2, required={"jp-jcci": jcci.key_id})) == 2
    # cosigning again by the same key replaces that key's line (as Go's note.Sign does)
    again = both.cosigned_by("vn-customs", chain.keys["vn-customs"], 1790000005)
    assert len(again.signatures) == 3
    assert Checkpoint.from_text(again.to_text()) == again
