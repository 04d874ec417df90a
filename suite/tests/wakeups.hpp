// Wake-ups per accept (the thundering herd), seen from outside: the context
// switches of every task (process or thread) of a server's tree, from
// /proc/PID/task/TID/status, sampled once no task is runnable. A task that
// was woken and found nothing to do (accept() -> EAGAIN) switched out once
// more, so it is counted even though it served nothing.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "server_process.hpp"

namespace csd::suite {

// Context switches per task of a process tree, keyed by (pid, tid).
using TaskSwitches = std::map<std::pair<pid_t, pid_t>, uint64_t>;

// Every task of the server's tree; `running` names the ones in state R.
TaskSwitches sample_tasks(const harness::ServerProcess& server,
                          std::vector<std::string>* running = nullptr);

// Waits until no task of the server is runnable (a woken task is 'R' until
// it has run and blocked again), then samples. Fails the running test,
// naming the tasks still running, when the 2 s deadline passes.
TaskSwitches sample_when_quiet(const harness::ServerProcess& server);

// The tasks whose count moved between two samples (a new task counts as
// woken); adds the switches made to `switches`.
int woken_between(const TaskSwitches& before, const TaskSwitches& after, uint64_t& switches);

}  // namespace csd::suite
