#include "tree_usage.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "proc_text.hpp"
#include "procfs.hpp"

namespace csd::harness {

namespace {

struct CloseFile {
  void operator()(std::FILE* file) const { (void)std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, CloseFile>;

File open_proc_file(const std::string& path) { return File(std::fopen(path.c_str(), "re")); }

// The children of each thread of `pid` (a thread that forks is its child's
// parent), appended to `tree`.
void append_children(pid_t pid, std::vector<pid_t>& tree) {
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  const detail::DirPtr tasks = detail::open_dir(task_dir);
  if (!tasks)
    return;  // gone meanwhile
  while (const dirent* task = ::readdir(tasks.get())) {
    if (task->d_name[0] == '.')
      continue;
    const File children = open_proc_file(task_dir + "/" + task->d_name + "/children");
    if (!children)
      continue;
    int child = 0;
    while (std::fscanf(children.get(), "%d", &child) == 1) tree.push_back(child);
  }
}

bool has_children_lists() {
  static const bool has = [] {
    const std::string self = std::to_string(::getpid());
    return ::access(("/proc/" + self + "/task/" + self + "/children").c_str(), R_OK) == 0;
  }();
  return has;
}

}  // namespace

std::vector<pid_t> tree_below(pid_t root, std::size_t most) {
  if (!has_children_lists())
    return descendants(root);
  std::vector<pid_t> tree;
  append_children(root, tree);
  for (std::size_t i = 0; i < tree.size() && tree.size() <= most; ++i)
    append_children(tree[i], tree);
  return tree;
}

std::optional<std::size_t> tasks_on_the_machine() {
  // "0.20 0.18 0.12 1/80 11206": the fourth field is running/total.
  const File loadavg = open_proc_file("/proc/loadavg");
  unsigned long running = 0;
  unsigned long total = 0;
  if (!loadavg || std::fscanf(loadavg.get(), "%*s %*s %*s %lu/%lu", &running, &total) != 2)
    return std::nullopt;
  return total;
}

uint64_t anonymous_bytes(const std::vector<pid_t>& pids) {
  static const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t total = 0;
  for (const pid_t pid : pids) {
    const File statm = open_proc_file("/proc/" + std::to_string(pid) + "/statm");
    unsigned long long size = 0;
    unsigned long long resident = 0;
    unsigned long long shared = 0;  // of `resident`, the pages of files and shared memory
    if (statm && std::fscanf(statm.get(), "%llu %llu %llu", &size, &resident, &shared) == 3 &&
        resident >= shared)
      total += (resident - shared) * page;
  }
  return total;
}

}  // namespace csd::harness
