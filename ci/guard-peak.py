#!/usr/bin/env python3
"""How far a fork bomb gets past csd-guard's process limit.

    ci/guard-peak.py [BUILD_DIR] [LIMIT...]      (as root; default: build, 64 256 1024 2048)

For each LIMIT: starts csd-broken-fork-bomb under `csd-guard --max-processes
LIMIT`, sets it off with one request, and samples the machine's task count
(/proc/loadavg: one read) every 0.5 ms until the guard has killed the tree.
Prints the peak above the count before, and the guard's line. This script
runs at SCHED_FIFO 2, above the guard (1) and the bomb (SCHED_OTHER, as
`chrt -o 0` starts it), so the bomb cannot starve the sampler either. A
measurement, not a test: docs/MANIFEST.md quotes its figures.
"""
import os
import re
import socket
import subprocess
import sys
import time


def tasks():
    with open('/proc/loadavg', encoding='ascii') as f:
        return int(f.read().split()[3].split('/')[1])


def peak(build, limit):
    before = tasks()
    guard = subprocess.Popen(
        ['chrt', '-o', '0', f'{build}/bin/csd-guard', '--max-processes', str(limit), '--',
         f'{build}/bin/csd-broken-fork-bomb', '-i', '127.0.0.1', '-p', '0'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = int(re.search(r':(\d+)', guard.stdout.readline()).group(1))
    started = time.monotonic()
    with socket.create_connection(('127.0.0.1', port)) as client:
        client.sendall(b'10\n')
        most = 0
        while guard.poll() is None and time.monotonic() - started < 60:
            most = max(most, tasks())
            time.sleep(0.0005)
    said = guard.stdout.read().strip()
    guard.wait()
    print(f'limit {limit}: peaked {most - before} processes above the {before} tasks before, '
          f'ended in {time.monotonic() - started:.2f} s; {said}')


def main():
    args = sys.argv[1:]
    build = args.pop(0) if args and not args[0].isdigit() else 'build'
    limits = [int(a) for a in args] or [64, 256, 1024, 2048]
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(2))
    for limit in limits:
        peak(build, limit)


if __name__ == '__main__':
    main()
