"""Authentication attacks: a user holding a token that should no longer act, an organisation
the membership no longer lets act, and a node asked to sign with a key that was rotated out.

Each test plays the attacker against the module's running node (``tests/security/conftest``)
and asserts that the attack fails at once: no restart, no waiting for a cache to age. A
membership change reaches the node as a ``config.update`` entry signed by the demo
consortium's config quorum (one organisation: jp-jcci) and offered to its sequencer, as a
member's own node would take it; each test changes a different organisation, so that the
tests do not depend on one another's order.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ledger.entries import Entry, build_entry, parse_entry
from ledger.errors import TradeLedgerError, Unauthenticated
from ledger.keys import SigningKey
from ledger.timefmt import now, parse_time
from nodes.cli.main import app
from nodes.demo import EXAMPLES_DIR, ensure_consortium
from nodes.home import NodeHome
from nodes.store import LedgerStore
from nodes.tokens import Caller, TokenLookup, create_token, create_token_schema, revoke_token
from tests.api.conftest import LiveNode, serving

ROOT = Path(__file__).resolve().parents[2]
CERTIFICATE = "jp-jcci/JCCI-2026-0004512"  # the worked example every demo chain holds
runner = CliRunner()


# -- helpers --------------------------------------------------------------------------------


def provenance(node: LiveNode, token: str, document_id: str = CERTIFICATE) -> httpx.Response:
    with httpx.Client(base_url=node.base_url, timeout=30) as http:
        return http.get(
            f"/v1/documents/{document_id}/provenance",
            headers={"Authorization": f"Bearer {token}"},
        )


def reads(node: LiveNode, token: str) -> dict[str, int]:
    """The status of every kind of authenticated read, for a token."""
    headers = {"Authorization": f"Bearer {token}"}
    info = node.node.index.document(CERTIFICATE)
    assert info is not None and info.defining_hash
    with httpx.Client(base_url=node.base_url, headers=headers, timeout=30) as http:
        return {
            "provenance": provenance(node, token).status_code,
            "document": http.get(f"/v1/documents/{CERTIFICATE}").status_code,
            "block": http.get("/v1/blocks/1").status_code,
            "entry": http.get(f"/v1/entries/{info.defining_hash}").status_code,
        }


def offer(node: LiveNode, entry: Entry) -> None:
    """Put ``entry`` on the running node's chain and wait until it is in a block."""
    errors: list[TradeLedgerError | None] = []
    done = threading.Event()

    def acknowledged(error: TradeLedgerError | None) -> None:
        errors.append(error)
        done.set()

    node.node.orderer.enqueue(entry, acknowledged)
    node.wait_for_block(entry.hash_hex)
    # the acknowledgement may come a moment after the block is visible
    assert done.wait(10) and errors == [None], errors


def change_membership(node: LiveNode, *changes: dict[str, Any]) -> Entry:
    """A config.update signed by the config quorum (jp-jcci), in a block on the node."""
    entry = build_entry(
        "config.update",
        "jp-jcci",
        node.home.signing_key("jp-jcci"),
        json.dumps({"changes": list(changes)}).encode(),
        "application/json",
        consortium_id=node.node.consortium.consortium_id,
    )
    offer(node, entry)
    return entry


def key_json(key: SigningKey) -> dict[str, str]:
    return {"key_id": key.key_id, "public_key": key.public_key.to_b64(), "status": "active"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command line, in a process of its own (as an operator runs it)."""
    return subprocess.run(
        [sys.executable, "-m", "nodes.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


# -- revocation -----------------------------------------------------------------------------


def test_a_token_revoked_by_the_cli_in_another_process_ends_at_once(node: LiveNode) -> None:
    token = create_token(node.node.store, node.node.consortium, "jp-kanto-audit", "auditor")
    assert provenance(node, token).status_code == 200  # honoured, so any cache knows it

    done = cli("token", "revoke", "--home", str(node.home.path), token)

    assert done.returncode == 0, done.stderr
    assert "jp-kanto-audit" in done.stdout
    refused = provenance(node, token)
    assert refused.status_code == 401
    assert "revoked" in problem(refused)["detail"]
    # the row is kept as revoked, so revoking it again says so instead of "unknown"
    again = runner.invoke(app, ["token", "revoke", "--home", str(node.home.path), token])
    assert again.exit_code == 0 and "already revoked" in again.stdout
    other = create_token(node.node.store, node.node.consortium, "jp-kanto-audit", "auditor")
    assert provenance(node, other).status_code == 200  # only that token ended


def test_revoking_an_organisations_tokens_ends_every_one_at_once(node: LiveNode) -> None:
    tokens = [
        create_token(node.node.store, node.node.consortium, "vn-customs", "customs")
        for _ in range(3)
    ]
    bystander = create_token(node.node.store, node.node.consortium, "jp-kanto-audit", "auditor")
    assert [provenance(node, t).status_code for t in tokens] == [200, 200, 200]

    done = runner.invoke(
        app, ["token", "revoke", "--home", str(node.home.path), "--org", "vn-customs"]
    )

    assert done.exit_code == 0, done.output
    assert [provenance(node, t).status_code for t in tokens] == [401, 401, 401]
    assert provenance(node, bystander).status_code == 200


def test_revoking_an_unknown_token_or_organisation_exits_2_with_one_line(node: LiveNode) -> None:
    home = str(node.home.path)
    unknown_token = cli("token", "revoke", "--home", home, "tl_" + "x" * 43)
    unknown_org = cli("token", "revoke", "--home", home, "--org", "zz-nobody")

    for done in (unknown_token, unknown_org):
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and "error[" in done.stderr
    assert "no such token" in unknown_token.stderr
    assert "zz-nobody" in unknown_org.stderr


def test_a_deleted_token_row_ends_access_at_once(node: LiveNode) -> None:
    token = create_token(node.node.store, node.node.consortium, "jp-kanto-audit", "auditor")
    assert provenance(node, token).status_code == 200

    with sqlite3.connect(node.home.path / "ledger.db") as db:  # an operator's direct delete
        db.execute("DELETE FROM node_api_tokens WHERE token_hash = ?", (token_hash(token),))

    assert provenance(node, token).status_code == 401


# -- expiry ---------------------------------------------------------------------------------


def test_an_expired_token_gets_401_saying_so(node: LiveNode) -> None:
    made = now() - timedelta(days=2)
    token = create_token(
        node.node.store,
        node.node.consortium,
        "jp-kanto-audit",
        "auditor",
        expires=made + timedelta(days=1),
        at=made,
    )

    refused = provenance(node, token)

    assert refused.status_code == 401
    body = problem(refused)
    assert body["code"] == "unauthenticated" and "expired" in body["detail"]


def test_token_create_sets_an_expiry_from_a_duration_or_a_time(node: LiveNode) -> None:
    home = str(node.home.path)
    create = ["token", "create", "--home", home, "--org", "jp-kanto-audit", "--role", "auditor"]
    in_90_days = runner.invoke(app, [*create, "--expires-in", "90d"])
    at_a_time = runner.invoke(app, [*create, "--expires", "2099-03-31T00:00:00+09:00"])
    assert in_90_days.exit_code == 0 and at_a_time.exit_code == 0
    tokens = [in_90_days.stdout.strip(), at_a_time.stdout.strip()]
    assert [provenance(node, t).status_code for t in tokens] == [200, 200]

    with sqlite3.connect(node.home.path / "ledger.db") as db:
        stored = [
            db.execute(
                "SELECT expires FROM node_api_tokens WHERE token_hash = ?", (token_hash(t),)
            ).fetchone()[0]
            for t in tokens
        ]
    assert abs(parse_time(stored[0]) - (now() + timedelta(days=90))) < timedelta(minutes=5)
    assert stored[1] == "2099-03-30T15:00:00.000000Z"


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--expires-in", "90x", "not a duration"),
        ("--expires", "2099-03-31", "RFC 3339"),
        ("--expires", "2001-01-01T00:00:00Z", "not after now"),
    ],
)
def test_token_create_refuses_an_unusable_expiry(
    node: LiveNode, option: str, value: str, said: str
) -> None:
    home = str(node.home.path)
    create = ["token", "create", "--home", home, "--org", "jp-kanto-audit", "--role", "auditor"]

    done = runner.invoke(app, [*create, option, value])

    assert done.exit_code == 2
    assert "error[invalid-expiry]" in done.output and said in done.output


# -- the membership in force ----------------------------------------------------------------


def test_an_auditor_whose_role_was_removed_reads_nothing(node: LiveNode) -> None:
    token = create_token(node.node.store, node.node.consortium, "jp-kanto-audit", "auditor")
    assert set(reads(node, token).values()) == {200}

    change_membership(node, {"op": "set_roles", "org": "jp-kanto-audit", "roles": ["bank"]})
    try:
        assert reads(node, token) == {
            "provenance": 403,
            "document": 403,
            "block": 403,
            "entry": 403,
        }
        detail = problem(provenance(node, token))["detail"]
        assert "jp-kanto-audit no longer holds the role auditor" in detail
    finally:  # the other tests of this module read as this auditor
        change_membership(node, {"op": "set_roles", "org": "jp-kanto-audit", "roles": ["auditor"]})


def test_an_organisation_whose_keys_were_all_revoked_reads_nothing(node: LiveNode) -> None:
    token = node.tokens["bank"]  # jp-sakura-bank, a party to the example certificate
    assert provenance(node, token).status_code == 200
    (key_id,) = node.node.membership.organisations["jp-sakura-bank"].keys

    change_membership(node, {"op": "revoke_key", "org": "jp-sakura-bank", "key_id": key_id})

    refused = provenance(node, token)
    assert refused.status_code == 403
    assert "every key of jp-sakura-bank has been revoked" in problem(refused)["detail"]
    with node.http("bank") as http:
        assert http.get("/v1/blocks/1").status_code == 403


def test_an_organisation_added_by_config_update_gets_a_token_and_uses_it(node: LiveNode) -> None:
    key = SigningKey.generate()
    change_membership(
        node,
        {
            "op": "add_organisation",
            "organisation": {
                "id": "vn-haiphong-customs",
                "legal_name": "Hai Phong Customs Department",
                "country": "VN",
                "roles": ["customs"],
                "keys": [key_json(key)],
                "endpoints": [],
            },
        },
    )
    home = str(node.home.path)

    made = cli(
        "token", "create", "--home", home, "--org", "vn-haiphong-customs", "--role", "customs"
    )
    wrong_role = cli(
        "token", "create", "--home", home, "--org", "vn-haiphong-customs", "--role", "bank"
    )

    assert made.returncode == 0, made.stderr
    # customs of the importing country (VN) may read the example certificate
    assert provenance(node, made.stdout.strip()).status_code == 200
    assert wrong_role.returncode == 2 and "does not hold the role bank" in wrong_role.stderr


# -- the node's signing key -----------------------------------------------------------------


def application(number: str) -> bytes:
    doc = json.loads((EXAMPLES_DIR / "co-application.json").read_bytes())
    doc = copy.deepcopy(doc)
    doc["co"]["number"] = number
    return json.dumps(doc).encode()


def submit_application(node: LiveNode, number: str) -> httpx.Response:
    with node.http("exporter") as http:
        return http.post(
            "/v1/documents?event=co.application",
            content=application(number),
            headers={"Content-Type": "application/json"},
        )


def test_after_a_key_rotation_the_node_signs_with_the_new_key_only(node: LiveNode) -> None:
    org = "jp-tanaka-machinery"
    old, new = node.home.signing_key(org), SigningKey.generate()
    first = submit_application(node, "JCCI-AUTH-ROT-1")
    assert first.status_code == 201, first.text
    node.home.add_key(org, new)  # the operator places the new private key in the home

    rotation = change_membership(
        node,
        {"op": "add_key", "org": org, "key": key_json(new)},
        {"op": "revoke_key", "org": org, "key_id": old.key_id},
    )
    later = [submit_application(node, f"JCCI-AUTH-ROT-{n}") for n in (2, 3)]

    assert [r.status_code for r in later] == [201, 201], [r.text for r in later]
    for r in later:
        node.wait_for_block(r.json()["entry_hash"])
    with sqlite3.connect(node.home.path / "ledger.db") as db:
        by_org = [
            (idx, parse_entry(bytes(envelope)))
            for idx, envelope in db.execute("SELECT idx, envelope FROM ledger_entries")
        ]
    rotated_at = next(i for i, e in by_org if e.entry_hash == rotation.entry_hash)
    before = [e for i, e in by_org if e.author == org and i < rotated_at]
    after = [e for i, e in by_org if e.author == org and i > rotated_at]
    assert first.json()["entry_hash"] in {e.hash_hex for e in before}
    assert {e.key_id for e in before} == {old.key_id}
    assert {e.hash_hex for e in after} == {r.json()["entry_hash"] for r in later}
    assert {e.key_id for e in after} == {new.key_id}  # the old key never again


def test_a_node_holding_no_active_key_of_the_organisation_refuses_to_sign(
    tmp_path: Path,
) -> None:
    with fresh_node(tmp_path) as live:
        org = "jp-tanaka-machinery"
        new = SigningKey.generate()
        change_membership(
            live,
            {"op": "add_key", "org": org, "key": key_json(new)},
            {"op": "revoke_key", "org": org, "key_id": live.home.signing_key(org).key_id},
        )

        refused = submit_application(live, "JCCI-AUTH-NOKEY-1")

        assert refused.status_code == 403
        assert f"holds no active signing key for {org}" in problem(refused)["detail"]
        live.home.add_key(org, new)  # once the new key is in the home, the node uses it
        accepted = submit_application(live, "JCCI-AUTH-NOKEY-2")
        assert accepted.status_code == 201, accepted.text
        live.wait_for_block(accepted.json()["entry_hash"])
        stored = live.node.reads.entry_by_hash(bytes.fromhex(accepted.json()["entry_hash"]))
        assert stored is not None and parse_entry(stored.envelope).key_id == new.key_id


@contextlib.contextmanager
def fresh_node(tmp_path: Path) -> Iterator[LiveNode]:
    """A node of its own, for a test that changes the node organisation's keys."""
    with serving(NodeHome(tmp_path / "home"), 5, users=["exporter"]) as live:
        yield live


def test_after_the_proposers_key_is_rotated_the_node_signs_blocks_with_the_new_key(
    tmp_path: Path,
) -> None:
    """The node's own organisation rotates its key: blocks after that are signed with the new
    one (a checkpoint by the revoked key would make every later block invalid)."""
    with fresh_node(tmp_path) as live:
        old, new = live.home.signing_key("jp-jcci"), SigningKey.generate()
        live.home.add_key("jp-jcci", new)
        change_membership(
            live,
            {"op": "add_key", "org": "jp-jcci", "key": key_json(new)},
            {"op": "revoke_key", "org": "jp-jcci", "key_id": old.key_id},
        )
        presentation = build_entry(
            "bank.presentation",
            "jp-sakura-bank",
            live.home.signing_key("jp-sakura-bank"),
            b'{"letter_of_credit": "LC-ROT"}',
            "application/json",
            consortium_id=live.node.consortium.consortium_id,
        )

        offer(live, presentation)

        last = json.loads(live.node.store.block(live.node.head.height).header)
        assert last["key_id"] == new.key_id
        assert live.node.signing_key_for("jp-jcci").key_id == new.key_id


# -- both stores ----------------------------------------------------------------------------


def test_revoked_expired_and_deleted_tokens_end_at_once_on_either_store(
    db_url: str, tmp_path: Path
) -> None:
    """The look-up a node makes per request, with the revocation and the delete made through
    another connection (as ``token revoke`` in another process does), on SQLite and PostgreSQL."""
    home = NodeHome(tmp_path / "home")
    ensure_consortium(home)
    consortium = home.consortium()
    node_store, cli_store = LedgerStore(db_url), LedgerStore(db_url)
    node_store.create_schema()
    node_store.save_consortium(home.consortium_file.read_bytes())
    create_token_schema(node_store.engine)
    lookup = TokenLookup(node_store)
    try:
        kept, revoked, deleted = (
            create_token(cli_store, consortium, "jp-kanto-audit", "auditor") for _ in range(3)
        )
        made = now() - timedelta(hours=2)
        expired = create_token(
            cli_store,
            consortium,
            "jp-jcci",
            "issuing_authority",
            expires=made + timedelta(hours=1),
            at=made,
        )
        assert {lookup.caller(t) for t in (kept, revoked, deleted)} == {
            Caller("jp-kanto-audit", "auditor")
        }

        revoke_token(cli_store, revoked)
        with cli_store.engine.begin() as conn:
            conn.execute(
                text("DELETE FROM node_api_tokens WHERE token_hash = :h"),
                {"h": token_hash(deleted)},
            )

        assert lookup.caller(kept) == Caller("jp-kanto-audit", "auditor")
        for token, said in ((revoked, "revoked"), (deleted, "not valid"), (expired, "expired")):
            with pytest.raises(Unauthenticated, match=said):
                lookup.caller(token)
    finally:
        lookup.close()
        node_store.dispose()
        cli_store.dispose()


def test_every_route_that_takes_a_token_documents_401_and_403(node: LiveNode) -> None:
    """A token can be refused (401) or its organisation no longer let act (403) on any route
    that reads one, so the OpenAPI description says so for each."""
    with httpx.Client(base_url=node.base_url, timeout=30) as http:
        spec = http.get("/openapi.json").json()
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") and not {"401", "403"} <= operation["responses"].keys()
    ]
    assert undocumented == []
