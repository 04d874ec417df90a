#!/usr/bin/env bash
# Verify behavior for the sequence: csd-suite --network 'loss 5%' on a few
# reference servers -> the checks pass, the loss happened (packets dropped,
# segments retransmitted), its namespace is gone; then kill -9 of a run
# mid-test -> its namespace is gone too; then 'delay 20ms' (netem, or
# csd-netdelay on NFQUEUE) slows an exchange. Usage: network-test.sh BIN_DIR
set -euo pipefail

bin=${1:?usage: network-test.sh BUILD_BIN_DIR}
suite=$bin/csd-suite
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: csd-suite --network needs root (it unshares a network namespace)"
  exit 77
fi
if ! command -v nft >/dev/null && [ ! -x /usr/sbin/nft ]; then
  echo "SKIP: 'loss' needs nft (apt-get install nftables)"
  exit 77
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

own_ns=$(readlink /proc/self/ns/net)

# The network namespace of process $1 once it has left ours (csd-suite
# unshares first thing in main); fails after 10 s. The pause paces a poll
# of /proc, it synchronises nothing.
namespace_of() {
  local pid=$1 ns deadline=$((SECONDS + 10))
  while [ "$SECONDS" -lt "$deadline" ]; do
    ns=$(readlink "/proc/$pid/ns/net" 2>/dev/null) || fail "csd-suite $pid exited before unsharing"
    [ "$ns" != "$own_ns" ] && { echo "$ns"; return 0; }
    sleep 0.05
  done
  fail "csd-suite $pid still in our network namespace after 10 s"
}

# The PIDs of the processes in namespace $1 ("net:[INODE]").
members_of() {
  local link
  for link in /proc/[0-9]*/ns/net; do
    [ "$(readlink "$link" 2>/dev/null)" = "$1" ] && { link=${link#/proc/}; echo "${link%%/*}"; }
  done
  return 0
}

# Waits (10 s at most, polling /proc) until no process is in namespace $1:
# the kernel frees a namespace with its last member.
wait_namespace_gone() {
  local left deadline=$((SECONDS + 10))
  while [ "$SECONDS" -lt "$deadline" ]; do
    left=$(members_of "$1")
    [ -z "$left" ] && return 0
    sleep 0.05
  done
  fail "namespace $1 still has processes after 10 s: $(echo "$left" | tr '\n' ' ')"
}

# 1. A quick subset under 5% loss passes, and the loss is real.
filter='Impl/Size.*/csd_epoll:Impl/Size.*/csd_fork:Impl/Echo.*/csd_thread_echo:Impl/Robust.*Request/csd_select'
"$suite" --network 'loss 5%' --progress=off --gtest_filter="$filter" \
  --gtest_output="json:$tmp/loss.json" >"$tmp/loss.out" 2>"$tmp/loss.err" &
pid=$!
pids+=("$pid")
ns=$(namespace_of "$pid")
status=0
wait "$pid" || status=$?
[ "$status" = 0 ] || { cat "$tmp/loss.out" "$tmp/loss.err" >&2; fail "csd-suite --network 'loss 5%' exited $status"; }
passed=$(grep -c '^\[       OK \]' "$tmp/loss.out" || true)
[ "$passed" -gt 0 ] || fail "no test passed under loss 5%"
line=$(grep '^csd-suite: network:' "$tmp/loss.err") || fail "no network counters on stderr"
dropped=$(sed -n 's/.* \([0-9]*\) packets dropped.*/\1/p' <<<"$line")
retransmitted=$(sed -n 's/.* \([0-9]*\) TCP segments retransmitted.*/\1/p' <<<"$line")
[ "${dropped:-0}" -gt 0 ] || fail "the loss rule dropped nothing: $line"
[ "${retransmitted:-0}" -gt 0 ] || fail "no segment was retransmitted: $line"
grep -q '"env_network": "loss 5%' "$tmp/loss.json" || fail "no env_network property in the results"
wait_namespace_gone "$ns"
echo "loss 5%: $passed tests passed; $line; namespace $ns gone"

# 2. kill -9 of the suite while a server of its runs: the namespace goes too
# (csd-guard kills each server's tree when the suite dies).
"$suite" --network 'loss 5%' --progress=off --gtest_filter='Impl/Concurrency.*:Impl/Size.*' \
  >"$tmp/kill.out" 2>&1 &
pid=$!
pids+=("$pid")
ns=$(namespace_of "$pid")
# A server is the suite's child (csd-guard, then the server under it), in its
# namespace. Its children are read from /proc at once: a scan of every
# process's namespace takes seconds on a loaded machine, longer than a check's
# server lives.
server_seen=
deadline=$((SECONDS + 60))  # a loaded machine (ctest -j beside a build) starts slowly
while [ -z "$server_seen" ] && [ "$SECONDS" -lt "$deadline" ]; do
  for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
    [ "$(readlink "/proc/$child/ns/net" 2>/dev/null)" = "$ns" ] && server_seen+="$child "
  done
  [ -n "$server_seen" ] || sleep 0.05
done
[ -n "$server_seen" ] || fail "no server started in $ns within 60 s (no child of csd-suite $pid in it)"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
wait_namespace_gone "$ns"
echo "kill -9 mid-run (with $server_seen in it): namespace $ns gone"

# 3. delay 20ms: where neither netem nor csd-netdelay and iptables are here,
# csd-suite refuses (exit 2) and this part is skipped with its reason.
"$suite" --network 'delay 20ms' --progress=off \
  --gtest_filter='Impl/Size.SmallRepliesExact/csd_epoll' \
  --gtest_output="json:$tmp/delay.json" >"$tmp/delay.out" 2>&1 &
pid=$!
pids+=("$pid")
status=0
wait "$pid" || status=$?
if [ "$status" = 2 ] && grep -q 'needs netem' "$tmp/delay.out"; then
  echo "delay 20ms: not here ($(grep 'needs netem' "$tmp/delay.out"))"
  exit 0
fi
[ "$status" = 0 ] || { cat "$tmp/delay.out" >&2; fail "csd-suite --network 'delay 20ms' exited $status"; }
grep -q '"env_network": "delay 20ms' "$tmp/delay.json" || fail "no env_network property for delay"
# Each exchange of the check costs at least two round trips (connect,
# request and reply) of 2 x 20 ms: the test took 80 ms at least.
test_ms=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["testsuites"][0]["testsuite"][0]["time"]; print(int(float(t.rstrip("s"))*1000))' "$tmp/delay.json")
[ "$test_ms" -ge 80 ] || fail "the check took $test_ms ms under delay 20ms: no delay"
echo "delay 20ms: passed in $test_ms ms; made with $(grep -o "delay: [^;]*" "$tmp/delay.json" | head -n 1)"
