"""The reference in ``docs/`` stays true to the code, and the README stays inside the repository.

* ``docs/cli.md`` documents every command, argument and option of the ``tradeledger`` app (one
  ``### `tradeledger …` `` section per command, one table row per argument or option) and
  nothing that does not exist, except in its "Planned" section, whose entries must still not
  exist (once one does, it belongs in the reference).
* ``docs/http-api.md`` names every route and every error code a client can get.
* README.md and the pages in ``docs/`` link only to files inside the repository.
"""

from __future__ import annotations

import copy
import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from api.routes import documents, ledger, printable, verify, web
from ledger.errors import TradeLedgerError
from nodes.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CLI_MD = DOCS / "cli.md"
HTTP_MD = DOCS / "http-api.md"
README = ROOT / "README.md"
PLANNED = "\n## Planned\n"
ERROR_MODULES = (
    "api.client",
    "documents.origin.parser",
    "documents.origin.rules",
    "nodes.documents_bridge",
    "nodes.tokens",
)
REFERENCE = ("cli.md", "http-api.md", "origin-formats.md", "checkpoint-format.md")

# --- the command tree -------------------------------------------------------------------------


def _walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    # a group has subcommands (click's Group, or the click Typer vendors: no isinstance)
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name, sub in subcommands.items():
            yield from _walk(sub, (*path, name))
    else:
        yield " ".join(path), command


ROOT_COMMAND = typer.main.get_command(app)
COMMANDS = dict(_walk(ROOT_COMMAND, ()))


def _parameters(command: Any) -> tuple[set[str], set[str]]:
    """(option strings, ARGUMENT names) of a command, --help left out."""
    options: set[str] = set()
    arguments: set[str] = set()
    for param in command.params:
        if param.param_type_name == "argument":
            arguments.add(param.name.upper())
        else:
            options.update(o for o in (*param.opts, *param.secondary_opts) if o != "--help")
    return options, arguments


def _resolve(words: list[str]) -> tuple[Any, list[str]] | None:
    """The leaf command a list of words starts with, and the words after it; None if the
    words leave the command tree."""
    command = ROOT_COMMAND
    for i, word in enumerate(words):
        subcommands = getattr(command, "commands", None)
        if not subcommands:
            return command, words[i:]
        if word not in subcommands:
            return None
        command = subcommands[word]
    return (None, []) if getattr(command, "commands", None) else (command, [])


# --- docs/cli.md --------------------------------------------------------------------------------


def _cli_text() -> tuple[str, str]:
    text = CLI_MD.read_text(encoding="utf-8")
    if PLANNED not in text:  # nothing planned: every contracted command exists
        return text, ""
    reference, planned = text.split(PLANNED, 1)
    return reference, planned


def _sections(reference: str) -> dict[str, str]:
    """``{"token create": its section's text}`` for each ``### `tradeledger …` `` heading."""
    parts = re.split(r"^### `tradeledger ([^`]+)`\s*$", reference, flags=re.M)
    sections: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        assert name not in sections, f"docs/cli.md documents `tradeledger {name}` twice"
        sections[name] = body.split("\n## ", 1)[0]
    return sections


def _documented_parameters(section: str) -> tuple[set[str], set[str]]:
    """Options and ARGUMENTS named in the first cell of the section's table rows."""
    options: set[str] = set()
    arguments: set[str] = set()
    for row in re.findall(r"^\|([^|]+)\|", section, flags=re.M):
        for span in re.findall(r"`([^`]+)`", row):
            word = span.split()[0]
            if word.startswith("-"):
                options.add(word)
            elif re.fullmatch(r"[A-Z][A-Z0-9_]*", word):
                arguments.add(word)
    return options, arguments


def test_every_command_has_a_section_and_no_section_is_invented() -> None:
    sections = _sections(_cli_text()[0])
    missing = sorted(set(COMMANDS) - set(sections))
    invented = sorted(set(sections) - set(COMMANDS))
    assert not missing, f"commands without a section in docs/cli.md: {missing}"
    assert not invented, f"docs/cli.md documents commands that do not exist: {invented}"


def _mismatches(name: str, command: Any, section: str) -> list[str]:
    options, arguments = _parameters(command)
    documented_options, documented_arguments = _documented_parameters(section)
    found = []
    if options - documented_options:
        found.append(
            f"options of `tradeledger {name}` missing from its table in docs/cli.md: "
            f"{sorted(options - documented_options)}"
        )
    if documented_options - options:
        found.append(
            f"docs/cli.md documents options `tradeledger {name}` does not have: "
            f"{sorted(documented_options - options)}"
        )
    if documented_arguments != arguments:
        found.append(
            f"`tradeledger {name}` takes arguments {sorted(arguments)}; its table in "
            f"docs/cli.md names {sorted(documented_arguments)}"
        )
    return found


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_and_argument_is_documented_and_none_invented(name: str) -> None:
    section = _sections(_cli_text()[0]).get(name)
    if section is None:
        pytest.fail(f"`tradeledger {name}` has no section in docs/cli.md")
    assert not _mismatches(name, COMMANDS[name], section)


def test_an_option_added_without_documentation_is_caught() -> None:
    """The check above fails for an option nobody documented (guards its parsing)."""
    tiny = typer.Typer()

    @tiny.command()
    def command(brand_new: bool = typer.Option(False, "--brand-new")) -> None:
        del brand_new

    serve = copy.copy(COMMANDS["serve"])
    serve.params = [*serve.params, *typer.main.get_command(tiny).params]
    section = _sections(_cli_text()[0])["serve"]
    assert not _mismatches("serve", COMMANDS["serve"], section)
    assert any("--brand-new" in m for m in _mismatches("serve", serve, section))


def test_every_command_line_in_the_reference_exists() -> None:
    """Outside "Planned", every `tradeledger <words>` the page shows (examples, usage lines,
    prose) starts with a real command, and every option it gives that command is real."""
    reference, _ = _cli_text()
    for line in reference.splitlines():
        for match in re.finditer(r"\btradeledger((?: [a-z][a-z-]*)+)((?: [^`|]*)?)", line):
            words = match.group(1).split()
            resolved = _resolve(words)
            assert resolved is not None and resolved[0] is not None, (
                f"docs/cli.md shows `tradeledger {' '.join(words)}`, which is not a command: "
                f"{line.strip()}"
            )
            command, _rest = resolved
            options, _ = _parameters(command)
            shown = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", match.group(2)))
            unknown = shown - options - {"--help"}
            assert not unknown, f"docs/cli.md gives options {sorted(unknown)} to: {line.strip()}"


def test_planned_commands_do_not_exist_yet() -> None:
    """A planned command or option that now exists must move into the reference."""
    _, planned = _cli_text()
    rows = re.findall(r"^\| `tradeledger ([^`]+)`", planned, flags=re.M)
    assert rows or not planned, "the Planned section of docs/cli.md lists nothing: drop it"
    for row in rows:
        words = [w for w in row.split() if not w.startswith("-") and not w.isupper()]
        options = {w for w in row.split() if w.startswith("-")}
        resolved = _resolve(words)
        if resolved is None or resolved[0] is None:
            continue  # the command does not exist: still planned
        command, _ = resolved
        existing, _ = _parameters(command)
        assert options and not options & existing, (
            f"`tradeledger {row}` exists now: document it in docs/cli.md's reference"
        )


# --- docs/http-api.md ---------------------------------------------------------------------------


def _routes() -> set[str]:
    found = set()
    for module in (ledger, printable, documents, verify, web):
        for route in module.router.routes:
            path = re.sub(r"\{(\w+):path\}", r"{\1}", route.path)
            for method in route.methods:
                found.add(f"{method} {path}")
    return found


def test_every_route_is_in_the_http_reference() -> None:
    text = HTTP_MD.read_text(encoding="utf-8")
    # written `METHOD /path` or `METHOD /path?query`
    missing = sorted(r for r in _routes() if not re.search(f"`{re.escape(r)}[`?]", text))
    assert not missing, f"routes missing from docs/http-api.md: {missing}"


def _error_classes(cls: type[TradeLedgerError]) -> Iterator[type[TradeLedgerError]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _error_classes(sub)


def test_every_error_code_is_in_the_http_reference() -> None:
    for module in ERROR_MODULES:  # where errors are defined outside ledger.errors
        importlib.import_module(module)
    text = HTTP_MD.read_text(encoding="utf-8")
    codes = {c.code for c in _error_classes(TradeLedgerError) if c is not TradeLedgerError}
    # the problems api.problems builds itself, not from an error class
    codes |= {"method-not-allowed", "internal", "http-error"}
    missing = sorted(code for code in codes if f"`{code}`" not in text)
    assert not missing, f"error codes missing from docs/http-api.md: {missing}"


# --- links stay inside the repository -----------------------------------------------------------


def _link_targets(text: str) -> list[str]:
    inline = re.findall(r"\]\(\s*<?([^)\s>]+)", text)
    reference_style = re.findall(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?\s*$", text, flags=re.M)
    html = re.findall(r"""(?:href|src)\s*=\s*["']([^"']+)""", text)
    return inline + reference_style + html


@pytest.mark.parametrize(
    "page", [README, *sorted(DOCS.glob("*.md"))], ids=lambda p: str(p.relative_to(ROOT))
)
def test_links_stay_inside_the_repository(page: Path) -> None:
    for target in _link_targets(page.read_text(encoding="utf-8")):
        if re.match(r"(https?|mailto):", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        resolved = (page.parent / path).resolve()
        assert resolved.is_relative_to(ROOT), (
            f"{page.relative_to(ROOT)} links outside the repository: {target}"
        )


def test_readme_points_into_docs_never_outside() -> None:
    text = README.read_text(encoding="utf-8")
    assert "../" not in text, "README.md refers to a path outside the repository"
    assert "INTERFACE.md" not in text
    targets = set(_link_targets(text))
    for name in REFERENCE:
        assert f"docs/{name}" in targets, f"README.md does not link docs/{name}"
        assert (DOCS / name).is_file()
