"""The witness (``nodes/witness.py``, ``api/witness.py``): C2SP tlog-witness add-checkpoint."""

from __future__ import annotations

import hashlib
import time
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():  # starlette's note that it prefers another httpx package
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from api.witness import create_witness_app
from ledger.blocks import Checkpoint, NoteSignature, checkpoint_origin
from ledger.errors import (
    CheckpointInconsistent,
    CheckpointUntrusted,
    MalformedWitnessRequest,
    UnknownLog,
    WitnessSizeMismatch,
)
from ledger.keys import SigningKey
from ledger.witnessing import format_add_checkpoint
from nodes.witness import Witness
from tests.witness.helpers import Log, forked, independent_cosignature_check, new_log


def witness_for(directory: Path, log: Log) -> Witness:
    consortium = log.chain.consortium
    return Witness(directory, {checkpoint_origin(consortium.consortium_id): consortium.membership})


def test_cosigns_a_consistent_checkpoint_verifiably(tmp_path: Path) -> None:
    log = new_log()
    witness = witness_for(tmp_path, log)
    first = log.grow()
    before = int(time.time())
    line = witness.add_checkpoint(log.request(0, first))
    body = Checkpoint.from_text(first).body
    assert independent_cosignature_check(body, line, witness.vkey) >= before
    second = log.grow(3)
    line = witness.add_checkpoint(log.request(log.size(first), second))
    independent_cosignature_check(Checkpoint.from_text(second).body, line, witness.vkey)
    # the same checkpoint again (old size = its size) is cosigned again
    witness.add_checkpoint(log.request(log.size(second), second))


def test_refuses_a_fork_of_the_same_size(tmp_path: Path) -> None:
    log = new_log()
    witness = witness_for(tmp_path, log)
    note = log.grow()
    witness.add_checkpoint(log.request(0, note))
    fork = forked(log)
    other = fork.grow()
    assert fork.size(other) == log.size(note)
    with pytest.raises(CheckpointInconsistent):
        witness.add_checkpoint(fork.request(log.size(note), other))


def test_refuses_a_larger_fork_with_its_own_proof(tmp_path: Path) -> None:
    log = new_log()
    witness = witness_for(tmp_path, log)
    note = log.grow()
    witness.add_checkpoint(log.request(0, note))
    fork = forked(log)
    fork.grow()
    bigger = fork.grow()
    # the fork's own proof from its size-2 tree, which is not the tree the witness holds
    with pytest.raises(CheckpointInconsistent):
        witness.add_checkpoint(fork.request(log.size(note), bigger))
    assert witness.stored(Checkpoint.from_text(note).origin)[0] == log.size(note)


def test_refuses_a_stale_checkpoint_with_the_stored_size(tmp_path: Path) -> None:
    log = new_log()
    witness = witness_for(tmp_path, log)
    first = log.grow()
    second = log.grow()
    witness.add_checkpoint(log.request(0, first))
    witness.add_checkpoint(log.request(log.size(first), second))
    with pytest.raises(WitnessSizeMismatch) as refused:
        witness.add_checkpoint(log.request(0, first))
    assert refused.value.stored_size == log.size(second)


def test_refuses_unknown_logs_and_unsigned_checkpoints(tmp_path: Path) -> None:
    log = new_log()
    witness = witness_for(tmp_path, log)
    note = log.grow()
    with pytest.raises(UnknownLog):
        witness.add_checkpoint(log.request(0, note.replace("tradeledger/", "other/", 1)))
    # signed only by a key the witness does not trust (a note with no signature line at all
    # is malformed per signed-note, as Go's note.Open says: MalformedWitnessRequest, 400)
    stranger = SigningKey(b"\x42" * 32)
    untrusted = Checkpoint(Checkpoint.from_text(note).body).signed_by("stranger", stranger)
    with pytest.raises(CheckpointUntrusted):
        witness.add_checkpoint(format_add_checkpoint(0, [], untrusted.to_text()))
    with pytest.raises(MalformedWitnessRequest):
        witness.add_checkpoint(format_add_checkpoint(0, [], untrusted.body + "\n"))
    # a member's line that does not verify
    signed = Checkpoint.from_text(note)
    forged = tuple(
        NoteSignature(s.name, s.key_hash, bytes(64)) if s.name.startswith("jp-jcci:") else s
        for s in signed.signatures
    )
    bad = Checkpoint(signed.body, forged)
    with pytest.raises(CheckpointUntrusted):
        witness.add_checkpoint(format_add_checkpoint(0, [], bad.to_text()))


@pytest.mark.parametrize(
    "body",
    [b"old 01\n\nx\n", b"no old line\n\nx\n", b"old 0\nnot base64!\n\nx\n", b"old 0\n"],
)
def test_malformed_requests(tmp_path: Path, body: bytes) -> None:
    witness = witness_for(tmp_path, new_log())
    with pytest.raises(MalformedWitnessRequest):
        witness.add_checkpoint(body)


def test_old_size_larger_than_the_checkpoint_is_400(tmp_path: Path) -> None:
    log = new_log()
    note = log.grow()
    with pytest.raises(MalformedWitnessRequest):
        witness_for(tmp_path, log).add_checkpoint(format_add_checkpoint(99, [], note))


def test_state_survives_a_restart(tmp_path: Path) -> None:
    log = new_log()
    witness = witness_for(tmp_path, log)
    first = log.grow()
    witness.add_checkpoint(log.request(0, first))
    vkey = witness.vkey
    witness.close()
    again = witness_for(tmp_path, log)
    assert again.vkey == vkey
    with pytest.raises(WitnessSizeMismatch):
        again.add_checkpoint(log.request(0, first))
    again.add_checkpoint(log.request(log.size(first), log.grow()))


def test_http_statuses_follow_the_protocol(tmp_path: Path) -> None:
    log = new_log()
    witness = witness_for(tmp_path, log)
    client = TestClient(create_witness_app(witness))
    first = log.grow()
    ok = client.post("/add-checkpoint", content=log.request(0, first))
    assert ok.status_code == 200
    assert ok.text.startswith("\u2014 ") and ok.text.endswith("\n")
    stale = client.post("/add-checkpoint", content=log.request(0, first))
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "text/x.tlog.size"
    assert stale.text == f"{log.size(first)}\n"
    fork = forked(log).grow()
    inconsistent = client.post("/add-checkpoint", content=format_add_checkpoint(2, [], fork))
    assert inconsistent.status_code == 422
    assert inconsistent.headers["content-type"] == "application/problem+json"
    assert inconsistent.json()["code"] == "checkpoint-inconsistent"
    unknown = client.post(
        "/add-checkpoint", content=log.request(0, first.replace("tradeledger/", "x/", 1))
    )
    assert unknown.status_code == 404
    body = Checkpoint.from_text(first).body
    untrusted = Checkpoint(body).signed_by("stranger", SigningKey(b"\x42" * 32)).to_text()
    assert (
        client.post("/add-checkpoint", content=format_add_checkpoint(0, [], untrusted)).status_code
        == 403
    )
    unsigned = format_add_checkpoint(0, [], body + "\n")
    assert client.post("/add-checkpoint", content=unsigned).status_code == 400
    assert client.post("/add-checkpoint", content=b"old x\n\n").status_code == 400
    # the monitoring endpoint serves the cosigned checkpoint
    origin_hash = hashlib.sha256(Checkpoint.from_text(first).origin.encode()).hexdigest()
    latest = client.get(f"/{origin_hash}/checkpoint")
    assert latest.status_code == 200
    assert latest.text == first + ok.text
    assert client.get(f"/{'0' * 64}/checkpoint").status_code == 404
