// csd-fork: one child process per connection (UNP 30.5).
//
// The parent only accepts and forks; each child serves one client the plain
// blocking way and exits. It is the simplest design that serves clients
// concurrently, and it pays a fork() per connection. The parent must reap
// its children (SIGCHLD -> waitpid) or they pile up as zombies.
//
// The parent waits with poll() on the listener and the signal pipe, so
// SIGCHLD (reap) and SIGINT/SIGTERM (stop) are handled in the loop, never in
// a handler, and a stop request cannot get lost while it sits in accept().
#include <poll.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <exception>
#include <unordered_set>
#include <vector>

#include <fmt/core.h>

#include "protocols.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syserr.hpp"
#include "workers.hpp"

namespace {

using namespace csd::impl;

// Children still running; stopped (and waited for) on shutdown.
using Children = std::unordered_set<pid_t>;

// The child's whole life: serve one client, exit. It never returns.
[[noreturn]] void serve_in_child(csd::Fd listener, csd::Fd conn, const Options& opts) {
  listener.reset();  // only the parent accepts
  serve_blocking(std::move(conn), opts.protocol, opts.max_bytes);
  ::_exit(0);  // not exit(): the parent's atexit handlers and stdio buffers are not ours
}

void accept_and_fork(csd::Fd& listener, Children& children, const Options& opts) {
  csd::Fd conn = accept_connection(listener.get());
  if (!conn)
    return;  // the client gave up, or nothing was there after all
  const pid_t pid = fork_worker();
  if (pid < 0) {
    log_errno("fork");  // this client is dropped (conn closes); the server carries on
    return;
  }
  if (pid == 0)
    serve_in_child(std::move(listener), std::move(conn), opts);
  children.insert(pid);
}  // the parent's copy of conn closes here; the child keeps its own

void reap(Children& children) {
  for (const auto& [pid, status] : reap_children()) {
    children.erase(pid);
    if (status != 0)
      log_message(fmt::format("child {} {}", pid, describe_exit(status)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options opts = parse_options(
      {"csd-fork", "fork: the parent accepts, one child process serves each connection"}, argc,
      argv);
  try {
    ignore_sigpipe();
    Listener listener = listen_tcp(opts.host, opts.port);
    // Non-blocking: poll() said readable, but the client may be gone by the
    // time we accept(), and the parent must not block there.
    set_nonblocking(listener.fd.get());
    SignalPipe signals{SIGINT, SIGTERM, SIGCHLD};
    Children children;
    announce_listening(listener);

    for (;;) {
      std::array<pollfd, 2> fds{{{listener.fd.get(), POLLIN, 0}, {signals.fd(), POLLIN, 0}}};
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR)
          continue;
        throw syscall_error("poll");
      }
      if (fds[1].revents != 0) {
        const SignalSet got = signals.drain();
        if (got.stop())
          break;
        if (got.has(SIGCHLD))
          reap(children);
      }
      if (fds[0].revents != 0)
        accept_and_fork(listener.fd, children, opts);
    }

    const std::vector<pid_t> running(children.begin(), children.end());
    stop_children(signals, running);
    return 0;
  } catch (const std::exception& e) {
    log_message(fmt::format("csd-fork: {}", e.what()));
    return 1;
  }
}
