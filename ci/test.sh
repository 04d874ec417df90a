#!/usr/bin/env bash
# The tests: installs what is missing, builds, runs ctest (the suite over the
# reference servers, the harness's unit tests, and the self-tests against the
# broken fixtures). Extra arguments go to ctest, e.g. ./ci/test.sh -R Pool
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=ci/build.sh
source "$root/ci/build.sh"
jobs=${CSD_TEST_JOBS:-$(nproc)}
set +e
ctest --test-dir "$BUILD_DIR" -j"$jobs" --output-on-failure --timeout 600 "$@"
status=$?
set -e
# Nothing of ours may outlive the run: no process whose executable is in this build.
left=""
for pid in $(pgrep '^csd-' || true); do
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  case $exe in "$BUILD_DIR"/*) left="$left $pid" ;; esac
done
if [ -n "$left" ]; then
  echo "test.sh: processes left running after the tests:" >&2
  for pid in $left; do echo "  $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >&2; done
  status=1
fi
exit $status
