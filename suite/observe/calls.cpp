#include "calls.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <span>
#include <string_view>

namespace csd::observe {

namespace {

struct Call {
  long number;
  std::string_view name;
  CallKind kind;
};

using enum CallKind;

// The calls whose names the evidence uses. Those of x86_64 only (select,
// poll, epoll_wait) are kept out elsewhere, where <sys/syscall.h> has no such
// number.
const std::vector<Call>& calls() {
  static const std::vector<Call> table{
      {SYS_accept, "accept", accept},
      {SYS_accept4, "accept4", accept},
#ifdef SYS_select
      {SYS_select, "select", multiplex},
#endif
      {SYS_pselect6, "pselect6", multiplex},
#ifdef SYS_poll
      {SYS_poll, "poll", multiplex},
#endif
      {SYS_ppoll, "ppoll", multiplex},
#ifdef SYS_epoll_wait
      {SYS_epoll_wait, "epoll_wait", multiplex},
#endif
      {SYS_epoll_pwait, "epoll_pwait", multiplex},
#ifdef SYS_epoll_pwait2
      {SYS_epoll_pwait2, "epoll_pwait2", multiplex},
#endif
      {SYS_read, "read", read},
      {SYS_readv, "readv", read},
      {SYS_pread64, "pread64", read},
      {SYS_recvfrom, "recvfrom", read},
      {SYS_recvmsg, "recvmsg", read},
      {SYS_recvmmsg, "recvmmsg", read},
      {SYS_futex, "futex", lock},
#ifdef SYS_futex_waitv
      {SYS_futex_waitv, "futex_waitv", lock},
#endif
      {SYS_fcntl, "fcntl", lock},
      {SYS_flock, "flock", lock},
      {SYS_semop, "semop", lock},
      {SYS_semtimedop, "semtimedop", lock},
      {SYS_wait4, "wait4", other},
      {SYS_waitid, "waitid", other},
      {SYS_rt_sigsuspend, "rt_sigsuspend", other},
      {SYS_rt_sigtimedwait, "rt_sigtimedwait", other},
#ifdef SYS_pause
      {SYS_pause, "pause", other},
#endif
      {SYS_nanosleep, "nanosleep", other},
      {SYS_clock_nanosleep, "clock_nanosleep", other},
      {SYS_write, "write", other},
      {SYS_sendto, "sendto", other},
      {SYS_sendmsg, "sendmsg", other},
      {SYS_connect, "connect", other},
  };
  return table;
}

const Call* find(long number) {
  const auto& table = calls();
  const auto it = std::find_if(table.begin(), table.end(),
                               [number](const Call& c) { return c.number == number; });
  return it == table.end() ? nullptr : &*it;
}

// Descriptor numbers far beyond any real table: an argument that is not one.
constexpr uint64_t kMaxFd = 1 << 20;
constexpr uint64_t kMaxSet = 4096;  // the most descriptors of a poll or select set read

bool read_memory(pid_t pid, uint64_t address, std::span<std::byte> into) {
  iovec local{into.data(), into.size()};
  iovec remote{reinterpret_cast<void*>(address), into.size()};  // in the other process
  return ::process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(into.size());
}

std::vector<int> poll_set(pid_t pid, uint64_t address, uint64_t count) {
  std::vector<pollfd> set(std::min(count, kMaxSet));
  if (set.empty() || !read_memory(pid, address, std::as_writable_bytes(std::span(set))))
    return {};
  std::vector<int> fds;
  for (const pollfd& p : set) {
    if (p.fd >= 0)
      fds.push_back(p.fd);
  }
  return fds;
}

// The descriptors of one fd_set of `nfds` bits at `address` (none if null).
void add_select_set(pid_t pid, uint64_t address, uint64_t nfds, std::vector<int>& fds) {
  if (address == 0)
    return;
  const uint64_t words = (std::min(nfds, kMaxSet) + 63) / 64;
  std::vector<uint64_t> bits(words);
  if (bits.empty() || !read_memory(pid, address, std::as_writable_bytes(std::span(bits))))
    return;
  for (uint64_t fd = 0; fd < std::min(nfds, kMaxSet); ++fd) {
    if ((bits[fd / 64] >> (fd % 64)) & 1U)
      fds.push_back(static_cast<int>(fd));
  }
}

// The "tfd:" lines of an epoll instance's /proc/PID/fdinfo entry.
std::vector<int> epoll_targets(pid_t pid, uint64_t epfd) {
  std::ifstream info("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(epfd));
  std::vector<int> fds;
  std::string word;
  while (info >> word) {
    int fd = -1;
    if (word == "tfd:" && info >> fd)
      fds.push_back(fd);
  }
  return fds;
}

}  // namespace

CallKind kind_of_call(long number) {
  const Call* call = find(number);
  return call ? call->kind : other;
}

std::string call_name(long number) {
  const Call* call = find(number);
  return call ? std::string(call->name) : "syscall " + std::to_string(number);
}

std::string multiplexer_family(std::string_view call) {
  if (call.starts_with("epoll_"))
    return "epoll";
  if (call == "select" || call == "pselect6")
    return "select";
  if (call == "poll" || call == "ppoll")
    return "poll";
  return "";
}

std::string multiplexer_family(long number) {
  return kind_of_call(number) == multiplex ? multiplexer_family(call_name(number)) : "";
}

std::vector<int> waited_descriptors(pid_t pid, const harness::SyscallState& call) {
  if (call.running || call.number < 0)
    return {};
  const auto& a = call.args;
  switch (kind_of_call(call.number)) {
    case CallKind::accept:
    case CallKind::read:
      return a[0] < kMaxFd ? std::vector<int>{static_cast<int>(a[0])} : std::vector<int>{};
    case CallKind::multiplex: {
      const std::string family = multiplexer_family(call.number);
      if (family == "epoll")
        return epoll_targets(pid, a[0]);
      if (family == "poll")
        return poll_set(pid, a[0], a[1]);
      std::vector<int> fds;
      add_select_set(pid, a[1], a[0], fds);  // readable
      add_select_set(pid, a[2], a[0], fds);  // writable
      std::sort(fds.begin(), fds.end());
      fds.erase(std::unique(fds.begin(), fds.end()), fds.end());
      return fds;
    }
    case CallKind::lock:
    case CallKind::other:
      break;
  }
  return {};
}

}  // namespace csd::observe
