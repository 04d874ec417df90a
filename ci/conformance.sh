#!/usr/bin/env bash
# The main job: installs what is missing, builds, runs the conformance suite
# over the reference implementations (fixtures/impls) or the manifests given,
# and prints a summary per implementation and check family.
#   ./ci/conformance.sh [MANIFEST.json|DIR ...]
# Full results (gtest JSON): results/conformance.json. Exit 0 only if every
# check that applies passed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for arg in "$@"; do
  case $arg in
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
  [ -e "$arg" ] || { echo "conformance.sh: no such manifest: $arg" >&2; exit 2; }
done
# Manifests are read after the build changes directory: make them absolute.
impls=()
for arg in "$@"; do impls+=(--impl "$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")"); done

# shellcheck source=ci/build.sh
source "$root/ci/build.sh"
results=${CSD_RESULTS_DIR:-$root/results}
mkdir -p "$results"
json=$results/conformance.json
rm -f "$json"
set +e
"$BUILD_DIR/bin/csd-suite" "${impls[@]}" --gtest_brief=1 --gtest_output="json:$json" >"$results/conformance.log" 2>&1
suite_status=$?
set -e
if [ "$suite_status" = 2 ] || [ ! -f "$json" ]; then
  cat "$results/conformance.log" >&2
  echo "conformance.sh: the suite did not run (exit $suite_status)" >&2
  exit 2
fi
echo
echo "== csd conformance summary"
set +e
"$BUILD_DIR/bin/csd-report" "$json"
report_status=$?
set -e
echo
echo "Full results: $json"
echo "Suite log:    $results/conformance.log"
[ "$suite_status" = 0 ] && [ "$report_status" = 0 ]
