#include "wakeups.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "procfs.hpp"
#include "wait.hpp"

namespace csd::suite {

using namespace std::chrono_literals;

TaskSwitches sample_tasks(const harness::ServerProcess& server, std::vector<std::string>* running) {
  TaskSwitches switches;
  for (const pid_t pid : server.tree()) {
    for (const auto& task : harness::read_tasks(pid)) {
      switches[{task.pid, task.tid}] = task.switches();
      if (running != nullptr && task.state == 'R')
        running->push_back(fmt::format("task {} of {}", task.tid, harness::describe(pid)));
    }
  }
  return switches;
}

TaskSwitches sample_when_quiet(const harness::ServerProcess& server) {
  TaskSwitches switches;
  std::vector<std::string> running;
  const bool quiet = harness::wait_until(
      [&] {
        running.clear();
        switches = sample_tasks(server, &running);
        return running.empty();
      },
      2000ms);
  EXPECT_TRUE(quiet)
      << "the server's tasks did not all block within 2 s after a connection; still running: "
      << fmt::format("{}", fmt::join(running, ", "));
  return switches;
}

int woken_between(const TaskSwitches& before, const TaskSwitches& after, uint64_t& switches) {
  int woken = 0;
  for (const auto& [task, count] : after) {
    const auto earlier = before.find(task);
    const uint64_t was = earlier == before.end() ? 0 : earlier->second;
    if (count != was)
      ++woken;
    switches += count - std::min(count, was);
  }
  return woken;
}

}  // namespace csd::suite
