#!/usr/bin/env bash
# The steps of the composite action (action.yml), one phase per step, so that
# its logic runs and is tested here as on GitHub:
#   ci/action-steps.sh deps|build|validate     (what action.yml's steps run)
#   ci/action-steps.sh [MANIFEST]              (by hand: every phase in turn)
# Inputs, as action.yml passes them: CSD_MANIFEST (required; the argument by
# hand), CSD_STRICT (true|false), CSD_CHECKS and CSD_SKIP_CHECKS (patterns,
# space-separated), CSD_RESULTS (default csd-results), CSD_SHARD (I/N: that
# part of the run only, into CSD_RESULTS/shard-I-of-N). Relative paths are the
# caller's workspace's ($GITHUB_WORKSPACE, else the current directory).
# validate writes csd-report's summary to $GITHUB_STEP_SUMMARY as markdown and
# exit-code= and results= to $GITHUB_OUTPUT, and exits as csd-report did: 0
# passed, 1 a required check failed, 2 a bad manifest or input, 3 unfinished.
# By hand the GITHUB_* files not set are temporary, printed, then removed.
# CSD_BUILD_DIR=DIR: use that build as it is (deps and build do nothing).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

deps() {
  if [ -n "${CSD_BUILD_DIR:-}" ]; then echo "deps: using the build in $CSD_BUILD_DIR"; return; fi
  "$root/ci/install-deps.sh" --build-only
}

# Only what a run over the caller's manifests needs: csd-suite brings csd-guard
# and the reference servers along (its dependencies), csd-report runs it.
build() {
  if [ -n "${CSD_BUILD_DIR:-}" ]; then echo "build: using the build in $CSD_BUILD_DIR"; return; fi
  (cd "$root" && cmake --preset default >/dev/null &&
     cmake --build --preset default -j"$(nproc)" --target csd-suite csd-report)
}

is_true() {
  case ${1,,} in
    true | 1 | yes | on) return 0 ;;
    false | 0 | no | off | "") return 1 ;;
    *) echo "validate: strict: expected true or false, got '$1'" >&2; exit 2 ;;
  esac
}

# The step summary's heading and first line, for csd-report's exit status $1
# (strict if $2 is not empty).
verdict_of() {
  case $1 in
    0) printf 'passed\n\nEvery required check that applies passed.\n' ;;
    1) printf 'failed\n\nA required check failed%s (exit 1).\n' "${2:+, or a recommended one (strict)}" ;;
    2) printf 'refused\n\nA bad manifest or input: nothing ran (exit 2).\n' ;;
    *) printf 'unfinished\n\nThe suite did not finish (exit %s).\n' "$1" ;;
  esac
}

validate() {
  local build_dir=${CSD_BUILD_DIR:-$root/build}
  local manifest=${CSD_MANIFEST:-}
  [ -n "$manifest" ] || { echo "validate: the manifest input is required" >&2; return 2; }
  local results=${CSD_RESULTS:-csd-results}
  local strict=""
  is_true "${CSD_STRICT:-false}" && strict=yes
  cd "${GITHUB_WORKSPACE:-$PWD}"
  local shard=${CSD_SHARD:-}
  if [ -n "$shard" ]; then
    if ! [[ $shard =~ ^([1-9][0-9]*)/([1-9][0-9]*)$ ]] ||
      ((BASH_REMATCH[1] > BASH_REMATCH[2])); then
      echo "validate: shard: expected I/N with 1 <= I <= N, got '$shard'" >&2
      return 2
    fi
    # A folder of its own, named for the shard: the matrix's artifacts,
    # downloaded with merge-multiple, then sit side by side.
    results=$results/shard-${BASH_REMATCH[1]}-of-${BASH_REMATCH[2]}
  fi
  mkdir -p "$results"
  results=$(cd "$results" && pwd)

  local args=(-o "$results") pattern
  [ -z "$shard" ] || args+=(--shard "$shard")
  [ -z "$strict" ] || args+=(--strict)
  local -a patterns
  read -ra patterns <<<"${CSD_CHECKS:-}"
  for pattern in "${patterns[@]}"; do args+=(--checks "$pattern"); done
  read -ra patterns <<<"${CSD_SKIP_CHECKS:-}"
  for pattern in "${patterns[@]}"; do args+=(--skip-checks "$pattern"); done

  # The terminal's text, kept outside the folder csd-report replaces, then
  # copied in with the results.
  local log code=0
  log=$(mktemp "${TMPDIR:-/tmp}/csd-report.XXXXXX")
  set +e
  # "--": csd-report's --checks takes every word up to the next option.
  "$build_dir/bin/csd-report" "${args[@]}" -- "$manifest" 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  set -e
  cp "$log" "$results/csd-report.txt"

  # The run's page: the verdict, then csd-report's own summary, word for word.
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    {
      echo "## csd conformance: $(verdict_of "$code" "$strict")"
      echo
      echo "Manifest \`$manifest\`${shard:+, shard $shard}; report.html, junit.xml and each"
      echo "failure's evidence are in the artifact (the folder \`${CSD_RESULTS:-csd-results}\`)."
      echo
      echo '````text'
      cat "$log"
      echo '````'
    } >>"$GITHUB_STEP_SUMMARY"
  fi
  rm -f "$log"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    { echo "exit-code=$code"; echo "results=$results"; } >>"$GITHUB_OUTPUT"
  fi
  return "$code"
}

# By hand: every phase, with the files GitHub would give made temporary.
by_hand() {
  [ $# -le 1 ] || { echo "usage: ci/action-steps.sh [MANIFEST]" >&2; exit 2; }
  [ $# -eq 0 ] || CSD_MANIFEST=$1
  local state
  state=$(mktemp -d "${TMPDIR:-/tmp}/csd-action.XXXXXX")
  # shellcheck disable=SC2064  # $state is fixed now
  trap "rm -rf '$state'" EXIT
  export GITHUB_ACTION_PATH=${GITHUB_ACTION_PATH:-$root}
  export GITHUB_WORKSPACE=${GITHUB_WORKSPACE:-$PWD}
  local show_summary="" show_output=""
  [ -n "${GITHUB_STEP_SUMMARY:-}" ] || { export GITHUB_STEP_SUMMARY=$state/summary.md; show_summary=yes; }
  [ -n "${GITHUB_OUTPUT:-}" ] || { export GITHUB_OUTPUT=$state/output; show_output=yes; }
  export CSD_MANIFEST
  deps
  build
  local code=0
  (validate) || code=$?
  [ -z "$show_summary" ] || { echo "== \$GITHUB_STEP_SUMMARY"; cat "$GITHUB_STEP_SUMMARY"; }
  [ -z "$show_output" ] || { echo "== \$GITHUB_OUTPUT"; cat "$GITHUB_OUTPUT"; }
  return "$code"
}

case ${1:-} in
  -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' ;;
  deps) deps ;;
  build) build ;;
  validate) validate ;;
  *) by_hand "$@" ;;
esac
