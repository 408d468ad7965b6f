"""Integrity attacks on the entry format (issue 12, finding 13).

Each test plays a member (or anyone holding a member's signing key) who signs an entry the
format should not allow, and asserts that the node refuses it at submission and that replay
(``ChainState.apply_block``, the fold ``audit replay`` runs) refuses a chain holding it:

* an entry signed for one consortium replayed into another whose members use the same keys.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.chain import ChainState
from ledger.consortium import Consortium, FoundingMember, create_genesis
from ledger.entries import Entry, build_entry
from ledger.errors import BlockInvalid, EntryRejected
from tests import chainbuilder
from tests.api.conftest import LiveNode
from tests.api.test_api import certificate, new_number
from tests.chainbuilder import ORGS, T0, make_chain


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
