#!/usr/bin/env bash
# Is csd-client the bottleneck? Runs it and csd-cclient (the minimal C client:
# fork per client, no statistics) against the same server under the same
# load, alternating, with hyperfine, and prints the throughput ratio measured
# by wall time of the whole command (each tool's own clock starts at a
# different point, so their self-reported rates are not comparable).
#
#   bench/compare-clients.sh [BIN_DIR] [RUNS]     (defaults: build/bin, 30)
set -euo pipefail
bin=${1:-build/bin}
runs=${2:-30}
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
for tool in csd-prefork csd-client csd-cclient; do
  [ -x "$bin/$tool" ] || { echo "compare-clients: no $bin/$tool (build first)" >&2; exit 2; }
done

coproc server { exec "$bin/csd-prefork" -n 4 -p 0; }
# shellcheck disable=SC2154  # server_PID is set by coproc
trap 'kill "$server_PID" 2>/dev/null; wait "$server_PID" 2>/dev/null' EXIT
read -r -t 10 line <&"${server[0]}" || { echo "compare-clients: the server printed no listening line in 10 s" >&2; exit 1; }
port=${line##*:}
echo "server: csd-prefork -n 4 ($line)"

tmp=$(mktemp -d)
for load in "-c 4 -t 2000 -b 100" "-c 4 -t 1000 -b 4096"; do
  hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$tmp/result.json" \
    "$bin/csd-cclient -i 127.0.0.1 -p $port $load" "$bin/csd-client -i 127.0.0.1 -p $port $load" >/dev/null
  python3 - "$tmp/result.json" "$load" <<'PY'
import json, sys
c, x = json.load(open(sys.argv[1]))["results"]
print(f"{sys.argv[2]}: csd-cclient {c['median']*1000:.1f} ms, csd-client {x['median']*1000:.1f} ms (medians of "
      f"{len(c['times'])} runs); csd-client throughput / csd-cclient = {c['median']/x['median']:.3f}")
PY
done
rm -rf "$tmp"
