#!/usr/bin/env bash
# Mutation testing of one module with mutmut 3 (docs/testing.md):
#
#   scripts/mutation.sh MODULE [TESTS...]     e.g. scripts/mutation.sh ledger/merkle.py
#   scripts/mutation.sh --again MODULE        after adding tests: re-run only the survivors
#
# MODULE is a path (ledger/merkle.py) or a dotted name (ledger.merkle). TESTS are the test files
# whose tests may cover it; without them the mapping below is used. mutmut records which of these
# tests reach each function and runs only those against each of its mutants.
#
# Each module gets its own work directory, mutants/<module>/ (gitignored): mutmut reads its
# configuration from ./pyproject.toml and writes its copy of the code to ./mutants, both relative
# to where it runs, so the script runs it there with [tool.mutmut] from pyproject.toml plus the
# module's own keys. Results stay there: cd mutants/<module> && ../../.venv/bin/mutmut browse.
#
# Slow (minutes per module): not part of .ci/run. One worker unless MUTATION_JOBS says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

again=0
if [ "${1:-}" = "--again" ]; then
  again=1
  shift
fi
if [ $# -lt 1 ] || [ "${1:0:1}" = "-" ]; then
  echo "usage: scripts/mutation.sh [--again] MODULE [TESTS...]   (MODULE: ledger/merkle.py)" >&2
  exit 2
fi

module=${1%.py}
module=${module//.//}.py # ledger.merkle -> ledger/merkle.py
shift
if [ ! -f "$module" ]; then
  echo "no such module: $module" >&2
  exit 2
fi
name=${module%.py}
name=${name//\//.}     # ledger/merkle.py -> ledger.merkle
package=${module%%/*}  # the top-level package mutmut copies and mutates

# The tests that can reach each module. Files that do not exist (yet) are skipped. Keep slow
# tests (a node, a store) out: each mutant runs every listed test that reaches its function.
if [ $# -gt 0 ]; then
  candidates=("$@")
else
  case "$module" in
  ledger/merkle.py) candidates=(tests/ledger/test_merkle.py tests/ledger/test_proofs.py) ;;
  ledger/proofs.py) candidates=(tests/ledger/test_proofs.py) ;; # test_merkle adds nothing here
  ledger/blocks.py)
    candidates=(tests/ledger/test_blocks.py tests/ledger/test_notes.py tests/ledger/test_chain.py
      tests/ledger/test_vectors.py tests/ledger/test_proofs.py)
    ;;
  ledger/notes.py)
    candidates=(tests/ledger/test_notes_refusals.py tests/ledger/test_notes.py
      tests/ledger/test_notes_peers.py tests/ledger/test_blocks.py)
    ;;
  ledger/cosignature.py)
    candidates=(tests/ledger/test_cosignature.py tests/witness/test_witness.py)
    ;;
  ledger/chain.py)
    # Not tests/nodes/test_audit.py (13 s a run, with stores): test_chain reaches the same rules.
    integrity=tests/security/test_integrity_format.py
    candidates=(tests/ledger/test_chain.py tests/ledger/test_hashset.py tests/ledger/test_entries.py
      tests/ledger/test_vectors.py
      "$integrity::test_a_chain_holding_a_backdated_entry_fails_replay"
      "$integrity::test_a_hex_field_with_a_trailing_newline_is_refused_by_parse_and_replay"
      "$integrity::test_an_entry_of_one_consortium_is_refused_by_another_with_the_same_keys")
    ;;
  ledger/entries.py)
    candidates=(tests/ledger/test_entries.py tests/ledger/test_chain.py tests/ledger/test_vectors.py)
    ;;
  ledger/encoding.py)
    candidates=(tests/ledger/test_encoding.py tests/ledger/test_rfc8785.py
      tests/ledger/test_peer_vectors.py tests/ledger/test_vectors.py tests/ledger/test_entries.py
      tests/ledger/test_chain.py)
    ;;
  documents/origin/evaluate.py)
    # Every file of tests/origin that reaches it (all of them run in 4 s): test_claims.py and
    # test_cli.py (origin check) too; not test_hs.py or test_parser.py, which do not import it.
    candidates=(tests/origin/test_evaluate.py tests/origin/test_rules.py
      tests/origin/test_properties.py tests/origin/test_japan_epa_tables.py
      tests/origin/test_claims.py tests/origin/test_cli.py tests/origin/test_evaluate_explains.py)
    ;;
  ledger/*) candidates=(tests/ledger) ;;
  *) candidates=("tests/${package}") ;;
  esac
fi
tests=()
for t in "${candidates[@]}"; do
  if [ -e "${t%%::*}" ]; then tests+=("$t"); fi # a file, or one test in it (file::test)
done
if [ ${#tests[@]} -eq 0 ]; then
  echo "no tests found for $module among: ${candidates[*]}" >&2
  exit 2
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import mutmut, pytest, hypothesis, ledger' 2>/dev/null; then
  .venv/bin/pip install -q -e '.[test,mutation]'
fi
mutmut=$root/.venv/bin/mutmut

work=mutants/$name
if [ $again = 0 ]; then
  rm -rf "$work"
fi
mkdir -p "$work"
links=("$package" tests)
# documents/ reads its reference data (HS correlations, rule tables) from schemas/ next to the
# package, found from __file__: mutmut must copy it next to its copy of the package (also_copy).
if [ "$package" = documents ]; then links+=(schemas scripts); fi # scripts: test_rules.py
for link in "${links[@]}"; do
  ln -sfn "$root/$link" "$work/$link"
done
# The project's pyproject.toml with [tool.mutmut] completed for this module.
.venv/bin/python - "$work/pyproject.toml" "$module" "$package" "${links[*]:2}" "${tests[@]}" <<'EOF'
import json
import re
import sys
import tomllib
from pathlib import Path

out, module, package, also_copy, *tests = sys.argv[1:]
text = Path("pyproject.toml").read_text()
conf = tomllib.loads(text)["tool"]["mutmut"]
conf.update(
    source_paths=[package],
    only_mutate=[module],
    pytest_add_cli_args_test_selection=tests,
)
if also_copy:
    conf["also_copy"] = also_copy.split()
# Drop the original table (up to the next table header) and write the completed one instead.
text = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", text)
table = "".join(f"{key} = {json.dumps(value)}\n" for key, value in conf.items())
Path(out).write_text(f"{text.rstrip()}\n\n[tool.mutmut]\n{table}")
EOF

jobs=${MUTATION_JOBS:-1}
echo "mutation testing $module ($jobs worker(s)) against: ${tests[*]}"
cd "$work"
start=$(date +%s)
if [ $again = 1 ] && [ -d mutants ]; then
  # mutmut keeps which tests reach which function, and only collects it again for tests with a
  # new name: forget it, so an edited test is seen reaching what it now reaches.
  rm -f mutants/mutmut-stats.json
  # New or changed functions first (their results were reset), then the survivors again.
  "$mutmut" run --max-children "$jobs" >run.log 2>&1 || { cat run.log; exit 1; }
  # "no tests" too: a test added since may reach the function now.
  mapfile -t survivors < <("$mutmut" results --all true | sed -n 's/^ *\([^ ]*\): \(survived\|no tests\)$/\1/p')
  if [ ${#survivors[@]} -gt 0 ]; then
    "$mutmut" run --max-children "$jobs" "${survivors[@]}" >>run.log 2>&1 || {
      cat run.log
      exit 1
    }
  fi
else
  "$mutmut" run --max-children "$jobs" >run.log 2>&1 || { cat run.log; exit 1; }
fi
seconds=$(($(date +%s) - start))

"$mutmut" results --all true >results.txt
"$root/.venv/bin/python" - "$module" "$seconds" <<'EOF'
import collections
import sys

module, seconds = sys.argv[1], int(sys.argv[2])
status = dict(
    line.strip().rsplit(": ", 1) for line in open("results.txt") if ": " in line
)
count = collections.Counter(status.values())
total = len(status)
caught = count["killed"] + count["timeout"] + count["segfault"] + count["caught by type check"]
score = 100 * caught / total if total else 0.0
print(f"\n{module}: {total} mutants, {caught} caught, {count['survived']} survived", end="")
others = {k: v for k, v in count.items() if k not in ("killed", "timeout", "survived")}
print(f" (other: {dict(others)})" if others else "", end="")
print(f", score {score:.1f} %, {seconds} s")
EOF
mapfile -t survivors < <(sed -n 's/^ *\([^ ]*\): \(survived\|no tests\|suspicious\|not checked\)$/\1/p' results.txt)
if [ ${#survivors[@]} -gt 0 ]; then
  echo
  echo "surviving mutants (run log: $work/run.log):"
  for s in "${survivors[@]}"; do
    "$mutmut" show "$s"
    echo
  done
fi
