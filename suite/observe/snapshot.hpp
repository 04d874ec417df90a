// What a server's processes and threads were doing at one step of an
// observation, as the kernel shows it from outside: the data the classifier
// reads (classify.hpp) and the evidence it shows. Synthetic snapshots are
// made of the same structs (suite/unit/observe_test.cpp).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace csd::observe {

// What the descriptors a sleeping task waits on are.
struct Waiting {
  std::vector<int> listeners{};    // sockets listening on the server's port, by index
  std::vector<int> connections{};  // the workload's connections among them, by index
  int other_sockets = 0;           // other sockets: a unix socket passing descriptors, ...
  int other = 0;                   // pipes, eventfds, files
  [[nodiscard]] bool listener() const { return !listeners.empty(); }
  bool operator==(const Waiting&) const = default;
};

struct TaskView {
  pid_t tid = 0;
  bool running = false;  // on a CPU or runnable: no call to show
  long call = -1;        // the system call it sleeps in (SYS_*); -1: outside any
  Waiting on{};
  bool operator==(const TaskView&) const = default;
};

struct ProcessView {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::vector<TaskView> tasks{};  // its threads by tid: the main thread (tid == pid) first
  int listeners = 0;              // the port's listening sockets it holds
  bool operator==(const ProcessView&) const = default;
};

struct Snapshot {
  std::string step{};
  std::vector<ProcessView> processes{};  // the server's main process first; zombies left out
  // Per connection of the workload, the processes holding its server end
  // (none: not accepted yet, or closed).
  std::vector<std::vector<pid_t>> holders{};
  uint32_t queued = 0;  // connections waiting in the port's accept queues
  // Per socket listening on the port (the index Waiting::listeners uses): how
  // many processes hold it.
  std::vector<int> listener_holders{};
  bool settled = true;  // stood still, every task asleep, before the step's deadline

  [[nodiscard]] std::size_t threads() const;
  [[nodiscard]] const ProcessView* process(pid_t pid) const;
  [[nodiscard]] const TaskView* task(pid_t tid) const;
};

// Two snapshots show the same shape: the same processes, threads, calls,
// holders and queue (the step's name and `settled` aside).
bool same_shape(const Snapshot& a, const Snapshot& b);

// The observation's workload, in this order; one snapshot each.
inline constexpr std::array<std::string_view, 4> kSteps{"idle", "one connection", "4 connections",
                                                        "released"};
inline constexpr int kConnections = 4;  // held at once at the third step

struct Observation {
  std::vector<Snapshot> steps{};  // kSteps, in order
};

// A connection of the workload, by its two ends as the client sees them.
struct ConnectionEnds {
  sockaddr_storage client{};
  socklen_t client_len = 0;
  sockaddr_storage server{};
  socklen_t server_len = 0;
};

// The snapshot of the live processes of `tree` (zombies left out), for a
// server listening on `port`, of the connections `connections` (the
// workload's so far).
Snapshot take_snapshot(std::string_view step, const std::vector<pid_t>& tree, uint16_t port,
                       const std::vector<ConnectionEnds>& connections);

}  // namespace csd::observe
