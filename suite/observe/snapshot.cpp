#include "snapshot.hpp"

#include <algorithm>
#include <optional>

#include "calls.hpp"
#include "procfs.hpp"
#include "sockdiag.hpp"

namespace csd::observe {

std::size_t Snapshot::threads() const {
  std::size_t n = 0;
  for (const auto& p : processes) n += p.tasks.size();
  return n;
}

const ProcessView* Snapshot::process(pid_t pid) const {
  const auto it = std::find_if(processes.begin(), processes.end(),
                               [pid](const ProcessView& p) { return p.pid == pid; });
  return it == processes.end() ? nullptr : &*it;
}

const TaskView* Snapshot::task(pid_t tid) const {
  for (const auto& p : processes) {
    for (const auto& t : p.tasks) {
      if (t.tid == tid)
        return &t;
    }
  }
  return nullptr;
}

bool same_shape(const Snapshot& a, const Snapshot& b) {
  return a.processes == b.processes && a.holders == b.holders && a.queued == b.queued &&
         a.listener_holders == b.listener_holders;
}

namespace {

// What the descriptors `fds` of `pid` are, given the port's listening socket
// inodes and the workload's connections' server-side inodes (0: none yet).
Waiting what_they_are(pid_t pid, const std::vector<int>& fds,
                      const std::vector<uint64_t>& listeners,
                      const std::vector<uint64_t>& connections) {
  Waiting on;
  for (const int fd : fds) {
    const auto inode = harness::socket_inode_of_fd(pid, fd);
    if (!inode) {
      ++on.other;
      continue;
    }
    if (const auto it = std::ranges::find(listeners, *inode); it != listeners.end()) {
      on.listeners.push_back(static_cast<int>(it - listeners.begin()));
      continue;
    }
    if (const auto it = std::ranges::find(connections, *inode); it != connections.end())
      on.connections.push_back(static_cast<int>(it - connections.begin()));
    else
      ++on.other_sockets;
  }
  std::ranges::sort(on.listeners);
  std::ranges::sort(on.connections);
  return on;
}

std::optional<ProcessView> view_of(pid_t pid, const std::vector<uint64_t>& listeners,
                                   const std::vector<uint64_t>& connections) {
  const auto info = harness::read_proc(pid);
  if (!info || info->state == 'Z')
    return std::nullopt;
  ProcessView view{.pid = pid, .ppid = info->ppid};
  for (const pid_t tid : harness::thread_ids(pid)) {
    TaskView task{.tid = tid};
    if (const auto call = harness::read_syscall(pid, tid)) {
      task.running = call->running;
      task.call = call->number;
      task.on = what_they_are(pid, waited_descriptors(pid, *call), listeners, connections);
    } else {
      continue;  // the thread ended meanwhile
    }
    view.tasks.push_back(std::move(task));
  }
  std::sort(view.tasks.begin(), view.tasks.end(), [pid](const TaskView& a, const TaskView& b) {
    return (a.tid == pid) != (b.tid == pid) ? a.tid == pid : a.tid < b.tid;
  });
  for (const uint64_t inode : harness::socket_inodes(pid))
    view.listeners += std::ranges::count(listeners, inode) > 0 ? 1 : 0;
  return view;
}

}  // namespace

Snapshot take_snapshot(std::string_view step, const std::vector<pid_t>& tree, uint16_t port,
                       const std::vector<ConnectionEnds>& connections) {
  Snapshot shot{.step = std::string(step)};
  std::vector<uint64_t> listeners;
  for (const auto& queue : harness::tcp_listen_queues(port)) {
    shot.queued += queue.queued;
    if (std::ranges::count(listeners, queue.inode) == 0)
      listeners.push_back(queue.inode);
  }
  std::vector<uint64_t> inodes;
  for (const auto& c : connections) {
    // The server's end: local is the client's peer, remote the client.
    const auto inode =
        harness::tcp_socket_inode(reinterpret_cast<const sockaddr*>(&c.server), c.server_len,
                                  reinterpret_cast<const sockaddr*>(&c.client), c.client_len);
    inodes.push_back(inode.value_or(0));
  }
  for (const pid_t pid : tree) {
    if (auto view = view_of(pid, listeners, inodes))
      shot.processes.push_back(std::move(*view));
  }
  // The main process first, the others by pid: the same tree reads the same
  // whatever order /proc lists it in.
  if (!shot.processes.empty())
    std::sort(shot.processes.begin() + 1, shot.processes.end(),
              [](const ProcessView& a, const ProcessView& b) { return a.pid < b.pid; });
  std::vector<pid_t> live;
  for (const auto& p : shot.processes) live.push_back(p.pid);
  for (const uint64_t inode : inodes) {
    shot.holders.push_back(inode == 0 ? std::vector<pid_t>{} : harness::holders_of(inode, live));
  }
  for (const uint64_t inode : listeners) {
    shot.listener_holders.push_back(static_cast<int>(harness::holders_of(inode, live).size()));
  }
  return shot;
}

}  // namespace csd::observe
