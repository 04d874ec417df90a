#!/usr/bin/env bash
# Verify behavior for the sequence: cmake --install the build into a fresh
# temporary prefix; run the INSTALLED csd-suite from a directory outside the
# source and build trees, over its default manifests and with --impl on one
# installed manifest; both runs pass and run tests; the prefix is removed.
#   ci/install-test.sh BUILD_DIR      (ctest runs it: Install.RunsFromAPrefix)
set -euo pipefail
build=${1:?usage: install-test.sh BUILD_DIR}
# A quick family over every manifest, and a demo family (the demos are looked
# for next to csd-suite too; Sigpipe needs no capture, so no root).
filter=${CSD_INSTALL_TEST_FILTER:-*Size.SmallRepliesExact/*:Sigpipe.*}

prefix=$(mktemp -d "${TMPDIR:-/tmp}/csd-install-test.XXXXXX")
work=$(mktemp -d "${TMPDIR:-/tmp}/csd-install-run.XXXXXX")
trap 'rm -rf "$prefix" "$work"' EXIT

fail() { echo "install-test: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$work/install.log" \
  || { cat "$work/install.log"; fail "cmake --install $build --prefix $prefix failed"; }
echo "install-test: installed $(grep -c '^-- Installing' "$work/install.log") files into $prefix"

# What must be there, and what must not (the project's own tests and the broken fixtures).
for program in csd-suite csd-report csd-client csd-guard csd-capture csd-bench csd-citerative \
               csd-fork csd-prefork csd-thread csd-epoll csd-rstserver csd-sigpipe; do
  [ -x "$prefix/bin/$program" ] || fail "expected $prefix/bin/$program, not installed"
done
[ -f "$prefix/share/csd/impls/fork.json" ] || fail "expected share/csd/impls/fork.json, missing"
[ -f "$prefix/share/doc/csd/README.md" ] || fail "expected share/doc/csd/README.md, missing"
unwanted=""
for file in "$prefix"/bin/csd-selftest "$prefix"/bin/csd-unit* "$prefix"/bin/csd-broken-*; do
  if [ -e "$file" ]; then unwanted="$unwanted ${file##*/}"; fi
done
[ -z "$unwanted" ] || fail "expected no test programs installed, found:$unwanted"

# Outside both trees, with nothing that would point the suite elsewhere.
cd "$work"
unset CSD_IMPL CSD_GUARD
suite=$prefix/bin/csd-suite
"$suite" --help >"$work/help.txt"
grep -qF "$prefix/share/csd/impls" "$work/help.txt" \
  || fail "expected csd-suite --help to name $prefix/share/csd/impls as its default manifests"

# run NAME ARGS...: the installed suite passes and ran at least one test.
run() {
  local name=$1
  shift
  if ! "$suite" "$@" --gtest_filter="$filter" --gtest_brief=1 >"$work/$name.log" 2>&1; then
    tail -n 30 "$work/$name.log" >&2
    fail "expected the installed csd-suite $* to pass, it failed (above)"
  fi
  local passed
  passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\{0,1\}\.$/\1/p' "$work/$name.log")
  [ "${passed:-0}" -gt 0 ] || fail "expected tests to run for $name with '$filter', none did"
  echo "install-test: $name: $passed tests passed"
}
run default-manifests
run one-manifest --impl "$prefix/share/csd/impls/fork.json"
