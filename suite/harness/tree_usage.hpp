// What a process tree uses, cheaply enough to look every few milliseconds:
// csd-guard's --max-processes and --max-memory (csd_guard.cpp). Knows
// nothing of any one design.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace csd::harness {

// Every process below `root` (not root itself), from the kernel's list of
// each task's children (/proc/PID/task/TID/children), walked down from
// `root`: the cost is the tree's size, not the machine's (descendants()
// scans all of /proc). A process that forks or exits during the walk may be
// missed or counted gone; the next walk sees it. Without those lists
// (a kernel without CONFIG_PROC_CHILDREN): descendants(root). The walk stops
// past `most` processes.
std::vector<pid_t> tree_below(pid_t root, std::size_t most = 100'000);

// Every task (thread) on the machine, from /proc/loadavg: one read, however
// many there are. A tree has no more processes than that, so while it is
// within a process limit the tree need not be walked at all. nullopt if it
// cannot be read.
std::optional<std::size_t> tasks_on_the_machine();

// The anonymous resident memory of `pids` (/proc/PID/statm: resident less
// shared, the status file's RssAnon), summed, in bytes: what the processes
// made, not the libraries they map, which a process per connection would
// count a thousand times over (4 MiB each for csd-fork, 228 KiB of it
// anonymous). Copy-on-write pages that forked processes still share count
// in each. A process gone counts 0.
uint64_t anonymous_bytes(const std::vector<pid_t>& pids);

}  // namespace csd::harness
