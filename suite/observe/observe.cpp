#include "observe.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "fd.hpp"
#include "limits.hpp"
#include "wait.hpp"

namespace csd::observe {

namespace {

// A connection of the workload: the client's socket, its two ends.
struct Client {
  Fd fd;
  ConnectionEnds ends;
};

// Connects without blocking past `timeout` (a server whose accept queue is
// full leaves a SYN unanswered for minutes); throws if it does not complete.
Client connect_to(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0)
    throw std::runtime_error("not a numeric address: " + host);
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, &::freeaddrinfo);
  Client client{Fd(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)), {}};
  if (!client.fd)
    throw std::system_error(errno, std::generic_category(), "socket");
  const int fd = client.fd.get();
  if (::connect(fd, found->ai_addr, found->ai_addrlen) != 0 && errno != EINPROGRESS)
    throw std::system_error(errno, std::generic_category(), "connect to " + host);
  int error = 0;
  socklen_t len = sizeof error;
  const bool done = harness::wait_until(
      [fd] {
        pollfd p{fd, POLLOUT, 0};
        return ::poll(&p, 1, 0) > 0;
      },
      timeout, std::chrono::milliseconds{5});
  if (!done)
    throw std::runtime_error(fmt::format("connect to {} port {}: not established within {} ms",
                                         host, port, timeout.count()));
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0)
    throw std::system_error(error, std::generic_category(), "connect to " + host);
  auto& e = client.ends;
  e.client_len = sizeof e.client;
  e.server_len = sizeof e.server;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&e.client), &e.client_len);
  ::getpeername(fd, reinterpret_cast<sockaddr*>(&e.server), &e.server_len);
  return client;
}

bool all_asleep(const Snapshot& shot) {
  for (const auto& p : shot.processes) {
    for (const auto& t : p.tasks) {
      if (t.running)
        return false;
    }
  }
  return true;
}

// Snapshots of the server until it stands still: every task asleep, the
// same shape `still_polls` times in a row. At the deadline, the last one,
// marked not settled.
Snapshot when_still(std::string_view step, const harness::ServerProcess& server,
                    const std::vector<Client>& clients, const ObserveOptions& options) {
  std::vector<ConnectionEnds> ends;
  ends.reserve(clients.size());
  for (const auto& c : clients) ends.push_back(c.ends);
  Snapshot last;
  int still = 0;
  const bool settled = harness::wait_until(
      [&] {
        Snapshot now = take_snapshot(step, server.tree(), server.port(), ends);
        still = all_asleep(now) && same_shape(now, last) ? still + 1 : 0;
        last = std::move(now);
        return still >= options.still_polls;
      },
      options.step_timeout, options.poll_every);
  last.settled = settled;
  return last;
}

// Why a server could not be watched: a limit that stopped it (a fork bomb
// shows its bug, not its design), else `problem`.
std::string why_not_observed(std::string_view output, std::string problem) {
  if (const auto stop = harness::find_limit_stop(output))
    return std::string(harness::kStoppedByLimit) + *stop;
  return problem;
}

}  // namespace

Observation observe_running(const harness::ServerProcess& server, const ObserveOptions& options) {
  Observation observation;
  std::vector<Client> clients;
  observation.steps.push_back(when_still(kSteps[0], server, clients, options));
  const auto timeout = options.step_timeout;
  clients.push_back(connect_to(server.host(), server.port(), timeout));
  observation.steps.push_back(when_still(kSteps[1], server, clients, options));
  while (clients.size() < static_cast<std::size_t>(kConnections))
    clients.push_back(connect_to(server.host(), server.port(), timeout));
  observation.steps.push_back(when_still(kSteps[2], server, clients, options));
  clients.clear();  // closes them: the server sees EOF on each
  observation.steps.push_back(when_still(kSteps[3], server, clients, options));
  return observation;
}

Identification identify(const harness::Manifest& manifest, const ObserveOptions& options) {
  Identification id{.name = manifest.name, .declared = manifest.declared_model()};
  try {
    harness::LaunchOptions launch;
    launch.host = manifest.host;
    const auto server = harness::ServerProcess::start(manifest, launch);
    std::string problem;
    try {
      id.observation = observe_running(*server, options);
    } catch (const std::exception& e) {
      problem = e.what();
    }
    id.problem = why_not_observed(server->stop().output, std::move(problem));
  } catch (const std::exception& e) {  // it did not start: the output is in the error
    id.problem = why_not_observed(e.what(), e.what());
  }
  id.verdict = classify(id.observation);
  if (!id.problem.empty()) {
    id.verdict.words = "not observed: " + id.problem;
    id.verdict.summary = "unknown: " + id.verdict.words;
  }
  return id;
}

}  // namespace csd::observe
