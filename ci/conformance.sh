#!/usr/bin/env bash
# The main job: installs what is missing, builds, then validates the
# reference implementations (fixtures/impls), or the manifests given, with
# csd-report, and prints its summary: one line per implementation, one per
# failure and warning with its check ID and reason.
#   ./ci/conformance.sh [MANIFEST.json|DIR ...] [csd-report options: --strict, --checks ID...]
# Results in results/: report.html (a verdict matrix, each failure's evidence,
# the figures as charts), junit.xml (for CI systems' test summaries),
# report.json (the verdicts), suite.json and suite.log (csd-suite's gtest JSON
# and output), and the evidence each failed check kept (.pcap, the server's
# output and processes). Exit 0 if every required check that applies passed,
# 1 if one failed; 2 if the suite refused to run (a bad manifest), and then
# the last run's results stay. CSD_BUILD_DIR=DIR: use that build as it is;
# CSD_RESULTS_DIR=DIR: write there instead of results/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for arg in "$@"; do
  case $arg in
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
done
# Relative paths are read after the build changes directory: make them absolute.
args=()
for arg in "$@"; do
  if [ -e "$arg" ]; then args+=("$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")"); else args+=("$arg"); fi
done

if [ -n "${CSD_BUILD_DIR:-}" ]; then
  BUILD_DIR=$(cd "$CSD_BUILD_DIR" && pwd)
else
  # shellcheck source=ci/build.sh
  source "$root/ci/build.sh"
fi
echo "== csd conformance"
exec "$BUILD_DIR/bin/csd-report" -o "${CSD_RESULTS_DIR:-$root/results}" "${args[@]}"
