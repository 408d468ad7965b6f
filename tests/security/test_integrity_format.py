"""Integrity attacks on the entry format (issue 12, findings 11, 12, 13 and 16).

Each test plays a member (or anyone holding a member's signing key) who signs an entry the
format should not allow, and asserts that the node refuses it at submission and that replay
(``ChainState.apply_block``, the fold ``audit replay`` runs) refuses a chain holding it:

* backdating: an entry timestamped 1971 (the window is ``ledger.chain.MAX_BACKDATING``);
* hex fields with a trailing newline, which ``re.match`` with ``$`` let through;
* an entry signed for one consortium replayed into another whose members use the same keys;
* a lone surrogate in a string or key, and nesting deeper than ``ledger.encoding.MAX_DEPTH``,
  which used to end in UnicodeEncodeError (HTTP 500) and RecursionError.
"""

from __future__ import annotations

import base64
import json
import types
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.chain import ChainState
from ledger.consortium import Consortium, FoundingMember, create_genesis
from ledger.encoding import MAX_DEPTH
from ledger.entries import Entry, build_entry, entry_leaf_hash, parse_entry
from ledger.errors import BlockInvalid, ConfigurationError, EncodingError, EntryRejected
from tests import chainbuilder
from tests.api.conftest import LiveNode
from tests.api.test_api import certificate, new_number
from tests.chainbuilder import ORGS, T0, make_chain, signed_envelope

ENTRY_MEDIA_TYPE = "application/vnd.tradeledger.entry+json"


def post_entry(node: LiveNode, user: str, envelope: bytes, payload: bytes) -> Any:
    body = {
        "envelope": base64.b64encode(envelope).decode(),
        "payload": base64.b64encode(payload).decode(),
    }
    with node.http(user) as h:
        return h.post("/v1/documents", json=body, headers={"Content-Type": ENTRY_MEDIA_TYPE})


def presigned(node: LiveNode, **kwargs: Any) -> tuple[Entry, bytes]:
    """A valid certificate signed by jp-jcci itself, for the node's consortium unless told."""
    number = new_number()
    payload = json.dumps(certificate(number)).encode()
    fields: dict[str, Any] = {
        "consortium_id": node.node.consortium.consortium_id,
        "subject": f"jp-jcci/{number}",
    }
    fields.update(kwargs)
    key = node.home.signing_key("jp-jcci")
    return build_entry("co.issued", "jp-jcci", key, payload, "application/json", **fields), payload


def forged_block(chain: chainbuilder.TestChain, envelopes: list[bytes]) -> tuple[bytes, str]:
    """Header and checkpoint of a block holding ``envelopes``, made by a proposer that checks
    nothing (propose_block reads only each entry's hash)."""
    entries: Any = [types.SimpleNamespace(entry_hash=entry_leaf_hash(env)) for env in envelopes]
    return chain.state.propose_block(entries, "jp-jcci", chain.keys["jp-jcci"], chain.clock)


def replay_rejects(chain: chainbuilder.TestChain, envelopes: list[bytes], reason: str) -> None:
    """A fresh replay of the chain's blocks, then the forged block: refused for ``reason``."""
    replay = ChainState.genesis(chain.consortium)
    for header, checkpoint, raw in chain.blocks:
        replay.apply_block(header, checkpoint, raw)
    header, checkpoint = forged_block(chain, envelopes)
    with pytest.raises(BlockInvalid) as caught:
        replay.apply_block(header, checkpoint, [(env, None) for env in envelopes])
    assert caught.value.extra["reason"] == reason
    assert caught.value.extra["entry_index"] == replay.tree_size
    assert replay.height == len(chain.blocks)  # nothing applied


# -- finding 11: backdating ------------------------------------------------------------------


def test_an_entry_backdated_to_1971_is_refused_by_the_node(node: LiveNode) -> None:
    entry, _ = presigned(node, timestamp=datetime(1971, 1, 1, tzinfo=UTC))
    before = node.settled()
    with node.client("issuer") as c, pytest.raises(EntryRejected) as caught:
        c.submit_entry(entry)
    assert (caught.value.code, caught.value.status) == ("timestamp-too-old", 422)
    assert "1971-01-01T00:00:00.000000Z" in caught.value.detail
    assert node.settled() == before  # nothing recorded


def test_a_chain_holding_a_backdated_entry_fails_replay() -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    backdated = chain.entry(timestamp=datetime(1971, 1, 1, tzinfo=UTC))
    replay_rejects(chain, [backdated.envelope], "timestamp-too-old")


# -- finding 12: hex fields with a trailing newline ---------------------------------------------


def _newline_after(field: str, signed: dict[str, Any]) -> None:
    if field == "refs":
        signed["refs"] = [signed["refs"][0] + "\n"]
    elif field == "digest":
        signed["payload"]["digest"] += "\n"
    else:
        signed[field] += "\n"


@pytest.mark.parametrize("field", ["nonce", "refs", "digest"])
def test_a_hex_field_with_a_trailing_newline_is_refused_by_parse_and_replay(field: str) -> None:
    chain = make_chain()
    first = chain.entry()
    chain.block([first])
    signed = chain.entry(refs=[first.hash_hex]).signed_dict()
    _newline_after(field, signed)
    envelope = signed_envelope(signed, chain.keys["jp-jcci"])
    with pytest.raises(EncodingError) as caught:
        parse_entry(envelope)
    assert caught.value.location is not None
    assert caught.value.location.startswith(f"/signed/{'payload' if field == 'digest' else field}")
    replay_rejects(chain, [envelope], "non-canonical-encoding")


def test_a_hex_field_with_a_trailing_newline_is_refused_by_the_node(node: LiveNode) -> None:
    entry, payload = presigned(node)
    signed = entry.signed_dict()
    signed["nonce"] += "\n"
    r = post_entry(
        node, "issuer", signed_envelope(signed, node.home.signing_key("jp-jcci")), payload
    )
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["location"]) == ("non-canonical-encoding", "/signed/nonce")


# -- finding 13: an entry of one consortium replayed into another with the same keys ----------


def same_keys_consortium(chain: chainbuilder.TestChain, consortium_id: str) -> Consortium:
    members = [FoundingMember(o[0], o[1], o[2], o[3], chain.keys[o[0]]) for o in ORGS]
    return create_genesis(consortium_id, "Same keys, other consortium", members, created=T0)


def test_an_entry_of_one_consortium_is_refused_by_another_with_the_same_keys() -> None:
    a = make_chain()
    entry = a.entry()
    a.block([entry])  # recorded in consortium A
    b = ChainState.genesis(same_keys_consortium(a, "other-consortium"))
    with pytest.raises(EntryRejected) as caught:
        b.check_entry(entry, reference_time=a.clock)
    assert caught.value.code == "wrong-consortium"
    # and a block of B holding it does not replay
    header, checkpoint = b.propose_block([entry], "jp-jcci", a.keys["jp-jcci"], a.clock)
    with pytest.raises(BlockInvalid) as refused:
        b.apply_block(header, checkpoint, [(entry.envelope, entry.payload)])
    assert refused.value.extra["reason"] == "wrong-consortium"


def test_an_entry_signed_for_another_consortium_is_refused_by_the_node(node: LiveNode) -> None:
    entry, _ = presigned(node, consortium_id="other-consortium")
    before = node.settled()
    with node.client("issuer") as c, pytest.raises(EntryRejected) as caught:
        c.submit_entry(entry)
    assert (caught.value.code, caught.value.status) == ("wrong-consortium", 422)
    assert node.settled() == before


# -- finding 16: lone surrogates and deep nesting ----------------------------------------------


def test_a_lone_surrogate_subject_is_422_with_its_location(node: LiveNode) -> None:
    entry, payload = presigned(node)
    signed = entry.signed_dict() | {"subject": "jp-jcci/\ud800"}
    envelope = signed_envelope(signed, node.home.signing_key("jp-jcci"))
    assert b"\\ud800" in envelope
    r = post_entry(node, "issuer", envelope, payload)
    assert r.status_code == 422, r.text
    # the API's own check of the body finds it before the entry is parsed: either names it
    assert r.json()["location"] == "/signed/subject", r.text


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"subject": "\ud800"}, "/signed/subject"),
        ({"\udfff": "x"}, "/signed/\\udfff"),
        ({"refs": ["\ud83d"]}, "/signed/refs/0"),
    ],
)
def test_parse_entry_refuses_a_lone_surrogate_anywhere(
    change: dict[str, Any], location: str
) -> None:
    chain = make_chain()
    envelope = signed_envelope(chain.entry().signed_dict() | change, chain.keys["jp-jcci"])
    with pytest.raises(EncodingError) as caught:
        parse_entry(envelope)
    assert caught.value.location == location


def test_deep_nesting_is_refused_by_parse_entry_and_the_node(node: LiveNode) -> None:
    deep = b'{"signatures":[],"signed":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(EncodingError) as caught:
        parse_entry(deep)
    assert f"more than {MAX_DEPTH} deep" in caught.value.detail
    r = post_entry(node, "issuer", deep, b"{}")
    assert r.status_code == 422 and "64" in r.json()["detail"], r.text


def test_the_consortium_parser_refuses_surrogates_and_deep_nesting() -> None:
    good = make_chain().consortium.to_bytes()
    surrogate = good.replace(b'"name":"Test consortium"', b'"name":"Test \\ud800"')
    deep = good.replace(b'"name":"Test consortium"', b'"name":' + b"[" * 50_000 + b"]" * 50_000)
    for bad in (surrogate, deep):
        assert bad != good
        with pytest.raises(ConfigurationError):
            Consortium.from_bytes(bad)
