#!/usr/bin/env bash
# Verify behavior for the sequence: cpack -G DEB the build into a temporary
# directory; the .deb's control names its Depends (computed by dpkg-shlibdeps)
# and holds the tools, servers and manifests, not the tests; its contents,
# unpacked (stripped, as installed), validate an installed manifest.
#   ci/deb-test.sh BUILD_DIR      (ctest runs it: Install.DebPackage)
set -euo pipefail
build=${1:?usage: deb-test.sh BUILD_DIR}

work=$(mktemp -d "${TMPDIR:-/tmp}/csd-deb-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() { echo "deb-test: $*" >&2; exit 1; }

# -B: the package and CPack's staging tree go to our own directory, so two
# runs (or a cpack by hand in the build directory) never share files.
(cd "$build" && cpack -G DEB -B "$work/out") >"$work/cpack.log" 2>&1 \
  || { cat "$work/cpack.log"; fail "cpack -G DEB in $build failed"; }
debs=("$work"/out/csd_*.deb)
[ -f "${debs[0]}" ] || fail "expected $work/out/csd_*.deb, cpack made none"
deb=${debs[0]}

depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libstdc++6 libfmt libpcap0.8; do
  [[ $depends == *"$lib"* ]] || fail "expected Depends to name $lib, it reads: $depends"
done
contents=$(dpkg-deb -c "$deb")
for file in ./usr/bin/csd-suite ./usr/bin/csd-guard ./usr/bin/csd-fork \
            ./usr/share/csd/impls/fork.json ./usr/share/doc/csd/README.md ./usr/share/doc/csd/docs/CHECKS.md; do
  [[ $contents == *" $file"* ]] || fail "expected $file in the .deb, missing"
done
[[ $contents != *csd-selftest* && $contents != *csd-unit* && $contents != *csd-broken-* ]] \
  || fail "expected no test programs in the .deb"
echo "deb-test: ${deb##*/}: $(stat -c %s "$deb") bytes; Depends: $depends"

dpkg-deb -x "$deb" "$work/root"
cd "$work"
unset CSD_IMPL CSD_GUARD
if ! "$work/root/usr/bin/csd-suite" --impl "$work/root/usr/share/csd/impls/fork.json" \
     --gtest_filter='*Size.SmallRepliesExact/*' --gtest_brief=1 >"$work/suite.log" 2>&1; then
  tail -n 30 "$work/suite.log" >&2
  fail "expected the packaged csd-suite to validate the packaged fork.json, it failed (above)"
fi
grep -q '^\[  PASSED  \] [1-9]' "$work/suite.log" || fail "expected tests to run, none did"
echo "deb-test: the packaged csd-suite validated the packaged fork.json"
