#!/usr/bin/env bash
# Runs the project's tests K times while stress-ng keeps every core busy, and
# lists every test that failed in any of the runs: a test that fails only on a
# loaded machine is flaky, and a flaky test is a failing one.
#   ci/load-run.sh [-k K] [--build DIR] [--no-hog] [CTEST_ARGS...]
set -euo pipefail

usage() {
  cat <<'EOF'
usage: ci/load-run.sh [-k K] [--build DIR] [--no-hog] [CTEST_ARGS...]

Runs ctest K times (K plain runs, so each test runs K times whatever it did
before) with `ctest -j N`, while `stress-ng --cpu N` keeps every core busy
(N = nproc), then prints one line per test that failed at least once, with
how many of its runs failed, or "0 failures in K runs of M tests ...".
The build must exist (cmake --build build); nothing is built here.

  -k K          runs (default 3)
  --build DIR   the build tree (default build)
  --no-hog      no stress-ng: the same runs on an idle machine
  -h, --help    this text
  CTEST_ARGS    passed to every ctest run, e.g. -R 'BrokenFixture.*dies_on_emfile'
                (`--` ends this script's options)

Each run's output and JUnit XML are in DIR/load-run/ (run-I.log, run-I.xml).
The hog dies with this script however it ends, even by SIGKILL.
Exit status: 0 no test failed, 1 a test failed (or a run failed outside its
tests: see its log), 2 bad usage or a missing tool.
EOF
}

die() {
  echo "load-run: $*" >&2
  exit 2
}

runs=3
build=build
hog=yes
ctest_args=()
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    -k) [ $# -ge 2 ] || die "-k needs a number of runs"; runs=$2; shift 2 ;;
    -k*) runs=${1#-k}; shift ;;
    --build) [ $# -ge 2 ] || die "--build needs a directory"; build=$2; shift 2 ;;
    --build=*) build=${1#--build=}; shift ;;
    --no-hog) hog=""; shift ;;
    --) shift; ctest_args+=("$@"); break ;;
    *) ctest_args+=("$1"); shift ;;
  esac
done

[[ $runs =~ ^[1-9][0-9]*$ ]] || die "-k wants a whole number of runs above 0, not '$runs'"
[ -f "$build/CTestTestfile.cmake" ] ||
  die "$build is no build tree (no CTestTestfile.cmake): build first, or say --build DIR"
build=$(cd "$build" && pwd)
command -v ctest >/dev/null || die "ctest is not installed (ci/install-deps.sh installs it)"
command -v python3 >/dev/null || die "python3 is not installed (ci/install-deps.sh installs it)"
if [ -n "$hog" ]; then
  command -v stress-ng >/dev/null ||
    die "stress-ng is not installed (ci/install-deps.sh installs it), or say --no-hog"
  command -v setpriv >/dev/null || die "setpriv (util-linux) is not installed"
  [ -x "$build/bin/csd-guard" ] || die "$build/bin/csd-guard is not built"
fi

cores=$(nproc)
out=$build/load-run
rm -rf "$out"
mkdir -p "$out"

# Replaces the calling (background) subshell with "$@", which the kernel
# SIGKILLs should this script die, even by SIGKILL: setpriv arms the
# parent-death signal, and the check that this script is still the parent
# closes the window in which it could have died before that.
exec_dying_with_us() {
  # shellcheck disable=SC2016  # expanded by the inner bash
  exec setpriv --pdeathsig KILL -- \
    bash -c '[ "$PPID" = "$1" ] || exit 125; shift; exec "$@"' dying-with "$$" "$@"
}

hog_pid=""
ctest_pid=""
# shellcheck disable=SC2317  # run by the EXIT trap
finish() {
  # csd-guard kills stress-ng and its workers on SIGTERM; a ctest still
  # running (the script was interrupted) goes too.
  [ -z "$ctest_pid" ] || kill -TERM "$ctest_pid" 2>/dev/null || true
  [ -z "$hog_pid" ] || kill -TERM "$hog_pid" 2>/dev/null || true
  [ -z "$ctest_pid" ] || wait "$ctest_pid" 2>/dev/null || true
  [ -z "$hog_pid" ] || wait "$hog_pid" 2>/dev/null || true
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The hog: stress-ng under csd-guard, which kills stress-ng's whole tree when
# it is told to or when this script dies (its own parent-death signal).
if [ -n "$hog" ]; then
  exec_dying_with_us "$build/bin/csd-guard" -- stress-ng --cpu "$cores" \
    >"$out/stress-ng.log" 2>&1 &
  hog_pid=$!
  # Awaited: stress-ng and its N workers running, in the process group
  # csd-guard gives stress-ng. The pause paces a poll of /proc; it
  # synchronises nothing.
  deadline=$((SECONDS + 30))
  while :; do
    kill -0 "$hog_pid" 2>/dev/null ||
      die "stress-ng ended before its workers ran: $(tail -n 3 "$out/stress-ng.log")"
    stress=$(pgrep -P "$hog_pid" -x stress-ng || true)
    if [ -n "$stress" ] && [ "$(pgrep -c -g "$stress" || true)" -gt "$cores" ]; then
      break
    fi
    [ "$SECONDS" -lt "$deadline" ] ||
      die "stress-ng --cpu $cores: not $cores workers running after 30 s"
    sleep 0.1
  done
  load="under stress-ng --cpu $cores"
else
  load="with no hog"
fi

echo "load-run: $runs runs of ctest -j $cores ${ctest_args[*]} $load; logs in $out"
unsuccessful_runs=0
for ((run = 1; run <= runs; run++)); do
  # In the background, so that a signal reaches the traps now rather than
  # when ctest is done, and dying with this script, so that a killed run
  # starts no further test; --no-tests=error: a filter that matches nothing
  # is a mistake, not a pass.
  exec_dying_with_us ctest --test-dir "$build" -j "$cores" --timeout 600 --no-tests=error \
    --output-on-failure --output-junit "$out/run-$run.xml" "${ctest_args[@]}" \
    >"$out/run-$run.log" 2>&1 &
  ctest_pid=$!
  status=0
  wait "$ctest_pid" || status=$?
  ctest_pid=""
  if grep -q '^No tests were found' "$out/run-$run.log"; then
    die "no test matches: ctest ${ctest_args[*]}"
  fi
  summary=$(grep -E '^[0-9]+% tests passed' "$out/run-$run.log" || true)
  echo "load-run: run $run/$runs: ${summary:-ctest exited with $status, no summary}"
  [ "$status" = 0 ] || unsuccessful_runs=$((unsuccessful_runs + 1))
done

# Every test that failed at least once, and in how many of the runs, from
# the runs' JUnit XML. A test that timed out, or could not run (its program
# missing), failed; one that skipped itself (googletest's SKIPPED, exit 77)
# did not. A ctest that failed with no test failing (a test list that could
# not be made) fails the whole, too.
set +e
python3 - "$runs" "$load" "$unsuccessful_runs" "$out" "$out"/run-*.xml <<'EOF'
import collections
import sys
import xml.etree.ElementTree as ET

runs, load, unsuccessful, out, files = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                        sys.argv[4], sys.argv[5:])
failed = collections.Counter()
tests = set()
unreadable = []
for path in files:
    try:
        cases = list(ET.parse(path).getroot().iter('testcase'))
    except (ET.ParseError, OSError):
        unreadable.append(path)
        continue
    for case in cases:
        name = case.get('name')
        tests.add(name)
        status, skipped = case.get('status'), case.find('skipped')
        skipped_itself = status == 'notrun' and skipped is not None and \
            skipped.get('message', '').startswith('SKIP_')
        if status not in ('run', 'disabled') and not skipped_itself:
            failed[name] += 1
for name in sorted(failed, key=lambda n: (-failed[n], n)):
    print(f'FAILED {failed[name]}/{runs}  {name}')
if failed:
    print(f'load-run: {len(failed)} of {len(tests)} tests failed at least once '
          f'in {runs} runs {load}')
    sys.exit(1)
if unsuccessful or unreadable:
    print(f'load-run: no test failed, but {unsuccessful} of {runs} ctest runs did not succeed '
          f'and {len(unreadable)} JUnit files could not be read: see the logs in {out}',
          file=sys.stderr)
    sys.exit(1)
print(f'0 failures in {runs} runs of {len(tests)} tests {load}')
EOF
verdict=$?
set -e
exit "$verdict"
