// /proc readers of processes, their tasks and the CPU (the sockets a
// process holds and the network's counters: procfs_sockets.cpp). Everything
// here tolerates processes vanishing mid-read: a server tree changes while
// we look at it, so "gone" is a normal answer, not an error. Compiled into
// csd-guard too, so it uses nothing but libc and std.
#include "procfs.hpp"
#include "proc_text.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iterator>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace csd::harness {

namespace {

using namespace detail;  // the readers of /proc text every /proc reader shares (proc_text.hpp)

std::optional<pid_t> parse_pid(const char* name) {
  pid_t pid = 0;
  if (!parse_number(std::string_view(name), pid) || pid <= 0)
    return std::nullopt;
  return pid;
}

// Splits "a b c" at single spaces (the format of /proc/PID/stat after comm).
std::vector<std::string_view> split_fields(std::string_view s) {
  std::vector<std::string_view> fields;
  while (!s.empty()) {
    const auto space = s.find(' ');
    fields.push_back(s.substr(0, space));
    if (space == std::string_view::npos)
      break;
    s.remove_prefix(space + 1);
  }
  return fields;
}

// /proc/PID/stat is "pid (comm) state ppid ...". comm is whatever the process
// named itself and may hold spaces and parentheses, so it ends at the LAST ')'.
struct StatLine {
  std::string_view comm;
  std::vector<std::string_view> rest;  // rest[0] is field 3 (state), rest[n-3] is field n
};

std::optional<StatLine> split_stat(std::string_view text) {
  const auto open = text.find('(');
  const auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open ||
      close + 2 > text.size()) {
    return std::nullopt;
  }
  StatLine line;
  line.comm = text.substr(open + 1, close - open - 1);
  auto rest = text.substr(close + 2);
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == ' ')) rest.remove_suffix(1);
  line.rest = split_fields(rest);
  return line;
}

// Field n of /proc/PID/stat (1-based, as in proc(5)), n >= 3.
template <typename T>
bool stat_field(const StatLine& line, std::size_t n, T& out) {
  return n >= 3 && n - 3 < line.rest.size() && parse_number(line.rest[n - 3], out);
}

// The fields of /proc/PID/task/TID/status that say whether a task runs and
// how often it has been switched out.
std::optional<TaskInfo> read_task_status(pid_t pid, pid_t tid, const std::string& path) {
  const auto status = read_file(path);
  if (!status)
    return std::nullopt;  // the thread exited
  TaskInfo task;
  task.pid = pid;
  task.tid = tid;
  for (const std::string_view line : split_lines(*status)) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    const auto key = line.substr(0, colon);
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    if (key == "State" && !value.empty())
      task.state = value.front();
    if (key == "voluntary_ctxt_switches")
      parse_number(value, task.voluntary_ctxt_switches);
    if (key == "nonvoluntary_ctxt_switches")
      parse_number(value, task.nonvoluntary_ctxt_switches);
  }
  return task;
}

}  // namespace

std::optional<ProcInfo> read_proc(pid_t pid) {
  const auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text)
    return std::nullopt;
  const auto line = split_stat(*text);
  if (!line || line->rest.empty() || line->rest[0].empty())
    return std::nullopt;
  ProcInfo info;
  info.pid = pid;
  info.comm = std::string(line->comm);
  info.state = line->rest[0][0];
  const bool ok = stat_field(*line, 4, info.ppid) && stat_field(*line, 5, info.pgid) &&
                  stat_field(*line, 6, info.session) && stat_field(*line, 14, info.utime_ticks) &&
                  stat_field(*line, 15, info.stime_ticks) &&
                  stat_field(*line, 16, info.cutime_ticks) &&
                  stat_field(*line, 17, info.cstime_ticks) && stat_field(*line, 20, info.threads) &&
                  stat_field(*line, 22, info.start_ticks);
  if (!ok)
    return std::nullopt;
  // The process-level status file counts only the main thread: add them all.
  for (const auto& task : read_tasks(pid)) {
    info.voluntary_ctxt_switches += task.voluntary_ctxt_switches;
    info.nonvoluntary_ctxt_switches += task.nonvoluntary_ctxt_switches;
  }
  return info;
}

std::vector<ParentLink> scan_parents() {
  std::vector<ParentLink> links;
  const DirPtr proc = open_dir("/proc");
  if (!proc)
    return links;
  while (const dirent* entry = ::readdir(proc.get())) {
    const auto pid = parse_pid(entry->d_name);
    if (!pid)
      continue;
    const auto text = read_file(std::string("/proc/") + entry->d_name + "/stat");
    if (!text)
      continue;  // exited during the scan
    const auto line = split_stat(*text);
    pid_t ppid = 0;
    if (line && stat_field(*line, 4, ppid))
      links.push_back({*pid, ppid});
  }
  return links;
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& link : scan_parents()) {
    if (link.ppid == parent)
      children.push_back(link.pid);
  }
  std::sort(children.begin(), children.end());
  return children;
}

std::vector<pid_t> descendants(pid_t root) {
  std::unordered_multimap<pid_t, pid_t> children;
  for (const auto& link : scan_parents()) children.emplace(link.ppid, link.pid);
  std::vector<pid_t> found;
  std::unordered_set<pid_t> seen{root};
  std::deque<pid_t> queue{root};
  while (!queue.empty()) {
    const pid_t parent = queue.front();
    queue.pop_front();
    auto [first, last] = children.equal_range(parent);
    std::vector<pid_t> level;
    for (auto it = first; it != last; ++it) level.push_back(it->second);
    std::sort(level.begin(), level.end());  // a stable order makes messages reproducible
    for (const pid_t child : level) {
      // ppid links cannot form a cycle, but a scan is not atomic: a pid that
      // exited and was reused mid-scan could appear twice.
      if (!seen.insert(child).second)
        continue;
      found.push_back(child);
      queue.push_back(child);
    }
  }
  return found;
}

std::vector<pid_t> process_tree(pid_t root) {
  if (::access(("/proc/" + std::to_string(root)).c_str(), F_OK) != 0)
    return {};
  std::vector<pid_t> tree{root};
  const auto below = descendants(root);
  tree.insert(tree.end(), below.begin(), below.end());
  return tree;
}

bool is_descendant(pid_t pid, pid_t ancestor) {
  // Bounded walk: ppid links end at 0 (init's parent) and cannot loop, but a
  // bound keeps a racing reparenting from surprising us.
  for (int depth = 0; depth < 4096 && pid > 1; ++depth) {
    const auto info = read_proc(pid);
    if (!info)
      return false;
    if (info->ppid == ancestor)
      return true;
    pid = info->ppid;
  }
  return false;
}

int open_fd_count(pid_t pid) {
  const DirPtr dir = open_dir(fd_dir(pid));
  if (!dir)
    return -1;
  int count = 0;
  while (const dirent* entry = ::readdir(dir.get())) {
    if (entry->d_name[0] != '.')
      ++count;
  }
  return count;
}

std::vector<pid_t> thread_ids(pid_t pid) {
  std::vector<pid_t> tids;
  const DirPtr dir = open_dir("/proc/" + std::to_string(pid) + "/task");
  if (!dir)
    return tids;
  while (const dirent* entry = ::readdir(dir.get())) {
    if (const auto tid = parse_pid(entry->d_name))
      tids.push_back(*tid);
  }
  std::sort(tids.begin(), tids.end());
  return tids;
}

std::vector<TaskInfo> read_tasks(pid_t pid) {
  std::vector<TaskInfo> tasks;
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  const DirPtr dir = open_dir(task_dir);
  if (!dir)
    return tasks;
  while (const dirent* entry = ::readdir(dir.get())) {
    const auto tid = parse_pid(entry->d_name);
    if (!tid)
      continue;
    if (auto task = read_task_status(pid, *tid, task_dir + "/" + entry->d_name + "/status"))
      tasks.push_back(*task);
  }
  std::sort(tasks.begin(), tasks.end(),
            [](const TaskInfo& a, const TaskInfo& b) { return a.tid < b.tid; });
  return tasks;
}

std::optional<uint64_t> process_cpu_ns(pid_t pid) {
  clockid_t clock{};
  timespec used{};
  if (::clock_getcpuclockid(pid, &clock) != 0 || ::clock_gettime(clock, &used) != 0)
    return std::nullopt;
  return static_cast<uint64_t>(used.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(used.tv_nsec);
}

std::map<pid_t, uint64_t> thread_runnable_ns(pid_t pid) {
  std::map<pid_t, uint64_t> runnable;
  for (const pid_t tid : thread_ids(pid)) {
    const auto text =
        read_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/schedstat");
    if (!text)
      continue;  // ended meanwhile
    // "ON_CPU_NS WAITING_NS TIMESLICES\n"
    uint64_t on_cpu = 0;
    uint64_t waiting = 0;
    const char* end = text->data() + text->size();
    const auto first = std::from_chars(text->data(), end, on_cpu);
    if (first.ec != std::errc() || first.ptr == end)
      continue;
    if (std::from_chars(first.ptr + 1, end, waiting).ec == std::errc())
      runnable[tid] = on_cpu + waiting;
  }
  return runnable;
}

double clock_ticks_per_second() {
  static const double ticks = [] {
    const long t = ::sysconf(_SC_CLK_TCK);
    return t > 0 ? static_cast<double>(t) : 100.0;  // 100: USER_HZ on every Linux architecture
  }();
  return ticks;
}

std::optional<CpuTicks> read_cpu_ticks() {
  const auto text = read_file("/proc/stat");
  if (!text)
    return std::nullopt;
  // "cpu user nice system idle iowait irq softirq steal guest guest_nice": guest time is
  // already inside user, so the first eight fields are all there is.
  const auto words = split_words(std::string_view(*text).substr(0, text->find('\n')));
  constexpr std::size_t kIdle = 4;
  constexpr std::size_t kIowait = 5;
  constexpr std::size_t kSteal = 8;
  if (words.size() <= kSteal || words[0] != "cpu")
    return std::nullopt;
  CpuTicks ticks;
  for (std::size_t i = 1; i <= kSteal; ++i) {
    uint64_t value = 0;
    if (!parse_number(words[i], value))
      return std::nullopt;
    ticks.total += value;
    if (i != kIdle && i != kIowait)
      ticks.busy += value;
  }
  return ticks;
}

std::string describe(pid_t pid) {
  const auto info = read_proc(pid);
  if (!info)
    return std::to_string(pid) + " (gone)";
  return std::to_string(pid) + " (" + info->comm + ") " + info->state;
}

std::string tree_snapshot(const std::vector<pid_t>& pids) {
  // snprintf, not fmt: csd-guard compiles this file and links nothing else.
  std::string table = "    PID    PPID S  THREADS  FDS   CPU ms  COMMAND\n";
  const double ms_per_tick = 1000.0 / clock_ticks_per_second();
  std::array<char, 64> columns{};
  for (const pid_t pid : pids) {
    const auto info = read_proc(pid);
    if (!info) {
      (void)std::snprintf(columns.data(), columns.size(), "%7d  (gone)\n", pid);
      table += columns.data();
      continue;
    }
    // NUL-separated arguments; a zombie has none, so its comm stands in.
    std::string command = read_file("/proc/" + std::to_string(pid) + "/cmdline").value_or("");
    std::replace(command.begin(), command.end(), '\0', ' ');
    while (!command.empty() && command.back() == ' ') command.pop_back();
    if (command.empty())
      command = "[" + info->comm + "]";
    const double cpu_ms = static_cast<double>(info->utime_ticks + info->stime_ticks) * ms_per_tick;
    (void)std::snprintf(columns.data(), columns.size(), "%7d %7d %c  %7d  %3d  %7.0f  ", pid,
                        info->ppid, info->state, info->threads, open_fd_count(pid), cpu_ms);
    table += columns.data() + command + "\n";
  }
  return table;
}

}  // namespace csd::harness
