// What /proc says about a process tree: members, states (zombies), open
// descriptors, threads, context switches, CPU time, socket inodes; and the
// few system-wide counters a benchmark reads around a load (all CPUs' time,
// TCP's listen overflows, TIME_WAIT sockets). Knows nothing of any one design.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace csd::harness {

struct ProcInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgid = 0;
  pid_t session = 0;
  char state = '?';  // R S D Z T ...
  std::string comm;
  int threads = 0;
  uint64_t voluntary_ctxt_switches = 0;     // summed over all threads
  uint64_t nonvoluntary_ctxt_switches = 0;  // summed over all threads
  uint64_t utime_ticks = 0;                 // user+sys of the process itself
  uint64_t stime_ticks = 0;
  uint64_t cutime_ticks = 0;  // of reaped children
  uint64_t cstime_ticks = 0;
  uint64_t start_ticks =
      0;  // start time after boot: with the pid, identifies a process (pids get reused)
};

// nullopt if the process is gone.
std::optional<ProcInfo> read_proc(pid_t pid);

// `root` and every descendant, root first then breadth-first.
std::vector<pid_t> process_tree(pid_t root);

// Descendants only (children, grandchildren, ...).
std::vector<pid_t> descendants(pid_t root);

// Number of entries in /proc/PID/fd, or -1 if unreadable.
int open_fd_count(pid_t pid);

// One thread (task) of a process, from /proc/PID/task/TID/status.
struct TaskInfo {
  pid_t pid = 0;
  pid_t tid = 0;
  char state = '?';  // R S D ...: 'R' also while woken but not yet run
  uint64_t voluntary_ctxt_switches = 0;
  uint64_t nonvoluntary_ctxt_switches = 0;
  [[nodiscard]] uint64_t switches() const {
    return voluntary_ctxt_switches + nonvoluntary_ctxt_switches;
  }
};

// Every thread of `pid`, by tid; empty if the process is gone.
std::vector<TaskInfo> read_tasks(pid_t pid);

// Thread ids in /proc/PID/task.
std::vector<pid_t> thread_ids(pid_t pid);

// CPU time a process has used, all its threads together, ended ones
// included, in nanoseconds: its CPU clock (clock_getcpuclockid), exact where
// ProcInfo's utime and stime count whole clock ticks. Its reaped children's
// time is not in it (ProcInfo's cutime, cstime). nullopt if it is gone.
std::optional<uint64_t> process_cpu_ns(pid_t pid);

// Clock ticks per second (sysconf(_SC_CLK_TCK)): the unit of ProcInfo's
// *_ticks and of CpuTicks.
double clock_ticks_per_second();

// All CPUs' time since boot, from the "cpu" line of /proc/stat, in clock ticks.
struct CpuTicks {
  uint64_t busy = 0;   // user nice system irq softirq steal
  uint64_t total = 0;  // busy plus idle and iowait
};
std::optional<CpuTicks> read_cpu_ticks();

// One counter of /proc/net/netstat by its section and name, as nstat names
// them ("TcpExt", "ListenOverflows"); nullopt if there is no such counter.
std::optional<uint64_t> read_netstat_counter(std::string_view section, std::string_view name);

// TCP sockets in TIME_WAIT in this network namespace, IPv4 and IPv6 together
// (the "tw" count of /proc/net/sockstat); nullopt if unreadable.
std::optional<uint64_t> time_wait_sockets();

// Inodes of the sockets a process holds ("socket:[INODE]" links in /proc/PID/fd).
std::vector<uint64_t> socket_inodes(pid_t pid);

// True if /proc/PID/fd of `pid` holds socket inode `inode`.
bool holds_socket(pid_t pid, uint64_t inode);

// "PID (comm) state" for messages.
std::string describe(pid_t pid);

// Every process's (pid, ppid), one scan of /proc/*/stat. Processes that exit
// during the scan are left out.
struct ParentLink {
  pid_t pid = 0;
  pid_t ppid = 0;
};
std::vector<ParentLink> scan_parents();

// The direct children of `parent` (a /proc scan: this kernel has no
// /proc/PID/task/TID/children).
std::vector<pid_t> children_of(pid_t parent);

// True if `ancestor` is `pid`'s parent, grandparent, ... (walks /proc ppid links).
bool is_descendant(pid_t pid, pid_t ancestor);

}  // namespace csd::harness
