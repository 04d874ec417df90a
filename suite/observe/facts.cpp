// The snapshots of an observation reduced to the counts the rules read.
#include <algorithm>
#include <map>
#include <set>

#include "calls.hpp"
#include "classify.hpp"

namespace csd::observe {

namespace {

bool waits_on_listener(const TaskView& t) {
  const CallKind kind = kind_of_call(t.call);
  return !t.running && t.on.listener() && (kind == CallKind::accept || kind == CallKind::multiplex);
}

bool reads_another_socket(const TaskView& t) {
  return !t.running && kind_of_call(t.call) == CallKind::read && !t.on.listener() &&
         t.on.connections.empty() && t.on.other_sockets > 0;
}

bool waits_on_lock(const TaskView& t) {
  return !t.running && kind_of_call(t.call) == CallKind::lock;
}

bool waits_on_connection(const TaskView& t, int connection) {
  return !t.running && std::ranges::find(t.on.connections, connection) != t.on.connections.end();
}

// The tasks of `shot` that `pick` chooses: how many, in how many processes,
// and the commonest call among them.
template <typename Pick>
void count_tasks(const Snapshot& shot, Pick pick, int& tasks, int& processes, std::string& call) {
  std::map<std::string, int> calls;
  for (const auto& p : shot.processes) {
    bool any = false;
    for (const auto& t : p.tasks) {
      if (!pick(t))
        continue;
      ++tasks;
      any = true;
      ++calls[call_name(t.call)];
    }
    processes += any ? 1 : 0;
  }
  const auto most = std::ranges::max_element(
      calls, [](const auto& a, const auto& b) { return a.second < b.second; });
  call = most == calls.end() ? "" : most->first;
}

// The task that reads `connection` in `shot`, the one asleep in a read first.
const TaskView* server_of(const Snapshot& shot, int connection) {
  const TaskView* found = nullptr;
  for (const auto& p : shot.processes) {
    for (const auto& t : p.tasks) {
      if (!waits_on_connection(t, connection))
        continue;
      if (kind_of_call(t.call) == CallKind::read)
        return &t;
      found = found ? found : &t;
    }
  }
  return found;
}

FirstServer first_server(const Snapshot& idle, const Snapshot& one) {
  const TaskView* now = server_of(one, 0);
  if (!now)
    return FirstServer::unseen;
  const TaskView* before = idle.task(now->tid);
  if (!before)
    return FirstServer::new_task;
  if (waits_on_listener(*before))
    return FirstServer::listener_waiter;
  if (waits_on_lock(*before))
    return FirstServer::lock_waiter;
  if (reads_another_socket(*before))
    return FirstServer::socket_reader;
  return FirstServer::unseen;
}

void connections_at(const Snapshot& idle, const Snapshot& busy, Facts& f) {
  f.queued = static_cast<int>(busy.queued);
  for (std::size_t c = 0; c < busy.holders.size(); ++c) {
    const auto& holders = busy.holders[c];
    f.accepted += holders.empty() ? 0 : 1;
    if (std::ranges::any_of(holders, [&](pid_t pid) { return !idle.process(pid); }))
      ++f.on_new_process;
    const TaskView* server = server_of(busy, static_cast<int>(c));
    if (!server)
      continue;
    if (kind_of_call(server->call) == CallKind::multiplex) {
      ++f.in_multiplexer;
      f.multiplexer = call_name(server->call);
    } else if (!idle.task(server->tid) &&
               std::ranges::any_of(busy.processes, [&](const ProcessView& p) {
                 return idle.process(p.pid) && std::ranges::any_of(p.tasks, [&](const TaskView& t) {
                          return &t == server;
                        });
               })) {
      ++f.on_new_thread;  // a thread the process did not have at idle
    }
  }
}

// The listening sockets that one process alone waits on, and on no other.
int own_listeners(const Snapshot& idle) {
  std::vector<std::set<pid_t>> waiters(idle.listener_holders.size());
  std::map<pid_t, std::set<int>> waited;
  for (const auto& p : idle.processes) {
    for (const auto& t : p.tasks) {
      if (!waits_on_listener(t))
        continue;
      for (const int l : t.on.listeners) {
        if (static_cast<std::size_t>(l) < waiters.size())
          waiters[static_cast<std::size_t>(l)].insert(p.pid);
        waited[p.pid].insert(l);
      }
    }
  }
  int own = 0;
  for (const auto& pids : waiters)
    own += pids.size() == 1 && waited[*pids.begin()].size() == 1 ? 1 : 0;
  return own;
}

}  // namespace

std::string_view to_string(FirstServer f) {
  switch (f) {
    case FirstServer::listener_waiter:
      return "a task that waited on the listener";
    case FirstServer::lock_waiter:
      return "a task that waited on a lock";
    case FirstServer::socket_reader:
      return "a task that read another socket";
    case FirstServer::new_task:
      return "a new task";
    case FirstServer::unseen:
      break;
  }
  return "nobody seen";
}

bool Facts::back_to_idle() const {
  return processes.size() == kSteps.size() && threads.size() == kSteps.size() &&
         processes.back() == processes.front() && threads.back() == threads.front();
}

Facts facts_of(const Observation& observation) {
  Facts f;
  const auto& steps = observation.steps;
  for (const auto& shot : steps) {
    f.processes.push_back(static_cast<int>(shot.processes.size()));
    f.threads.push_back(static_cast<int>(shot.threads()));
    f.settled = f.settled && shot.settled;
  }
  if (steps.size() != kSteps.size() || steps[0].processes.empty()) {
    f.settled = false;
    return f;
  }
  const Snapshot& idle = steps[0];
  f.listening_sockets = static_cast<int>(idle.listener_holders.size());
  f.own_listeners = own_listeners(idle);
  connections_at(idle, steps[2], f);
  count_tasks(idle, waits_on_listener, f.listener_waiters, f.listener_waiter_processes,
              f.listener_call);
  count_tasks(idle, waits_on_lock, f.lock_waiters, f.lock_waiter_processes, f.lock_call);
  int socket_reader_processes = 0;
  count_tasks(idle, reads_another_socket, f.socket_readers, socket_reader_processes, f.socket_call);
  const auto& root = idle.processes.front();
  if (!root.tasks.empty() && !root.tasks.front().running && root.tasks.front().call >= 0) {
    f.root_call = call_name(root.tasks.front().call);
    f.root_waits_on_listener = waits_on_listener(root.tasks.front());
  }
  f.first_served_by = first_server(idle, steps[1]);
  return f;
}

}  // namespace csd::observe
