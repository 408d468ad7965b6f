"""Fault tests of the consortium: processes killed with SIGKILL while clients submit.

What must hold afterwards: every acknowledged entry is on every live node at the same leaf
index; restarted nodes catch up to the identical head and cosign it; without an etcd majority
nothing is acknowledged (503); a node whose database was altered refuses to sign, naming the
height; ``audit replay`` passes on every node's store.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time

import httpx

from ledger.blocks import Checkpoint
from nodes.etcd import EtcdClient
from nodes.etcd_orderer import CutMarker, cosignature_key, order_prefix
from nodes.home import NodeHome
from tests.consortium.conftest import (
    Network,
    Submitter,
    audit_replay,
    certificate,
    import_declaration,
    issue,
    leaf_indexes,
)


def _submitters(net: Network) -> list[Submitter]:
    jcci = net.token(0, "jp-jcci", "issuing_authority")
    vn = net.token(1, "vn-customs", "customs")
    return [
        Submitter(net.url(0), jcci, "co.issued", certificate).start(),
        Submitter(net.url(1), vn, "customs.import_declaration", import_declaration).start(),
    ]


def _cosigners(net: Network, i: int, height: int) -> set[str]:
    text = httpx.get(f"{net.url(i)}/v1/checkpoint", timeout=5).json()["checkpoint"]
    cp = Checkpoint.from_text(text)
    assert cp.height == height
    return {s.name.split(":")[0] for s in cp.signatures}


def test_kill_nodes_and_the_etcd_leader_while_clients_submit(network_factory) -> None:  # type: ignore[no-untyped-def]
    net: Network = network_factory(3)
    clients = _submitters(net)
    time.sleep(3)
    # the node that cuts blocks now dies first
    cutter = next(i for i in range(3) if net.health(i)["cutter"])
    net.processes.kill_node(cutter)
    time.sleep(3)
    leader = net.processes.etcd.leader_index()
    assert leader is not None
    net.processes.etcd.kill(leader)
    time.sleep(4)
    net.processes.etcd.start_member(leader)
    net.processes.start_node(cutter)
    net.processes.wait_node(cutter)
    time.sleep(3)
    for c in clients:
        c.stop()
    acknowledged = [h for c in clients for h in c.acknowledged]
    assert len(acknowledged) > 50, [c.refused for c in clients]
    height = net.settled([0, 1, 2])
    auditor = {i: net.token(i, "jp-kanto-audit", "auditor") for i in range(3)}
    positions = [leaf_indexes(net, i, auditor[i], acknowledged) for i in range(3)]
    assert positions[0] == positions[1] == positions[2]
    assert len(set(positions[0].values())) == len(acknowledged)
    # the restarted node cosigned the final head like the others
    assert _cosigners(net, cutter, height) == {"jp-jcci", "vn-customs", "th-customs"}
    net.processes.stop()
    for i in range(3):
        result = audit_replay(net.layout.home(i))
        assert result.returncode == 0, result.stdout + result.stderr


def test_without_an_etcd_majority_nothing_is_acknowledged(network_factory) -> None:  # type: ignore[no-untyped-def]
    net: Network = network_factory(3)
    token = net.token(0, "jp-jcci", "issuing_authority")

    assert issue(net, token, "MAJ-1").status_code == 201
    before = net.settled([0, 1, 2])
    net.processes.etcd.kill(1)
    net.processes.etcd.kill(2)
    refused = issue(net, token, "MAJ-2")
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    net.processes.etcd.start_member(1)
    net.processes.etcd.start_member(2)
    net.processes.etcd.wait_ready(timeout=60)
    assert issue(net, token, "MAJ-3").status_code == 201
    after = net.settled([0, 1, 2])
    assert after > before
    # A write etcd could not commit in time was not acknowledged, but Raft may still commit it
    # once the majority is back (the lone member had it in its log). Either way the client can
    # tell by submitting again: 201 if it is not on the ledger, 409 if it is, never twice.
    auditor = net.token(0, "jp-kanto-audit", "auditor")
    listed = httpx.get(
        f"{net.url(0)}/v1/documents/jp-jcci%2FMAJ-2/provenance",
        headers={"Authorization": f"Bearer {auditor}"},
        timeout=10,
    )
    assert listed.status_code in (200, 404)
    again = issue(net, token, "MAJ-2")
    assert again.status_code == (409 if listed.status_code == 200 else 201), again.text
    net.settled([0, 1, 2])
    events = httpx.get(
        f"{net.url(0)}/v1/documents/jp-jcci%2FMAJ-2/provenance",
        headers={"Authorization": f"Bearer {auditor}"},
        timeout=10,
    ).json()["events"]
    assert [e["event"] for e in events] == ["co.issued"]


def test_a_node_whose_database_was_altered_refuses_to_sign(network_factory) -> None:  # type: ignore[no-untyped-def]
    net: Network = network_factory(3)
    token = net.token(0, "jp-jcci", "issuing_authority")
    for n in range(3):
        r = issue(net, token, f"ALT-{n}")
        assert r.status_code == 201
    height = net.settled([0, 1, 2])
    net.processes.kill_node(2)
    db = NodeHome(net.layout.home(2)).path / "ledger.db"
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER IF EXISTS ledger_tree_nodes_no_update")
        conn.execute("DROP TRIGGER IF EXISTS ledger_entries_no_update")
        conn.execute("UPDATE ledger_entries SET entry_hash = zeroblob(32) WHERE idx = 0")
    net.processes.start_node(2)
    node = net.processes.nodes[2]
    assert node is not None
    assert node.wait(timeout=60) != 0
    log = (net.layout.root / "node2.log").read_text()
    assert f"at height {height}" in log and "refusing" in log
    # the other two go on
    r = issue(net, token, "ALT-9")
    assert r.status_code == 201
    result = audit_replay(net.layout.home(2))
    assert result.returncode == 1


def test_a_node_behind_etcd_compaction_catches_up_from_peers_and_a_new_node_joins_from_genesis(
    network_factory,  # type: ignore[no-untyped-def]
) -> None:
    net: Network = network_factory(4, slack=2)
    net.processes.kill_node(3)
    clients = _submitters(net)
    # three of four cosign: blocks become final, and etcd's history is compacted below them
    net.wait(lambda: net.health(0)["height"] > 12, 120, "a dozen final blocks")
    time.sleep(6)  # the cutter compacts every 5 s
    for c in clients:
        c.stop()
    acknowledged = [h for c in clients for h in c.acknowledged]
    net.processes.start_node(3)
    net.processes.wait_node(3)
    height = net.settled([0, 1, 2, 3])
    assert net.health(3)["height"] == height
    assert net.health(3)["blocks_from_peers"] == height  # etcd no longer held the order
    auditor = {i: net.token(i, "jp-kanto-audit", "auditor") for i in (0, 3)}
    assert leaf_indexes(net, 0, auditor[0], acknowledged) == leaf_indexes(
        net, 3, auditor[3], acknowledged
    )
    # A node with an empty database (a new organisation's node, or one rebuilt) joins from
    # genesis the same way: from its peers, every block verified.
    net.processes.kill_node(3)
    for f in net.layout.home(3).glob("*.db*"):
        f.unlink()
    net.processes.start_node(3)
    net.processes.wait_node(3, timeout=120)
    assert net.settled([0, 1, 2, 3], timeout=120) >= height
    final = net.health(0)["height"]
    net.wait(
        lambda: "jp-sakura-bank" in _cosigners(net, 0, final), 30, "the rejoined node's cosignature"
    )


def test_a_member_signing_two_headers_for_one_height_is_kept_as_evidence(network_factory) -> None:  # type: ignore[no-untyped-def]
    net: Network = network_factory(3)
    token = net.token(0, "jp-jcci", "issuing_authority")
    r = issue(net, token, "EQ-1")
    assert r.status_code == 201
    height = net.settled([0, 1, 2])
    # Thai customs' key signs a second, different header for the same height
    home = NodeHome(net.layout.home(2))
    key = home.signing_key("th-customs")
    text = httpx.get(f"{net.url(0)}/v1/checkpoint", timeout=5).json()["checkpoint"]
    body = Checkpoint.from_text(text).body
    forged_body = re.sub(r"\ntime (\S+)\n", "\ntime 2030-01-01T00:00:00.000000Z\n", body)
    assert forged_body != body
    forged = Checkpoint(forged_body).cosigned_by("th-customs", key, int(time.time()))
    line = forged.to_text()[len(forged_body) + 1 :]
    etcd = EtcdClient(net.processes.etcd.client_urls)
    etcd.put(
        cosignature_key("tradeledger-local", "th-customs"),
        json.dumps({"height": height, "body": forged_body, "line": line}).encode(),
    )
    etcd.close()
    net.wait(
        lambda: any(
            e["signer"] == "th-customs" and e["height"] == height
            for e in net.health(0)["conflicting_headers"]
        ),
        30,
        "the evidence to be reported",
    )
    # the final checkpoint is untouched: the forged line is not added to it
    assert _cosigners(net, 0, height) == {"jp-jcci", "vn-customs", "th-customs"}

    # Whoever can write to etcd but holds no member key: an unreadable batch and an entry that
    # is not one are left out (counted), and a cut marker without a member's signature is
    # ignored by every node — its time would otherwise date the next block 2030.
    prefix = order_prefix("tradeledger-local")
    skipped = [net.health(i)["skipped_entries"] for i in range(3)]
    etcd = EtcdClient(net.processes.etcd.client_urls)
    etcd.put(prefix + b"order/intruder", b"not a batch")
    etcd.put(prefix + b"order/intruder", json.dumps([["bm90IGFuIGVudHJ5", None]]).encode())
    second = issue(net, token, "EQ-2")
    assert second.status_code == 201
    unsigned = CutMarker("2030-01-01T00:00:00.000000Z", "th-customs", key.key_id, bytes(64))
    etcd.put(prefix + b"cut", unsigned.to_bytes())
    etcd.close()
    after = net.settled([0, 1, 2])
    assert after == height + 1
    head = httpx.get(f"{net.url(0)}/v1/checkpoint", timeout=5).json()
    assert not head["time"].startswith("2030"), head
    for i in range(3):
        assert net.health(i)["skipped_entries"] == skipped[i] + 1  # the entry that is not one
    net.processes.stop()
    replayed = audit_replay(net.layout.home(0))
    assert replayed.returncode == 0, replayed.stderr
    assert f"evidence: th-customs signed a different header for height {height}" in (
        replayed.stdout
    )


def test_an_organisation_joins_a_running_consortium(network_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    net: Network = network_factory(3)
    token = net.token(0, "jp-jcci", "issuing_authority")
    auth = {"Authorization": f"Bearer {token}"}
    first = issue(net, token, "JOIN-1")
    assert first.status_code == 201
    net.settled([0, 1, 2])
    layout = net.layout
    port = layout.base_port + 3
    home = tmp_path / "joining"
    cli = [sys.executable, "-m", "nodes.cli.main"]

    def run(*args: str) -> str:
        done = subprocess.run([*cli, *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    etcd_args = [a for url in net.processes.etcd.client_urls for a in ("--etcd", url)]
    run(
        "network", "join", "--home", str(home), "--consortium",
        str(layout.home(0) / "consortium.json"), "--org", "jp-sakura-bank",
        "--legal-name", "Sakura Trade Bank, Ltd.", "--country", "JP", "--role", "bank",
        *etcd_args, "--public-url", f"http://127.0.0.1:{port}",
    )  # fmt: skip
    change = tmp_path / "change.json"
    run(
        "consortium", "change", "propose", str(home / "add-organisation.json"),
        "--home", str(layout.home(0)), "--org", "jp-jcci", "--out", str(change),
    )  # fmt: skip

    def sign_and_submit(node: int, org: str) -> httpx.Response:
        home_args = ["--home", str(layout.home(node)), "--org", org]
        run("consortium", "change", "sign", str(change), *home_args)
        return httpx.post(
            f"{net.url(0)}/v1/documents",
            content=change.read_bytes(),
            headers={**auth, "Content-Type": "application/vnd.tradeledger.entry+json"},
            timeout=30,
        )

    # signed by two of three: below the configuration quorum (3), refused before ordering
    short = sign_and_submit(1, "vn-customs")
    assert short.status_code in (403, 422), short.text
    assert "needs 3 organisations' signatures, it has 2" in short.json()["detail"]
    joined = sign_and_submit(2, "th-customs")
    assert joined.status_code == 201, joined.text
    net.settled([0, 1, 2])
    # the members issue the new node its peer tokens; it then starts and catches up
    settings = json.loads((home / "node.json").read_text())
    settings["ordering"]["peers"] = [
        {"url": net.url(i), "token": net.token(i, "jp-sakura-bank", "node")} for i in range(3)
    ]
    (home / "node.json").write_text(json.dumps(settings))
    log = (tmp_path / "joining.log").open("ab")
    proc = subprocess.Popen(
        [*cli, "serve", "--home", str(home), "--port", str(port), "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        net.wait(
            lambda: (
                httpx.get(f"{url}/v1/health", timeout=2).json()["built_height"]
                == net.health(0)["height"]
            ),
            60,
            "the new node to catch up",
        )
        second = issue(net, token, "JOIN-2")
        assert second.status_code == 201
        net.wait(
            lambda: (
                "jp-sakura-bank" in _cosigners(net, 0, net.health(0)["height"])
                and net.health(0)["tree_size"] >= 3
            ),
            60,
            "the new member's cosignature on a final checkpoint",
        )
        mine = httpx.get(f"{url}/v1/health", timeout=5).json()
        assert mine["root_hash"] == net.health(0)["root_hash"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


def test_one_document_issued_through_two_nodes_at_once_is_on_the_ledger_once(
    network_factory,  # type: ignore[no-untyped-def]
) -> None:
    """Each node's admission sees only the ledger so far, so both may acknowledge; the cut
    keeps the first definition in the consortium's order, and the other is left out by every
    node alike — its submitter learns why (410 entry-left-out)."""
    import base64
    from concurrent.futures import ThreadPoolExecutor

    from ledger.entries import build_entry

    net: Network = network_factory(3)
    key = NodeHome(net.layout.home(0)).signing_key("jp-jcci")
    tokens = [net.token(i, "jp-jcci", "issuing_authority") for i in (0, 1)]
    for attempt in range(5):
        number = f"TWICE-{attempt}"
        entries = [
            build_entry(
                "co.issued",
                "jp-jcci",
                key,
                certificate(number),
                "application/json",
                consortium_id="tradeledger-local",
                subject=f"jp-jcci/{number}",
            )
            for _ in (0, 1)
        ]

        def submit(i: int, entries: list = entries) -> httpx.Response:  # type: ignore[type-arg]
            body = {
                "envelope": base64.b64encode(entries[i].envelope).decode(),
                "payload": base64.b64encode(entries[i].payload or b"").decode(),
            }
            return httpx.post(
                f"{net.url(i)}/v1/documents",
                json=body,
                headers={
                    "Authorization": f"Bearer {tokens[i]}",
                    "Content-Type": "application/vnd.tradeledger.entry+json",
                },
                timeout=30,
            )

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(submit, (0, 1)))
        if all(a.status_code == 201 for a in answers):
            break
        assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
    else:
        raise AssertionError("the two nodes never both acknowledged (one always saw the other)")
    net.settled([0, 1, 2])
    auditor = net.token(2, "jp-kanto-audit", "auditor")
    found = [
        httpx.get(
            f"{net.url(2)}/v1/entries/{e.hash_hex}",
            headers={"Authorization": f"Bearer {auditor}"},
            timeout=10,
        )
        for e in entries
    ]
    assert sorted(r.status_code for r in found) == [200, 410], [r.text for r in found]
    left_out = next(r for r in found if r.status_code == 410).json()
    assert left_out["code"] == "entry-left-out"
    assert "defined earlier" in left_out["detail"]
    for i in range(3):
        assert net.health(i)["skipped_entries"] >= 1
