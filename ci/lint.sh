#!/usr/bin/env bash
# Style checks: clang-format (no changes needed), no line over 100 columns,
# the layers (ci/layers.py)
# and clang-tidy over the project's C++ sources, using the build's
# compile_commands.json; shellcheck over the scripts when it is installed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=ci/build.sh
source "$root/ci/build.sh"
cd "$root"
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp' '*.c' '*.h')
echo "lint: clang-format on ${#sources[@]} files"
clang-format --dry-run --Werror "${sources[@]}"
# clang-format cannot break a long string literal and leaves it past its limit
# without a word; the sources being as clang-format leaves them (above), any
# line still over 100 columns is one of those. Characters, not bytes, as
# clang-format counts columns (a UTF-8 mark is one).
echo "lint: lines over 100 columns"
long_lines=$(LC_ALL=C.UTF-8 grep -n -E '^.{101,}' "${sources[@]}" | cut -d: -f1,2 || true)
if [ -n "$long_lines" ]; then
  while IFS= read -r place; do
    echo "lint: $place: over 100 columns, which clang-format cannot break (split the literal)" >&2
  done <<<"$long_lines"
  exit 1
fi
# Every arrow points down (docs/ARCHITECTURE.md, "Layers").
python3 ci/layers.py --build "$BUILD_DIR"
mapfile -t units < <(git ls-files '*.cpp')
echo "lint: clang-tidy on ${#units[@]} files"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
printf '%s\n' "${units[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p "$BUILD_DIR" --quiet \
  >"$log" 2>&1 || status=1
grep -v -E '^[0-9]+ warnings? generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter' "$log" || true
[ "$status" = 0 ] || { echo "lint: clang-tidy found problems" >&2; exit 1; }
# Commit subjects since fd93871 (the last made without the hook) fit on a line
# (.githooks/commit-msg; git config core.hooksPath .githooks).
if git cat-file -e 'fd93871^{commit}' 2>/dev/null; then
  long=$(git log --format=%s fd93871..HEAD | awk 'length > 72')
  if [ -n "$long" ]; then
    echo "lint: commit subjects longer than 72 characters:" >&2
    echo "$long" >&2
    exit 1
  fi
fi
if command -v shellcheck >/dev/null; then
  echo "lint: shellcheck"
  shellcheck ci/*.sh .ci/run .githooks/commit-msg bench/*.sh fixtures/pcaps/*.sh
fi
echo "lint: clean"
