// csd-prefork-fdpass: the parent accepts and passes each connection, as a descriptor
// over a stream pipe, to the first free child (UNP 30.9, serv05.c).
// Verify behavior for the sequence: poll() the listener and every child's pipe,
// accept(), sendmsg(SCM_RIGHTS) to the first free child, which serves the client
// and writes one byte back: free again.
// Watch: while every child is busy the parent stops polling the listener (clients
// wait in the listen queue), and the counts printed on SIGINT favour child 0.
// write_fd and read_fd are lib/fd_passing.hpp, as UNP's are lib/write_fd.c and read_fd.c.
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdint>
#include <optional>
#include <vector>

#include "fd_passing.hpp"
#include "protocols.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syscalls.hpp"
#include "syserr.hpp"
#include "workers.hpp"

namespace {

using namespace csd::impl;

// ---- The child (UNP's child_main): a descriptor in, serve it, a byte back.

[[noreturn]] void child_main(int channel, const Options& opts) {
  for (;;) {
    csd::Fd conn = read_fd(channel);
    if (!conn)
      ::_exit(0);  // the parent closed its end: time to go
    serve_blocking(std::move(conn), opts.protocol, opts.max_bytes);
    if (Write(channel, "1") != 1)  // "free again"
      ::_exit(0);
  }
}

// ---- The parent's view of its children (UNP's child.h), one slot each.

struct Pool {
  explicit Pool(std::size_t size) : pids(size), channels(size), busy(size), served(size) {}

  std::vector<pid_t> pids;
  std::vector<csd::Fd> channels;  // the parent's end of each child's stream pipe
  std::vector<bool> busy;         // passed a connection, and its byte has not come back
  std::vector<uint64_t> served;   // connections passed to each child
};

// UNP's child_make: a stream pipe, then fork(). Returns the child's pid.
pid_t make_child(Pool& pool, std::size_t slot, const Options& opts) {
  std::array<int, 2> ends{};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends.data()) < 0)
    throw syscall_error("socketpair");
  csd::Fd parent_end(ends[0]);
  csd::Fd child_end(ends[1]);
  const pid_t pid = fork_worker();
  if (pid < 0)
    throw syscall_error("fork");
  if (pid == 0) {
    for (csd::Fd& parents : pool.channels) parents.reset();  // the parent's ends are not ours
    parent_end.reset();
    child_main(child_end.get(), opts);
  }
  pool.channels[slot] = std::move(parent_end);
  pool.busy[slot] = false;
  return pid;
}

// UNP's choice: the first free child; nullopt while all are busy.
std::optional<std::size_t> first_free(const Pool& pool) {
  for (std::size_t slot = 0; slot < pool.pids.size(); ++slot) {
    if (pool.channels[slot] && !pool.busy[slot])
      return slot;
  }
  return std::nullopt;
}

// Child `slot`'s pipe is readable: its byte (free again), or EOF (it died;
// stop watching its pipe until SIGCHLD brings its replacement).
void read_free_byte(Pool& pool, std::size_t slot) {
  std::array<char, 1> byte{};
  if (Read(pool.channels[slot].get(), byte) == 1)
    pool.busy[slot] = false;
  else
    pool.channels[slot].reset();
}

// Every client waiting in the listen queue, each to the first free child,
// for as long as there is one: under load, not one poll() per connection.
// The parent's copy of each connection closes once it is passed.
void pass_connections(int listen_fd, Pool& pool) {
  for (auto slot = first_free(pool); slot; slot = first_free(pool)) {
    const csd::Fd conn = accept_connection(listen_fd);
    if (!conn)
      return;  // the listen queue is empty
    pool.busy[*slot] = true;
    if (write_fd(pool.channels[*slot].get(), conn.get()))
      ++pool.served[*slot];
    // else the child is dying (logged): SIGCHLD will replace it
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options opts = parse_options(
      {"csd-prefork-fdpass",
       "prefork-fdpass: the parent accepts and passes each connection to the first free child",
       true},
      argc, argv);
  return run_main("csd-prefork-fdpass", [&] {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    set_nonblocking(listener.fd.get());  // poll() said readable, but the client may be gone
    SignalPipe signals{SIGINT, SIGTERM, SIGCHLD};
    Pool pool(opts.workers);
    for (std::size_t slot = 0; slot < opts.workers; ++slot)
      pool.pids[slot] = make_child(pool, slot, opts);
    announce_listening(listener);

    // Watched: [0] the signal pipe, [1] the listener, [2 + slot] each child's pipe.
    std::vector<pollfd> fds(2 + opts.workers);
    for (;;) {
      fds[0] = {signals.fd(), POLLIN, 0};
      // The listener only while a child is free (poll() skips fd -1): with all
      // busy, new clients wait in the listen queue, not behind a busy child.
      fds[1] = {first_free(pool) ? listener.fd.get() : -1, POLLIN, 0};
      for (std::size_t slot = 0; slot < opts.workers; ++slot)
        fds[2 + slot] = {pool.channels[slot].get(), POLLIN, 0};
      Poll(fds);

      if (fds[0].revents != 0) {
        const SignalSet got = signals.drain();
        if (got.stop())
          break;
        if (got.has(SIGCHLD)) {
          replace_dead_children(pool.pids,
                                [&](std::size_t slot) { return make_child(pool, slot, opts); });
          continue;  // the pool changed: rebuild the poll set
        }
      }
      for (std::size_t slot = 0; slot < opts.workers; ++slot) {
        if (fds[2 + slot].revents != 0)
          read_free_byte(pool, slot);
      }
      if (fds[1].revents != 0)
        pass_connections(listener.fd.get(), pool);
    }

    stop_children(signals, pool.pids);
    print_counts(pool.served);
    return 0;
  });
}
