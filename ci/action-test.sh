#!/usr/bin/env bash
# Verify behavior for the sequence: run the composite action's steps by hand
# (ci/action-steps.sh) on the Python fork server, which has one bug, with
# GITHUB_STEP_SUMMARY and GITHUB_OUTPUT as temporary files; the steps exit 1,
# the step summary names the failed check, the outputs and the results folder
# are there; the checks, skip-checks and strict inputs reach csd-report; a
# missing manifest or a bad strict input exits 2.
#   ci/action-test.sh BUILD_DIR      (ctest runs it: Action.StepsByHand)
set -euo pipefail
build=$(cd "${1:?usage: action-test.sh BUILD_DIR}" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/csd-action-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() { echo "action-test: $*" >&2; exit 1; }

# As on GitHub: the workspace is the caller's, the action elsewhere.
mkdir "$work/workspace"
cp "$root/fixtures/other-language/fork-server.json" "$root/fixtures/other-language/fork_server.py" \
  "$work/workspace/"
export GITHUB_WORKSPACE=$work/workspace GITHUB_ACTION_PATH=$root
export GITHUB_STEP_SUMMARY=$work/summary.md GITHUB_OUTPUT=$work/output
export CSD_BUILD_DIR=$build CSD_RESULTS=out/csd
unset CSD_STRICT CSD_CHECKS CSD_SKIP_CHECKS CSD_IMPL

code=0
(cd "$work" && "$root/ci/action-steps.sh" fork-server.json) >"$work/run.log" 2>&1 || code=$?
[ "$code" = 1 ] || { cat "$work/run.log"; fail "expected exit 1 (one bug), got $code"; }

results=$work/workspace/out/csd
for file in junit.xml report.html report.json suite.log csd-report.txt; do
  [ -s "$results/$file" ] || fail "expected $results/$file, missing or empty"
done
grep -q '^## csd conformance: failed' "$GITHUB_STEP_SUMMARY" \
  || fail "expected the step summary's heading '## csd conformance: failed', got: $(head -1 "$GITHUB_STEP_SUMMARY")"
grep -q 'size/split-request' "$GITHUB_STEP_SUMMARY" \
  || fail "expected the step summary to name size/split-request, got: $(cat "$GITHUB_STEP_SUMMARY")"
grep -qx 'exit-code=1' "$GITHUB_OUTPUT" || fail "expected exit-code=1 in GITHUB_OUTPUT, got: $(cat "$GITHUB_OUTPUT")"
grep -qx "results=$results" "$GITHUB_OUTPUT" \
  || fail "expected results=$results in GITHUB_OUTPUT, got: $(cat "$GITHUB_OUTPUT")"
echo "action-test: exit 1, the summary names size/split-request, $(find "$results" -type f | wc -l) result files"

# The inputs reach csd-report: only the checks asked for, and a strict run
# over checks this server passes passes.
code=0
(cd "$work/workspace" && CSD_MANIFEST=fork-server.json CSD_CHECKS='size/small-replies-exact life/no-*' \
  CSD_SKIP_CHECKS='life/no-zombies life/no-worker-*' CSD_STRICT=true CSD_RESULTS=selected GITHUB_OUTPUT=$work/selected \
  "$root/ci/action-steps.sh" validate) >"$work/selected.log" 2>&1 || code=$?
[ "$code" = 0 ] || { cat "$work/selected.log"; fail "expected exit 0 for checks the server passes, got $code"; }
ran=$(sed -n 's/^python-fork-server *\([0-9]*\) .*/\1/p' "$work/selected.log")
[ "$ran" = 2 ] || { cat "$work/selected.log"; fail "expected 2 checks to pass (size/small-replies-exact, life/no-* but no-zombies and no-worker-*), got '$ran'"; }
echo "action-test: checks, skip-checks and strict: $ran checks passed, exit 0"

# Refusals exit 2 before anything runs.
code=0
(cd "$work/workspace" && CSD_MANIFEST='' "$root/ci/action-steps.sh" validate) >/dev/null 2>&1 || code=$?
[ "$code" = 2 ] || fail "expected exit 2 without a manifest, got $code"
code=0
(cd "$work/workspace" && CSD_MANIFEST=fork-server.json CSD_STRICT=maybe \
  "$root/ci/action-steps.sh" validate) >/dev/null 2>&1 || code=$?
[ "$code" = 2 ] || fail "expected exit 2 for strict: maybe, got $code"
echo "action-test: exit 2 without a manifest and for strict: maybe"
