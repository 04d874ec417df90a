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
cmake --build --preset "$preset" -j"$(nproc)"
