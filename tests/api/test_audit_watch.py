"""``tradeledger audit watch`` against live nodes: consistent growth passes; a forked node (same
genesis, another history) or a rolled-back one is a split view, kept as evidence, exit 1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nodes.cli.main import app
from nodes.demo import run_demo
from nodes.home import NodeHome
from tests.api.conftest import LiveNode, serving

runner = CliRunner()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("watch") / "home"
    run_demo(NodeHome(home), 700).store.dispose()  # blocks of 500 and 200
    return home


def fork(template: Path, target: Path, *more: int) -> NodeHome:
    shutil.copytree(template, target)
    home = NodeHome(target)
    for n in more:
        run_demo(home, n).store.dispose()
    return home


def watch(live: LiveNode, state: Path, trusted: Path) -> tuple[int, str]:
    result = runner.invoke(
        app,
        [
            "audit",
            "watch",
            "--node",
            live.base_url,
            "--state",
            str(state),
            "--home",
            str(trusted),
            "--token",
            live.tokens["auditor"],
            "--once",
        ],
    )
    return result.exit_code, result.output


def evidence(state: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in state.parent.glob(state.name + ".split-view-*")]


def test_consistent_growth_is_followed(template: Path, tmp_path: Path) -> None:
    home = fork(template, tmp_path / "a")
    state = tmp_path / "watch.json"
    with serving(home, 100, users=["auditor"]) as live:
        live.settled()
        code, out = watch(live, state, home.path)
        assert code == 0 and out.startswith("first: height 3, tree size 800"), out
        code, out = watch(live, state, home.path)
        assert code == 0 and out.startswith("same: height 3"), out
    with serving(home, 150, users=["auditor"]) as live:
        live.settled()
        code, out = watch(live, state, home.path)
        assert code == 0 and out.startswith("consistent: height 4, tree size 950"), out
    assert evidence(state) == []


@pytest.mark.parametrize("kind", ["diverging", "same-size", "rollback"])
def test_a_split_view_is_kept_as_evidence(template: Path, tmp_path: Path, kind: str) -> None:
    one = fork(template, tmp_path / "one")
    other = fork(template, tmp_path / "other")
    state = tmp_path / "watch.json"
    first, second = {
        "diverging": ((100,), (100, 100)),  # 800 on one side, then 900 on another history
        "same-size": ((100,), (100,)),  # two trees of 800 entries
        "rollback": ((100, 100), (100,)),  # 900, then 800
    }[kind]
    for n in first[:-1]:
        run_demo(one, n).store.dispose()
    for n in second[:-1]:
        run_demo(other, n).store.dispose()
    with serving(one, first[-1], users=["auditor"]) as live:
        live.settled()
        assert watch(live, state, one.path)[0] == 0
    saved = state.read_bytes()
    with serving(other, second[-1], users=["auditor"]) as live:
        live.settled()
        code, out = watch(live, state, one.path)
    assert code == 1 and "error[split-view]" in out, out
    assert state.read_bytes() == saved  # still the last consistent checkpoint
    [kept] = evidence(state)
    assert kept["kind"] == "split-view"
    assert kept["first_checkpoint"] == json.loads(saved)["checkpoint"]
    assert kept["second_checkpoint"] != kept["first_checkpoint"]


def test_a_checkpoint_of_another_consortium_is_invalid(template: Path, tmp_path: Path) -> None:
    home = fork(template, tmp_path / "a")
    stranger = NodeHome(tmp_path / "stranger")
    run_demo(stranger, 5).store.dispose()  # other founders' keys
    state = tmp_path / "watch.json"
    with serving(home, 10, users=["auditor"]) as live:
        live.settled()
        code, out = watch(live, state, stranger.path)
    assert code == 1 and "error[checkpoint-invalid]" in out, out
    assert not state.exists()


def test_an_unreachable_node_is_an_io_error(tmp_path: Path, template: Path) -> None:
    result = runner.invoke(
        app,
        [
            "audit",
            "watch",
            "--node",
            "http://127.0.0.1:9",
            "--state",
            str(tmp_path / "w.json"),
            "--home",
            str(template),
            "--once",
        ],
    )
    assert result.exit_code == 2, result.output
