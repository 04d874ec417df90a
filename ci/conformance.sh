#!/usr/bin/env bash
# The main job: installs what is missing, builds, runs the conformance suite
# over the reference implementations (fixtures/impls) or the manifests given,
# and prints a summary: one line per implementation, one per failure.
#   ./ci/conformance.sh [MANIFEST.json|DIR ...]
# Full results: results/report.html (a verdict matrix, each failure's
# evidence, the figures as charts), results/junit.xml (for CI systems' test
# summaries), results/conformance.json (gtest JSON), results/conformance.log,
# and the .pcap of each failed check that captured packets. Exit 0 if every
# required check that applies passed; 2 if the suite refused to run (a bad
# manifest), and then the last run's results stay. CSD_BUILD_DIR=DIR: use
# that build as it is.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for arg in "$@"; do
  case $arg in
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
  [ -e "$arg" ] || { echo "conformance.sh: no such manifest: $arg" >&2; exit 2; }
done
# Manifests are read after the build changes directory: make them absolute.
impls=()
for arg in "$@"; do impls+=(--impl "$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")"); done

if [ -n "${CSD_BUILD_DIR:-}" ]; then
  BUILD_DIR=$(cd "$CSD_BUILD_DIR" && pwd)
else
  # shellcheck source=ci/build.sh
  source "$root/ci/build.sh"
fi
results=${CSD_RESULTS_DIR:-$root/results}
mkdir -p "$results"
json=$results/conformance.json
log=$results/conformance.log
# The run writes into a folder of its own, which replaces the last run's
# results only once the suite has run: a refused run (a bad manifest) leaves
# them as they were.
staging=$(mktemp -d "$results/.run.XXXXXX")
trap 'rm -rf "$staging"' EXIT
# stdout goes to the log; stderr stays where it is, so that on a terminal
# csd-suite shows which check is running (--progress=auto: only there).
set +e
"$BUILD_DIR/bin/csd-suite" "${impls[@]}" --gtest_brief=1 \
  --gtest_output="json:$staging/conformance.json" >"$staging/conformance.log"
suite_status=$?
set -e
if [ "$suite_status" = 2 ] || [ ! -f "$staging/conformance.json" ]; then
  echo "conformance.sh: the suite did not run (exit $suite_status); the last results are kept." >&2
  tail -n 20 "$staging/conformance.log" >&2
  exit 2
fi
rm -f "$json" "$log" "$results/junit.xml" "$results/report.html" "$results"/*.pcap
mv "$staging"/* "$results"/
echo "== csd conformance summary"
set +e
"$BUILD_DIR/bin/csd-report" "$json" --junit "$results/junit.xml" --html "$results/report.html"
report_status=$?
set -e
echo "Full results: $results/report.html (for people), $results/junit.xml (for CI), $json (gtest JSON), $log (the suite's output)"
[ "$suite_status" = 0 ] && [ "$report_status" = 0 ]
