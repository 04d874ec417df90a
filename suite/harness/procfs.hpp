// What /proc says about a process tree: members, states (zombies), open
// descriptors, threads, context switches, CPU time, socket inodes; and the
// few system-wide counters a benchmark reads around a load (all CPUs' time,
// TCP's listen overflows, TIME_WAIT sockets). Knows nothing of any one design.
#pragma once

#include <sys/types.h>

#include <array>
#include <bitset>
#include <cstdint>
#include <map>
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

// How long each live thread of a process has been runnable, on a CPU or
// waiting in a run queue for one (/proc/PID/task/TID/schedstat's first two
// fields), in nanoseconds, by thread id; empty if the process is gone or the
// kernel keeps no schedstat. Unlike CPU time it does not shrink on a busy
// machine: a busy loop is runnable all the time, however little CPU it gets.
std::map<pid_t, uint64_t> thread_runnable_ns(pid_t pid);

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

// A ps-like table of `pids` as /proc has them now, for a failed check's
// evidence: one line per process (pid, parent, state, threads, descriptors,
// CPU time, command line), and "(gone)" for one that has exited.
std::string tree_snapshot(const std::vector<pid_t>& pids);

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

// ---- What a process is doing about signals and system calls (the SignalRace family).

// What /proc/PID/syscall says: the system call a task sleeps in. The kernel shows a
// number only for a task that is not running, so a sleeping task seen here in read()
// is really inside read(), which a line it printed just before cannot tell.
struct SyscallState {
  bool running = false;  // on a CPU or runnable: no number to show
  long number = -1;      // otherwise the call, as <sys/syscall.h> names it (SYS_read,
                         // SYS_pselect6, ...); -1: stopped outside any call
  // Its six arguments as the task passed them (a descriptor, a pointer into its memory).
  std::array<uint64_t, 6> args{};
};
// From the text of /proc/PID/syscall ("running", "-1 SP PC", "NR ARGS... SP PC").
std::optional<SyscallState> parse_syscall(std::string_view text);
// Of the main thread of `pid`; nullopt if it is gone or the file is unreadable (it
// needs ptrace access: our own descendants are fine).
std::optional<SyscallState> read_syscall(pid_t pid);
// Of thread `tid` of `pid` (/proc/PID/task/TID/syscall).
std::optional<SyscallState> read_syscall(pid_t pid, pid_t tid);

// The socket inode descriptor `fd` of `pid` is, or nullopt (not a socket, closed, gone).
std::optional<uint64_t> socket_inode_of_fd(pid_t pid, int fd);

// A set of signals as /proc/PID/status prints it, 16 hex digits: bit N-1 is signal N.
struct SignalBits {
  std::bitset<64> bits;
  [[nodiscard]] bool has(int sig) const {
    return sig >= 1 && sig <= 64 && bits.test(static_cast<std::size_t>(sig - 1));
  }
};
struct SignalMasks {
  SignalBits pending;         // SigPnd: sent to the (main) thread, not yet delivered
  SignalBits shared_pending;  // ShdPnd: sent to the process (kill()), not yet delivered
  SignalBits blocked;         // SigBlk
  SignalBits ignored;         // SigIgn
  SignalBits caught;          // SigCgt: a handler is installed
  [[nodiscard]] bool is_pending(int sig) const {
    return pending.has(sig) || shared_pending.has(sig);
  }
};
// From the text of /proc/PID/status; nullopt if a mask line is missing or malformed.
std::optional<SignalMasks> parse_signal_masks(std::string_view status);
// Of the main thread of `pid`; nullopt if it is gone.
std::optional<SignalMasks> read_signal_masks(pid_t pid);

}  // namespace csd::harness
