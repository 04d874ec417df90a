#!/usr/bin/env bash
# What sendfile(2) and splice(2) save the sender against read(2)+write(2), for a 1 GiB file
# sent over loopback by csd-sendfile, side by side in one run: bytes/s, and the sending
# process's CPU seconds per GiB (user and system from /proc/PID/stat, in clock ticks; the
# total exactly, from /proc/PID/schedstat; before and after each transfer) as ratios to
# read/write. Then the data segments of one csd-cork response (200-byte header, 4000-byte
# body) with TCP_CORK and with TCP_NODELAY, counted by tcpdump. Prints Markdown tables.
#
#   bench/sendfile-cork.sh [--bin DIR] [--size BYTES (1G)] [--reps N (3)] [--connections N (20)]
#
# The reader is `dd bs=256K of=/dev/null < /dev/tcp/...` (bash's own connect): plain
# read(2)s, the same for every mode; its CPU is shown too. Modes take turns within each
# repetition, so a change in the machine's load falls on all of them alike. The cork part
# needs tcpdump and the right to capture on lo (root or CAP_NET_RAW); without tcpdump it is
# skipped, saying so.
set -euo pipefail

bin=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/bin
size=$((1 << 30))
reps=3
connections=20
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --size) size=$(numfmt --from=iec "$2"); shift 2 ;;  # 256M, 1G: binary units
    --reps) reps=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}" | cut -c3-; exit 0 ;;
    *) echo "sendfile-cork.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for program in csd-sendfile csd-cork; do
  [ -x "$bin/$program" ] || { echo "sendfile-cork.sh: no $bin/$program (build it first)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/csd-sendfile-bench.XXXXXX")
started=()  # pids of the programs this script started: stopped on exit, and only those
cleanup() {
  for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Waits (polling, 10 s deadline) until file $1 contains $2; fails saying what was awaited.
wait_for_line() {
  for _ in $(seq 1000); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.01
  done
  echo "sendfile-cork.sh: no '$2' in $1 within 10 s:" >&2
  cat "$1" >&2
  exit 1
}

# Waits until process $1 sleeps (state S): csd-sendfile back in accept() after a transfer.
wait_asleep() {
  for _ in $(seq 1000); do
    [ "$(awk '{print $3}' "/proc/$1/stat")" = S ] && return 0
    sleep 0.01
  done
  echo "sendfile-cork.sh: process $1 never went back to accept()" >&2
  exit 1
}

# utime and stime of process $1, in clock ticks (/proc/PID/stat fields 14 and 15; the
# command name in field 2 has no spaces here).
# Beside them, the exact CPU time in nanoseconds (/proc/PID/schedstat, first field).
cpu_ticks() { echo "$(awk '{print $14, $15}' "/proc/$1/stat") $(cut -d' ' -f1 "/proc/$1/schedstat")"; }

# Starts "$@" with its output in $work/$name.out; sets $server_pid and $server_port.
start_server() {
  local name=$1
  shift
  "$@" >"$work/$name.out" 2>&1 &
  server_pid=$!
  started+=("$server_pid")
  wait_for_line "$work/$name.out" "listening on"
  server_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/$name.out")
}

echo "writing a $size-byte file of random bytes..." >&2
head -c "$size" /dev/urandom >"$work/file"
cat "$work/file" >/dev/null  # into the page cache: every mode then reads from memory

declare -A pid_of port_of
for mode in readwrite sendfile splice; do
  start_server "$mode" "$bin/csd-sendfile" -p 0 --file "$work/file" --mode "$mode"
  pid_of[$mode]=$server_pid
  port_of[$mode]=$server_port
done

declare -A wall_ms user_ticks sys_ticks cpu_ns reader_user reader_sys
TIMEFORMAT='%3R %3U %3S'
for rep in $(seq "$reps"); do
  for mode in readwrite sendfile splice; do
    echo "rep $rep/$reps: $mode" >&2
    pid=${pid_of[$mode]}
    wait_asleep "$pid"
    read -r u0 s0 ns0 < <(cpu_ticks "$pid")
    # bash's `time` of the reader: wall, and the reader's own user and system CPU seconds.
    { time dd bs=256K of=/dev/null </dev/tcp/127.0.0.1/"${port_of[$mode]}" 2>"$work/dd"; } \
      2>"$work/time"
    wait_asleep "$pid"
    read -r u1 s1 ns1 < <(cpu_ticks "$pid")
    received=$(sed -n 's/^\([0-9]*\) bytes.*copied.*/\1/p' "$work/dd")
    [ "$received" = "$size" ] || { echo "$mode: received $received of $size bytes" >&2; exit 1; }
    read -r wall ru rs <"$work/time"
    wall_ms[$mode]=$(echo "${wall_ms[$mode]:-0} + $wall * 1000" | bc)
    user_ticks[$mode]=$((${user_ticks[$mode]:-0} + u1 - u0))
    sys_ticks[$mode]=$((${sys_ticks[$mode]:-0} + s1 - s0))
    cpu_ns[$mode]=$((${cpu_ns[$mode]:-0} + ns1 - ns0))
    reader_user[$mode]=$(echo "${reader_user[$mode]:-0} + $ru" | bc)
    reader_sys[$mode]=$(echo "${reader_sys[$mode]:-0} + $rs" | bc)
  done
done

hz=$(getconf CLK_TCK)
gib=$(echo "scale=6; $size / 1073741824" | bc)
per_gib() { echo "scale=6; $1 / $reps / $gib" | bc; }  # a total over the reps, per GiB
echo
echo "### $(numfmt --to=iec "$size") over loopback, $reps repetitions, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| mode | GiB/s | sender user s/GiB | sender sys s/GiB | sender CPU s/GiB | × read/write | reader (dd) CPU s/GiB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
base_cpu=$(per_gib "${cpu_ns[readwrite]} / 1000000000")
for mode in readwrite sendfile splice; do
  rate=$(echo "scale=6; $gib * $reps / (${wall_ms[$mode]} / 1000)" | bc)
  user=$(per_gib "${user_ticks[$mode]} / $hz")
  sys=$(per_gib "${sys_ticks[$mode]} / $hz")
  cpu=$(per_gib "${cpu_ns[$mode]} / 1000000000")
  reader=$(per_gib "${reader_user[$mode]} + ${reader_sys[$mode]}")
  printf '| %s | %.2f | %.3f | %.3f | %.3f | %.2f | %.3f |\n' "$mode" "$rate" "$user" "$sys" \
    "$cpu" "$(echo "scale=6; $cpu / $base_cpu" | bc)" "$reader"
done
for mode in readwrite sendfile splice; do kill "${pid_of[$mode]}"; done

echo
if ! command -v tcpdump >/dev/null; then
  echo "(TCP_CORK part skipped: no tcpdump)"
  exit 0
fi
echo "### csd-cork: data segments per connection, $connections connections each"
echo
echo "| --cork | data segments per connection | segment sizes (bytes, count) |"
echo "|---|---:|---|"
for cork in on off; do
  start_server "cork-$cork" "$bin/csd-cork" -p 0 --cork "$cork"
  tcpdump -i lo -n -U -w "$work/cork-$cork.pcap" "tcp src port $server_port" \
    2>"$work/tcpdump-$cork.err" &
  started+=("$!")
  capture_pid=$!
  wait_for_line "$work/tcpdump-$cork.err" "listening on"
  for _ in $(seq "$connections"); do cat </dev/tcp/127.0.0.1/"$server_port" >/dev/null; done
  # Every connection's FIN captured: then nothing of theirs is still on its way.
  for _ in $(seq 1000); do
    fins=$(tcpdump -r "$work/cork-$cork.pcap" -n 'tcp[tcpflags] & tcp-fin != 0' 2>/dev/null | wc -l)
    [ "$fins" -ge "$connections" ] && break
    sleep 0.01
  done
  kill "$capture_pid"
  wait "$capture_pid" 2>/dev/null || true
  # Data segments: IP total length - IP header - TCP header > 0.
  tcpdump -r "$work/cork-$cork.pcap" -n \
    '(ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2)) > 0' 2>/dev/null |
    sed -n 's/.*length \([0-9]*\).*/\1/p' >"$work/sizes-$cork"
  count=$(wc -l <"$work/sizes-$cork")
  sizes=$(sort -n "$work/sizes-$cork" | uniq -c | awk '{printf "%s%s × %s", sep, $2, $1; sep=", "}')
  printf '| %s | %s | %s |\n' "$cork" "$(echo "scale=2; $count / $connections" | bc)" "$sizes"
  kill "$server_pid"
done
