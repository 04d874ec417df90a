#!/usr/bin/env bash
# Installs what is missing and builds with a CMake preset (default: default).
#   CSD_PRESET=asan ./ci/build.sh
# Sourced by test.sh and conformance.sh; sets BUILD_DIR.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
"$root/ci/install-deps.sh"
preset=${CSD_PRESET:-default}
case $preset in
  default) BUILD_DIR=$root/build ;;
  *) BUILD_DIR=$root/build-$preset ;;
esac
export BUILD_DIR
cmake --preset "$preset" >/dev/null
# On a terminal ninja shows its progress on one line. Elsewhere (CI logs, a
# pipe) a build is a line of its own, unless it fails: then all of it.
if [ -t 1 ]; then
  cmake --build --preset "$preset" -j"$(nproc)"
else
  build_log=$(mktemp)
  if ! cmake --build --preset "$preset" -j"$(nproc)" >"$build_log" 2>&1; then
    cat "$build_log"
    rm -f "$build_log"
    echo "build: failed ($BUILD_DIR)" >&2
    exit 1
  fi
  echo "build: $(grep -c '^\[[0-9]*/[0-9]*\] [BL]' "$build_log") steps, done ($BUILD_DIR)"
  rm -f "$build_log"
fi
