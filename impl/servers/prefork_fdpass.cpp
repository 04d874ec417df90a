// csd-prefork-fdpass: a pool of children; the parent accepts and passes each
// connection to a free child as a descriptor over a Unix socket (UNP 30.9).
//
// Unlike csd-prefork, the parent decides who serves whom: it knows which
// children are busy, hands a connection to a free one, and stops accepting
// while none is free so clients wait in the listen queue rather than in a
// child's. The price is the extra hop: every connection crosses a Unix
// socket (sendmsg with SCM_RIGHTS) before it is served.
//
// One departure from UNP, for speed: UNP's child writes a byte on its
// channel after every connection and the parent, which select()s on every
// channel, reads it: two system calls and often a wake-up per connection, to
// move one bit. Here that bit lives in memory the parent and its children
// share (a "busy" flag per child). The channel still carries a byte, but
// only when the parent is asleep waiting for a free child, as it says in a
// shared "parent waiting" flag, so it cannot sleep through the moment one
// frees up. When the listener is readable the parent hands out every client
// waiting there while a child is free, each to the first free child as in
// UNP (so under light load the low-numbered children do most of the work;
// the counts printed at the end show it).
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <optional>
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
    if (::sendmsg(channel, &m.msg, MSG_NOSIGNAL) == 1)
      return true;
    if (errno != EINTR)
      return false;
  }
}

// The descriptor, an invalid Fd at EOF (the parent is gone). Exits on errors.
csd::Fd receive_fd(int channel) {
  FdMessage m;
  ssize_t n = 0;
  while ((n = ::recvmsg(channel, &m.msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n < 0)
    log_errno("recvmsg");
  if (n <= 0)
    return {};
  const cmsghdr* cmsg = CMSG_FIRSTHDR(&m.msg);
  if (cmsg == nullptr || cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(int))) {
    log_message("recvmsg: a message without a descriptor");
    return {};
  }
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
  return csd::Fd(fd);
}

// ---- Who is free: flags in memory shared with the children.

// One flag per child ("busy") and one for the parent ("waiting for a free
// child"), in a shared mapping that fork() hands down (SharedAtomics). The
// stores and loads are sequentially consistent, which is what makes the
// hand-shake safe: a child stores busy=false, then loads waiting; the
// parent stores waiting=true, then loads every busy flag. At least one of
// them sees the other's store, so either the parent finds the child free or
// the child writes the byte that wakes the parent.
class SharedFlags {
 public:
  explicit SharedFlags(std::size_t children) : flags_(children + 1, false) {}

  std::atomic<bool>& busy(std::size_t child) { return flags_[child]; }
  std::atomic<bool>& parent_waiting() { return flags_[flags_.size() - 1]; }

 private:
  SharedAtomics<bool> flags_;  // [child]..., then the parent's
};

// ---- The pool, as the parent sees it.

struct Child {
  pid_t pid = -1;
  csd::Fd channel;      // the parent's end of the socketpair
  uint64_t served = 0;  // connections handed to this child
};

// Child: wait for a descriptor, serve it, mark itself free, forever. The
// byte on the channel is only for a parent that sleeps waiting for it.
[[noreturn]] void child_main(int channel, std::atomic<bool>& busy,
                             std::atomic<bool>& parent_waiting, const Options& opts) {
  for (;;) {
    csd::Fd conn = receive_fd(channel);
    if (!conn)
      ::_exit(0);  // the parent closed the channel: time to go
    serve_blocking(std::move(conn), opts.protocol, opts.max_bytes);
    busy.store(false);
    if (parent_waiting.load()) {
      const char done = 1;
      if (!write_all(channel, std::as_bytes(std::span(&done, 1))))
        ::_exit(0);
    }
  }
}

void spawn_child(std::vector<Child>& pool, SharedFlags& flags, std::size_t slot,
                 const Options& opts) {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) < 0)
    throw syscall_error("socketpair");
  csd::Fd parent_end(ends[0]);
  csd::Fd child_end(ends[1]);
  flags.busy(slot).store(false);
  const pid_t pid = fork_worker();
  if (pid < 0)
    throw syscall_error("fork");
  if (pid == 0) {
    parent_end.reset();
    for (Child& other : pool) other.channel.reset();  // the other children's channels are not ours
    child_main(child_end.get(), flags.busy(slot), flags.parent_waiting(), opts);
  }
  pool[slot].pid = pid;
  pool[slot].channel = std::move(parent_end);
}

// UNP's policy: the first free child; nullopt if all are busy.
std::optional<std::size_t> first_free(const std::vector<Child>& pool, SharedFlags& flags) {
  for (std::size_t slot = 0; slot < pool.size(); ++slot) {
    if (pool[slot].channel && !flags.busy(slot).load())
      return slot;
  }
  return std::nullopt;
}

// Returns false when there was nothing to accept (the listen queue is empty).
bool dispatch_one(int listen_fd, Child& child, std::atomic<bool>& busy) {
  csd::Fd conn = accept_connection(listen_fd);
  if (!conn)
    return false;
  busy.store(true);  // before the child can see the descriptor, so its "free" comes after
  if (!send_fd(child.channel.get(), conn.get())) {
    log_errno("sendmsg");  // the child is probably dying; SIGCHLD will tell
    return true;
  }
  ++child.served;
  return true;
}  // the parent's copy closes; the child now holds the connection

// Wake-up bytes (or EOF if the child died). What they say is in the flags.
void drain_channel(Child& child) {
  std::array<char, 16> buf{};
  const ssize_t n = ::read(child.channel.get(), buf.data(), buf.size());
  if (n == 0)
    child.channel.reset();  // it died: stop watching; SIGCHLD replaces it
}

void replace_dead_children(std::vector<Child>& pool, SharedFlags& flags, const Options& opts) {
  for (const ChildExit& dead : reap_children()) {
    const auto it =
        std::find_if(pool.begin(), pool.end(), [&](const Child& c) { return c.pid == dead.pid; });
    if (it == pool.end())
      continue;
    const auto slot = static_cast<std::size_t>(it - pool.begin());
    log_message(fmt::format("child {} (pid {}) {}; starting a new one", slot, dead.pid,
                            describe_exit(dead.status)));
    it->channel.reset();
    spawn_child(pool, flags, slot, opts);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options opts = parse_options(
      {"csd-prefork-fdpass",
       "prefork-fdpass: the parent accepts and passes each connection to a free child", true},
      argc, argv);
  try {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port);
    set_nonblocking(listener.fd.get());  // poll() said readable, but the client may be gone
    SignalPipe signals{SIGINT, SIGTERM, SIGCHLD};
    std::vector<Child> pool(opts.workers);
    SharedFlags flags(pool.size());
    for (std::size_t slot = 0; slot < pool.size(); ++slot) spawn_child(pool, flags, slot, opts);
    announce_listening(listener);

    // Watched: [0] the signal pipe, [1] the listener, [2 + i] child i's
    // channel. poll() skips an entry whose fd is -1.
    std::vector<pollfd> fds(2 + pool.size());
    for (;;) {
      // A free child: watch the listener, not the channels. None: say so,
      // look once more (one may have finished before it could see the flag),
      // then watch the channels only, so clients wait in the listen queue
      // until a child's byte comes.
      bool have_free = first_free(pool, flags).has_value();
      if (!have_free) {
        flags.parent_waiting().store(true);
        have_free = first_free(pool, flags).has_value();
      }
      fds[0] = {signals.fd(), POLLIN, 0};
      fds[1] = {have_free ? listener.fd.get() : -1, POLLIN, 0};
      for (std::size_t i = 0; i < pool.size(); ++i)
        fds[2 + i] = {have_free ? -1 : pool[i].channel.get(), POLLIN, 0};

      const int ready = ::poll(fds.data(), fds.size(), -1);
      flags.parent_waiting().store(false);
      if (ready < 0) {
        if (errno == EINTR)
          continue;
        throw syscall_error("poll");
      }
      if (fds[0].revents != 0) {
        const SignalSet got = signals.drain();
        if (got.stop())
          break;
        if (got.has(SIGCHLD)) {
          replace_dead_children(pool, flags, opts);
          continue;  // the pool changed: rebuild the poll set
        }
      }
      for (std::size_t i = 0; i < pool.size(); ++i) {
        if (fds[2 + i].revents != 0)
          drain_channel(pool[i]);
      }
      // Under load several clients wait in the listen queue: hand them out
      // until it is empty or every child is busy, not one per poll().
      if (fds[1].revents != 0) {
        while (const auto slot = first_free(pool, flags)) {
          if (!dispatch_one(listener.fd.get(), pool[*slot], flags.busy(*slot)))
            break;
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
