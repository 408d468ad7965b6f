"""``ledger/notes.py`` directly: each refusal of a signed note, a signature line and a verifier
key by its whole sentence, and the verifier's rules on repeated, unknown and ambiguous keys."""

from __future__ import annotations

import base64

import pytest

from ledger.cosignature import cosign
from ledger.errors import CheckpointInvalid, EncodingError
from ledger.keys import SigningKey
from ledger.notes import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    MAX_SIGNATURES,
    Ed25519NoteVerifier,
    NoteSignature,
    SignedNote,
    index_verifiers,
    is_valid_key_name,
    key_hash,
    open_note,
    parse_note,
    parse_verifier_key,
    verifier_key,
    verify_note_signatures,
)

TEXT = "example.org/log\n5\nAAAA\n"
KEY = SigningKey(b"\x11" * 32)
NAME = "example.org/signer"
VERIFIER = Ed25519NoteVerifier.of(NAME, KEY.public_key.raw)


def sig_line(name: str = NAME, text: str = TEXT, key: SigningKey = KEY) -> NoteSignature:
    return NoteSignature(
        name, key_hash(name, ALG_ED25519, key.public_key.raw), key.sign(text.encode())
    )


GOOD = SignedNote(TEXT, (sig_line(),)).to_text()
FIVE_BYTES = base64.b64encode(b"\x01\x02\x03\x04\x05").decode()
# Go's unicode.IsSpace
GO_SPACES = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)


def malformed(data: str | bytes) -> str:
    with pytest.raises(CheckpointInvalid) as caught:
        parse_note(data)
    detail = caught.value.detail
    assert detail.startswith("malformed signed note: "), detail
    return detail.removeprefix("malformed signed note: ")


def test_a_good_note_parses_from_text_and_from_bytes() -> None:
    for data in (GOOD, GOOD.encode()):
        note = parse_note(data)
        assert note.text == TEXT
        assert note.signatures == (sig_line(),)
        assert note.to_text() == GOOD


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"\xff" + GOOD.encode(), "the note is not valid UTF-8"),
        ("\ud800" + GOOD, "the note is not valid UTF-8"),
        ("\udfff" + GOOD, "the note is not valid UTF-8"),
        ("\r" + GOOD, "control character U+000D in the note"),
        ("\x00" + GOOD, "control character U+0000 in the note"),
        ("\t" + GOOD, "control character U+0009 in the note"),
        ("\x0b" + GOOD, "control character U+000B in the note"),
        ("\x1f" + GOOD, "control character U+001F in the note"),
        (TEXT + sig_line().line(), "no blank line before the signature lines"),
        (TEXT + "\n", "no signature lines"),
        (GOOD[:-1], "the last signature line does not end in a newline"),
        (GOOD + "x" * 50 + "\n", "not a signature line: " + repr("x" * 40)),
        (GOOD + f"\u2014 a+b {FIVE_BYTES}\n", "invalid key name 'a+b'"),
        (
            GOOD + f"\u2014 {'n' * 39}\u3000 {FIVE_BYTES}\n",
            "invalid key name " + repr("n" * 39 + "\u3000"),
        ),
        (GOOD + f"\u2014 {'n' * 50}+ {FIVE_BYTES}\n", f"invalid key name '{'n' * 40}'"),
        (GOOD + f"\u2014  {FIVE_BYTES}\n", "invalid key name ''"),
        (GOOD + f"\u2014 w {FIVE_BYTES[:-1]}\n", "the signature of w is not base64"),
        (GOOD + f"\u2014 w {FIVE_BYTES}=\n", "the signature of w is not base64"),
        (GOOD + "\u2014 w \n", "the signature of w is shorter than five bytes"),
        (GOOD + "\u2014 w\n", "the signature of w is shorter than five bytes"),
        (GOOD + "\u2014 w AQIDBA==\n", "the signature of w is shorter than five bytes"),
    ],
)
def test_a_malformed_note_is_refused_with_its_reason(data: str | bytes, detail: str) -> None:
    assert malformed(data) == detail


def test_a_del_and_text_blank_lines_are_the_note_text() -> None:
    note = parse_note("a\x7f\n\nb\n\n" + sig_line(text="a\x7f\n\nb\n").line())
    assert note.text == "a\x7f\n\nb\n"
    assert parse_note("x\n\n" + f"\u2014 w {FIVE_BYTES}\n").signatures == (
        NoteSignature("w", b"\x01\x02\x03\x04", b"\x05"),
    )


def test_at_most_100_signature_lines() -> None:
    line = sig_line().line()
    assert len(parse_note(TEXT + "\n" + line * MAX_SIGNATURES).signatures) == 100
    assert malformed(TEXT + "\n" + line * 101) == "101 signature lines, more than 100"


def test_key_names_are_go_names() -> None:
    assert is_valid_key_name("XYZ.example/\u00e9-1")
    assert not is_valid_key_name("")
    assert not is_valid_key_name("a+b")
    for space in GO_SPACES:
        assert not is_valid_key_name(f"a{space}b"), hex(ord(space))
    assert is_valid_key_name("a\x1cb")  # str.isspace() says yes, Go's IsSpace no


def test_verifier_keys_are_written_and_read_back() -> None:
    raw = KEY.public_key.raw
    vkey = verifier_key(NAME, ALG_ED25519, raw)
    material = base64.b64encode(b"\x01" + raw).decode()
    assert vkey == f"{NAME}+{key_hash(NAME, ALG_ED25519, raw).hex()}+{material}"
    assert parse_verifier_key(vkey) == VERIFIER
    name, hash_hex, rest = vkey.split("+", 2)
    assert parse_verifier_key(f"{name}+{hash_hex.upper()}+{rest}") == VERIFIER
    with pytest.raises(EncodingError) as caught:
        verifier_key("a b", ALG_ED25519, raw)
    assert caught.value.detail == "'a b' is not a signed-note key name"
    cosigner = parse_verifier_key(verifier_key(NAME, ALG_COSIGNATURE_V1, raw))
    assert cosigner.key_hash == key_hash(NAME, ALG_COSIGNATURE_V1, raw)
    assert cosigner.name == NAME


def _vkey(name: str, alg: int, key: bytes, khash: bytes | None = None) -> str:
    khash = key_hash(name, alg, key) if khash is None else khash
    return f"{name}+{khash.hex()}+{base64.b64encode(bytes([alg]) + key).decode()}"


MALFORMED_VKEY = "the verifier key is not name+hex(key hash)+base64(type || key)"


@pytest.mark.parametrize(
    ("vkey", "detail"),
    [
        (_vkey(NAME, 1, KEY.public_key.raw).replace("+", " +", 1), MALFORMED_VKEY),
        ("a+0000000g+AQ==", MALFORMED_VKEY),
        ("a+000000000+AQ==", MALFORMED_VKEY),
        ("a+00000000+", MALFORMED_VKEY),
        ("a+00000000", MALFORMED_VKEY),
        ("a+00000000+AQ=", MALFORMED_VKEY),
        ("a+00000000+AQ==\n", MALFORMED_VKEY),
        (_vkey("a", 1, b"")[: -len("AQ==")] + "", MALFORMED_VKEY),
        ("a+00000000+AQ==", "the verifier key's hash does not match its name and key"),
        (_vkey("a", 2, KEY.public_key.raw), "unknown verifier algorithm 0x02"),
        (_vkey("a", 1, KEY.public_key.raw[:31]), "the verifier key is not a 32-byte Ed25519 key"),
        (
            _vkey("a", 4, KEY.public_key.raw + b"\x00"),
            "the verifier key is not a 32-byte Ed25519 key",
        ),
    ],
)
def test_a_malformed_verifier_key_is_refused_with_its_reason(vkey: str, detail: str) -> None:
    with pytest.raises(EncodingError) as caught:
        parse_verifier_key(vkey)
    assert caught.value.detail == detail


def test_open_counts_each_known_key_once_and_keeps_unknown_lines_once() -> None:
    stranger = sig_line("stranger", key=SigningKey(b"\x22" * 32))
    note = SignedNote(TEXT, (stranger, sig_line(), stranger, sig_line()))
    for verifiers in ([VERIFIER], index_verifiers([VERIFIER])):
        opened = open_note(note, verifiers)
        assert opened.text == TEXT
        assert opened.verified == ((VERIFIER, sig_line()),)
        assert opened.unverified == (stranger,)
    unknown_only = verify_note_signatures(SignedNote(TEXT, (stranger, stranger)), [VERIFIER])
    assert (unknown_only.verified, unknown_only.unverified) == ((), (stranger,))
    with pytest.raises(CheckpointInvalid) as caught:
        open_note(SignedNote(TEXT, (stranger,)), [VERIFIER])
    assert caught.value.detail == "the note has no verifiable signatures"


def test_a_bad_signature_by_a_known_key_or_an_ambiguous_key_fails_the_note() -> None:
    khash = key_hash(NAME, ALG_ED25519, KEY.public_key.raw).hex()
    bad = sig_line(text="other\n")
    with pytest.raises(CheckpointInvalid) as caught:
        open_note(SignedNote(TEXT, (bad, sig_line())), [VERIFIER])
    assert caught.value.detail == (f"the checkpoint signature by {NAME}+{khash} does not verify")
    twin = Ed25519NoteVerifier(NAME, b"\x00" * 32, VERIFIER.key_hash)
    with pytest.raises(CheckpointInvalid) as caught:
        verify_note_signatures(SignedNote(TEXT, (sig_line(),)), [VERIFIER, twin])
    assert caught.value.detail == f"ambiguous key {NAME}+{khash}"
    # A verifier that is not in use does not make the note ambiguous.
    other = Ed25519NoteVerifier.of("other", KEY.public_key.raw)
    assert open_note(SignedNote(TEXT, (sig_line(),)), [other, other, VERIFIER]).verified


def test_a_cosignature_vkey_with_a_plus_in_its_base64_opens_a_cosigned_note() -> None:
    seed = bytes(range(32))
    name = "witness.example/jp-chamber"
    vkey = "witness.example/jp-chamber+8fb13cb5+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
    verifier = parse_verifier_key(vkey)
    assert verifier.key_hash == bytes.fromhex("8fb13cb5")
    line = cosign(TEXT, name, SigningKey(seed), 1795000000)
    note = parse_note(TEXT + "\n" + line)
    opened = open_note(note, [verifier])
    assert [sig for _, sig in opened.verified] == list(note.signatures)
    later = parse_note(TEXT.replace("5", "6") + "\n" + line)  # the line does not cover it
    with pytest.raises(CheckpointInvalid, match="does not verify"):
        open_note(later, [verifier])


def test_a_note_of_empty_text_is_a_note() -> None:
    note = parse_note("\n\n" + sig_line(text="\n").line())
    assert note.text == "\n"
    assert open_note(note, [VERIFIER]).text == "\n"


def test_a_long_bad_key_name_is_shown_cut_at_40_characters() -> None:
    name = "n" * 45 + " x"
    with pytest.raises(EncodingError) as caught:
        verifier_key(name, ALG_ED25519, KEY.public_key.raw)
    assert caught.value.detail == f"{'n' * 40!r} is not a signed-note key name"


def test_a_signature_line_with_padding_after_a_complete_group_is_refused() -> None:
    # Go's base64.StdEncoding refuses "AQIDBAUG=", which binascii's strict_mode reads as 6 bytes
    with pytest.raises(CheckpointInvalid, match="the signature of w is not base64"):
        parse_note("body\n\n\u2014 w AQIDBAUG=\n")
