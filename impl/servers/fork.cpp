// csd-fork: the parent accepts, and each connection gets a child process (UNP 30.5, serv01.c).
// Watch: one child per open connection and never a zombie (ps -o pid,stat --ppid PID):
// the parent reaps on SIGCHLD, in the same poll() loop that accepts.
// More: impl/README.md, "csd-fork".
#include <sys/types.h>
#include <unistd.h>

#include <csignal>
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

// The child's whole life: serve one client, exit.
[[noreturn]] void serve_in_child(csd::Fd listener, csd::Fd conn, const Options& opts) {
  listener.reset();  // only the parent accepts
  serve_blocking(std::move(conn), opts.protocol, opts.max_bytes);
  ::_exit(0);  // not exit(): the parent's atexit handlers and stdio buffers are not ours
}

// SIGCHLD: waitpid() every child that has exited, so none stays a zombie.
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
  return run_main("csd-fork", [&] {
    ignore_sigpipe();
    Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    // poll() said readable, but the client may be gone by the time we
    // accept(): the parent must not block there.
    set_nonblocking(listener.fd.get());
    SignalPipe signals{SIGINT, SIGTERM, SIGCHLD};
    Children children;
    announce_listening(listener);

    for (;;) {
      const Wakeup woke = wait_readable(listener.fd.get(), signals);
      if (woke.signals.stop())
        break;
      if (woke.signals.has(SIGCHLD))
        reap(children);
      if (!woke.readable)
        continue;
      csd::Fd conn = accept_connection(listener.fd.get());
      if (!conn)
        continue;  // the client gave up, or another error (reported)
      const pid_t pid = fork_worker();
      if (pid == 0)
        serve_in_child(std::move(listener.fd), std::move(conn), opts);
      if (pid < 0)
        log_errno("fork");  // this client is dropped; the server carries on
      else
        children.insert(pid);
      // conn closes here, like serv01's Close(connfd): the child has its own copy
    }

    const std::vector<pid_t> running(children.begin(), children.end());
    stop_children(signals, running);
    return 0;
  });
}
