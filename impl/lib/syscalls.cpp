#include "syscalls.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include "syserr.hpp"

namespace csd::impl {

namespace {

// The result, or the failure thrown with the call's name.
int checked(const char* call, int result) {
  if (result < 0)
    throw syscall_error(call);
  return result;
}

}  // namespace

int Poll(std::span<pollfd> fds, int timeout_ms) {
  return checked("poll",
                 restart_on_eintr([&] { return ::poll(fds.data(), fds.size(), timeout_ms); }));
}

int Select(int nfds, fd_set* readable, fd_set* writable, timeval* timeout) {
  return checked("select", restart_on_eintr([&] {
                   return ::select(nfds, readable, writable, nullptr, timeout);
                 }));
}

int EpollWait(int epoll_fd, std::span<epoll_event> events, int timeout_ms) {
  return checked("epoll_wait", restart_on_eintr([&] {
                   return ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()),
                                       timeout_ms);
                 }));
}

void WaitFor(pid_t pid) {
  if (restart_on_eintr([&] { return ::waitpid(pid, nullptr, 0); }) < 0 && errno != ECHILD)
    throw syscall_error("waitpid");
}

ssize_t Read(int fd, std::span<char> buf) {
  return restart_on_eintr([&] { return ::read(fd, buf.data(), buf.size()); });
}

ssize_t Write(int fd, std::span<const std::byte> data) {
  return restart_on_eintr([&] { return ::write(fd, data.data(), data.size()); });
}

ssize_t Write(int fd, std::string_view data) { return Write(fd, std::as_bytes(std::span(data))); }

ssize_t Sendmsg(int fd, const msghdr& msg, int flags) {
  return restart_on_eintr([&] { return ::sendmsg(fd, &msg, flags); });
}

ssize_t Recvmsg(int fd, msghdr& msg, int flags) {
  return restart_on_eintr([&] { return ::recvmsg(fd, &msg, flags); });
}

int readable_timeo(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return restart_on_eintr([&] { return ::poll(&p, 1, static_cast<int>(timeout.count())); });
}

}  // namespace csd::impl
