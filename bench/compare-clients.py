#!/usr/bin/env python3
"""Is csd-client the bottleneck?

Runs csd-client and csd-cclient (the minimal C client: fork per client, no
statistics) against the same csd-prefork under the same load, interleaved run
by run with the order alternating, so that machine noise and TIME_WAIT build-up
hit both alike. Compares wall time of the whole command: each tool's own clock
starts at a different point, so their self-reported rates are not comparable.

    bench/compare-clients.py [--bin build/bin] [--runs 30]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

LOADS = [["-c", "4", "-t", "2000", "-b", "100"], ["-c", "4", "-t", "1000", "-b", "4096"]]


def wall_time(argv):
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"compare-clients: {' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default="build/bin", help="directory with the built executables")
    parser.add_argument("--runs", type=int, default=30, help="runs of each client per load")
    args = parser.parse_args()
    for tool in ("csd-prefork", "csd-client", "csd-cclient"):
        if not os.access(os.path.join(args.bin, tool), os.X_OK):
            sys.exit(f"compare-clients: no {args.bin}/{tool} (build first)")

    server = subprocess.Popen([os.path.join(args.bin, "csd-prefork"), "-n", "4", "-p", "0"],
                              stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline().strip()  # blocks until the server is ready (or dies: "")
        if not line.startswith("listening on "):
            sys.exit(f"compare-clients: the server did not start: {line!r}")
        port = line.rsplit(":", 1)[1]
        print(f"server: csd-prefork -n 4 ({line})")
        for load in LOADS:
            target = ["-i", "127.0.0.1", "-p", port] + load
            commands = {name: [os.path.join(args.bin, name)] + target for name in ("csd-cclient", "csd-client")}
            times = {name: [] for name in commands}
            for run in range(args.runs):
                order = list(commands) if run % 2 == 0 else list(reversed(commands))
                for name in order:
                    times[name].append(wall_time(commands[name]))
            c, x = statistics.median(times["csd-cclient"]), statistics.median(times["csd-client"])
            print(f"{' '.join(load)}: csd-cclient {c * 1000:.1f} ms, csd-client {x * 1000:.1f} ms "
                  f"(medians of {args.runs} interleaved runs); csd-client throughput / csd-cclient = {c / x:.3f}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
