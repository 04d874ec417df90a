#!/usr/bin/env bash
# csd-report serial (--jobs 1) and side by side (--jobs, default one per CPU)
# on the same input, one after the other: both wall times, the speed-up, the
# load average before each run, whether the verdicts match (report.json's
# implementation, id, check and verdict, in order), and the time of the tests
# that ran alone (a floor under the side-by-side wall time).
#   ci/bench-jobs.sh reference   csd-report with no manifest: every reference
#                                implementation and the demos
#   ci/bench-jobs.sh broken      every broken fixture and the other-language server
#   ci/bench-jobs.sh ARGS...     any other csd-report arguments
# CSD_BUILD_DIR=DIR (default build/); CSD_BENCH_JOBS=N: --jobs N for the side-
# by-side run; CSD_BENCH_KEEP=DIR: keep both result folders there (serial/,
# parallel/). A benchmark, not a test: it takes minutes, and its figures
# depend on the machine and on what else runs on it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case ${1:-} in
  -h | --help | "") sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  reference) shift; args=("$@") ;;
  broken)
    shift
    args=("$root"/fixtures/broken/*.json "$root"/fixtures/other-language/*.json "$@")
    ;;
  *) args=("$@") ;;
esac
build=${CSD_BUILD_DIR:-$root/build}
report=$build/bin/csd-report
[ -x "$report" ] || { echo "bench-jobs: no $report (build first)" >&2; exit 2; }
if [ -n "${CSD_BENCH_KEEP:-}" ]; then
  work=$CSD_BENCH_KEEP
  mkdir -p "$work"
  rm -rf "$work/serial" "$work/parallel"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/csd-bench-jobs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi

# One run: its wall time in seconds on stdout; its summary in $work/NAME.txt.
timed_run() {
  local name=$1; shift
  local start end code=0
  start=$(date +%s.%N)
  "$report" -o "$work/$name" "$@" >"$work/$name.txt" 2>&1 || code=$?
  end=$(date +%s.%N)
  if [ "$code" -gt 1 ]; then
    echo "bench-jobs: csd-report $name exited $code:" >&2
    tail -20 "$work/$name.txt" >&2
    exit 1
  fi
  echo "$end - $start" | bc
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

serial_load=$(load)
serial=$(timed_run serial --jobs 1 "${args[@]}")
parallel_load=$(load)
parallel=$(timed_run parallel ${CSD_BENCH_JOBS:+--jobs "$CSD_BENCH_JOBS"} "${args[@]}")

python3 - "$work" "$serial" "$parallel" "$serial_load" "$parallel_load" "$(nproc)" <<'EOF'
import json, sys
work, serial, parallel, serial_load, parallel_load, cpus = sys.argv[1:]
def verdicts(name):
    report = json.load(open(f"{work}/{name}/report.json"))
    return [(r["implementation"], r["id"], r["check"], r["verdict"]) for r in report["results"]]
s, p = verdicts("serial"), verdicts("parallel")
run = json.load(open(f"{work}/parallel/run.json"))
times = {}
for suite in json.load(open(f"{work}/parallel/suite.json"))["testsuites"]:
    for test in suite["testsuite"]:
        times[suite["name"] + "." + test["name"]] = float(test.get("time", "0s").rstrip("s"))
alone = sum(times.get(name, 0) for name in run.get("alone", []))
by_family = {}
for name in run.get("alone", []):
    family = name.split("/")[1].split(".")[0] if name.startswith("Impl/") else name.split(".")[0]
    by_family[family] = by_family.get(family, 0) + times.get(name, 0)
side = sum(times.values()) - alone
serial, parallel = float(serial), float(parallel)
print(f"tests: {len(s)} serial, {len(p)} side by side; {cpus} CPUs")
print(f"serial (--jobs 1):          {serial:7.1f} s wall   (load average before: {serial_load})")
jobs = f"--jobs {run.get('jobs', '?')}"
print(f"side by side ({jobs}):   {parallel:7.1f} s wall   (load average before: {parallel_load})")
print(f"speed-up: {serial / parallel:.2f}x")
print(f"the {len(run.get('alone', []))} tests that ran alone took {alone:.1f} s; "
      f"the others' times add up to {side:.1f} s")
# What no scheduler beats: the alone tests one after another, the others
# shared perfectly over the jobs (each test's own time as this run measured it).
jobs_n = int(run.get("jobs", 1))
floor = alone + side / jobs_n
print(f"floor with {jobs}: {floor:.1f} s, so at best {(alone + side) / floor:.2f}x over the "
      f"same tests' {alone + side:.1f} s one after another")
print("  alone, by family: " + ", ".join(
    f"{family} {seconds:.1f} s" for family, seconds in sorted(by_family.items(), key=lambda x: -x[1])))
match = s == p
print("verdicts: " + ("the same, in the same order" if match else "DIFFERENT"))
if not match:
    for a, b in zip(s, p):
        if a != b:
            print(f"  serial {a} / side by side {b}")
    sys.exit(1)
EOF
