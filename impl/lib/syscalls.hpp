// System calls wrapped the way UNP's lib/wrapsock.c wraps them: EINTR is
// retried here, in one place, and a failure names the call that failed
// ("poll: Invalid argument"). The capitalised name is the wrapped call, as in
// the book: Poll() is poll(2).
//
// Two kinds, because a server has two kinds of failure:
//  - the server's own calls (waiting, forking, locking): a failure is the
//    server's, so they throw std::system_error whose what() is "CALL: error";
//  - a client's I/O (Read, Write, Sendmsg, Recvmsg): a failure ends that one
//    connection, so they return -1 with errno set (EPIPE, ECONNRESET, EAGAIN
//    on a non-blocking socket) and the caller drops the client.
// UNP's Accept() is accept_connection() in sockets.hpp: accept(2) has more
// failures to judge than a wrapper here should.
#pragma once

#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <span>
#include <string_view>

namespace csd::impl {

// Calls `call` again for as long as it fails with EINTR, and returns what it
// returned last. The one EINTR loop of every reference server.
template <typename Call>
auto restart_on_eintr(Call&& call) {
  for (;;) {
    const auto result = call();
    if (result != -1 || errno != EINTR)
      return result;
  }
}

// ---- The server's own calls: EINTR retried, any other failure thrown.

// poll(2); returns the number of ready entries (0: the timeout passed). A
// signal restarts the wait with the whole timeout, which every caller here
// tolerates: they recompute their deadlines on the next round.
int Poll(std::span<pollfd> fds, int timeout_ms = -1);
// select(2), as Poll.
int Select(int nfds, fd_set* readable, fd_set* writable, timeval* timeout);
// epoll_wait(2), as Poll; returns how many of `events` were filled.
int EpollWait(int epoll_fd, std::span<epoll_event> events, int timeout_ms = -1);
// waitpid(2) that blocks until `pid` is reaped; ECHILD (already reaped) is not
// an error.
void WaitFor(pid_t pid);

// ---- A client's I/O: EINTR retried, -1 with errno for the caller to judge.

ssize_t Read(int fd, std::span<char> buf);
ssize_t Write(int fd, std::span<const std::byte> data);
ssize_t Write(int fd, std::string_view data);
ssize_t Sendmsg(int fd, const msghdr& msg, int flags);
ssize_t Recvmsg(int fd, msghdr& msg, int flags);

// UNP 14.2's readable_timeo(), with poll(): waits until `fd` is readable (or
// hung up, or in error: the next read says which) or `timeout` passes.
// Returns 1 when ready, 0 on timeout, -1 with errno on failure.
int readable_timeo(int fd, std::chrono::milliseconds timeout);

}  // namespace csd::impl
