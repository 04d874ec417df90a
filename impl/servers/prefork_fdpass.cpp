// csd-prefork-fdpass: a pool of children; the parent accepts and passes each
// connection to a free child as a descriptor over a Unix socket (UNP 30.9).
//
// Unlike csd-prefork, the parent decides who serves whom: it knows which
// children are busy (each child writes one byte back when it is done), hands
// a connection to the first free one, and stops accepting while none is free
// so clients wait in the listen queue rather than in a child's. The price is
// the extra hop: every connection crosses a Unix socket (sendmsg with
// SCM_RIGHTS) before it is served.
//
// One departure from UNP, for speed: UNP's parent select()s on every child's
// channel all the time, so it wakes once for each "done" byte. Here the
// parent reads them only when it needs a free child, that is once every child
// it knows of is busy; until then the bytes wait in the channels, and by the
// time it looks, several children have usually finished, so one poll()
// collects them all. So under light load the parent goes round the children
// in turn rather than piling the work on the low-numbered ones as UNP's
// "first free" does; the counts printed at the end show the spread. And when
// poll() says the listener is readable, the parent hands out every client
// waiting there (while a child is free), not just one per poll().
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
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

// ---- Passing a descriptor: one byte of data carrying an SCM_RIGHTS message.

// One byte of data and room for one descriptor: the message both ways.
// It points into itself, so it is neither copied nor moved.
struct FdMessage {
  FdMessage() {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;

  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msghdr msg{};
};

bool send_fd(int channel, int fd) {
  FdMessage m;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&m.msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
  for (;;) {
    if (::sendmsg(channel, &m.msg, MSG_NOSIGNAL) == 1) return true;
    if (errno != EINTR) return false;
  }
}

// The descriptor, an invalid Fd at EOF (the parent is gone). Exits on errors.
csd::Fd receive_fd(int channel) {
  FdMessage m;
  ssize_t n = 0;
  while ((n = ::recvmsg(channel, &m.msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n < 0) log_errno("recvmsg");
  if (n <= 0) return {};
  const cmsghdr* cmsg = CMSG_FIRSTHDR(&m.msg);
  if (cmsg == nullptr || cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(int))) {
    log_message("recvmsg: a message without a descriptor");
    return {};
  }
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
  return csd::Fd(fd);
}

// ---- The pool, as the parent sees it.

struct Child {
  pid_t pid = -1;
  csd::Fd channel;  // the parent's end of the socketpair
  bool busy = false;
  uint64_t served = 0;  // connections handed to this child
};

// Child: wait for a descriptor, serve it, say "done" with one byte, forever.
[[noreturn]] void child_main(int channel, const Options& opts) {
  for (;;) {
    csd::Fd conn = receive_fd(channel);
    if (!conn) ::_exit(0);  // the parent closed the channel: time to go
    serve_blocking(std::move(conn), opts.protocol, opts.max_bytes);
    const char done = 1;
    if (!write_all(channel, std::as_bytes(std::span(&done, 1)))) ::_exit(0);
  }
}

void spawn_child(std::vector<Child>& pool, std::size_t slot, const Options& opts) {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) < 0) throw syscall_error("socketpair");
  csd::Fd parent_end(ends[0]);
  csd::Fd child_end(ends[1]);
  const pid_t pid = fork_worker();
  if (pid < 0) throw syscall_error("fork");
  if (pid == 0) {
    parent_end.reset();
    for (Child& other : pool) other.channel.reset();  // the other children's channels are not ours
    child_main(child_end.get(), opts);
  }
  pool[slot].pid = pid;
  pool[slot].channel = std::move(parent_end);
  pool[slot].busy = false;
}

// UNP's policy: the first free child.
Child* first_free(std::vector<Child>& pool) {
  const auto it = std::find_if(pool.begin(), pool.end(), [](const Child& c) { return !c.busy && c.channel; });
  return it == pool.end() ? nullptr : &*it;
}

// Returns false when there was nothing to accept (the listen queue is empty).
bool dispatch_one(int listen_fd, Child& child) {
  csd::Fd conn = accept_connection(listen_fd);
  if (!conn) return false;
  if (!send_fd(child.channel.get(), conn.get())) {
    log_errno("sendmsg");  // the child is probably dying; SIGCHLD will tell
    return true;
  }
  child.busy = true;
  ++child.served;
  return true;
}  // the parent's copy closes; the child now holds the connection

// A child's "done" byte (or EOF if it died).
void read_done(Child& child) {
  std::array<char, 16> buf{};
  const ssize_t n = ::read(child.channel.get(), buf.data(), buf.size());
  if (n > 0) child.busy = false;
  if (n == 0) child.channel.reset();  // it died: stop watching; SIGCHLD replaces it
}

void replace_dead_children(std::vector<Child>& pool, const Options& opts) {
  for (const ChildExit& dead : reap_children()) {
    const auto it = std::find_if(pool.begin(), pool.end(), [&](const Child& c) { return c.pid == dead.pid; });
    if (it == pool.end()) continue;
    const auto slot = static_cast<std::size_t>(it - pool.begin());
    log_message(fmt::format("child {} (pid {}) {}; starting a new one", slot, dead.pid, describe_exit(dead.status)));
    it->channel.reset();
    spawn_child(pool, slot, opts);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options opts = parse_options(
      {"csd-prefork-fdpass", "prefork-fdpass: the parent accepts and passes each connection to a free child", true},
      argc, argv);
  try {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port);
    set_nonblocking(listener.fd.get());  // poll() said readable, but the client may be gone
    SignalPipe signals{SIGINT, SIGTERM, SIGCHLD};
    std::vector<Child> pool(opts.workers);
    for (std::size_t slot = 0; slot < pool.size(); ++slot) spawn_child(pool, slot, opts);
    announce_listening(listener);

    // Watched: [0] the signal pipe, [1] the listener, [2 + i] child i's
    // channel. poll() skips an entry whose fd is -1.
    std::vector<pollfd> fds(2 + pool.size());
    for (;;) {
      // A free child known: watch the listener only, not the channels (see
      // the top). None: watch the channels only, so clients wait in the
      // listen queue until a "done" byte comes.
      const bool have_free = first_free(pool) != nullptr;
      fds[0] = {signals.fd(), POLLIN, 0};
      fds[1] = {have_free ? listener.fd.get() : -1, POLLIN, 0};
      for (std::size_t i = 0; i < pool.size(); ++i) fds[2 + i] = {have_free ? -1 : pool[i].channel.get(), POLLIN, 0};

      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        throw syscall_error("poll");
      }
      if (fds[0].revents != 0) {
        const SignalSet got = signals.drain();
        if (got.stop()) break;
        if (got.has(SIGCHLD)) {
          replace_dead_children(pool, opts);
          continue;  // the pool changed: rebuild the poll set
        }
      }
      for (std::size_t i = 0; i < pool.size(); ++i) {
        if (fds[2 + i].revents != 0) read_done(pool[i]);
      }
      // Under load several clients wait in the listen queue: hand them out
      // until it is empty or every child is busy, not one per poll().
      if (fds[1].revents != 0) {
        while (Child* child = first_free(pool)) {
          if (!dispatch_one(listener.fd.get(), *child)) break;
        }
      }
    }

    std::vector<pid_t> pids;
    std::vector<uint64_t> counts;
    for (const Child& c : pool) {
      pids.push_back(c.pid);
      counts.push_back(c.served);
    }
    stop_children(signals, pids);
    print_counts(counts);
    return 0;
  } catch (const std::exception& e) {
    log_message(fmt::format("csd-prefork-fdpass: {}", e.what()));
    return 1;
  }
}
