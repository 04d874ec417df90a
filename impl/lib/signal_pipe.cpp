#include "signal_pipe.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <stdexcept>

#include "syscalls.hpp"
#include "syserr.hpp"

namespace csd::impl {

namespace {

constexpr int kMaxSignal = NSIG - 1;

// Shared with the handler: lock-free atomics and a plain int are all it touches.
std::array<std::atomic<bool>, kMaxSignal + 1> g_arrived{};
std::atomic<int> g_write_fd{-1};
SignalPipe* g_instance = nullptr;

extern "C" void on_signal(int sig) {
  const int saved_errno = errno;  // the interrupted code may be about to read errno
  g_arrived[static_cast<std::size_t>(sig)].store(true);
  const char byte = static_cast<char>(sig);
  // Non-blocking: if the pipe is full, a wake-up is already pending anyway.
  [[maybe_unused]] const ssize_t n = ::write(g_write_fd.load(), &byte, 1);
  errno = saved_errno;
}

void set_disposition(int sig, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // the loop wakes through the pipe: other calls just carry on
  if (::sigaction(sig, &sa, nullptr) < 0)
    throw syscall_error("sigaction");
}

extern "C" void exit_now(int /*sig*/) { ::_exit(0); }  // async-signal-safe, unlike exit()

}  // namespace

void ignore_sigpipe() { set_disposition(SIGPIPE, SIG_IGN); }

void exit_on_stop_signals() {
  set_disposition(SIGINT, exit_now);
  set_disposition(SIGTERM, exit_now);
}

SignalPipe::SignalPipe(std::initializer_list<int> signals) {
  if (g_instance != nullptr)
    throw std::logic_error("SignalPipe: one per process");
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
    throw syscall_error("pipe2");
  read_.reset(fds[0]);
  write_.reset(fds[1]);
  g_write_fd.store(write_.get());
  g_instance = this;
  for (const int sig : signals) {
    set_disposition(sig, on_signal);
    installed_.add(sig);
  }
}

SignalPipe::~SignalPipe() {
  for (int sig = 1; sig <= kMaxSignal; ++sig) {
    if (installed_.has(sig))
      ::signal(sig, SIG_DFL);
  }
  g_write_fd.store(-1);
  g_instance = nullptr;
}

SignalSet SignalPipe::drain() {
  std::array<char, 256> buf{};
  // A short read means the pipe is empty: no second read() just to see EAGAIN.
  while (::read(read_.get(), buf.data(), buf.size()) == static_cast<ssize_t>(buf.size())) {
  }
  SignalSet arrived;
  for (int sig = 1; sig <= kMaxSignal; ++sig) {
    if (g_arrived[static_cast<std::size_t>(sig)].exchange(false))
      arrived.add(sig);
  }
  return arrived;
}

SignalSet SignalPipe::wait(int timeout_ms) {
  std::array<pollfd, 1> pipe{{{read_.get(), POLLIN, 0}}};
  Poll(pipe, timeout_ms);
  return drain();
}

void SignalPipe::release_in_child() {
  if (g_instance == nullptr)
    return;
  for (int sig = 1; sig <= kMaxSignal; ++sig) {
    if (g_instance->installed_.has(sig))
      ::signal(sig, SIG_DFL);
    g_arrived[static_cast<std::size_t>(sig)].store(false);
  }
  g_instance->installed_ = {};
  g_write_fd.store(-1);
  g_instance->read_.reset();
  g_instance->write_.reset();
  g_instance = nullptr;
}

Wakeup wait_readable(int fd, SignalPipe& pipe) {
  std::array<pollfd, 2> fds{{{fd, POLLIN, 0}, {pipe.fd(), POLLIN, 0}}};
  Poll(fds);
  Wakeup woke;
  woke.readable = fds[0].revents != 0;
  if (fds[1].revents != 0)
    woke.signals = pipe.drain();
  return woke;
}

}  // namespace csd::impl
