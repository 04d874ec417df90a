#!/usr/bin/env bash
# The tests: installs what is missing, builds, runs ctest (the suite over the
# reference servers, the harness's unit tests, and the self-tests against the
# broken fixtures). Extra arguments go to ctest, e.g. ./ci/test.sh -R Distribution
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=ci/build.sh
source "$root/ci/build.sh"
jobs=${CSD_TEST_JOBS:-$(nproc)}
set +e
ctest --test-dir "$BUILD_DIR" -j"$jobs" --output-on-failure --timeout 600 "$@"
status=$?
set -e
# Nothing of ours may outlive the run.
if pgrep -f '(^|/)csd-[a-z]' >/dev/null; then
  echo "test.sh: processes left running after the tests:" >&2
  pgrep -af '(^|/)csd-[a-z]' >&2
  status=1
fi
exit $status
